//! `Redeliver`: an order's current status queued for delivery again, unless
//! a callback of the order is still pending or the order has had its share.
//! A writer command so that the check and the queueing are one transaction
//! that holds the merchant's wallet: two requests (on any nodes) cannot both
//! pass the check.

use tambah_domain::{AccountId, CallbackId, OrderId};
use tambah_store::StoreError;

use super::command::{Apply, Batch, Call, Command};
use super::transitions::order_callback;

pub(crate) struct Redeliver {
    pub order_id: OrderId,
    pub wallet_id: AccountId,
    /// Callbacks an order may have in all (its own and redeliveries).
    pub max_callbacks: u32,
    pub now_ms: i64,
}

/// What a redelivery came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Redelivered {
    Queued(CallbackId),
    /// A callback of the order is still pending (its first attempt, or a retry).
    Pending,
    /// The order has had `max_callbacks` callbacks.
    Limit,
}

impl Apply for Redeliver {
    type Output = Redelivered;

    fn wallet(&self) -> AccountId {
        self.wallet_id
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn apply(&self, b: &mut Batch<'_>) -> Result<Redelivered, StoreError> {
        let count = b.w.order_callbacks(self.order_id)?;
        if count.pending > 0 {
            return Ok(Redelivered::Pending);
        }
        if count.queued >= self.max_callbacks {
            return Ok(Redelivered::Limit);
        }
        let order = b.order(self.order_id)?;
        let id = b.w.insert_callback(&order_callback(&order, b.ledger.balance(self.wallet_id), self.now_ms))?;
        Ok(Redelivered::Queued(id))
    }

    fn into_command(call: Call<Self>) -> Command {
        Command::Redeliver(call)
    }
}
