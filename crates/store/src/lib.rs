//! The store seam: the traits the engine sees and the rows that cross it.
//! Backends (SQLite now, PostgreSQL next) implement these; only the binary picks
//! one. The write side is a `Writer` session used by exactly one thread (the
//! group-commit writer); reads go through `Store` from any thread.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tambah_domain::Environment;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A uniqueness constraint refused the write (e.g. a refid raced in).
    Unique(String),
    /// Another constraint refused the write (a bug upstream of the store).
    Constraint(String),
    /// Anything else: IO, corruption, lock time-out.
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unique(m) => write!(f, "unique constraint: {m}"),
            StoreError::Constraint(m) => write!(f, "constraint: {m}"),
            StoreError::Other(m) => write!(f, "store: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerchantRow {
    pub id: i64,
    /// The public account number, e.g. `10023`.
    pub account: String,
    pub name: String,
    pub environment: Environment,
    pub level: String,
    /// 0 full, 50 read-only.
    pub access: u8,
    pub suspended: bool,
    pub api_version: String,
    /// Token-authenticated topups are refused (403); API keys only.
    pub require_api_key_for_topup: bool,
    pub wallet_id: i64,
    pub created_at_ms: i64,
    /// Where low-balance notices go by e-mail (empty: none).
    pub email: String,
    /// Where status changes are delivered (empty: none).
    pub callback_url: String,
    /// `GET` or `POST`.
    pub callback_method: String,
    /// Notify when the balance falls below this (0: never).
    pub low_balance_threshold_minor: i64,
}

/// The operator-editable settings of a merchant (`tambah merchant update`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerchantSettings {
    pub name: String,
    pub level: String,
    pub access: u8,
    pub suspended: bool,
    pub api_version: String,
    pub require_api_key_for_topup: bool,
    pub email: String,
}

#[derive(Clone, Debug)]
pub struct NewMerchant {
    pub name: String,
    pub environment: Environment,
    pub level: String,
    pub api_version: String,
    pub username: String,
    pub password_hash: String,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub merchant_id: i64,
    /// The signing secret, sealed with the node's master key.
    pub secret_sealed: Vec<u8>,
    pub revoked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub merchant_id: i64,
    pub username: String,
    pub password_hash: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Id,
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Id => "id",
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    pub fn parse(text: &str) -> Option<TokenKind> {
        match text {
            "id" => Some(TokenKind::Id),
            "access" => Some(TokenKind::Access),
            "refresh" => Some(TokenKind::Refresh),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// SHA-256 of the token, hex. The token itself is never stored.
    pub token_hash: String,
    pub kind: TokenKind,
    pub merchant_id: i64,
    pub user_id: i64,
    pub expires_at_ms: i64,
    pub revoked: bool,
}

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub id: i64,
    pub merchant_id: i64,
    pub refid: String,
    pub product: String,
    pub account: String,
    pub amount_minor: i64,
    pub cost_minor: i64,
    pub status: u8,
    pub sn: String,
    pub pin: String,
    pub expiry: String,
    pub note: String,
    pub voucherlink: String,
    pub remarks: String,
    pub extras_json: String,
    pub provider: String,
    /// When the provider should be asked again (pending orders, scheduled
    /// re-checks such as a staging refund scenario); `None` when nothing is due.
    pub recheck_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A change to an order's provider-facing fields and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    pub id: i64,
    pub status: u8,
    pub sn: String,
    pub pin: String,
    pub expiry: String,
    pub note: String,
    pub voucherlink: String,
    pub provider: String,
    pub recheck_at_ms: Option<i64>,
    pub updated_at_ms: i64,
}

/// The kinds of ledger transfer. Each moves `amount` from `debit` to `credit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferKind {
    /// funding → wallet
    Deposit,
    /// wallet → holds (pending)
    Hold,
    /// holds → revenue (resolves a hold)
    Post,
    /// holds → wallet (resolves a hold)
    Void,
    /// revenue → wallet (reverses a posted order)
    Refund,
}

