//! Orders: the topup use case (validate, place with a hold, hand to a provider,
//! wait for the final status) and the order transitions the writer applies.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tambah_domain::{AccountId, Amount, Environment, Family, MerchantId, OrderId, Product, RefId, StatusCode};
use tambah_store::{AttemptAnswer, AttemptOutcome, AttemptRow, MerchantRow, NewAttempt, OrderRow, StoreError};

use crate::providers::simulator::{Precheck, Simulator};
use crate::providers::{Answer, Outcome, ProviderOrder, Route};
use crate::writer::{
    differences, same_request, Difference, MarkProcessing, Place, Placed, Reroute, Resolve, Verdict, WriteError,
};
use crate::{AuthMethod, Caller, Engine};
use RejectionKind::{Forbidden, Invalid};

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

/// Why a request was refused; each edge maps it to its own terms (HTTP:
/// 400, 403, 409).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    /// The request is malformed or names something that does not exist.
    Invalid,
    /// The merchant may not do this now (suspended, read-only, key rules).
    Forbidden,
    /// The refid was used before with a different product, account or amount.
    Conflict,
}

/// One difference of a reused refid, said with both values.
fn conflict_detail(d: Difference, existing: &OrderRow, asked: &ValidTopup) -> String {
    match d {
        Difference::Product => format!("product {} (this request: {})", existing.product, asked.product.code),
        Difference::Account => format!("account {} (this request: {})", existing.account, asked.account),
        Difference::Amount => {
            format!("amount {} (this request: {})", existing.amount.to_plain(), asked.amount.to_plain())
        }
        Difference::Extras => "another plan or biller".to_owned(),
    }
}

/// A request refused before anything was stored: the refid stays free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub kind: RejectionKind,
    pub code: StatusCode,
    pub reason: String,
    pub balance: Amount,
    /// For a conflict: what differs first (`exists_with_different_amount`, …).
    pub conflict: Option<&'static str>,
}

/// An order as the merchant sees it.
#[derive(Clone, Debug)]
pub struct OrderView {
    /// Shared with the cache of final orders when answered from it.
    pub order: Arc<OrderRow>,
    pub product_name: String,
    pub balance: Amount,
}

#[derive(Debug)]
pub enum TopupError {
    Rejected(Rejection),
    /// The node cannot take writes now (shutting down, overloaded): 503.
    Unavailable(String),
    /// The database cannot take the order now (`StoreError::Unavailable`):
    /// 503, saying whether nothing was changed.
    Database(StoreError),
    Internal(String),
}

impl From<WriteError> for TopupError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Stopped => TopupError::Unavailable("the server is shutting down".into()),
            WriteError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for TopupError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Unavailable { .. } => TopupError::Database(e),
            e => TopupError::Internal(e.to_string()),
        }
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

fn reject(kind: RejectionKind, code: StatusCode, reason: impl Into<String>) -> Rejection {
    Rejection { kind, code, reason: reason.into(), balance: Amount::ZERO, conflict: None }
}

/// The merchant may place new orders: not suspended, not read-only, and by
/// API key where the account requires it (and not a staging simulation
/// number for a suspended account).
fn authorize(caller: &Caller, valid: &ValidTopup) -> Result<(), Rejection> {
    let merchant = &caller.merchant;
    if !caller.can(tambah_domain::Capability::Order) {
        return Err(reject(
            Forbidden,
            StatusCode::SUSPENDED,
            "this member's role (finance or viewer) cannot place orders",
        ));
    }
    if merchant.suspended {
        return Err(reject(Forbidden, StatusCode::SUSPENDED, "merchant account is suspended"));
    }
    if merchant.access != 0 {
        return Err(reject(Forbidden, StatusCode::SUSPENDED, "merchant account is read-only"));
    }
    if merchant.require_api_key_for_topup && matches!(caller.via, AuthMethod::Token { .. }) {
        return Err(reject(
            Forbidden,
            StatusCode::SUSPENDED,
            "this account requires an API key signature for topups; tokens are refused",
        ));
    }
    let staging = merchant.environment == Environment::Staging;
    if staging && Simulator::precheck(&valid.account) == Some(Precheck::Suspended) {
        return Err(reject(
            Forbidden,
            StatusCode::SUSPENDED,
            "simulation number 60123450041: merchant account suspended",
        ));
    }
    Ok(())
}

