//! Order transitions shared by the commands: what an outcome does to an
//! order, and the rows a transition writes.

use tambah_domain::order::LedgerEffect;
use tambah_domain::{AccountId, Amount, OrderState, StatusCode};
use tambah_store::{CallbackKind, NewCallback, NewTransfer, OrderRow, OrderUpdate, TransferKind};

use crate::providers::Outcome;

/// What an outcome does to an order: its new fields and the ledger effect, or
/// `None` when the outcome does not apply to the order's state (a late or
/// repeated answer), which then changes nothing: resolution is idempotent.
pub(super) fn plan(order: &OrderRow, outcome: &Outcome, now_ms: i64) -> Option<(OrderRow, LedgerEffect)> {
    let current = OrderState::from_code(order.status);
    let mut next_row = order.clone();
    next_row.updated_at_ms = now_ms;
    let next = match outcome {
        Outcome::Delivered(_) => OrderState::Successful,
        Outcome::Declined { code, .. } => OrderState::Failed(*code),
        Outcome::Unavailable { .. } => OrderState::Failed(StatusCode::UNAVAILABLE),
        // Reversed before we ever saw it delivered: for us it never was,
        // and the hold is released (a reversal of a delivered order is a refund).
        Outcome::Reversed { .. } if current != OrderState::Successful => OrderState::Failed(StatusCode::REJECTED),
        Outcome::Reversed { .. } => OrderState::Refunded,
        Outcome::Pending { recheck_at_ms } => {
            if current.is_final() {
                return None;
            }
            next_row.status = StatusCode::PROCESSING;
            next_row.recheck_at_ms = Some(*recheck_at_ms);
            return Some((next_row, LedgerEffect::None));
        }
    };
    let effect = match current.transition(next) {
        Ok(effect) => effect,
        Err(why) => {
            tracing::info!(order = %order.id, %why, "outcome ignored");
            return None;
        }
    };
    next_row.status = next.code();
    next_row.recheck_at_ms = None;
    if let Outcome::Delivered(d) = outcome {
        next_row.sn = d.sn.clone();
        next_row.pin = d.pin.clone();
        next_row.expiry = d.expiry.clone();
        next_row.note = d.note.clone();
        next_row.voucherlink = d.voucherlink.clone();
        next_row.recheck_at_ms = d.recheck_at_ms;
    }
    Some((next_row, effect))
}

pub(super) fn update_of(o: &OrderRow) -> OrderUpdate {
    OrderUpdate {
        id: o.id,
        status: o.status,
        sn: o.sn.clone(),
        pin: o.pin.clone(),
        expiry: o.expiry.clone(),
        note: o.note.clone(),
        voucherlink: o.voucherlink.clone(),
        provider: o.provider.clone(),
        recheck_at_ms: o.recheck_at_ms,
        updated_at_ms: o.updated_at_ms,
    }
}

/// The outbox row announcing an order's status.
pub(super) fn order_callback(order: &OrderRow, balance: Amount, now_ms: i64) -> NewCallback {
    NewCallback {
        merchant_id: order.merchant_id,
        kind: CallbackKind::Order,
        order_id: Some(order.id),
        status: Some(order.status),
        balance,
        created_at_ms: now_ms,
    }
}

/// A transfer of an order not yet written (the store fills in the order and
/// hold ids).
pub(super) fn order_transfer(
    kind: TransferKind,
    debit_account: AccountId,
    credit_account: AccountId,
    amount: Amount,
    now_ms: i64,
) -> NewTransfer {
    NewTransfer {
        kind,
        debit_account,
        credit_account,
        amount,
        order_id: None,
        pending_id: None,
        remarks: String::new(),
        created_at_ms: now_ms,
        wallet_balance_after: None,
        chain: None,
    }
}

#[cfg(test)]
mod tests {
    use tambah_domain::order::LedgerEffect;
    use tambah_domain::{Amount, MerchantId, OrderId, StatusCode};
    use tambah_store::OrderRow;

    use super::plan;
    use crate::providers::Outcome;

    fn order(status: StatusCode) -> OrderRow {
        OrderRow {
            id: OrderId::new(1),
            merchant_id: MerchantId::new(1),
            refid: "R".into(),
            product: "D".into(),
            account: "0123456789".into(),
            amount: Amount::from_rm(10),
            cost: Amount::from_rm(10),
            status,
            sn: String::new(),
            pin: String::new(),
            expiry: String::new(),
            note: String::new(),
            voucherlink: String::new(),
            remarks: String::new(),
            extras_json: "{}".into(),
            provider: "p".into(),
            recheck_at_ms: Some(5),
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn a_reversal_of_an_order_never_seen_delivered_fails_it_and_releases_the_hold() {
        let reversed = Outcome::Reversed { reason: "upstream".into() };
        let (next, effect) = plan(&order(StatusCode::PROCESSING), &reversed, 10).expect("it applies");
        assert_eq!((next.status, effect), (StatusCode::REJECTED, LedgerEffect::VoidHold));
        assert_eq!(next.recheck_at_ms, None, "nothing more to ask");
        let (next, effect) = plan(&order(StatusCode::SUCCESSFUL), &reversed, 10).expect("it applies");
        assert_eq!((next.status, effect), (StatusCode::REFUND, LedgerEffect::RefundPosted));
        assert!(plan(&order(StatusCode::REJECTED), &reversed, 10).is_none(), "a failed order stays failed");
    }
}
