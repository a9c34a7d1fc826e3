//! `Resolve`: a provider's outcome moves a stored order, with its ledger
//! effect, and queues a callback when the order reaches a new final status.

use tambah_domain::order::LedgerEffect;
use tambah_domain::{AccountId, Amount, Environment, OrderId, TransferId};
use tambah_store::{AttemptAnswer, NewTransfer, OrderRow, StoreError, TransferKind};

use super::command::{Apply, Batch, Call, Command};
use super::transitions::{order_callback, plan, update_of};
use crate::providers::Outcome;

pub(crate) struct Resolve {
    pub order_id: OrderId,
    pub wallet_id: AccountId,
    pub environment: Environment,
    pub outcome: Outcome,
    pub now_ms: i64,
    /// The merchant takes callbacks.
    pub notify: bool,
    /// The provider's answer, for the order's attempt log.
    pub answer: Option<AttemptAnswer>,
}

impl Apply for Resolve {
    type Output = OrderRow;

    fn wallet(&self) -> AccountId {
        self.wallet_id
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn apply(&self, b: &mut Batch<'_>) -> Result<OrderRow, StoreError> {
        let id = self.order_id;
        let order = b.order(id)?;
        // An outcome that does not fit the order's state changes nothing, not
        // even the attempt log (a late answer must not overwrite the one, or
        // the operator's resolution, that settled the order).
        let Some((next, effect)) = plan(&order, &self.outcome, self.now_ms) else {
            return Ok(order);
        };
        if let Some(answer) = &self.answer {
            b.w.answer_attempt(answer)?;
        }
        self.book(b, &next, effect)?;
        b.w.update_order(&update_of(&next))?;
        if self.notify && next.status.is_final() && next.status != order.status {
            b.w.insert_callback(&order_callback(&next, b.ledger.balance(self.wallet_id), self.now_ms))?;
        }
        Ok(next)
    }

    fn final_order(order: &OrderRow) -> Option<&OrderRow> {
        (order.status.is_final()).then_some(order)
    }

    fn into_command(call: Call<Self>) -> Command {
        Command::Resolve(call)
    }
}

impl Resolve {
    /// Records the ledger movement of a transition: POST or VOID of the
    /// order's open hold, or a REFUND of a posted order.
    fn book(&self, b: &mut Batch<'_>, order: &OrderRow, effect: LedgerEffect) -> Result<(), StoreError> {
        let systems = b.ledger.system(self.environment);
        let (kind, debit, credit, amount, pending_id) = match effect {
            LedgerEffect::None => return Ok(()),
            LedgerEffect::PostHold | LedgerEffect::VoidHold => {
                let (hold_id, amount) = open_hold(b, order.id)?;
                if effect == LedgerEffect::PostHold {
                    (TransferKind::Post, systems.holds, systems.revenue, amount, Some(hold_id))
                } else {
                    (TransferKind::Void, systems.holds, self.wallet_id, amount, Some(hold_id))
                }
            }
            LedgerEffect::RefundPosted => (TransferKind::Refund, systems.revenue, self.wallet_id, order.cost, None),
        };
        let transfer = NewTransfer {
            kind,
            debit_account: debit,
            credit_account: credit,
            amount,
            order_id: Some(order.id),
            pending_id,
            remarks: String::new(),
            created_at_ms: self.now_ms,
            wallet_balance_after: None,
            chain: None,
        };
        b.ledger.transfer(b.w, &transfer, &order.refid).map(|_| ()).map_err(|e| e.into_store(kind.as_str()))
    }
}

/// The order's HOLD (id, amount), which must not be resolved yet.
fn open_hold(b: &mut Batch<'_>, order_id: OrderId) -> Result<(TransferId, Amount), StoreError> {
    let (id, amount, resolved) =
        b.w.order_hold(order_id)?
            .ok_or_else(|| StoreError::Constraint(format!("order {order_id} has no hold to resolve")))?;
    if resolved {
        return Err(StoreError::Constraint(format!("hold of order {order_id} is already resolved")));
    }
    Ok((id, amount))
}
