//! Reports: transaction listings with totals, wallet statements, movement
//! sums and the daily summary.

use tambah_domain::chain::Head;
use tambah_domain::{AccountId, Amount, MerchantId, OrderId, ProviderId, TransferId};

use crate::{BoxFuture, OrderRow, Result, TransferKind};

/// Status groups of the transaction listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusGroup {
    Successful,
    Pending,
    Failed,
    Refund,
}

/// A filtered, paged listing of one merchant's orders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderQuery {
    pub merchant_id: MerchantId,
    /// Created at or after.
    pub from_ms: Option<i64>,
    /// Created before.
    pub to_ms: Option<i64>,
    /// Any of these (empty: all).
    pub statuses: Vec<StatusGroup>,
    pub account: Option<String>,
    pub product: Option<String>,
    pub refid: Option<String>,
    pub sn: Option<String>,
    pub limit: u32,
    pub offset: u64,
    /// Oldest first when true (default newest first).
    pub ascending: bool,
}

/// Counts and sums over the whole filtered set (not just the page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderTotals {
    pub count: u64,
    pub amount: Amount,
    pub cost: Amount,
    pub successful: u64,
    pub pending: u64,
    pub failed: u64,
    pub refund: u64,
    /// Amount and cost of the successful orders only.
    pub successful_amount: Amount,
    pub successful_cost: Amount,
}

/// One movement of a wallet, with the balance right after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementEntry {
    pub transfer_id: TransferId,
    pub at_ms: i64,
    /// `DEPOSIT`, `HOLD`, `VOID` or `REFUND` (the ledger's kinds).
    pub kind: TransferKind,
    /// Signed: what the wallet gained (+) or lost (−).
    pub amount: Amount,
    pub balance_after: Amount,
    pub remarks: String,
    pub refid: Option<String>,
    pub product: Option<String>,
    /// The entry's number in the wallet's statement chain and its hash.
    pub chain: Option<Head>,
}

/// Which movements a statement lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatementQuery {
    pub wallet_id: AccountId,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Ledger kinds to list (empty: all).
    pub kinds: Vec<TransferKind>,
    pub limit: u32,
    pub offset: u64,
}

/// Sums of a wallet's movements by ledger kind within a time range, and the
/// balance before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Movements {
    pub opening: Amount,
    pub deposits: Amount,
    pub deposit_count: u64,
    pub holds: Amount,
    pub hold_count: u64,
    pub voids: Amount,
    pub void_count: u64,
    pub refunds: Amount,
    pub refund_count: u64,
}

impl Movements {
    /// Folds per-side sums: (`credit` side?, ledger kind, within the range?,
    /// sum, count). Before the range, credits add to the opening balance and
    /// debits take from it.
    pub fn fold(sides: impl IntoIterator<Item = (bool, String, bool, i64, u64)>) -> Movements {
        let mut m = Movements::default();
        for (credit, kind, within, sum, count) in sides {
            if !within {
                m.opening = add(m.opening, if credit { sum } else { -sum });
                continue;
            }
            match kind.as_str() {
                "DEPOSIT" => (m.deposits, m.deposit_count) = (add(m.deposits, sum), m.deposit_count + count),
                "HOLD" => (m.holds, m.hold_count) = (add(m.holds, sum), m.hold_count + count),
                "VOID" => (m.voids, m.void_count) = (add(m.voids, sum), m.void_count + count),
                "REFUND" => (m.refunds, m.refund_count) = (add(m.refunds, sum), m.refund_count + count),
                _ => {}
            }
        }
        m
    }
}

/// Adds a stored sum (minor units) to a running total: no wallet comes near
/// the limits of `i64`, so an overflow is a broken invariant.
fn add(total: Amount, minor: i64) -> Amount {
    total.checked_add(Amount::from_minor(minor)).expect("ledger sums stay far inside i64")
}

/// One line of the daily transaction summary: successful orders of one
/// product on one Malaysia-time day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// Days since 1970-01-01 in Malaysia time.
    pub day: i64,
    pub product: String,
    pub count: u64,
    pub amount: Amount,
    pub cost: Amount,
}

/// Orders of one product on one Malaysia-time day, whatever their status:
/// how many, and how many of them succeeded and for what amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityRow {
    /// Days since 1970-01-01 in Malaysia time.
    pub day: i64,
    pub product: String,
    pub count: u64,
    pub successful: u64,
    /// The amount of the successful orders.
    pub successful_amount: Amount,
}

impl ActivityRow {
    /// Reads `day, product, count, successful count, successful amount`.
    pub fn read<R: crate::rows::Columns>(r: &R) -> std::result::Result<ActivityRow, R::Error> {
        Ok(ActivityRow {
            day: r.int(0)?,
            product: r.text(1)?,
            count: r.int(2)? as u64,
            successful: r.int(3)? as u64,
            successful_amount: Amount::from_minor(r.int(4)?),
        })
    }
}

/// Delivered orders of one product bought from one provider: what the
/// merchants paid us, and what the provider charged us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostOfGoodsRow {
    pub product: String,
    pub provider_id: ProviderId,
    pub count: u64,
    /// What merchants paid (the orders' cost).
    pub sales: Amount,
    /// What the provider charged, where its answers said.
    pub cost_of_goods: Amount,
    /// Deliveries whose charge the provider did not say.
    pub uncosted: u64,
}

/// Read-only aggregates over orders and the ledger.
pub trait ReportStore {
    fn list_orders<'a>(&'a self, query: &'a OrderQuery) -> BoxFuture<'a, Result<(Vec<OrderRow>, OrderTotals)>>;
    /// A page of wallet movements with running balances, and how many match.
    fn statement<'a>(&'a self, query: &'a StatementQuery) -> BoxFuture<'a, Result<(Vec<StatementEntry>, u64)>>;
    /// Sums of a wallet's movements in [from, to), and the balance at `from_ms`.
    fn movements(
        &self,
        wallet_id: AccountId,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> BoxFuture<'_, Result<Movements>>;
    /// Successful orders of a merchant per Malaysia-time day and product.
    fn daily_summary(
        &self,
        merchant_id: MerchantId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<SummaryRow>>>;
    /// Every order of a merchant created in [from, to), per Malaysia-time day
    /// and product (by day, then product in byte order): how many, and how
    /// many succeeded for what amount.
    fn order_activity(
        &self,
        merchant_id: MerchantId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<ActivityRow>>>;
    /// Orders delivered by providers, sent in [from, to), per product and
    /// provider, by product then provider.
    fn cost_of_goods(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<CostOfGoodsRow>>>;
    /// The wallet balance right after each order's HOLD, for the orders of
    /// `order_ids` that have one (an order refused before anything was held
    /// has none), in no particular order.
    fn hold_balances<'a>(&'a self, order_ids: &'a [OrderId]) -> BoxFuture<'a, Result<Vec<(OrderId, Amount)>>>;
    /// Where a wallet's statement chain stood at each of `before_ms`: its
    /// last entry dated before that time (`None`: no entry yet).
    fn chain_heads<'a>(
        &'a self,
        wallet_id: AccountId,
        before_ms: &'a [i64],
    ) -> BoxFuture<'a, Result<Vec<Option<Head>>>>;
}
