//! `Reroute`: the order's attempt provably never reached its provider (not
//! sent, or refused in a way that took nothing there), so the order, still
//! Processing, moves to the next route under a new attempt and a new
//! reference. Both facts — the old attempt's answer and the new attempt — are
//! written before the next call, in one transaction.

use tambah_domain::{AccountId, OrderId, StatusCode};
use tambah_store::{AttemptAnswer, AttemptOutcome, NewAttempt, OrderRow, StoreError};

use super::command::{Apply, Batch, Call, Command};
use super::transitions::update_of;

pub(crate) struct Reroute {
    pub order_id: OrderId,
    pub wallet_id: AccountId,
    /// The answer that ends the previous attempt (not sent).
    pub ended: AttemptAnswer,
    /// The next provider's name, put on the order.
    pub provider: String,
    pub attempt: NewAttempt,
    pub now_ms: i64,
    /// Ask the next provider this long after sending if no outcome arrives.
    pub query_after_ms: i64,
}

impl Apply for Reroute {
    /// The order, and whether it moved (false: it is no longer Processing,
    /// so nothing may be sent).
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
        // Only an order still Processing whose ended attempt is still its
        // last, unanswered one moves on: anything else (an answer recorded
        // meanwhile, a resolution by hand) settled it, and is left as it is.
        if order.status != StatusCode::PROCESSING {
            return Ok((order, false));
        }
        let last = b.w.last_attempt(id)?;
        let current = last.is_some_and(|a| a.attempt == self.ended.attempt && a.outcome == AttemptOutcome::Sent);
        if !current {
            return Ok((order, false));
        }
        b.w.answer_attempt(&self.ended)?;
        order.provider = self.provider.clone();
        order.updated_at_ms = self.now_ms;
        order.recheck_at_ms = Some(self.now_ms + self.query_after_ms);
        b.w.update_order(&update_of(&order))?;
        b.w.insert_attempt(&self.attempt)?;
        Ok((order, true))
    }

    fn into_command(call: Call<Self>) -> Command {
        Command::Reroute(call)
    }
}
