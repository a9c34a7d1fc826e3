//! Orders: the topup use case (validate, place with a hold, hand to a provider,
//! wait for the final status) and the order transitions the writer applies.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tambah_domain::order::LedgerEffect;
use tambah_domain::{Amount, Environment, Family, OrderState, Product, RefId, StatusCode};
use tambah_store::{
    CallbackKind, Inserted, MerchantRow, NewCallback, NewTransfer, OrderRow, OrderTransfers, OrderUpdate, StoreError,
    TransferKind, Writer,
};

use crate::ledger::BatchLedger;
use crate::providers::simulator::{Precheck, Simulator};
use crate::providers::{Outcome, ProviderOrder};
use crate::writer::WriteError;
use crate::{AuthMethod, Caller, Engine};

/// Longest `remarks` accepted, in characters.
pub const REMARKS_MAX_CHARS: usize = 100;

/// A topup request as it arrived: every field optional and unparsed.
#[derive(Clone, Debug, Default)]
pub struct TopupInput {
    pub refid: Option<String>,
    pub product: Option<String>,
    pub account: Option<String>,
    pub amount: Option<String>,
    pub remarks: Option<String>,
    pub extras: BTreeMap<String, String>,
}

/// A request refused before anything was stored: the refid stays free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// 400 invalid, 403 forbidden, 409 refid reused with other parameters.
    pub http_status: u16,
    pub code: StatusCode,
    pub reason: String,
    pub balance_minor: i64,
}

/// An order as the merchant sees it.
#[derive(Clone, Debug)]
pub struct OrderView {
    pub order: OrderRow,
    pub product_name: String,
    pub balance_minor: i64,
}

#[derive(Debug)]
pub enum TopupError {
    Rejected(Rejection),
    /// The node cannot take writes now (shutting down, overloaded): 503.
    Unavailable(String),
    Internal(String),
}

impl From<WriteError> for TopupError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Stopped => TopupError::Unavailable("the server is shutting down".into()),
            WriteError::Store(e) => TopupError::Internal(e.to_string()),
        }
    }
}

impl From<StoreError> for TopupError {
    fn from(e: StoreError) -> Self {
        TopupError::Internal(e.to_string())
    }
}

/// A valid request, ready to place.
struct ValidTopup {
    refid: RefId,
    product: Arc<Product>,
    account: String,
    amount: Amount,
    remarks: String,
    extras_json: String,
}

