//! The dashboard's accounts: the members of a merchant and their roles,
//! one-use links (invitations, password resets), live access asked by a
//! staging merchant and approved by the operator, the operator's own
//! accounts and sessions, and the audit log of operator actions.

use tambah_domain::{MerchantId, Role, UserId};

use crate::{BoxFuture, MerchantRow, NewMerchant, Result, UserRow};

/// An API key as a listing shows it: never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyListing {
    pub key_id: String,
    pub revoked: bool,
    pub created_at_ms: i64,
}

/// What a one-use link lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Set the first password of an invited member.
    Invite,
    /// Set a new password after a forgotten one.
    Reset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invite => "invite",
            LinkPurpose::Reset => "reset",
        }
    }
}

/// A staging merchant's request for live access, and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveAccessRow {
    pub staging_merchant_id: MerchantId,
    pub requested_at_ms: i64,
    /// The live merchant, once approved.
    pub live_merchant_id: Option<MerchantId>,
    pub approved_at_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    /// The TOTP secret, sealed with the node's master key.
    pub totp_sealed: Vec<u8>,
    pub created_at_ms: i64,
}

/// One operator action, as the audit log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub operator_email: String,
    pub action: String,
    pub merchant_account: Option<String>,
    pub detail: String,
    pub created_at_ms: i64,
}

/// One refused or failed API request of a merchant, for its request log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLogRow {
    pub merchant_id: MerchantId,
    pub at_ms: i64,
    pub method: String,
    /// The path, never the query (it may carry a callback URL's secrets).
    pub path: String,
    pub status: u16,
    /// The answer's error code (`error`, or `code` in a topup's body).
    pub error: String,
    pub message: String,
    pub request_id: String,
    pub client_ip: String,
}