impl Engine {
    fn validate(&self, input: &TopupInput) -> Result<ValidTopup, Rejection> {
        let required = |field: &Option<String>, name: &str| -> Result<String, Rejection> {
            match field.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(reject(Invalid, StatusCode::INVALID_FORMAT, format!("{name} is required"))),
            }
        };
        let refid = RefId::parse(&required(&input.refid, "refid")?)
            .map_err(|e| reject(Invalid, StatusCode::INVALID_FORMAT, e))?;
        let product_code = required(&input.product, "product")?;
        let account = required(&input.account, "account")?;
        // The amount is read as given (untrimmed): one canonical form.
        required(&input.amount, "amount")?;
        let amount_text = input.amount.clone().unwrap_or_default();
        let product =
            self.catalog().get(&product_code).cloned().ok_or_else(|| {
                reject(Invalid, StatusCode::INVALID_FORMAT, format!("unknown product {product_code:?}"))
            })?;
        if !product.active {
            return Err(reject(Invalid, StatusCode::UNAVAILABLE, format!("product {product_code} is not available")));
        }
        product.account_format.check(&account).map_err(|e| reject(Invalid, StatusCode::INVALID_ACCOUNT, e))?;
        let amount = Amount::parse_positive(&amount_text, 2)
            .map_err(|e| reject(Invalid, StatusCode::INVALID_AMOUNT, format!("amount {amount_text:?}: {e}")))?;
        product.check_amount(amount).map_err(|e| reject(Invalid, StatusCode::INVALID_DENOMINATION, e.0))?;
        if matches!(product.family, Family::Data | Family::Ptptn | Family::Jompay | Family::Zakat | Family::Esim) {
            self.families()
                .check(&product, &account, amount, &input.extras)
                .map_err(|r| reject(Invalid, r.code, r.reason))?;
        }
        let remarks = input.remarks.clone().unwrap_or_default();
        if remarks.chars().count() > REMARKS_MAX_CHARS {
            return Err(reject(
                Invalid,
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
                let balance = self.wallet_balance(caller.merchant.wallet_id).await;
                r.balance = balance.unwrap_or(r.balance);
                Err(TopupError::Rejected(r))
            }
            other => other,
        }
    }

    /// A refid already used is a status check, and a status check is a
    /// read: the same request answers the order's true status whatever has
    /// changed since (suspension, read-only, the key rule, the product's
    /// state); only a different request is validated and refused.
    async fn status_check(&self, caller: &Caller, input: &TopupInput) -> Result<Option<OrderView>, TopupError> {
        let merchant = &caller.merchant;
        let Some(refid) = input.refid.as_deref().map(str::trim).and_then(|r| RefId::parse(r).ok()) else {
            return Ok(None);
        };
        let ticket = self.caches.ticket();
        let (found, balance) = self.store().order_with_balance(merchant.id, refid.as_str(), merchant.wallet_id).await?;
        self.caches.fill_balance(ticket, merchant.wallet_id, balance);
        let Some(existing) = found else { return Ok(None) };
        self.caches.fill_order(ticket, &existing);
        let trimmed = |f: &Option<String>| f.as_deref().map(str::trim).unwrap_or_default().to_owned();
        let amount = Amount::parse_positive(&trimmed(&input.amount), 2).ok();
        let extras_json = serde_json::to_string(&input.extras).expect("a string map serializes");
        if amount.is_some_and(|a| {
            same_request(&existing, &trimmed(&input.product), &trimmed(&input.account), a, &extras_json)
        }) {
            let product_name = self.catalog().get(&existing.product).map(|p| p.name.clone()).unwrap_or_default();
            return Ok(Some(OrderView { order: Arc::new(existing), product_name, balance }));
        }
        let valid = self.validate(input).map_err(TopupError::Rejected)?;
        self.view_of_existing(existing, balance, &valid).map(Some)
    }