impl TransferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Deposit => "DEPOSIT",
            TransferKind::Hold => "HOLD",
            TransferKind::Post => "POST",
            TransferKind::Void => "VOID",
            TransferKind::Refund => "REFUND",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTransfer {
    pub kind: TransferKind,
    pub debit_account: i64,
    pub credit_account: i64,
    pub amount_minor: i64,
    pub order_id: Option<i64>,
    /// For POST and VOID: the HOLD transfer being resolved.
    pub pending_id: Option<i64>,
    pub remarks: String,
    pub created_at_ms: i64,
    /// The balance of the merchant wallet this transfer moves, right after
    /// it (`None` for POST, which moves no wallet). Set by the writer's
    /// ledger; statements read it.
    pub wallet_balance_after_minor: Option<i64>,
}

impl NewTransfer {
    /// The merchant wallet a transfer moves: the debit of a HOLD, the credit
    /// of a DEPOSIT, VOID or REFUND, none for a POST.
    pub fn wallet_account(&self) -> Option<i64> {
        match self.kind {
            TransferKind::Hold => Some(self.debit_account),
            TransferKind::Post => None,
            TransferKind::Deposit | TransferKind::Void | TransferKind::Refund => Some(self.credit_account),
        }
    }
}

/// The ledger accounts of one environment that are not merchant wallets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemAccounts {
    /// Where deposits come from; the only account allowed below zero.
    pub funding: i64,
    /// Money held for accepted orders.
    pub holds: i64,
    /// Money of delivered orders.
    pub revenue: i64,
}

/// One check made by `verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    /// Rows examined.
    pub examined: u64,
    /// Human-readable violations (empty when the check holds).
    pub violations: Vec<String>,
}

/// One ledger invariant as two queries in a backend's dialect: how many rows
/// it examines, and one text column per row that breaks it.
pub struct VerifyRule {
    pub name: &'static str,
    pub examined: &'static str,
    pub violations: &'static str,
}

impl Check {
    /// How many violations of one check are listed (all are counted).
    pub const LIST_MAX: usize = 20;

    /// A check from its rule, the rows examined, and the violations in order
    /// (only the first [`Check::LIST_MAX`] are kept; the rest are counted).
    pub fn from_rule(rule: &VerifyRule, examined: u64, violations: impl IntoIterator<Item = String>) -> Check {
        let mut listed = Vec::new();
        let mut count = 0usize;
        for v in violations {
            count += 1;
            if listed.len() < Self::LIST_MAX {
                listed.push(v);
            }
        }
        if count > Self::LIST_MAX {
            listed.push(format!("... and {} more", count - Self::LIST_MAX));
        }
        Check { name: rule.name.to_owned(), examined, violations: listed }
    }
}

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
    pub merchant_id: i64,
    pub kind: CallbackKind,
    pub order_id: Option<i64>,
    /// The order's status at the event.
    pub status: Option<u8>,
    /// The wallet balance at the event.
    pub balance_minor: i64,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackRow {
    pub id: i64,
    pub merchant_id: i64,
    pub kind: CallbackKind,
    pub order_id: Option<i64>,
    pub status: Option<u8>,
    pub balance_minor: i64,
    pub created_at_ms: i64,
    /// Attempts made so far.
    pub attempts: u32,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
}

/// One delivery attempt, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackAttempt {
    pub callback_id: i64,
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

/// A merchant whose wallet a batch changed, with their low-balance setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowBalanceWatch {
    pub wallet_id: i64,
    pub merchant_id: i64,
    pub threshold_minor: i64,
    pub notified: bool,
}

/// The merchant's callback signing secrets, sealed: the current one and,
/// during a rotation, the previous one until a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackSecrets {
    pub current: Option<Vec<u8>>,
    pub previous: Option<(Vec<u8>, i64)>,
}

/// Status groups of the transaction listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusGroup {
    Successful,
    Pending,
    Failed,
    Refund,
}

/// A filtered, paged listing of one merchant's orders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderQuery {
    pub merchant_id: i64,
    /// Created at or after.
    pub from_ms: Option<i64>,
    /// Created before.
    pub to_ms: Option<i64>,
    /// Any of these (empty: all).
    pub statuses: Vec<StatusGroup>,
    pub account: Option<String>,
    pub product: Option<String>,
    pub refid: Option<String>,
    pub sn: Option<String>,
    pub limit: u32,
    pub offset: u64,
    /// Oldest first when true (default newest first).
    pub ascending: bool,
}

