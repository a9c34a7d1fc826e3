//! The callback outbox as the delivery worker sees it: lease the due
//! callbacks, read what they announce, record each attempt. [`Outbox`] holds
//! only the store; the worker itself (HTTP, e-mail) lives outside the
//! engine.

use tambah_domain::{MerchantId, OrderId};
use tambah_store::{CallbackAttempt, CallbackNext, CallbackRow, Claim, MerchantRow, OrderRow, Store, StoreError};

use crate::Engine;

/// The outbox service (see [`Engine::outbox`]).
pub struct Outbox<'a> {
    store: &'a dyn Store,
}

impl Engine {
    /// The callback outbox, for the delivery worker.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { store: self.store() }
    }
}

impl Outbox<'_> {
    /// Leases the callbacks whose next attempt is due to this node: the
    /// oldest pending one of each order, and no more of one merchant's than
    /// makes `per_merchant` in flight on all nodes.
    pub async fn claim_due(&self, claim: &Claim, per_merchant: u32) -> Result<Vec<CallbackRow>, StoreError> {
        self.store.claim_due_callbacks(claim, per_merchant).await
    }

    /// The merchant a callback goes to.
    pub async fn merchant(&self, merchant_id: MerchantId) -> Result<Option<MerchantRow>, StoreError> {
        self.store.merchant(merchant_id).await
    }

    /// The order a callback announces.
    pub async fn order(&self, order_id: OrderId) -> Result<Option<OrderRow>, StoreError> {
        self.store.order(order_id).await
    }

    /// Logs an attempt and moves the callback on (delivered, retry, failed).
    pub async fn record_attempt(&self, attempt: &CallbackAttempt, next: CallbackNext) -> Result<(), StoreError> {
        self.store.record_callback_attempt(attempt, next).await
    }
}