    /// Past capacity, a new order is refused at once (nothing stored, the
    /// refid free) rather than queued behind a standing queue: every caller
    /// would wait, and more would come.
    fn admit(&self) -> Result<(), TopupError> {
        let target = self.config.shed_queue_delay;
        let standing = self.writer().standing_delay();
        if !target.is_zero() && standing > target {
            return Err(TopupError::Unavailable(format!(
                "overloaded: the writer's queue has stood {} ms (target {} ms)",
                standing.as_millis(),
                target.as_millis()
            )));
        }
        Ok(())
    }

    /// A status check answered from memory: the refid is a final order this
    /// node knows and the request is the same one (anything else takes the
    /// path through the database).
    async fn cached_status(&self, caller: &Caller, input: &TopupInput) -> Result<Option<OrderView>, TopupError> {
        let merchant = &caller.merchant;
        let Some(refid) = input.refid.as_deref().map(str::trim) else { return Ok(None) };
        let Some(order) = self.caches.order(merchant.id, refid) else { return Ok(None) };
        let trimmed = |f: &Option<String>| f.as_deref().map(str::trim).unwrap_or_default().to_owned();
        let Ok(amount) = Amount::parse_positive(&trimmed(&input.amount), 2) else { return Ok(None) };
        let extras_json = serde_json::to_string(&input.extras).expect("a string map serializes");
        if !same_request(&order, &trimmed(&input.product), &trimmed(&input.account), amount, &extras_json) {
            return Ok(None);
        }
        let balance = self.wallet_balance(merchant.wallet_id).await?;
        let product_name = self.catalog().get(&order.product).map(|p| p.name.clone()).unwrap_or_default();
        Ok(Some(OrderView { order, product_name, balance }))
    }

    /// A wallet's balance for an answer: known to this node within a second
    /// (`cache`), or read.
    pub(crate) async fn wallet_balance(&self, wallet_id: AccountId) -> Result<Amount, StoreError> {
        if let Some(balance) = self.caches.balance(wallet_id) {
            return Ok(balance);
        }
        let ticket = self.caches.ticket();
        let balance = self.store().balance(wallet_id).await?;
        self.caches.fill_balance(ticket, wallet_id, balance);
        Ok(balance)
    }

    /// The checks of a new order: validate → authorize → admit. A refid
    /// already used skips them (a status check is a read, before any rule):
    /// when one refuses, or the product's placing takes stock or counts a
    /// bill (work a refid that exists must not do), the database is asked
    /// first. Otherwise a refid that exists is found by the writer.
    async fn new_order_checks(
        &self,
        caller: &Caller,
        input: &TopupInput,
    ) -> Result<Result<ValidTopup, OrderView>, TopupError> {
        let checked = self
            .validate(input)
            .and_then(|valid| authorize(caller, &valid).map(|()| valid))
            .map_err(TopupError::Rejected)
            .and_then(|valid| self.admit().map(|()| valid));
        let side_effects = checked.as_ref().is_ok_and(|valid| {
            valid.product.family.delivers_pin() || crate::bills::monthly_limit(&valid.product.code).is_some()
        });
        if checked.is_err() || side_effects {
            if let Some(view) = self.status_check(caller, input).await? {
                return Ok(Err(view));
            }
        }
        checked.map(Ok)
    }