/// Counts and sums over the whole filtered set (not just the page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderTotals {
    pub count: u64,
    pub amount_minor: i64,
    pub cost_minor: i64,
    pub successful: u64,
    pub pending: u64,
    pub failed: u64,
    pub refund: u64,
    /// Amount and cost of the successful orders only.
    pub successful_amount_minor: i64,
    pub successful_cost_minor: i64,
}

/// One movement of a wallet, with the balance right after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementEntry {
    pub transfer_id: i64,
    pub at_ms: i64,
    /// `DEPOSIT`, `HOLD`, `VOID` or `REFUND` (the ledger's kinds).
    pub kind: String,
    /// Signed: what the wallet gained (+) or lost (−).
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    pub remarks: String,
    pub refid: Option<String>,
    pub product: Option<String>,
}

/// Which movements a statement lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatementQuery {
    pub wallet_id: i64,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Ledger kinds to list (empty: all).
    pub kinds: Vec<String>,
    pub limit: u32,
    pub offset: u64,
}

/// Sums of a wallet's movements by ledger kind within a time range, and the
/// balance before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Movements {
    pub opening_minor: i64,
    pub deposits_minor: i64,
    pub deposit_count: u64,
    pub holds_minor: i64,
    pub hold_count: u64,
    pub voids_minor: i64,
    pub void_count: u64,
    pub refunds_minor: i64,
    pub refund_count: u64,
}

impl Movements {
    /// Folds per-side sums: (`credit` side?, ledger kind, within the range?,
    /// sum, count). Before the range, credits add to the opening balance and
    /// debits take from it.
    pub fn fold(sides: impl IntoIterator<Item = (bool, String, bool, i64, u64)>) -> Movements {
        let mut m = Movements::default();
        for (credit, kind, within, sum, count) in sides {
            if !within {
                m.opening_minor += if credit { sum } else { -sum };
                continue;
            }
            match kind.as_str() {
                "DEPOSIT" => (m.deposits_minor, m.deposit_count) = (m.deposits_minor + sum, m.deposit_count + count),
                "HOLD" => (m.holds_minor, m.hold_count) = (m.holds_minor + sum, m.hold_count + count),
                "VOID" => (m.voids_minor, m.void_count) = (m.voids_minor + sum, m.void_count + count),
                "REFUND" => (m.refunds_minor, m.refund_count) = (m.refunds_minor + sum, m.refund_count + count),
                _ => {}
            }
        }
        m
    }
}

/// One line of the daily transaction summary: successful orders of one
/// product on one Malaysia-time day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// Days since 1970-01-01 in Malaysia time.
    pub day: i64,
    pub product: String,
    pub count: u64,
    pub amount_minor: i64,
    pub cost_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeRow {
    pub id: i64,
    pub merchant_id: i64,
    pub order_id: i64,
    pub refid: String,
    pub emails: String,
    /// `open` or `resolved`.
    pub state: String,
    pub resolution: String,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
}

/// The transfers written together with a new order: its HOLD and, when the
/// outcome is already known, the POST or VOID resolving it. The store fills
/// in `order_id` of both (the new order's id) and the resolution's
/// `pending_id` (the hold's id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderTransfers {
    pub hold: Option<NewTransfer>,
    pub resolution: Option<NewTransfer>,
}

/// What `insert_order_with_transfers` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New {
        order_id: i64,
        hold_id: Option<i64>,
    },
    /// The merchant already has this refid: nothing was written.
    Exists,
}

/// One open write session (a connection owned by one thread). All primitives
/// act inside the transaction opened by `begin`.
pub trait Writer: Send {
    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;
    /// Marks the start of one command inside the batch.
    fn savepoint(&mut self) -> Result<()>;
    fn release_savepoint(&mut self) -> Result<()>;
    fn rollback_to_savepoint(&mut self) -> Result<()>;

