//! `Place`: a new order is written with its hold and, when its outcome is
//! already known, the resolution of that hold — all in the batch
//! transaction, after re-checking the refid, the balance, stock and the
//! biller's monthly count.

use tambah_domain::order::LedgerEffect;
use tambah_domain::{AccountId, Amount, Environment, MerchantId, OrderId, StatusCode};
use tambah_store::{Inserted, OrderRow, OrderTransfers, SpendingCaps, StoreError, TransferKind};

use super::command::{Apply, Batch, Call, Command};
use super::transitions::{order_callback, order_transfer, plan};
use crate::providers::{Outcome, Route};

/// What to do once the order row and hold exist.
#[derive(Clone, Debug)]
pub(crate) enum Verdict {
    /// Fail with 43 before holding anything (a simulation number).
    InsufficientCredit,
    /// The outcome is already known (decided without side effects).
    Decided { provider: String, outcome: Outcome },
    /// Hand the order to this route's provider after the commit.
    Dispatch { route: Route },
}

pub(crate) struct Place {
    pub merchant_id: MerchantId,
    pub wallet_id: AccountId,
    pub environment: Environment,
    pub refid: String,
    pub product: String,
    pub account: String,
    pub amount: Amount,
    pub cost: Amount,
    pub remarks: String,
    pub extras_json: String,
    pub verdict: Verdict,
    pub now_ms: i64,
    /// The merchant takes callbacks: queue one when the order ends final,
    /// unless it was refused before anything was held (43, 45, 54): that
    /// costs nothing, so the topup answer is its only notice.
    pub notify: bool,
    /// The product's stock is counted (PINs, vouchers).
    pub track_stock: bool,
    /// The biller's per-account limit: (month as yyyymm, payments allowed).
    pub monthly_limit: Option<(i64, u32)>,
    /// The merchant's daily spending caps, and the Malaysia-time day of the
    /// order (`None`: no cap; boxed, as few merchants have caps and every
    /// command is as large as the largest).
    pub daily_caps: Option<Box<(i64, SpendingCaps)>>,
}

#[derive(Debug)]
pub(crate) enum Placed {
    New {
        order: OrderRow,
        balance: Amount,
        dispatch_to: Option<Route>,
    },
    /// The refid exists with the same parameters: this is a status check.
    Existing(OrderRow),
    /// The refid exists with other parameters: 409.
    Conflict(OrderRow),
}

/// The same refid asked again for the same product, account and amount,
/// and not for another plan, scheme or biller (`extras_json`, a JSON object
/// of strings; a choice the new request leaves out is not a difference, so a
/// status check may send only the four main fields).
pub(crate) fn same_request(
    existing: &OrderRow,
    product: &str,
    account: &str,
    amount: Amount,
    extras_json: &str,
) -> bool {
    existing.product == product
        && existing.account == account
        && existing.amount == amount
        && same_choice(&existing.extras_json, extras_json)
}

/// What differs between the order a refid names and a request that reuses
/// it with other parameters, in order of precedence (the first is the one
/// an answer names, as TigerBeetle's transfer results do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Difference {
    Product,
    Account,
    Amount,
    /// The plan or biller (`subproduct_code`, `biller_code`).
    Extras,
}

impl Difference {
    /// The name an answer gives it.
    pub fn name(self) -> &'static str {
        match self {
            Difference::Product => "exists_with_different_product",
            Difference::Account => "exists_with_different_account",
            Difference::Amount => "exists_with_different_amount",
            Difference::Extras => "exists_with_different_extras",
        }
    }
}

/// Everything that differs, in order of precedence; empty for the same request.
pub(crate) fn differences(
    existing: &OrderRow,
    product: &str,
    account: &str,
    amount: Amount,
    extras_json: &str,
) -> Vec<Difference> {
    let all = [
        (existing.product != product, Difference::Product),
        (existing.account != account, Difference::Account),
        (existing.amount != amount, Difference::Amount),
        (!same_choice(&existing.extras_json, extras_json), Difference::Extras),
    ];
    all.into_iter().filter(|(differs, _)| *differs).map(|(_, d)| d).collect()
}

