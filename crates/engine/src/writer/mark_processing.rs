//! `MarkProcessing`: an accepted order is about to be sent to its provider.
//! Committed before the call, so that only one sender ever sends it.

use tambah_domain::{AccountId, OrderId, StatusCode};
use tambah_store::{NewAttempt, OrderRow, StoreError};

use super::command::{Apply, Batch, Call, Command};
use super::transitions::update_of;

pub(crate) struct MarkProcessing {
    pub order_id: OrderId,
    pub wallet_id: AccountId,
    pub provider: String,
    /// The attempt to record before the call (configured providers only).
    pub attempt: Option<NewAttempt>,
    pub now_ms: i64,
    /// Ask the provider this long after sending if no outcome was recorded.
    pub query_after_ms: i64,
}

impl Apply for MarkProcessing {
    /// The order, and whether this call moved it (and so must send it).
    type Output = (OrderRow, bool);

    fn wallet(&self) -> AccountId {
        self.wallet_id
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn apply(&self, b: &mut Batch<'_>) -> Result<(OrderRow, bool), StoreError> {
        let id = self.order_id;
        let mut order = b.order(id)?;
        if order.status != StatusCode::ACCEPTED {
            return Ok((order, false));
        }
        order.status = StatusCode::PROCESSING;
        order.provider = self.provider.clone();
        order.updated_at_ms = self.now_ms;
        // If no outcome is ever recorded (the node dies mid-call), the
        // reconciler asks the provider at this time instead of leaving the
        // order stranded.
        order.recheck_at_ms = Some(self.now_ms + self.query_after_ms);
        b.w.update_order(&update_of(&order))?;
        if let Some(attempt) = &self.attempt {
            b.w.insert_attempt(attempt)?;
        }
        Ok((order, true))
    }

    fn into_command(call: Call<Self>) -> Command {
        Command::MarkProcessing(call)
    }
}