    /// Reads (and on backends that need it, locks) accounts; callers pass ids
    /// sorted ascending so that concurrent writers never deadlock.
    fn lock_balances(&mut self, sorted_ids: &[i64]) -> Result<Vec<(i64, i64)>>;
    fn set_balance(&mut self, account_id: i64, balance_minor: i64) -> Result<()>;

    fn find_order(&mut self, merchant_id: i64, refid: &str) -> Result<Option<OrderRow>>;
    fn get_order(&mut self, order_id: i64) -> Result<Option<OrderRow>>;
    /// Inserts `order` (its `id` ignored) and returns the new id;
    /// `StoreError::Unique` when the merchant already has the refid.
    fn insert_order(&mut self, order: &OrderRow) -> Result<i64>;
    fn update_order(&mut self, update: &OrderUpdate) -> Result<()>;
    /// The HOLD transfer of an order and whether it has been resolved.
    fn order_hold(&mut self, order_id: i64) -> Result<Option<(i64, i64, bool)>>;
    fn insert_transfer(&mut self, transfer: &NewTransfer) -> Result<i64>;

    /// Queues a callback (the outbox), inside the batch transaction.
    fn insert_callback(&mut self, callback: &NewCallback) -> Result<i64>;
    /// The low-balance settings of the merchants owning these wallets (only
    /// those with a threshold set).
    fn low_balance_watch(&mut self, wallet_ids: &[i64]) -> Result<Vec<LowBalanceWatch>>;
    fn set_low_balance_notified(&mut self, merchant_id: i64, notified: bool) -> Result<()>;
    /// Takes one unit of a product's stock: `None` when the product has no
    /// stock limit, `Some(false)` when it is out of stock.
    fn take_stock(&mut self, product: &str) -> Result<Option<bool>>;
    /// Counts a payment to a biller account in a month unless `limit` is
    /// reached; false when it is.
    fn count_bill_payment(&mut self, product: &str, account: &str, month: i64, limit: u32) -> Result<bool>;

    /// Inserts an order unless the merchant already has its refid, with its
    /// transfers (see `OrderTransfers`). Network backends override this to
    /// do it in one round trip; this default composes the primitives (fine
    /// where a failed statement does not abort the transaction, as on SQLite).
    fn insert_order_with_transfers(&mut self, order: &OrderRow, transfers: &OrderTransfers) -> Result<Inserted> {
        let order_id = match self.insert_order(order) {
            Ok(id) => id,
            Err(StoreError::Unique(_)) => return Ok(Inserted::Exists),
            Err(e) => return Err(e),
        };
        let mut hold_id = None;
        if let Some(hold) = &transfers.hold {
            hold_id = Some(self.insert_transfer(&NewTransfer { order_id: Some(order_id), ..hold.clone() })?);
        }
        if let Some(resolution) = &transfers.resolution {
            let pending_id = hold_id.ok_or_else(|| StoreError::Constraint("a resolution needs a hold".into()))?;
            self.insert_transfer(&NewTransfer {
                order_id: Some(order_id),
                pending_id: Some(pending_id),
                ..resolution.clone()
            })?;
        }
        Ok(Inserted::New { order_id, hold_id })
    }
}

/// A boxed future, so that `Store` stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A value already computed, as a `BoxFuture` (for synchronous backends).
pub fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

/// A request to lease due orders to one node (see `Store::claim_due_orders`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Who takes the lease (a node id).
    pub node: String,
    /// Accepted (status 0) orders created before this were never sent.
    pub accepted_before_ms: i64,
    /// Re-checks due at or before this are due.
    pub now_ms: i64,
    /// How long the lease lasts; another node may take the order after it.
    pub lease_ms: i64,
    pub limit: u32,
}

