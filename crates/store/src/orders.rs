//! Orders as stored: the row, the provider-facing update, and the leases
//! by which nodes share the work on pending orders.

use tambah_domain::{AccountId, Amount, MerchantId, OrderId, StatusCode};

use crate::{BoxFuture, Result};

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub id: OrderId,
    pub merchant_id: MerchantId,
    pub refid: String,
    pub product: String,
    pub account: String,
    pub amount: Amount,
    pub cost: Amount,
    pub status: StatusCode,
    pub sn: String,
    pub pin: String,
    pub expiry: String,
    pub note: String,
    pub voucherlink: String,
    pub remarks: String,
    pub extras_json: String,
    pub provider: String,
    /// When the provider should be asked again (pending orders, scheduled
    /// re-checks such as a staging refund scenario); `None` when nothing is due.
    pub recheck_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A change to an order's provider-facing fields and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    pub id: OrderId,
    pub status: StatusCode,
    pub sn: String,
    pub pin: String,
    pub expiry: String,
    pub note: String,
    pub voucherlink: String,
    pub provider: String,
    pub recheck_at_ms: Option<i64>,
    pub updated_at_ms: i64,
}

/// A request to lease due orders to one node (see `Store::claim_due_orders`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Who takes the lease (a node id).
    pub node: String,
    /// Accepted (status 0) orders created before this were never sent.
    pub accepted_before_ms: i64,
    /// Re-checks due at or before this are due.
    pub now_ms: i64,
    /// How long the lease lasts; another node may take the order after it.
    pub lease_ms: i64,
    pub limit: u32,
}

/// Reads of orders outside the writer, and the order-work lease.
pub trait OrderStore {
    fn order(&self, order_id: OrderId) -> BoxFuture<'_, Result<Option<OrderRow>>>;
    fn order_by_refid<'a>(&'a self, merchant_id: MerchantId, refid: &'a str)
        -> BoxFuture<'a, Result<Option<OrderRow>>>;
    /// An order by refid with the wallet's balance, in one look-up (the hot
    /// path of a status check).
    fn order_with_balance<'a>(
        &'a self,
        merchant_id: MerchantId,
        refid: &'a str,
        wallet_id: AccountId,
    ) -> BoxFuture<'a, Result<(Option<OrderRow>, Amount)>>;
    /// Orders of any merchant with this refid (an operator's look-up; it may
    /// read the whole table).
    fn orders_with_refid<'a>(&'a self, refid: &'a str) -> BoxFuture<'a, Result<Vec<OrderRow>>>;
    /// Orders of any merchant still Accepted or Processing that were created
    /// before `created_before_ms`, oldest first (the operator's list of
    /// outcomes still unknown).
    fn pending_orders(&self, created_before_ms: i64, limit: u32) -> BoxFuture<'_, Result<Vec<OrderRow>>>;
    /// Leases to `claim.node` the orders whose provider work is due (status 0
    /// created before `accepted_before_ms`, or a re-check due at or before
    /// `now_ms`) that no other node holds a live lease on; ordered by id.
    fn claim_due_orders<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<OrderRow>>>;
}