    /// a final order in memory → the checks of a new order (or the
    /// existing order, read) → verdict → place → await.
    async fn topup_or_reject(&self, caller: &Caller, input: &TopupInput) -> Result<OrderView, TopupError> {
        let merchant = &caller.merchant;
        if let Some(view) = self.cached_status(caller, input).await? {
            return Ok(view);
        }
        let ticket = self.caches.ticket();
        let valid = match self.new_order_checks(caller, input).await? {
            Ok(valid) => valid,
            Err(existing) => return Ok(existing),
        };
        let now_ms = self.now_ms();
        let verdict = self.verdict(merchant, &valid, now_ms);
        match self.place(merchant, &valid, verdict, now_ms).await? {
            Placed::Existing(order) | Placed::Conflict(order) => {
                self.caches.fill_order(ticket, &order);
                self.existing_view(merchant, order, &valid).await
            }
            Placed::New { order, balance, dispatch_to } => {
                self.record_health(merchant.environment, &order.product, &order);
                let product_name = valid.product.name.clone();
                if order.status.is_final() {
                    self.caches.fill_order(ticket, &order);
                    return Ok(OrderView { order: Arc::new(order), product_name, balance });
                }
                self.dispatch_and_wait(merchant, order, balance, dispatch_to, product_name).await
            }
        }
    }

    /// What happens to a new order: refused for credit (a simulation
    /// number), decided now by a provider that can, or sent after the commit.
    fn verdict(&self, merchant: &MerchantRow, valid: &ValidTopup, now_ms: i64) -> Verdict {
        let staging = merchant.environment == Environment::Staging;
        if staging && Simulator::precheck(&valid.account) == Some(Precheck::InsufficientCredit) {
            return Verdict::InsufficientCredit;
        }
        let cost = valid.product.cost(valid.amount, &merchant.level);
        let Some(route) = self.router().route(merchant.environment, &valid.product, now_ms, cost) else {
            return Verdict::Decided {
                provider: String::new(),
                outcome: Outcome::Unavailable { reason: "no provider is configured for this product".into() },
            };
        };
        let provider_order = ProviderOrder {
            order_id: OrderId::default(),
            merchant_id: merchant.id,
            refid: valid.refid.as_str().to_owned(),
            product: valid.product.code.clone(),
            account: valid.account.clone(),
            amount: valid.amount,
            status: StatusCode::ACCEPTED,
            created_at_ms: now_ms,
            upstream_product: route.upstream_product.clone(),
            upstream_ref: String::new(),
            extras: serde_json::from_str(&valid.extras_json).unwrap_or_default(),
        };
        match route.provider.decide_inline(&provider_order, &valid.product) {
            Some(outcome) => Verdict::Decided { provider: route.provider.name().to_owned(), outcome },
            None => Verdict::Dispatch { route },
        }
    }

    /// Writes the order through the writer. A refid that another node placed
    /// first (PostgreSQL) is reported as the existing order.
    async fn place(
        &self,
        merchant: &MerchantRow,
        valid: &ValidTopup,
        verdict: Verdict,
        now_ms: i64,
    ) -> Result<Placed, TopupError> {
        let placed = self
            .writer()
            .run(Place {
                merchant_id: merchant.id,
                wallet_id: merchant.wallet_id,
                environment: merchant.environment,
                refid: valid.refid.as_str().to_owned(),
                product: valid.product.code.clone(),
                account: valid.account.clone(),
                amount: valid.amount,
                cost: valid.product.cost(valid.amount, &merchant.level),
                remarks: valid.remarks.clone(),
                extras_json: valid.extras_json.clone(),
                verdict,
                now_ms,
                notify: !merchant.callback_url.is_empty(),
                track_stock: valid.product.family.delivers_pin(),
                monthly_limit: crate::bills::monthly_limit(&valid.product.code)
                    .map(|limit| (crate::bills::month_of(now_ms), limit)),
                daily_caps: merchant.caps.any().then(|| Box::new((tambah_domain::time::day_of(now_ms), merchant.caps))),
            })
            .await;
        match placed {
            Err(WriteError::Store(StoreError::Unique(_))) => {
                let existing = self.store().order_by_refid(merchant.id, valid.refid.as_str()).await?;
                let existing = existing.ok_or_else(|| TopupError::Internal("refid raced but is not stored".into()))?;
                Ok(Placed::Existing(existing))
            }
            other => Ok(other?),
        }
    }