/// What to do once the order row and hold exist.
#[derive(Clone, Debug)]
pub(crate) enum Verdict {
    /// Fail with 43 before holding anything (a simulation number).
    InsufficientCredit,
    /// The outcome is already known (decided without side effects).
    Decided { provider: &'static str, outcome: Outcome },
    /// Hand the order to `provider` after the commit.
    Dispatch { provider: &'static str },
}

pub(crate) struct NewOrder {
    pub merchant_id: i64,
    pub wallet_id: i64,
    pub environment: Environment,
    pub refid: String,
    pub product: String,
    pub account: String,
    pub amount_minor: i64,
    pub cost_minor: i64,
    pub remarks: String,
    pub extras_json: String,
    pub verdict: Verdict,
    pub now_ms: i64,
    /// The merchant takes callbacks: queue one when the order ends final.
    pub notify: bool,
    /// The product's stock is counted (PINs, vouchers).
    pub track_stock: bool,
    /// The biller's per-account limit: (month as yyyymm, payments allowed).
    pub monthly_limit: Option<(i64, u32)>,
}

#[derive(Debug)]
pub(crate) enum Placed {
    New {
        order: OrderRow,
        balance_minor: i64,
        dispatch_to: Option<&'static str>,
    },
    /// The refid exists with the same parameters: this is a status check.
    Existing(OrderRow),
    /// The refid exists with other parameters: 409.
    Conflict(OrderRow),
}

fn same_request(existing: &OrderRow, product: &str, account: &str, amount_minor: i64) -> bool {
    existing.product == product && existing.account == account && existing.amount_minor == amount_minor
}

fn reject(http_status: u16, code: StatusCode, reason: impl Into<String>) -> Rejection {
    Rejection { http_status, code, reason: reason.into(), balance_minor: 0 }
}

impl Engine {
    fn validate(&self, input: &TopupInput) -> Result<ValidTopup, Rejection> {
        let required = |field: &Option<String>, name: &str| -> Result<String, Rejection> {
            match field.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(reject(400, StatusCode::INVALID_FORMAT, format!("{name} is required"))),
            }
        };
        let refid =
            RefId::parse(&required(&input.refid, "refid")?).map_err(|e| reject(400, StatusCode::INVALID_FORMAT, e))?;
        let product_code = required(&input.product, "product")?;
        let account = required(&input.account, "account")?;
        let amount_text = required(&input.amount, "amount")?;
        let product = self
            .catalog()
            .get(&product_code)
            .cloned()
            .ok_or_else(|| reject(400, StatusCode::INVALID_FORMAT, format!("unknown product {product_code:?}")))?;
        if !product.active {
            return Err(reject(400, StatusCode::UNAVAILABLE, format!("product {product_code} is not available")));
        }
        product.account_format.check(&account).map_err(|e| reject(400, StatusCode::INVALID_ACCOUNT, e))?;
        let amount = Amount::parse_rm(&amount_text, 2)
            .map_err(|e| reject(400, StatusCode::INVALID_AMOUNT, format!("amount {amount_text:?}: {e}")))?;
        if amount == Amount::ZERO {
            return Err(reject(400, StatusCode::INVALID_AMOUNT, "amount must be greater than 0"));
        }
        product.check_amount(amount).map_err(|e| reject(400, StatusCode::INVALID_DENOMINATION, e.0))?;
        if matches!(product.family, Family::Data | Family::Ptptn | Family::Jompay | Family::Zakat | Family::Esim) {
            self.families()
                .check(&product, &account, amount, &input.extras)
                .map_err(|r| reject(400, r.code, r.reason))?;
        }
        let remarks = input.remarks.clone().unwrap_or_default();
        if remarks.chars().count() > REMARKS_MAX_CHARS {
            return Err(reject(
                400,
                StatusCode::INVALID_FORMAT,
                format!("remarks is longer than {REMARKS_MAX_CHARS} characters"),
            ));
        }
        let extras_json = serde_json::to_string(&input.extras).expect("a string map serializes");
        Ok(ValidTopup { refid, product, account, amount, remarks, extras_json })
    }

    /// Buys (or, for a refid already used, reports) one topup.
    pub async fn topup(&self, caller: &Caller, input: &TopupInput) -> Result<OrderView, TopupError> {
        match self.topup_or_reject(caller, input).await {
            // A rejection still tells the merchant their balance.
            Err(TopupError::Rejected(mut r)) => {
                let balance = self.store().balance(caller.merchant.wallet_id).await;
                r.balance_minor = balance.unwrap_or(r.balance_minor);
                Err(TopupError::Rejected(r))
            }
            other => other,
        }
    }

    async fn topup_or_reject(&self, caller: &Caller, input: &TopupInput) -> Result<OrderView, TopupError> {
        let merchant = &caller.merchant;
        let with_balance = TopupError::Rejected;
        let valid = self.validate(input).map_err(with_balance)?;
        if merchant.suspended {
            return Err(with_balance(reject(403, StatusCode::SUSPENDED, "merchant account is suspended")));
        }
        if merchant.access != 0 {
            return Err(with_balance(reject(403, StatusCode::SUSPENDED, "merchant account is read-only")));
        }
        if merchant.require_api_key_for_topup && matches!(caller.via, AuthMethod::Token { .. }) {
            return Err(with_balance(reject(
                403,
                StatusCode::SUSPENDED,
                "this account requires an API key signature for topups; tokens are refused",
            )));
        }
        let staging = merchant.environment == Environment::Staging;
        if staging && Simulator::precheck(&valid.account) == Some(Precheck::Suspended) {
            return Err(with_balance(reject(
                403,
                StatusCode::SUSPENDED,
                "simulation number 60123450041: merchant account suspended",
            )));
        }

        // A refid already used is a status check; it never reaches the writer.
        let (found, balance_minor) =
            self.store().order_with_balance(merchant.id, valid.refid.as_str(), merchant.wallet_id).await?;
        if let Some(existing) = found {
            return self.view_of_existing(existing, balance_minor, &valid);
        }

        let now_ms = self.now_ms();
        let cost = valid.product.cost(valid.amount, &merchant.level);
        let provider_order = ProviderOrder {
            order_id: 0,
            merchant_id: merchant.id,
            refid: valid.refid.as_str().to_owned(),
            product: valid.product.code.clone(),
            account: valid.account.clone(),
            amount_minor: valid.amount.minor(),
            status: StatusCode::ACCEPTED,
            created_at_ms: now_ms,
        };
        let verdict = if staging && Simulator::precheck(&valid.account) == Some(Precheck::InsufficientCredit) {
            Verdict::InsufficientCredit
        } else {
            match self.router().route(merchant.environment, &valid.product) {
                None => Verdict::Decided {
                    provider: "",
                    outcome: Outcome::Unavailable { reason: "no provider is configured for this product".into() },
                },
                Some(p) => match p.decide_inline(&provider_order, &valid.product) {
                    Some(outcome) => Verdict::Decided { provider: p.name(), outcome },
                    None => Verdict::Dispatch { provider: p.name() },
                },
            }
        };
        let placed = self
            .writer()
            .place(NewOrder {
                merchant_id: merchant.id,
                wallet_id: merchant.wallet_id,
                environment: merchant.environment,
                refid: provider_order.refid,
                product: valid.product.code.clone(),
                account: valid.account.clone(),
                amount_minor: valid.amount.minor(),
                cost_minor: cost.minor(),
                remarks: valid.remarks.clone(),
                extras_json: valid.extras_json.clone(),
                verdict,
                now_ms,
                notify: !merchant.callback_url.is_empty(),
                track_stock: valid.product.family.delivers_pin(),
                monthly_limit: crate::bills::monthly_limit(&valid.product.code).map(|limit| (month_of(now_ms), limit)),
            })
            .await;
        let placed = match placed {
            // Another node placed the same refid first (PostgreSQL): report it.
            Err(WriteError::Store(StoreError::Unique(_))) => {
                let existing = self.store().order_by_refid(merchant.id, valid.refid.as_str()).await?;
                let existing = existing.ok_or_else(|| TopupError::Internal("refid raced but is not stored".into()))?;
                Placed::Existing(existing)
            }
            other => other?,
        };
        match placed {
            Placed::Existing(order) | Placed::Conflict(order) => self.existing_view(merchant, order, &valid).await,
            Placed::New { order, balance_minor, dispatch_to } => {
                self.record_health(merchant.environment, &order.product, &order);
                if order.status >= 20 {
                    return Ok(OrderView { order, product_name: valid.product.name.clone(), balance_minor });
                }
                let wait = self.config().topup_wait_ms;
                let woken = (wait > 0).then(|| self.waiters().register(order.id));
                if let Some(provider) = dispatch_to {
                    let engine = self.arc();
                    let order = order.clone();
                    tokio::spawn(async move { engine.dispatch(order, provider).await });
                }
                let Some(woken) = woken else {
                    return Ok(OrderView { order, product_name: valid.product.name.clone(), balance_minor });
                };
                let order_id = order.id;
                let order = match tokio::time::timeout(Duration::from_millis(wait), woken).await {
                    Ok(Ok(final_order)) => final_order,
                    _ => {
                        self.waiters().forget(order_id);
                        self.store().order_by_refid(merchant.id, &order.refid).await?.unwrap_or(order)
                    }
                };
                let balance_minor = self.store().balance(merchant.wallet_id).await?;
                Ok(OrderView { order, product_name: valid.product.name.clone(), balance_minor })
            }
        }
    }

    async fn existing_view(
        &self,
        merchant: &MerchantRow,
        existing: OrderRow,
        valid: &ValidTopup,
    ) -> Result<OrderView, TopupError> {
        let balance_minor = self.store().balance(merchant.wallet_id).await?;
        self.view_of_existing(existing, balance_minor, valid)
    }

    /// A refid already used: its status (a status check), or 409 when the
    /// product, account or amount differ.
    fn view_of_existing(
        &self,
        existing: OrderRow,
        balance_minor: i64,
        valid: &ValidTopup,
    ) -> Result<OrderView, TopupError> {
        if !same_request(&existing, &valid.product.code, &valid.account, valid.amount.minor()) {
            return Err(TopupError::Rejected(Rejection {
                http_status: 409,
                code: StatusCode::DUPLICATE,
                reason: format!(
                    "refid {} was already used with a different product, account or amount",
                    existing.refid
                ),
                balance_minor,
            }));
        }
        let product_name = self.catalog().get(&existing.product).map(|p| p.name.clone()).unwrap_or_default();
        Ok(OrderView { order: existing, product_name, balance_minor })
    }

    /// Sends an accepted order to its provider and records the answer.
    /// Safe to call more than once: only the call that moves the order from
    /// Accepted to Processing sends it.
    pub(crate) async fn dispatch(&self, order: OrderRow, provider_name: &'static str) {
        let Some(merchant) = self.store().merchant(order.merchant_id).await.ok().flatten() else {
            tracing::error!(order = order.id, "dispatch: merchant not found");
            return;
        };
        let (order, sent_by_us) = match self
            .writer()
            .mark_processing(order.id, merchant.wallet_id, provider_name, self.now_ms(), self.config().query_after_ms)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(order = order.id, error = %e, "dispatch: could not mark processing");
                return;
            }
        };
        if !sent_by_us {
            return;
        }
        let Some(product) = self.catalog().get(&order.product).cloned() else {
            tracing::error!(order = order.id, product = %order.product, "dispatch: product left the catalogue");
            return;
        };
        let Some(provider) = self.router().by_name(provider_name) else {
            tracing::error!(order = order.id, provider_name, "dispatch: provider not configured");
            return;
        };
        let outcome = provider.submit(&provider_order(&order), &product, self.now_ms()).await;
        if let Err(e) = self.record(&merchant, order.id, outcome).await {
            tracing::warn!(order = order.id, error = %e, "dispatch: could not record the outcome; the reconciler will ask again");
        }
    }

    /// Applies an outcome to a merchant's order through the writer.
    pub async fn record(
        &self,
        merchant: &MerchantRow,
        order_id: i64,
        outcome: Outcome,
    ) -> Result<OrderRow, WriteError> {
        let notify = !merchant.callback_url.is_empty();
        let order = self
            .writer()
            .resolve(order_id, merchant.wallet_id, merchant.environment, outcome, self.now_ms(), notify)
            .await?;
        self.record_health(merchant.environment, &order.product, &order);
        Ok(order)
    }

    /// Asks the provider about an order whose re-check is due and records it.
    pub(crate) async fn recheck(&self, order: OrderRow) -> Result<(), String> {
        let merchant =
            self.store().merchant(order.merchant_id).await.map_err(|e| e.to_string())?.ok_or("merchant not found")?;
        let product = self.catalog().get(&order.product).cloned().ok_or("product left the catalogue")?;
        let provider = self.router().by_name(&order.provider).ok_or("provider not configured")?;
        let outcome = provider.query(&provider_order(&order), &product, self.now_ms()).await;
        self.record(&merchant, order.id, outcome).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// `yyyymm` of an instant, Malaysia time.
pub(crate) fn month_of(unix_ms: i64) -> i64 {
    let t = tambah_domain::time::MytDateTime::from_unix_millis(unix_ms);
    t.year * 100 + i64::from(t.month)
}

fn provider_order(order: &OrderRow) -> ProviderOrder {
    ProviderOrder {
        order_id: order.id,
        merchant_id: order.merchant_id,
        refid: order.refid.clone(),
        product: order.product.clone(),
        account: order.account.clone(),
        amount_minor: order.amount_minor,
        status: StatusCode::from_u8(order.status).unwrap_or(StatusCode::PROCESSING),
        created_at_ms: order.created_at_ms,
    }
}

// ---- applied by the writer, inside the batch transaction ----

pub(crate) fn apply_place(w: &mut dyn Writer, ledger: &mut BatchLedger, o: &NewOrder) -> Result<Placed, StoreError> {
    let mut row = OrderRow {
        id: 0,
        merchant_id: o.merchant_id,
        refid: o.refid.clone(),
        product: o.product.clone(),
        account: o.account.clone(),
        amount_minor: o.amount_minor,
        cost_minor: o.cost_minor,
        status: StatusCode::ACCEPTED.code(),
        sn: String::new(),
        pin: String::new(),
        expiry: String::new(),
        note: String::new(),
        voucherlink: String::new(),
        remarks: o.remarks.clone(),
        extras_json: o.extras_json.clone(),
        provider: String::new(),
        recheck_at_ms: None,
        created_at_ms: o.now_ms,
        updated_at_ms: o.now_ms,
    };
    let systems = ledger.system(o.environment);
    let insufficient = matches!(o.verdict, Verdict::InsufficientCredit) || ledger.balance(o.wallet_id) < o.cost_minor;
    // Refused before anything is held: no credit (43), no stock (45), the
    // biller's monthly count for the account reached (54). Stock and counts
    // are taken only for orders that are not already known to fail.
    let known_to_fail = matches!(&o.verdict, Verdict::Decided { outcome, .. }
        if !matches!(outcome, Outcome::Delivered(_) | Outcome::Pending { .. }));
    let mut refused = insufficient.then_some(StatusCode::INSUFFICIENT_CREDIT);
    if refused.is_none() && !known_to_fail {
        if o.track_stock && w.take_stock(&o.product)? == Some(false) {
            refused = Some(StatusCode::OUT_OF_STOCK);
        }
        if let Some((month, limit)) = o.monthly_limit {
            if !w.count_bill_payment(&o.product, &o.account, month, limit)? {
                refused = Some(StatusCode::DUPLICATE);
            }
        }
    }
    let mut transfers = OrderTransfers::default();
    let mut dispatch_to = None;
    if let Some(code) = refused {
        // Final at once, nothing held.
        row.status = code.code();
    } else {
        let mut hold = transfer(TransferKind::Hold, o.wallet_id, systems.holds, o.cost_minor, o.now_ms);
        ledger.stage(&mut hold).map_err(|e| e.into_store("hold"))?;
        transfers.hold = Some(hold);
        match &o.verdict {
            Verdict::InsufficientCredit => unreachable!("handled above"),
            // The outcome is known: the order is written once in its final
            // state, its hold resolved in the same statement where the
            // backend can.
            Verdict::Decided { provider, outcome } => {
                row.provider = (*provider).to_owned();
                if let Some((next, effect)) = plan(&row, outcome, o.now_ms) {
                    row = next;
                    let mut resolution = match effect {
                        LedgerEffect::PostHold => {
                            Some(transfer(TransferKind::Post, systems.holds, systems.revenue, o.cost_minor, o.now_ms))
                        }
                        LedgerEffect::VoidHold => {
                            Some(transfer(TransferKind::Void, systems.holds, o.wallet_id, o.cost_minor, o.now_ms))
                        }
                        LedgerEffect::None | LedgerEffect::RefundPosted => None,
                    };
                    if let Some(r) = resolution.as_mut() {
                        ledger.stage(r).map_err(|e| e.into_store(r.kind.as_str()))?;
                    }
                    transfers.resolution = resolution;
                }
            }
            Verdict::Dispatch { provider } => dispatch_to = Some(*provider),
        }
    }
    match w.insert_order_with_transfers(&row, &transfers)? {
        Inserted::New { order_id, .. } => {
            row.id = order_id;
            if o.notify && row.status >= StatusCode::SUCCESSFUL.code() {
                w.insert_callback(&order_callback(&row, ledger.balance(o.wallet_id), o.now_ms))?;
            }
        }
        Inserted::Exists => {
            // The refid was used first (an earlier command, or another node):
            // this is a status check, and nothing of ours was written.
            ledger.drop_command();
            let existing = w
                .find_order(o.merchant_id, &o.refid)?
                .ok_or_else(|| StoreError::Other(format!("refid {} exists but cannot be read", o.refid)))?;
            return Ok(if same_request(&existing, &o.product, &o.account, o.amount_minor) {
                Placed::Existing(existing)
            } else {
                Placed::Conflict(existing)
            });
        }
    }
    Ok(Placed::New { order: row, balance_minor: ledger.balance(o.wallet_id), dispatch_to })
}

/// A transfer of an order not yet written (the store fills in the order and
/// hold ids).
fn transfer(
    kind: TransferKind,
    debit_account: i64,
    credit_account: i64,
    amount_minor: i64,
    now_ms: i64,
) -> NewTransfer {
    NewTransfer {
        kind,
        debit_account,
        credit_account,
        amount_minor,
        order_id: None,
        pending_id: None,
        remarks: String::new(),
        created_at_ms: now_ms,
        wallet_balance_after_minor: None,
    }
}

pub(crate) fn apply_mark_processing(
    w: &mut dyn Writer,
    order_id: i64,
    provider: &str,
    now_ms: i64,
    query_after_ms: i64,
) -> Result<(OrderRow, bool), StoreError> {
    let mut order = w.get_order(order_id)?.ok_or_else(|| StoreError::Other(format!("order {order_id} not found")))?;
    if order.status != StatusCode::ACCEPTED.code() {
        return Ok((order, false));
    }
    order.status = StatusCode::PROCESSING.code();
    order.provider = provider.to_owned();
    order.updated_at_ms = now_ms;
    // If no outcome is ever recorded (the node dies mid-call), the reconciler
    // asks the provider at this time instead of leaving the order stranded.
    order.recheck_at_ms = Some(now_ms + query_after_ms);
    w.update_order(&update_of(&order))?;
    Ok((order, true))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_outcome_by_id(
    w: &mut dyn Writer,
    ledger: &mut BatchLedger,
    order_id: i64,
    wallet_id: i64,
    environment: Environment,
    outcome: &Outcome,
    now_ms: i64,
    notify: bool,
) -> Result<OrderRow, StoreError> {
    let order = w.get_order(order_id)?.ok_or_else(|| StoreError::Other(format!("order {order_id} not found")))?;
    apply_outcome(w, ledger, order, wallet_id, environment, outcome, now_ms, notify)
}

fn update_of(o: &OrderRow) -> OrderUpdate {
    OrderUpdate {
        id: o.id,
        status: o.status,
        sn: o.sn.clone(),
        pin: o.pin.clone(),
        expiry: o.expiry.clone(),
        note: o.note.clone(),
        voucherlink: o.voucherlink.clone(),
        provider: o.provider.clone(),
        recheck_at_ms: o.recheck_at_ms,
        updated_at_ms: o.updated_at_ms,
    }
}

/// What an outcome does to an order: its new fields and the ledger effect, or
/// `None` when the outcome does not apply to the order's state (a late or
/// repeated answer), which then changes nothing: resolution is idempotent.
fn plan(order: &OrderRow, outcome: &Outcome, now_ms: i64) -> Option<(OrderRow, LedgerEffect)> {
    let current = OrderState::from_code(StatusCode::from_u8(order.status).expect("stored codes are contract codes"));
    let mut next_row = order.clone();
    next_row.updated_at_ms = now_ms;
    let next = match outcome {
        Outcome::Delivered(_) => OrderState::Successful,
        Outcome::Declined { code, .. } => OrderState::Failed(*code),
        Outcome::Unavailable { .. } => OrderState::Failed(StatusCode::UNAVAILABLE),
        Outcome::Reversed { .. } => OrderState::Refunded,
        Outcome::Pending { recheck_at_ms } => {
            if current.is_final() {
                return None;
            }
            next_row.status = StatusCode::PROCESSING.code();
            next_row.recheck_at_ms = Some(*recheck_at_ms);
            return Some((next_row, LedgerEffect::None));
        }
    };
    let effect = match current.transition(next) {
        Ok(effect) => effect,
        Err(why) => {
            tracing::info!(order = order.id, %why, "outcome ignored");
            return None;
        }
    };
    next_row.status = next.code().code();
    next_row.recheck_at_ms = None;
    if let Outcome::Delivered(d) = outcome {
        next_row.sn = d.sn.clone();
        next_row.pin = d.pin.clone();
        next_row.expiry = d.expiry.clone();
        next_row.note = d.note.clone();
        next_row.voucherlink = d.voucherlink.clone();
        next_row.recheck_at_ms = d.recheck_at_ms;
    }
    Some((next_row, effect))
}

/// Records the ledger movement of a transition. `hold` is the order's open
/// HOLD (id, amount) when the caller already knows it.
#[allow(clippy::too_many_arguments)]
fn book(
    w: &mut dyn Writer,
    ledger: &mut BatchLedger,
    order: &OrderRow,
    effect: LedgerEffect,
    hold: Option<(i64, i64)>,
    wallet_id: i64,
    environment: Environment,
    now_ms: i64,
) -> Result<(), StoreError> {
    let systems = ledger.system(environment);
    let (kind, debit, credit, amount, pending_id) = match effect {
        LedgerEffect::None => return Ok(()),
        LedgerEffect::PostHold | LedgerEffect::VoidHold => {
            let (hold_id, amount) = match hold {
                Some(h) => h,
                None => {
                    let (id, amount, resolved) = w
                        .order_hold(order.id)?
                        .ok_or_else(|| StoreError::Constraint(format!("order {} has no hold to resolve", order.id)))?;
                    if resolved {
                        return Err(StoreError::Constraint(format!("hold of order {} is already resolved", order.id)));
                    }
                    (id, amount)
                }
            };
            if effect == LedgerEffect::PostHold {
                (TransferKind::Post, systems.holds, systems.revenue, amount, Some(hold_id))
            } else {
                (TransferKind::Void, systems.holds, wallet_id, amount, Some(hold_id))
            }
        }
        LedgerEffect::RefundPosted => (TransferKind::Refund, systems.revenue, wallet_id, order.cost_minor, None),
    };
    ledger
        .transfer(
            w,
            &NewTransfer {
                kind,
                debit_account: debit,
                credit_account: credit,
                amount_minor: amount,
                order_id: Some(order.id),
                pending_id,
                remarks: String::new(),
                created_at_ms: now_ms,
                wallet_balance_after_minor: None,
            },
        )
        .map(|_| ())
        .map_err(|e| e.into_store(kind.as_str()))
}

/// Moves a stored order by a provider outcome, with its ledger effect, and
/// queues a callback when it reaches a new final status.
#[allow(clippy::too_many_arguments)]
fn apply_outcome(
    w: &mut dyn Writer,
    ledger: &mut BatchLedger,
    order: OrderRow,
    wallet_id: i64,
    environment: Environment,
    outcome: &Outcome,
    now_ms: i64,
    notify: bool,
) -> Result<OrderRow, StoreError> {
    let Some((next, effect)) = plan(&order, outcome, now_ms) else {
        return Ok(order);
    };
    book(w, ledger, &next, effect, None, wallet_id, environment, now_ms)?;
    w.update_order(&update_of(&next))?;
    if notify && next.status >= StatusCode::SUCCESSFUL.code() && next.status != order.status {
        w.insert_callback(&order_callback(&next, ledger.balance(wallet_id), now_ms))?;
    }
    Ok(next)
}

/// The outbox row announcing an order's status.
fn order_callback(order: &OrderRow, balance_minor: i64, now_ms: i64) -> NewCallback {
    NewCallback {
        merchant_id: order.merchant_id,
        kind: CallbackKind::Order,
        order_id: Some(order.id),
        status: Some(order.status),
        balance_minor,
        created_at_ms: now_ms,
    }
}
