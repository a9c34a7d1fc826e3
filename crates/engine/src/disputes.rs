//! Refunds by the operator and disputes opened by merchants for successful
//! orders their customer says did not arrive.

use tambah_domain::{DisputeId, MerchantId, OrderId, StatusCode};
use tambah_store::{DisputeRow, MerchantRow, OrderRow};

use crate::providers::Outcome;
use crate::Engine;

#[derive(Debug)]
pub enum DisputeError {
    NotFound(String),
    /// The order is not Successful (only those can be refunded or disputed).
    NotRefundable(Box<OrderRow>),
    /// The order is already final (only pending orders are resolved by hand).
    NotPending(Box<OrderRow>),
    Failed(String),
}

impl std::fmt::Display for DisputeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisputeError::NotFound(m) | DisputeError::Failed(m) => f.write_str(m),
            DisputeError::NotRefundable(o) => {
                write!(f, "order {} has status {}: only successful (20) orders can be refunded", o.refid, o.status)
            }
            DisputeError::NotPending(o) => {
                write!(f, "order {} has status {}: only pending (0, 1) orders are resolved by hand", o.refid, o.status)
            }
        }
    }
}

impl Engine {
    /// Dispute cases, the open ones only unless `all`.
    pub async fn disputes(&self, open_only: bool) -> Result<Vec<DisputeRow>, tambah_store::StoreError> {
        self.store().disputes(open_only).await
    }

    /// One merchant's dispute cases, open and resolved, newest first.
    /// Another merchant's cases are never among them.
    pub async fn merchant_disputes(
        &self,
        merchant_id: MerchantId,
    ) -> Result<Vec<DisputeRow>, tambah_store::StoreError> {
        self.store().merchant_disputes(merchant_id, None).await
    }

    /// The dispute cases of one of a merchant's orders, newest first.
    pub async fn order_disputes(
        &self,
        merchant_id: MerchantId,
        order_id: OrderId,
    ) -> Result<Vec<DisputeRow>, tambah_store::StoreError> {
        self.store().merchant_disputes(merchant_id, Some(order_id)).await
    }

    /// The merchants whose orders carry this refid (refids are unique per
    /// merchant only), in order of their first such order.
    pub async fn merchants_with_refid(&self, refid: &str) -> Result<Vec<MerchantRow>, tambah_store::StoreError> {
        let mut merchants: Vec<MerchantRow> = Vec::new();
        for order in self.store().orders_with_refid(refid).await? {
            if merchants.iter().any(|m| m.id == order.merchant_id) {
                continue;
            }
            if let Some(m) = self.store().merchant(order.merchant_id).await? {
                merchants.push(m);
            }
        }
        Ok(merchants)
    }

    /// Reverses a successful order: status 53, a REFUND entry returns the
    /// cost, and a callback is queued. Refunding twice changes nothing.
    pub async fn refund(&self, merchant: &MerchantRow, refid: &str, reason: &str) -> Result<OrderRow, DisputeError> {
        let order = self
            .store()
            .order_by_refid(merchant.id, refid)
            .await
            .map_err(|e| DisputeError::Failed(e.to_string()))?
            .ok_or_else(|| DisputeError::NotFound(format!("no transaction with refid {refid:?}")))?;
        if order.status != StatusCode::SUCCESSFUL {
            return Err(DisputeError::NotRefundable(Box::new(order)));
        }
        let outcome = Outcome::Reversed { reason: reason.to_owned() };
        let after = self.record(merchant, order.id, outcome).await.map_err(|e| DisputeError::Failed(e.to_string()))?;
        if after.status != StatusCode::REFUND {
            return Err(DisputeError::NotRefundable(Box::new(after)));
        }
        Ok(after)
    }

    /// Opens a case for a successful order (or returns the open one).
    pub async fn open_dispute(&self, order: &OrderRow, emails: &str) -> Result<DisputeRow, DisputeError> {
        if order.status != StatusCode::SUCCESSFUL {
            return Err(DisputeError::NotRefundable(Box::new(order.clone())));
        }
        self.store().open_dispute(order, emails, self.now_ms()).await.map_err(|e| DisputeError::Failed(e.to_string()))
    }

    /// Closes an open case; with `refund`, the order is refunded first.
    pub async fn resolve_dispute(
        &self,
        id: DisputeId,
        resolution: &str,
        refund: bool,
    ) -> Result<DisputeRow, DisputeError> {
        let failed = |e: tambah_store::StoreError| DisputeError::Failed(e.to_string());
        let dispute = self
            .store()
            .disputes(true)
            .await
            .map_err(failed)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| DisputeError::NotFound(format!("no open dispute {id}")))?;
        if refund {
            let merchant = self
                .store()
                .merchant(dispute.merchant_id)
                .await
                .map_err(failed)?
                .ok_or_else(|| DisputeError::NotFound("the dispute's merchant is gone".into()))?;
            self.refund(&merchant, &dispute.refid, resolution).await?;
        }
        if !self.store().resolve_dispute(id, resolution, self.now_ms()).await.map_err(failed)? {
            return Err(DisputeError::NotFound(format!("no open dispute {id}")));
        }
        let all = self.store().disputes(false).await.map_err(failed)?;
        all.into_iter().find(|d| d.id == id).ok_or_else(|| DisputeError::NotFound(format!("dispute {id} vanished")))
    }
}