    /// Hands a committed order to its provider (if it has one) and waits up
    /// to `topup_wait_ms` for its final status; then answers with what is
    /// stored.
    async fn dispatch_and_wait(
        &self,
        merchant: &MerchantRow,
        order: OrderRow,
        balance: Amount,
        dispatch_to: Option<Route>,
        product_name: String,
    ) -> Result<OrderView, TopupError> {
        let wait = self.config().topup_wait_ms;
        let woken = (wait > 0).then(|| self.waiters().register(order.id));
        if let Some(route) = dispatch_to {
            let engine = self.arc();
            let order = order.clone();
            tokio::spawn(async move { engine.dispatch(order, route).await });
        }
        let Some(woken) = woken else {
            return Ok(OrderView { order: Arc::new(order), product_name, balance });
        };
        let order_id = order.id;
        // From here the request waits on the provider, not on the node.
        crate::parking::park();
        let order = match tokio::time::timeout(Duration::from_millis(wait), woken).await {
            Ok(Ok(final_order)) => final_order,
            _ => {
                self.waiters().forget(order_id);
                self.store().order_by_refid(merchant.id, &order.refid).await?.unwrap_or(order)
            }
        };
        let balance = self.wallet_balance(merchant.wallet_id).await?;
        Ok(OrderView { order: Arc::new(order), product_name, balance })
    }

    async fn existing_view(
        &self,
        merchant: &MerchantRow,
        existing: OrderRow,
        valid: &ValidTopup,
    ) -> Result<OrderView, TopupError> {
        let balance = self.wallet_balance(merchant.wallet_id).await?;
        self.view_of_existing(existing, balance, valid)
    }

    /// A refid already used: its status (a status check), or 409 when the
    /// product, account or amount differ.
    fn view_of_existing(
        &self,
        existing: OrderRow,
        balance: Amount,
        valid: &ValidTopup,
    ) -> Result<OrderView, TopupError> {
        let differ = differences(&existing, &valid.product.code, &valid.account, valid.amount, &valid.extras_json);
        if let Some(first) = differ.first() {
            let said: Vec<String> = differ.iter().map(|d| conflict_detail(*d, &existing, valid)).collect();
            return Err(TopupError::Rejected(Rejection {
                kind: RejectionKind::Conflict,
                code: StatusCode::DUPLICATE,
                reason: format!("{}: refid {} was already used with {}", first.name(), existing.refid, said.join(", ")),
                balance,
                conflict: Some(first.name()),
            }));
        }
        let product_name = self.catalog().get(&existing.product).map(|p| p.name.clone()).unwrap_or_default();
        Ok(OrderView { order: Arc::new(existing), product_name, balance })
    }

