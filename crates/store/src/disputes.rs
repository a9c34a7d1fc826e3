//! Disputes a merchant opens on an order, and their resolution.

use tambah_domain::{DisputeId, MerchantId, OrderId};

use crate::{BoxFuture, OrderRow, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeRow {
    pub id: DisputeId,
    pub merchant_id: MerchantId,
    pub order_id: OrderId,
    pub refid: String,
    pub emails: String,
    /// `open` or `resolved`.
    pub state: String,
    pub resolution: String,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
}

/// Dispute cases.
pub trait DisputeStore {
    /// Opens a dispute on an order (or returns the one already open).
    fn open_dispute<'a>(
        &'a self,
        order: &'a OrderRow,
        emails: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<DisputeRow>>;
    fn disputes(&self, open_only: bool) -> BoxFuture<'_, Result<Vec<DisputeRow>>>;
    /// One merchant's disputes (of one of its orders, when given), newest
    /// first, at most 500.
    fn merchant_disputes(
        &self,
        merchant_id: MerchantId,
        order_id: Option<OrderId>,
    ) -> BoxFuture<'_, Result<Vec<DisputeRow>>>;
    /// False when no open dispute has this id.
    fn resolve_dispute<'a>(&'a self, id: DisputeId, resolution: &'a str, now_ms: i64) -> BoxFuture<'a, Result<bool>>;
}