/// Members, links, live access, operators and the audit log.
pub trait AccountStore {
    /// A merchant's API keys, newest first.
    fn api_keys_of(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Vec<ApiKeyListing>>>;

    /// A merchant's members, by username.
    fn members(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Vec<UserRow>>>;
    /// Adds a member; `StoreError::Unique` when the username is taken.
    fn insert_user<'a>(
        &'a self,
        merchant_id: MerchantId,
        username: &'a str,
        password_hash: &'a str,
        role: Role,
    ) -> BoxFuture<'a, Result<UserId>>;
    /// Removes a member of this merchant with its tokens and links; false
    /// when it is not one, or when it is the merchant's last admin.
    fn remove_user(&self, merchant_id: MerchantId, user_id: UserId) -> BoxFuture<'_, Result<bool>>;

    fn insert_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        user_id: UserId,
        purpose: LinkPurpose,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>>;
    /// The user of a link that could be used now (nothing is marked).
    fn pending_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        purpose: LinkPurpose,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<UserRow>>>;
    /// Marks a link used and returns its user: `None` when it does not
    /// exist, is for another purpose, has expired or was used.
    fn use_user_link<'a>(
        &'a self,
        token_hash: &'a str,
        purpose: LinkPurpose,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<UserRow>>>;

    /// Replaces where the merchant's API requests may come from.
    fn set_ip_allowlist<'a>(&'a self, merchant_id: MerchantId, allowlist: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Appends requests to the request log, in one transaction.
    fn insert_request_log<'a>(&'a self, rows: &'a [RequestLogRow]) -> BoxFuture<'a, Result<()>>;
    /// A merchant's newest `limit` logged requests, newest first.
    fn request_log(&self, merchant_id: MerchantId, limit: u32) -> BoxFuture<'_, Result<Vec<RequestLogRow>>>;
    /// Deletes logged requests older than `before_ms`, and any beyond each
    /// merchant's newest `keep_per_merchant`; how many.
    fn trim_request_log(&self, before_ms: i64, keep_per_merchant: u32) -> BoxFuture<'_, Result<u64>>;

    /// Starts a dashboard session (`two_factor`: its member gave a code).
    fn insert_dashboard_session<'a>(
        &'a self,
        token_hash: &'a str,
        user_id: UserId,
        two_factor: bool,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>>;
    /// A session not expired at `now_ms`: its member, and whether it gave
    /// a two-factor code.
    fn dashboard_session<'a>(
        &'a self,
        token_hash: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<Option<(UserRow, bool)>>>;
    /// Records that the session's member gave a two-factor code.
    fn pass_dashboard_two_factor<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>>;
    /// Ends one session; false when there was none.
    fn end_dashboard_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>>;
    /// Ends every session of a member (a new password, a new second factor).
    fn end_user_dashboard_sessions(&self, user_id: UserId) -> BoxFuture<'_, Result<()>>;
    /// Spends every open link of a member (its password was just set).
    fn spend_user_links(&self, user_id: UserId, now_ms: i64) -> BoxFuture<'_, Result<()>>;

    /// A member's confirmed TOTP secret (sealed), if it set one up.
    fn user_totp(&self, user_id: UserId) -> BoxFuture<'_, Result<Option<Vec<u8>>>>;
    /// Sets (replacing any) or, with `None`, removes a member's TOTP secret.
    fn set_user_totp<'a>(&'a self, user_id: UserId, sealed: Option<&'a [u8]>, now_ms: i64)
        -> BoxFuture<'a, Result<()>>;
    /// Records that the member signed in with TOTP step `step`; false when
    /// that step (or a later one) was used already.
    fn use_user_totp_step(&self, user_id: UserId, step: i64) -> BoxFuture<'_, Result<bool>>;

    /// Records a staging merchant's request; false when it asked before.
    fn request_live(&self, staging: MerchantId, now_ms: i64) -> BoxFuture<'_, Result<bool>>;
    fn live_access(&self, staging: MerchantId) -> BoxFuture<'_, Result<Option<LiveAccessRow>>>;
    /// Requests not yet approved, oldest first (at most 200).
    fn live_requests(&self) -> BoxFuture<'_, Result<Vec<LiveAccessRow>>>;
    /// Creates the live merchant (with its wallet, without users) and links
    /// it, in one transaction; `None` when there is no open request (never
    /// asked, or approved already: two approvals make one live merchant).
    fn approve_live<'a>(
        &'a self,
        staging: MerchantId,
        live: &'a NewMerchant,
    ) -> BoxFuture<'a, Result<Option<MerchantRow>>>;
    /// Merchants whose account number, name or member's username contains
    /// `text` (every merchant when empty), newest first.
    fn search_merchants<'a>(&'a self, text: &'a str, limit: u32) -> BoxFuture<'a, Result<Vec<MerchantRow>>>;

    /// `StoreError::Unique` when the e-mail is taken.
    fn insert_operator<'a>(
        &'a self,
        email: &'a str,
        password_hash: &'a str,
        totp_sealed: &'a [u8],
        now_ms: i64,
    ) -> BoxFuture<'a, Result<i64>>;
    fn operator_by_email<'a>(&'a self, email: &'a str) -> BoxFuture<'a, Result<Option<OperatorRow>>>;
    fn insert_operator_session<'a>(
        &'a self,
        token_hash: &'a str,
        operator_id: i64,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>>;
    /// A session that is neither revoked nor expired at `now_ms`, with its
    /// operator.
    fn operator_session<'a>(&'a self, token_hash: &'a str, now_ms: i64) -> BoxFuture<'a, Result<Option<OperatorRow>>>;
    /// Records that the operator signed in with TOTP step `step`; false
    /// when that step (or a later one) was used already, on any node.
    fn use_totp_step(&self, operator_id: i64, step: i64) -> BoxFuture<'_, Result<bool>>;
    fn revoke_operator_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>>;

    fn record_audit<'a>(
        &'a self,
        operator_id: i64,
        action: &'a str,
        merchant_id: Option<MerchantId>,
        detail: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<()>>;
    /// The newest `limit` entries, newest first.
    fn audit_log(&self, limit: u32) -> BoxFuture<'_, Result<Vec<AuditRow>>>;
}