    /// Sends an accepted order to its provider and records the answer.
    /// Safe to call more than once: only the call that moves the order from
    /// Accepted to Processing sends it, and it records the attempt (with its
    /// upstream reference) in the same transaction, before the call.
    pub(crate) async fn dispatch(&self, order: OrderRow, route: Route) {
        let Some(merchant) = self.store().merchant(order.merchant_id).await.ok().flatten() else {
            tracing::error!(order = %order.id, "dispatch: merchant not found");
            return;
        };
        let now_ms = self.now_ms();
        let attempt = route.provider_id.map(|provider_id| NewAttempt {
            order_id: order.id,
            attempt: FIRST_ATTEMPT,
            provider_id,
            upstream_ref: route.upstream_ref(order.id, FIRST_ATTEMPT),
            upstream_product: route.upstream_product.clone(),
            sent_at_ms: now_ms,
        });
        let marked = self
            .writer()
            .run(MarkProcessing {
                order_id: order.id,
                wallet_id: merchant.wallet_id,
                provider: route.provider.name().to_owned(),
                attempt,
                now_ms,
                query_after_ms: self.query_after_ms(&route),
            })
            .await;
        let (order, sent_by_us) = match marked {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(order = %order.id, error = %e, "dispatch: could not mark processing");
                return;
            }
        };
        if !sent_by_us {
            return;
        }
        let Some(product) = self.catalog().get(&order.product).cloned() else {
            tracing::error!(order = %order.id, product = %order.product, "dispatch: product left the catalogue");
            return;
        };
        self.send(&merchant, order, route, &product).await;
    }

    /// Sends a Processing order along its routes: an attempt that provably
    /// took nothing at its provider (`Unavailable`) moves on to the next
    /// route under a new attempt; any other answer is recorded on the order.
    async fn send(&self, merchant: &MerchantRow, mut order: OrderRow, mut route: Route, product: &Product) {
        // No query about this order from this node while its send is in flight.
        let _sending = self.asking(order.id);
        let mut attempt = FIRST_ATTEMPT;
        let mut tried = Vec::new();
        loop {
            let sent = provider_order(&order, &route, attempt);
            let answer = route.provider.submit(&sent, product, self.now_ms()).await;
            self.note_health(&route, product, &answer).await;
            if let (Some(id), Some(cost)) = (route.provider_id, answer.cost) {
                self.router().spend(id, cost);
            }
            let next = match (&answer.outcome, route.provider_id) {
                (Outcome::Unavailable { .. }, Some(id)) if attempt < ATTEMPTS_MAX => {
                    tried.push(id);
                    self.router().next_route(product, &tried, self.now_ms(), order.cost)
                }
                _ => None,
            };
            let Some(next) = next else {
                let logged = route.provider_id.map(|_| attempt);
                if let Err(e) = self.record_answer(merchant, order.id, answer, logged).await {
                    tracing::warn!(order = %order.id, error = %e, "dispatch: could not record the outcome; the reconciler will ask again");
                }
                return;
            };
            match self.reroute(merchant, &order, answer, attempt, &next).await {
                Some(moved) => (order, route, attempt) = (moved, next, attempt + 1),
                None => return,
            }
        }
    }

    /// Counts an answer that shows the provider failing (it could not take
    /// the order, or no usable answer came back) in its bucket for the
    /// product; a full bucket takes it out of rotation, here at once and on
    /// every node within seconds.
    async fn note_health(&self, route: &Route, product: &Product, answer: &Answer) {
        let Some(provider) = route.provider_id else { return };
        let failed = match &answer.outcome {
            Outcome::Unavailable { .. } => true,
            // No answer, or an HTTP 5xx (a 3-digit code; provider status codes are shorter).
            Outcome::Pending { .. } => {
                answer.upstream_code.is_empty()
                    || (answer.upstream_code.len() == 3 && answer.upstream_code.starts_with('5'))
            }
            _ => false,
        };
        if !failed {
            return;
        }
        let now_ms = self.now_ms();
        let bucket = self.config().provider_bucket;
        match self.store().record_provider_failure(provider, &product.code, now_ms, bucket).await {
            Ok(Some(until_ms)) => {
                tracing::warn!(provider = route.provider.name(), product = %product.code, until_ms, "provider out of rotation");
                self.router().mark_out(provider, &product.code, until_ms);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "provider health not recorded"),
        }
    }

    /// Ends attempt `attempt` as not sent and opens the next one on `next`;
    /// the order, or `None` when it may not be sent any more.
    async fn reroute(
        &self,
        merchant: &MerchantRow,
        order: &OrderRow,
        answer: Answer,
        attempt: u32,
        next: &Route,
    ) -> Option<OrderRow> {
        let now_ms = self.now_ms();
        let next_attempt = attempt + 1;
        let provider_id = next.provider_id?;
        tracing::info!(order = %order.id, from = %order.provider, to = next.provider.name(), "failing over");
        let moved = self
            .writer()
            .run(Reroute {
                order_id: order.id,
                wallet_id: merchant.wallet_id,
                ended: AttemptAnswer {
                    order_id: order.id,
                    attempt,
                    outcome: AttemptOutcome::NotSent,
                    upstream_code: answer.upstream_code,
                    answer_excerpt: answer.excerpt,
                    answered_at_ms: now_ms,
                    cost: None,
                },
                provider: next.provider.name().to_owned(),
                attempt: NewAttempt {
                    order_id: order.id,
                    attempt: next_attempt,
                    provider_id,
                    upstream_ref: next.upstream_ref(order.id, next_attempt),
                    upstream_product: next.upstream_product.clone(),
                    sent_at_ms: now_ms,
                },
                now_ms,
                query_after_ms: self.query_after_ms(next),
            })
            .await;
        match moved {
            Ok((order, true)) => Some(order),
            Ok((_, false)) => None,
            Err(e) => {
                tracing::warn!(order = %order.id, error = %e, "dispatch: could not fail over; the reconciler will ask again");
                None
            }
        }
    }

    /// When to ask about an order sent on `route` if no answer is recorded:
    /// after the call could have ended, so that a query never races the
    /// send it is about.
    fn query_after_ms(&self, route: &Route) -> i64 {
        self.config().query_after_ms.saturating_add(route.timeout_ms)
    }

    /// Applies an outcome to a merchant's order through the writer.
    pub async fn record(
        &self,
        merchant: &MerchantRow,
        order_id: OrderId,
        outcome: Outcome,
    ) -> Result<OrderRow, WriteError> {
        self.record_answer(merchant, order_id, outcome.into(), None).await
    }

    /// Applies a provider's answer to an order, and to its attempt `attempt`
    /// (configured providers keep an attempt log).
    pub(crate) async fn record_answer(
        &self,
        merchant: &MerchantRow,
        order_id: OrderId,
        answer: Answer,
        attempt: Option<u32>,
    ) -> Result<OrderRow, WriteError> {
        let now_ms = self.now_ms();
        let logged = attempt.map(|attempt| AttemptAnswer {
            order_id,
            attempt,
            outcome: attempt_outcome(&answer.outcome),
            upstream_code: answer.upstream_code.clone(),
            answer_excerpt: answer.excerpt.clone(),
            answered_at_ms: now_ms,
            cost: answer.cost,
        });
        let order = self
            .writer()
            .run(Resolve {
                order_id,
                wallet_id: merchant.wallet_id,
                environment: merchant.environment,
                outcome: answer.outcome,
                now_ms,
                notify: !merchant.callback_url.is_empty(),
                answer: logged,
            })
            .await?;
        // A final order may have changed (reversed): this node's cached copy
        // goes now; other nodes see the change counter move.
        self.caches.forget_order(order.merchant_id, &order.refid);
        self.record_health(merchant.environment, &order.product, &order);
        Ok(order)
    }

    /// Asks the provider about an order whose re-check is due (by the
    /// reference of its last attempt, never by sending again) and records it.
    ///
    /// For a configured provider a query may itself place the order (an
    /// IIMMPACT status check is the same request again), so it is only made
    /// about an attempt the provider may hold: the order's last attempt, sent
    /// and unanswered (or unknown) once its call can no longer be in flight,
    /// or delivered (to learn of a reversal) — never one that failed, was not
    /// sent, or was settled by hand; and never twice at once on this node.
    pub(crate) async fn recheck(&self, order: OrderRow) -> Result<(), String> {
        let Some(_asking) = self.asking(order.id) else { return Ok(()) };
        let order = self.store().order(order.id).await.map_err(|e| e.to_string())?.ok_or("order vanished")?;
        let merchant =
            self.store().merchant(order.merchant_id).await.map_err(|e| e.to_string())?.ok_or("merchant not found")?;
        let product = self.catalog().get(&order.product).cloned().ok_or("product left the catalogue")?;
        let last = self.store().attempts(order.id).await.map_err(|e| e.to_string())?.pop();
        let upstream_product = last.as_ref().map_or(order.product.as_str(), |a| a.upstream_product.as_str());
        let route = self.router().by_name(&order.provider, upstream_product).ok_or("provider not configured")?;
        if route.provider_id.is_some() && !may_ask(&order, last.as_ref(), route.timeout_ms, self.now_ms()) {
            return Ok(());
        }
        let mut asked = provider_order(&order, &route, FIRST_ATTEMPT);
        if let Some(a) = &last {
            asked.upstream_ref = a.upstream_ref.clone();
        }
        let answer = route.provider.query(&asked, &product, self.now_ms()).await;
        let attempt = last.map(|a| a.attempt);
        self.record_answer(&merchant, order.id, answer, attempt).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Every order is sent once per route; a further attempt (with a new
/// reference) is only ever made after one that provably took nothing.
const FIRST_ATTEMPT: u32 = 1;

/// Routes one order may go through at most.
pub(crate) const ATTEMPTS_MAX: u32 = 4;

/// Whether a configured provider may be asked about `order` now (see
/// `Engine::recheck`).
fn may_ask(order: &OrderRow, last: Option<&AttemptRow>, timeout_ms: i64, now_ms: i64) -> bool {
    let Some(a) = last else { return false };
    if a.upstream_code == OPERATOR {
        return false;
    }
    match a.outcome {
        AttemptOutcome::Sent => !order.status.is_final() && a.sent_at_ms.saturating_add(timeout_ms) < now_ms,
        AttemptOutcome::Unknown => !order.status.is_final(),
        AttemptOutcome::Delivered => order.status == StatusCode::SUCCESSFUL,
        AttemptOutcome::Declined | AttemptOutcome::NotSent | AttemptOutcome::Reversed => false,
    }
}

/// The `upstream_code` of an answer the operator gave by hand.
pub(crate) const OPERATOR: &str = "operator";

/// What an answer means for the attempt log.
fn attempt_outcome(outcome: &Outcome) -> AttemptOutcome {
    match outcome {
        Outcome::Delivered(_) => AttemptOutcome::Delivered,
        Outcome::Declined { .. } => AttemptOutcome::Declined,
        Outcome::Unavailable { .. } => AttemptOutcome::NotSent,
        Outcome::Pending { .. } => AttemptOutcome::Unknown,
        Outcome::Reversed { .. } => AttemptOutcome::Reversed,
    }
}

/// An order as its provider sees it on attempt `attempt` of `route`.
fn provider_order(order: &OrderRow, route: &Route, attempt: u32) -> ProviderOrder {
    ProviderOrder {
        order_id: order.id,
        merchant_id: order.merchant_id,
        refid: order.refid.clone(),
        product: order.product.clone(),
        account: order.account.clone(),
        amount: order.amount,
        status: order.status,
        created_at_ms: order.created_at_ms,
        upstream_product: route.upstream_product.clone(),
        upstream_ref: route.upstream_ref(order.id, attempt),
        // Stored as the JSON object of strings it was validated as.
        extras: serde_json::from_str(&order.extras_json).unwrap_or_default(),
    }
}

impl Engine {
    /// The merchant's order with this refid.
    pub async fn order_by_refid(&self, merchant_id: MerchantId, refid: &str) -> Result<Option<OrderRow>, StoreError> {
        self.store().order_by_refid(merchant_id, refid).await
    }

    /// The merchant's order with this id (`None` when it is another
    /// merchant's: ids are global, orders are not).
    pub async fn order_of(&self, merchant_id: MerchantId, order_id: OrderId) -> Result<Option<OrderRow>, StoreError> {
        Ok(self.store().order(order_id).await?.filter(|o| o.merchant_id == merchant_id))
    }
}
