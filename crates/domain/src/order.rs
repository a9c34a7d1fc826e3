//! The order state machine: Accepted → Processing → Successful | Failed, and
//! Successful → Refund. Every transition names the ledger movement it implies.

use crate::status::StatusCode;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Held, not yet sent to a provider.
    Accepted,
    /// Sent (or possibly sent) to a provider; the answer is awaited.
    Processing,
    /// Delivered: the hold was posted.
    Successful,
    /// Final failure with its code. `held` says whether a hold existed (and so
    /// was voided); 43 fails before anything is held.
    Failed(StatusCode),
    /// Reversed after success: a refund entry returned the cost.
    Refunded,
}

/// What the ledger must do for a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerEffect {
    None,
    PostHold,
    VoidHold,
    RefundPosted,
}

impl OrderState {
    pub fn from_code(code: StatusCode) -> OrderState {
        match code.code() {
            0 => OrderState::Accepted,
            1 => OrderState::Processing,
            20 => OrderState::Successful,
            53 => OrderState::Refunded,
            _ => OrderState::Failed(code),
        }
    }

    pub fn code(self) -> StatusCode {
        match self {
            OrderState::Accepted => StatusCode::ACCEPTED,
            OrderState::Processing => StatusCode::PROCESSING,
            OrderState::Successful => StatusCode::SUCCESSFUL,
            OrderState::Failed(code) => code,
            OrderState::Refunded => StatusCode::REFUND,
        }
    }

    pub fn is_final(self) -> bool {
        self.code().is_final()
    }

    /// The ledger effect of moving from `self` to `next`, or an error when the
    /// transition is not allowed (the caller must not apply it).
    pub fn transition(self, next: OrderState) -> Result<LedgerEffect, String> {
        use OrderState::*;
        let effect = match (self, next) {
            (Accepted, Processing) => LedgerEffect::None,
            (Accepted | Processing, Successful) => LedgerEffect::PostHold,
            (Accepted | Processing, Failed(code)) if code.is_failure() => LedgerEffect::VoidHold,
            (Successful, Refunded) => LedgerEffect::RefundPosted,
            (from, to) => return Err(format!("order cannot go from {} to {}", from.code().code(), to.code().code())),
        };
        Ok(effect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        use OrderState::*;
        assert_eq!(Accepted.transition(Processing), Ok(LedgerEffect::None));
        assert_eq!(Processing.transition(Successful), Ok(LedgerEffect::PostHold));
        assert_eq!(Accepted.transition(Failed(StatusCode::REJECTED)), Ok(LedgerEffect::VoidHold));
        assert_eq!(Successful.transition(Refunded), Ok(LedgerEffect::RefundPosted));
        assert!(Successful.transition(Failed(StatusCode::REJECTED)).is_err());
        assert!(Failed(StatusCode::REJECTED).transition(Successful).is_err());
        assert!(Refunded.transition(Refunded).is_err());
        assert!(Processing.transition(Accepted).is_err());
        assert!(Accepted.transition(Failed(StatusCode::SUCCESSFUL)).is_err());
    }
}