/// Why an order beyond the merchant's daily caps was refused.
fn cap_reached(caps: &SpendingCaps) -> String {
    let mut limits = Vec::new();
    if let Some(amount) = caps.amount {
        limits.push(format!("RM {} spent", amount.to_cents()));
    }
    if let Some(count) = caps.count {
        limits.push(format!("{count} orders"));
    }
    format!("daily spending cap reached: at most {} per day (Malaysia time); nothing was charged", limits.join(" and "))
}

/// The extras that choose what is bought.
const CHOICES: [&str; 2] = ["subproduct_code", "biller_code"];

fn same_choice(stored_json: &str, asked_json: &str) -> bool {
    // The common status check sends no extras, or the same ones: no parsing.
    if asked_json == "{}" || asked_json == stored_json {
        return true;
    }
    let read =
        |json: &str| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).unwrap_or_default();
    let (stored, asked) = (read(stored_json), read(asked_json));
    let text = |m: &serde_json::Map<String, serde_json::Value>, k: &str| {
        m.get(k).and_then(serde_json::Value::as_str).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    };
    CHOICES.iter().all(|k| match text(&asked, k) {
        Some(asked) => text(&stored, k).is_some_and(|stored| stored == asked),
        None => true,
    })
}

impl Apply for Place {
    type Output = Placed;

    fn wallet(&self) -> AccountId {
        self.wallet_id
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn apply(&self, b: &mut Batch<'_>) -> Result<Placed, StoreError> {
        let mut row = self.accepted_row();
        let mut transfers = OrderTransfers::default();
        let mut dispatch_to = None;
        let (refused, counted) = self.refusal(b)?;
        if let Some((code, why)) = &refused {
            // Final at once, nothing held.
            row.status = *code;
            if !why.is_empty() {
                row.note = why.clone();
                if row.remarks.is_empty() {
                    row.remarks = why.clone();
                }
            }
        } else {
            dispatch_to = self.hold_and_resolve(b, &mut row, &mut transfers)?;
        }
        match b.w.insert_order_with_transfers(&row, &transfers)? {
            Inserted::New { order_id, .. } => {
                row.id = order_id;
                if self.notify && refused.is_none() && row.status.is_final() {
                    b.w.insert_callback(&order_callback(&row, b.ledger.balance(self.wallet_id), self.now_ms))?;
                }
            }
            // Stock taken or a bill counted for a refid that exists: fail the
            // command so that its savepoint takes them back; the caller then
            // reads the existing order.
            Inserted::Exists if counted => {
                return Err(StoreError::Unique(format!("refid {} exists (stock or count taken back)", self.refid)))
            }
            Inserted::Exists => return self.existing(b),
        }
        Ok(Placed::New { order: row, balance: b.ledger.balance(self.wallet_id), dispatch_to })
    }

    fn final_order(placed: &Placed) -> Option<&OrderRow> {
        match placed {
            Placed::New { order, .. } if order.status.is_final() => Some(order),
            _ => None,
        }
    }

    fn into_command(call: Call<Self>) -> Command {
        Command::Place(call)
    }
}

impl Place {
    /// The order row as first written: accepted, nothing delivered yet.
    fn accepted_row(&self) -> OrderRow {
        OrderRow {
            id: OrderId::default(),
            merchant_id: self.merchant_id,
            refid: self.refid.clone(),
            product: self.product.clone(),
            account: self.account.clone(),
            amount: self.amount,
            cost: self.cost,
            status: StatusCode::ACCEPTED,
            sn: String::new(),
            pin: String::new(),
            expiry: String::new(),
            note: String::new(),
            voucherlink: String::new(),
            remarks: self.remarks.clone(),
            extras_json: self.extras_json.clone(),
            provider: String::new(),
            recheck_at_ms: None,
            created_at_ms: self.now_ms,
            updated_at_ms: self.now_ms,
        }
    }

