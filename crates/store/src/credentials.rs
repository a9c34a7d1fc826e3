//! Credentials: API keys, users, tokens and used signature nonces.

use tambah_domain::{MerchantId, Role, UserId};

use crate::{BoxFuture, MerchantRow, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub merchant_id: MerchantId,
    /// The signing secret, sealed with the node's master key.
    pub secret_sealed: Vec<u8>,
    pub revoked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub merchant_id: MerchantId,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
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
    pub merchant_id: MerchantId,
    pub user_id: UserId,
    pub expires_at_ms: i64,
    pub revoked: bool,
}

/// API keys, users, tokens and nonces: everything authentication reads.
pub trait CredentialStore {
    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>>;
    fn api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRow>>>;
    /// Returns false when no such key exists.
    fn revoke_api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<bool>>;
    /// A key and its merchant in one look-up (the hot path of every signed
    /// request).
    fn api_key_with_merchant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<(ApiKeyRow, MerchantRow)>>>;

    fn user_by_username<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<UserRow>>>;
    fn user(&self, user_id: UserId) -> BoxFuture<'_, Result<Option<UserRow>>>;
    fn set_password_hash<'a>(&'a self, user_id: UserId, password_hash: &'a str) -> BoxFuture<'a, Result<()>>;

    fn insert_token<'a>(&'a self, token: &'a TokenRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>>;
    fn token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<Option<TokenRow>>>;
    /// A token, its merchant and its user's role in one look-up (the hot
    /// path of every token-authenticated request).
    fn token_with_merchant<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(TokenRow, MerchantRow, Role)>>>;
    /// Revokes every token of a user (after a password change).
    fn revoke_user_tokens(&self, user_id: UserId) -> BoxFuture<'_, Result<()>>;
    /// Revokes one token (a dashboard log-out); false when there is none.
    fn revoke_token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// The change counter of the nodes' caches (migration 0020): it moves
    /// with every change a cached credential or final order could miss,
    /// whoever writes it.
    fn change_epoch(&self) -> BoxFuture<'_, Result<i64>>;

    /// Records a signature nonce; false when this key already used it within
    /// its window. Shared by every node of the database.
    fn remember_nonce<'a>(
        &'a self,
        key_id: &'a str,
        nonce: &'a str,
        expires_at_s: i64,
        now_s: i64,
    ) -> BoxFuture<'a, Result<bool>>;
}