/// The database. Reads and administrative writes are async (network backends
/// must not block the caller's runtime); order and ledger writes go through a
/// `Writer` on the writer thread.
pub trait Store: Send + Sync + 'static {
    /// A write session for a writer thread. Must not block: network backends
    /// connect on first use, on the writer's own thread.
    fn writer(&self) -> Result<Box<dyn Writer>>;

    /// Checks that the database answers (health endpoint).
    fn ping(&self) -> BoxFuture<'_, Result<()>>;

    fn system_accounts(&self, environment: Environment) -> BoxFuture<'_, Result<SystemAccounts>>;

    fn create_merchant<'a>(&'a self, merchant: &'a NewMerchant) -> BoxFuture<'a, Result<MerchantRow>>;
    fn merchant(&self, merchant_id: i64) -> BoxFuture<'_, Result<Option<MerchantRow>>>;
    fn merchant_by_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Option<MerchantRow>>>;
    fn merchant_count(&self) -> BoxFuture<'_, Result<u64>>;
    /// Replaces the operator-editable settings; false when no such merchant.
    fn update_merchant<'a>(&'a self, merchant_id: i64, settings: &'a MerchantSettings) -> BoxFuture<'a, Result<bool>>;
    fn balance(&self, account_id: i64) -> BoxFuture<'_, Result<i64>>;

    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>>;
    fn api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRow>>>;
    /// Returns false when no such key exists.
    fn revoke_api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<bool>>;

    fn user_by_username<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<UserRow>>>;
    fn user(&self, user_id: i64) -> BoxFuture<'_, Result<Option<UserRow>>>;
    fn set_password_hash<'a>(&'a self, user_id: i64, password_hash: &'a str) -> BoxFuture<'a, Result<()>>;
    fn insert_token<'a>(&'a self, token: &'a TokenRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>>;
    fn token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<Option<TokenRow>>>;
    /// Revokes every token of a user (after a password change).
    fn revoke_user_tokens(&self, user_id: i64) -> BoxFuture<'_, Result<()>>;

    /// A key and its merchant in one look-up (the hot path of every signed
    /// request). Backends override this default with a single query.
    fn api_key_with_merchant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<(ApiKeyRow, MerchantRow)>>> {
        Box::pin(async move {
            let Some(key) = self.api_key(key_id).await? else { return Ok(None) };
            Ok(self.merchant(key.merchant_id).await?.map(|m| (key, m)))
        })
    }

    /// A token and its merchant in one look-up (the hot path of every
    /// token-authenticated request).
    fn token_with_merchant<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(TokenRow, MerchantRow)>>> {
        Box::pin(async move {
            let Some(token) = self.token(token_hash).await? else { return Ok(None) };
            Ok(self.merchant(token.merchant_id).await?.map(|m| (token, m)))
        })
    }

    /// An order by refid with the wallet's balance, in one look-up (the hot
    /// path of a status check).
    fn order_with_balance<'a>(
        &'a self,
        merchant_id: i64,
        refid: &'a str,
        wallet_id: i64,
    ) -> BoxFuture<'a, Result<(Option<OrderRow>, i64)>> {
        Box::pin(async move {
            let order = self.order_by_refid(merchant_id, refid).await?;
            Ok((order, self.balance(wallet_id).await?))
        })
    }

    /// Records a signature nonce; false when this key already used it within
    /// its window. Shared by every node of the database.
    fn remember_nonce<'a>(
        &'a self,
        key_id: &'a str,
        nonce: &'a str,
        expires_at_s: i64,
        now_s: i64,
    ) -> BoxFuture<'a, Result<bool>>;

    fn order_by_refid<'a>(&'a self, merchant_id: i64, refid: &'a str) -> BoxFuture<'a, Result<Option<OrderRow>>>;
    /// Leases to `claim.node` the orders whose provider work is due (status 0
    /// created before `accepted_before_ms`, or a re-check due at or before
    /// `now_ms`) that no other node holds a live lease on; ordered by id.
    fn claim_due_orders<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<OrderRow>>>;

    /// Checks every ledger invariant; see ARCHITECTURE.md.
    fn verify(&self) -> BoxFuture<'_, Result<Vec<Check>>>;

    // ---- after the sale ----

    fn set_callback_url<'a>(&'a self, merchant_id: i64, url: &'a str, method: &'a str) -> BoxFuture<'a, Result<()>>;
    fn callback_secrets(&self, merchant_id: i64) -> BoxFuture<'_, Result<CallbackSecrets>>;
    fn set_callback_secrets<'a>(&'a self, merchant_id: i64, secrets: &'a CallbackSecrets) -> BoxFuture<'a, Result<()>>;
    /// Sets the threshold and clears the "notified" mark.
    fn set_low_balance_threshold(&self, merchant_id: i64, threshold_minor: i64) -> BoxFuture<'_, Result<()>>;
    /// Queues a callback outside a batch (a manual redelivery).
    fn enqueue_callback<'a>(&'a self, callback: &'a NewCallback) -> BoxFuture<'a, Result<i64>>;
    /// Leases pending callbacks whose next attempt is due (as `claim_due_orders`).
    fn claim_due_callbacks<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<CallbackRow>>>;
    /// Logs an attempt and moves the callback on (delivered, retry, failed).
    fn record_callback_attempt<'a>(
        &'a self,
        attempt: &'a CallbackAttempt,
        next: CallbackNext,
    ) -> BoxFuture<'a, Result<()>>;
    /// Every callback of an order with its attempts, oldest first.
    fn callback_log(&self, order_id: i64) -> BoxFuture<'_, Result<CallbackLog>>;
    fn order(&self, order_id: i64) -> BoxFuture<'_, Result<Option<OrderRow>>>;
    /// Orders of any merchant with this refid (an operator's look-up; it may
    /// read the whole table).
    fn orders_with_refid<'a>(&'a self, refid: &'a str) -> BoxFuture<'a, Result<Vec<OrderRow>>>;

    fn list_orders<'a>(&'a self, query: &'a OrderQuery) -> BoxFuture<'a, Result<(Vec<OrderRow>, OrderTotals)>>;
    /// A page of wallet movements with running balances, and how many match.
    fn statement<'a>(&'a self, query: &'a StatementQuery) -> BoxFuture<'a, Result<(Vec<StatementEntry>, u64)>>;
    /// Sums of a wallet's movements in [from, to), and the balance at `from_ms`.
    fn movements(&self, wallet_id: i64, from_ms: Option<i64>, to_ms: Option<i64>) -> BoxFuture<'_, Result<Movements>>;
    /// Successful orders of a merchant per Malaysia-time day and product.
    fn daily_summary(&self, merchant_id: i64, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<SummaryRow>>>;

    /// Stores a catalogue (validated by the caller) as the newest version.
    fn save_catalog<'a>(&'a self, json: &'a str, now_ms: i64) -> BoxFuture<'a, Result<i64>>;
    /// The newest stored catalogue version, and its JSON when `with_json`.
    fn latest_catalog(&self, with_json: bool) -> BoxFuture<'_, Result<Option<(i64, String)>>>;
    /// Sets a product's stock (`None`: unlimited).
    fn set_stock<'a>(&'a self, product: &'a str, remaining: Option<u64>) -> BoxFuture<'a, Result<()>>;
    fn stock_levels(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>>>;
    /// Payments counted for a biller account in a month.
    fn bill_payments<'a>(&'a self, product: &'a str, account: &'a str, month: i64) -> BoxFuture<'a, Result<u64>>;

    /// Opens a dispute on an order (or returns the one already open).
    fn open_dispute<'a>(
        &'a self,
        order: &'a OrderRow,
        emails: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<DisputeRow>>;
    fn disputes(&self, open_only: bool) -> BoxFuture<'_, Result<Vec<DisputeRow>>>;
    /// False when no open dispute has this id.
    fn resolve_dispute<'a>(&'a self, id: i64, resolution: &'a str, now_ms: i64) -> BoxFuture<'a, Result<bool>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_lists_the_first_violations_and_counts_the_rest() {
        let rule = VerifyRule { name: "r", examined: "", violations: "" };
        let c = Check::from_rule(&rule, 7, (0..Check::LIST_MAX + 3).map(|i| format!("v{i}")));
        assert_eq!(c.examined, 7);
        assert_eq!(c.violations.len(), Check::LIST_MAX + 1);
        assert_eq!(c.violations[0], "v0");
        assert_eq!(c.violations.last().unwrap(), "... and 3 more");
        let c = Check::from_rule(&rule, 0, (0..Check::LIST_MAX).map(|i| format!("v{i}")));
        assert_eq!(c.violations.len(), Check::LIST_MAX);
        assert!(Check::from_rule(&rule, 0, Vec::new()).violations.is_empty());
    }
}