    /// Refused before anything is held: no credit (43), the merchant's daily
    /// spending cap reached (54), no stock (45), the biller's monthly count
    /// for the account reached (54). Stock and counts
    /// are taken only for orders that are not already known to fail; the
    /// second value tells whether they were (written in this transaction).
    fn refusal(&self, b: &mut Batch<'_>) -> Result<(Option<(StatusCode, String)>, bool), StoreError> {
        let insufficient =
            matches!(self.verdict, Verdict::InsufficientCredit) || b.ledger.balance(self.wallet_id) < self.cost;
        if insufficient {
            return Ok((Some((StatusCode::INSUFFICIENT_CREDIT, String::new())), false));
        }
        let known_to_fail = matches!(&self.verdict, Verdict::Decided { outcome, .. }
            if !matches!(outcome, Outcome::Delivered(_) | Outcome::Pending { .. }));
        if known_to_fail {
            return Ok((None, false));
        }
        // Read first (nothing taken if the cap refuses), counted last (only
        // for an order nothing else refused); the batch's wallet lock keeps
        // the two together.
        if let Some(capped) = &self.daily_caps {
            let (day, caps) = &**capped;
            if !b.w.spend_fits(self.merchant_id, *day, self.cost, caps)? {
                return Ok((Some((StatusCode::DUPLICATE, cap_reached(caps))), false));
            }
        }
        let counted = self.track_stock || self.monthly_limit.is_some() || self.daily_caps.is_some();
        let mut refused = None;
        if self.track_stock && b.w.take_stock(&self.product)? == Some(false) {
            refused = Some((StatusCode::OUT_OF_STOCK, String::new()));
        }
        if let Some((month, limit)) = self.monthly_limit {
            if !b.w.count_bill_payment(&self.product, &self.account, month, limit)? {
                refused = Some((StatusCode::DUPLICATE, String::new()));
            }
        }
        if let (None, Some(capped)) = (&refused, &self.daily_caps) {
            b.w.add_spend(self.merchant_id, capped.0, self.cost)?;
        }
        Ok((refused, counted))
    }

    /// Stages the hold and, when the outcome is known, its resolution; the
    /// order is then written once in its final state. Returns the provider
    /// to dispatch to after the commit, if any.
    fn hold_and_resolve(
        &self,
        b: &mut Batch<'_>,
        row: &mut OrderRow,
        transfers: &mut OrderTransfers,
    ) -> Result<Option<Route>, StoreError> {
        let systems = b.ledger.system(self.environment);
        let mut hold = order_transfer(TransferKind::Hold, self.wallet_id, systems.holds, self.cost, self.now_ms);
        b.ledger.stage(&mut hold, &self.refid).map_err(|e| e.into_store("hold"))?;
        transfers.hold = Some(hold);
        let (provider, outcome) = match &self.verdict {
            Verdict::InsufficientCredit => unreachable!("refused before the hold"),
            Verdict::Dispatch { route } => return Ok(Some(route.clone())),
            Verdict::Decided { provider, outcome } => (provider, outcome),
        };
        row.provider = provider.clone();
        let Some((next, effect)) = plan(row, outcome, self.now_ms) else { return Ok(None) };
        *row = next;
        let (kind, debit, credit) = match effect {
            LedgerEffect::PostHold => (TransferKind::Post, systems.holds, systems.revenue),
            LedgerEffect::VoidHold => (TransferKind::Void, systems.holds, self.wallet_id),
            LedgerEffect::None | LedgerEffect::RefundPosted => return Ok(None),
        };
        let mut resolution = order_transfer(kind, debit, credit, self.cost, self.now_ms);
        b.ledger.stage(&mut resolution, &self.refid).map_err(|e| e.into_store(kind.as_str()))?;
        transfers.resolution = Some(resolution);
        Ok(None)
    }

    /// The refid was used first (an earlier command, or another node): this
    /// is a status check, and nothing of ours was written.
    fn existing(&self, b: &mut Batch<'_>) -> Result<Placed, StoreError> {
        b.ledger.drop_command();
        let existing =
            b.w.find_order(self.merchant_id, &self.refid)?
                .ok_or_else(|| StoreError::Other(format!("refid {} exists but cannot be read", self.refid)))?;
        Ok(if same_request(&existing, &self.product, &self.account, self.amount, &self.extras_json) {
            Placed::Existing(existing)
        } else {
            Placed::Conflict(existing)
        })
    }
}
