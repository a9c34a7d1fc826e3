//! Callbacks: the outbox of status changes and low-balance notices, their
//! delivery attempts, and each merchant's callback settings.

use tambah_domain::{AccountId, Amount, CallbackId, MerchantId, OrderId, StatusCode};

use crate::{BoxFuture, Claim, Result};

/// What a callback announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackKind {
    /// An order reached a status (its topup response is delivered).
    Order,
    /// The wallet fell below the merchant's low-balance threshold.
    LowBalance,
}

impl CallbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::Order => "order",
            CallbackKind::LowBalance => "low_balance",
        }
    }

    pub fn parse(text: &str) -> Option<CallbackKind> {
        match text {
            "order" => Some(CallbackKind::Order),
            "low_balance" => Some(CallbackKind::LowBalance),
            _ => None,
        }
    }
}

/// A callback to deliver (the outbox row), written in the same transaction as
/// the change it announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCallback {
    pub merchant_id: MerchantId,
    pub kind: CallbackKind,
    pub order_id: Option<OrderId>,
    /// The order's status at the event.
    pub status: Option<StatusCode>,
    /// The wallet balance at the event.
    pub balance: Amount,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackRow {
    pub id: CallbackId,
    pub merchant_id: MerchantId,
    pub kind: CallbackKind,
    pub order_id: Option<OrderId>,
    pub status: Option<StatusCode>,
    pub balance: Amount,
    pub created_at_ms: i64,
    /// Attempts made so far.
    pub attempts: u32,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
}

/// One delivery attempt, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackAttempt {
    pub callback_id: CallbackId,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at_ms: i64,
    pub url: String,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<u16>,
    pub latency_ms: i64,
    pub error: String,
    pub response_excerpt: String,
}

/// Every callback of an order with its attempts, oldest first.
pub type CallbackLog = Vec<(CallbackRow, Vec<CallbackAttempt>)>;

/// What happens to a callback after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackNext {
    Delivered,
    RetryAt(i64),
    /// Given up (a final answer such as 404, or out of retries).
    Failed,
}

/// An order's callbacks, counted (for a redelivery's limits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderCallbacks {
    /// Still pending (waiting for an attempt, in flight, or for a retry).
    pub pending: u32,
    /// Ever queued, in any state.
    pub queued: u32,
}

/// A merchant whose wallet a batch changed, with their low-balance setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowBalanceWatch {
    pub wallet_id: AccountId,
    pub merchant_id: MerchantId,
    pub threshold: Amount,
    pub notified: bool,
}

/// The merchant's callback signing secrets, sealed: the current one and,
/// during a rotation, the previous one until a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackSecrets {
    pub current: Option<Vec<u8>>,
    pub previous: Option<(Vec<u8>, i64)>,
}

/// Callback settings, the outbox outside a batch, and delivery leases.
pub trait CallbackStore {
    fn set_callback_url<'a>(
        &'a self,
        merchant_id: MerchantId,
        url: &'a str,
        method: &'a str,
    ) -> BoxFuture<'a, Result<()>>;
    fn callback_secrets(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<CallbackSecrets>>;
    fn set_callback_secrets<'a>(
        &'a self,
        merchant_id: MerchantId,
        secrets: &'a CallbackSecrets,
    ) -> BoxFuture<'a, Result<()>>;
    /// Sets the threshold and clears the "notified" mark.
    fn set_low_balance_threshold(&self, merchant_id: MerchantId, threshold: Amount) -> BoxFuture<'_, Result<()>>;
    /// Queues a callback outside a batch (tests and tools; a redelivery goes
    /// through the writer, which checks its limits in the same transaction).
    fn enqueue_callback<'a>(&'a self, callback: &'a NewCallback) -> BoxFuture<'a, Result<CallbackId>>;
    /// Leases pending callbacks whose next attempt is due and that no node
    /// holds a live lease on (not even the claiming one: a leased callback is
    /// in flight), at most `claim.limit`, lowest ids first, and only:
    /// - the oldest pending callback of an order (the next one waits until
    ///   it is delivered or given up, even while it waits for a retry);
    /// - up to `per_merchant` of one merchant's callbacks in flight at once,
    ///   counting those every node holds a live lease on.
    fn claim_due_callbacks<'a>(
        &'a self,
        claim: &'a Claim,
        per_merchant: u32,
    ) -> BoxFuture<'a, Result<Vec<CallbackRow>>>;
    /// Logs an attempt and moves the callback on (delivered, retry, failed).
    fn record_callback_attempt<'a>(
        &'a self,
        attempt: &'a CallbackAttempt,
        next: CallbackNext,
    ) -> BoxFuture<'a, Result<()>>;
    /// Every callback of an order with its attempts, oldest first.
    fn callback_log(&self, order_id: OrderId) -> BoxFuture<'_, Result<CallbackLog>>;
}
