//! Authentication: API key + HMAC v1 signatures (with timestamp window and
//! nonce replay protection), and bearer tokens issued for username/password.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use tambah_domain::Environment;
use tambah_store::{MerchantRow, TokenKind, TokenRow};

use crate::credentials::{hash_password, new_token, token_hash, verify_password};
use crate::{signing, Engine};

/// Who is calling, once authenticated.
#[derive(Clone, Debug)]
pub struct Caller {
    pub merchant: MerchantRow,
    pub via: AuthMethod,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ApiKey(String),
    Token { user_id: i64 },
}

/// Why a request was not let in. Each maps to a 401 body `{"error","message"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials at all.
    Missing,
    /// Unknown or revoked key, or a key of the other environment.
    KeyNotFound,
    /// Signature headers incomplete.
    MissingSignatureHeaders,
    /// `X-Timestamp` not Unix seconds within the window.
    TimestampOutOfWindow,
    /// `X-Nonce` not 16–128 characters.
    BadNonce,
    SignatureMismatch,
    /// Nonce already used by this key within the window.
    NonceReused,
    /// Token unknown, revoked, expired or of the wrong kind.
    InvalidToken,
    TokenExpired,
    /// Username or password wrong (or of the other environment).
    WrongCredentials,
    /// The store failed; answered 500, not 401.
    Internal,
}

impl AuthError {
    /// The stable `error` code.
    pub fn code(self) -> &'static str {
        match self {
            AuthError::Missing => "missing_credentials",
            AuthError::KeyNotFound => "invalid_api_key",
            AuthError::MissingSignatureHeaders => "missing_signature_headers",
            AuthError::TimestampOutOfWindow => "timestamp_out_of_window",
            AuthError::BadNonce => "invalid_nonce",
            AuthError::SignatureMismatch => "invalid_signature",
            AuthError::NonceReused => "nonce_reused",
            AuthError::InvalidToken => "invalid_token",
            AuthError::TokenExpired => "token_expired",
            AuthError::WrongCredentials => "NotAuthorizedException",
            AuthError::Internal => "internal_error",
        }
    }

    /// The `message`, using the texts clients look for.
    pub fn message(self) -> &'static str {
        match self {
            AuthError::KeyNotFound => "API key not found",
            AuthError::SignatureMismatch => "Signature mismatch",
            AuthError::WrongCredentials => "Incorrect username or password.",
            AuthError::Internal => "Internal server error",
            _ => "Unauthorized",
        }
    }

    /// A sentence for the developer reading the response.
    pub fn detail(self) -> &'static str {
        match self {
            AuthError::Missing => "send X-Api-Key with X-Timestamp, X-Nonce and X-Signature, or Authorization: Bearer <IdToken>",
            AuthError::KeyNotFound => "the API key is unknown, revoked, or belongs to the other environment",
            AuthError::MissingSignatureHeaders => "X-Timestamp, X-Nonce and X-Signature are all required with X-Api-Key",
            AuthError::TimestampOutOfWindow => {
                "X-Timestamp must be Unix time in seconds (10 digits) within 300 seconds of the server's clock"
            }
            AuthError::BadNonce => "X-Nonce must be 16 to 128 characters",
            AuthError::SignatureMismatch => {
                "X-Signature must be v1=base64(HMAC-SHA256(base64decode(secret), \"v1:ts:nonce:METHOD:sortedQuery:bodyHash\"))"
            }
            AuthError::NonceReused => "this X-Nonce was already used with this key; use a fresh nonce per request",
            AuthError::InvalidToken => "the token is unknown or revoked; request a new one from /v2/token",
            AuthError::TokenExpired => "the token has expired; refresh it with /v2/token/refresh",
            AuthError::WrongCredentials => "check the username and password (and the environment they belong to)",
            AuthError::Internal => "",
        }
    }
}

/// The signed parts of a request.
pub struct SignedRequest<'a> {
    pub api_key: &'a str,
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub method: &'a str,
    pub raw_query: &'a str,
    pub body: &'a [u8],
}

/// What `/v2/token` returns.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    pub id_token: String,
    pub access_token: String,
    /// Absent on refresh.
    pub refresh_token: Option<String>,
    pub expires_in_s: i64,
}

/// Nonces seen within the signature window, per key. Remembered as 64-bit
/// keyed hashes (8 bytes each) until their timestamp leaves the window.
/// In memory: a restarted node forgets them (see ARCHITECTURE.md).
pub(crate) struct NonceCache {
    hasher: RandomState,
    inner: Mutex<NonceInner>,
    max_entries: usize,
}

struct NonceInner {
    seen: HashSet<u64>,
    /// (expires_at_s, hash) in arrival order.
    expiry: VecDeque<(i64, u64)>,
}

impl NonceCache {
    pub(crate) fn new(max_entries: usize) -> NonceCache {
        NonceCache {
            hasher: RandomState::new(),
            inner: Mutex::new(NonceInner {
                seen: HashSet::new(),
                expiry: VecDeque::new(),
            }),
            max_entries,
        }
    }

    /// Records a nonce; false when it was already seen.
    pub(crate) fn first_use(
        &self,
        key_id: &str,
        nonce: &str,
        expires_at_s: i64,
        now_s: i64,
    ) -> bool {
        let h = self.hasher.hash_one((key_id, nonce));
        let mut inner = self.inner.lock().expect("nonce cache poisoned");
        while let Some(&(exp, old)) = inner.expiry.front() {
            if exp >= now_s && inner.expiry.len() < self.max_entries {
                break;
            }
            inner.expiry.pop_front();
            inner.seen.remove(&old);
        }
        if !inner.seen.insert(h) {
            return false;
        }
        inner.expiry.push_back((expires_at_s, h));
        true
    }
}

impl Engine {
    fn env_allowed(&self, environment: Environment) -> bool {
        self.config()
            .environment
            .is_none_or(|bound| bound == environment)
    }

    /// Checks an API key and HMAC v1 signature.
    pub fn authenticate_signed(&self, req: &SignedRequest) -> Result<Caller, AuthError> {
        let key = self
            .store()
            .api_key(req.api_key)
            .map_err(|_| AuthError::Internal)?;
        let key = match key {
            Some(k) if !k.revoked => k,
            _ => return Err(AuthError::KeyNotFound),
        };
        let merchant = self
            .store()
            .merchant(key.merchant_id)
            .map_err(|_| AuthError::Internal)?
            .ok_or(AuthError::KeyNotFound)?;
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::KeyNotFound);
        }
        let (Some(timestamp), Some(nonce), Some(signature)) =
            (req.timestamp, req.nonce, req.signature)
        else {
            return Err(AuthError::MissingSignatureHeaders);
        };
        let window_s = self.config().signature_window_s;
        let now_s = self.now_ms() / 1000;
        let ts: i64 = match timestamp.parse() {
            Ok(ts) if timestamp.len() <= 11 && timestamp.bytes().all(|b| b.is_ascii_digit()) => ts,
            _ => return Err(AuthError::TimestampOutOfWindow),
        };
        if (now_s - ts).abs() > window_s {
            return Err(AuthError::TimestampOutOfWindow);
        }
        if !(16..=128).contains(&nonce.len()) || nonce.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(AuthError::BadNonce);
        }
        let secret = self
            .master_key()
            .open(&key.secret_sealed)
            .map_err(|_| AuthError::Internal)?;
        let canonical = signing::canonical(timestamp, nonce, req.method, req.raw_query, req.body);
        if !signing::verify(&secret, &canonical, signature) {
            return Err(AuthError::SignatureMismatch);
        }
        if !self
            .nonces()
            .first_use(&key.key_id, nonce, ts + window_s, now_s)
        {
            return Err(AuthError::NonceReused);
        }
        Ok(Caller {
            merchant,
            via: AuthMethod::ApiKey(key.key_id),
        })
    }

    /// Checks an `Authorization` header value: `Bearer <token>` or the raw token.
    pub fn authenticate_token(&self, authorization: &str) -> Result<Caller, AuthError> {
        let token = authorization
            .strip_prefix("Bearer ")
            .unwrap_or(authorization)
            .trim();
        let row = self
            .store()
            .token(&token_hash(token))
            .map_err(|_| AuthError::Internal)?;
        let row = match row {
            Some(r) if !r.revoked && r.kind != TokenKind::Refresh => r,
            _ => return Err(AuthError::InvalidToken),
        };
        if row.expires_at_ms <= self.now_ms() {
            return Err(AuthError::TokenExpired);
        }
        let merchant = self
            .store()
            .merchant(row.merchant_id)
            .map_err(|_| AuthError::Internal)?
            .ok_or(AuthError::InvalidToken)?;
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::InvalidToken);
        }
        Ok(Caller {
            merchant,
            via: AuthMethod::Token {
                user_id: row.user_id,
            },
        })
    }

    fn issue_tokens(
        &self,
        merchant_id: i64,
        user_id: i64,
        with_refresh: bool,
    ) -> Result<IssuedTokens, AuthError> {
        let now = self.now_ms();
        let ttl_s = self.config().token_ttl_s;
        let make = |kind: TokenKind, prefix: &str, ttl_s: i64| -> Result<String, AuthError> {
            let (token, hash) = new_token(prefix);
            let row = TokenRow {
                token_hash: hash,
                kind,
                merchant_id,
                user_id,
                expires_at_ms: now + ttl_s * 1000,
                revoked: false,
            };
            self.store()
                .insert_token(&row, now)
                .map_err(|_| AuthError::Internal)?;
            Ok(token)
        };
        let id_token = make(TokenKind::Id, "tbh_id_", ttl_s)?;
        let access_token = make(TokenKind::Access, "tbh_at_", ttl_s)?;
        let refresh_token = if with_refresh {
            Some(make(
                TokenKind::Refresh,
                "tbh_rt_",
                self.config().refresh_ttl_s,
            )?)
        } else {
            None
        };
        Ok(IssuedTokens {
            id_token,
            access_token,
            refresh_token,
            expires_in_s: ttl_s,
        })
    }

    /// `/v2/token`: username and password for an IdToken, AccessToken and
    /// RefreshToken. Runs the memory-hard hash: call from a blocking thread.
    pub fn login(&self, username: &str, password: &str) -> Result<IssuedTokens, AuthError> {
        let user = self
            .store()
            .user_by_username(username)
            .map_err(|_| AuthError::Internal)?;
        let Some(user) = user else {
            // Same work as a real check, so timing does not reveal usernames.
            verify_password(password, DUMMY_HASH);
            return Err(AuthError::WrongCredentials);
        };
        if !verify_password(password, &user.password_hash) {
            return Err(AuthError::WrongCredentials);
        }
        let merchant = self
            .store()
            .merchant(user.merchant_id)
            .map_err(|_| AuthError::Internal)?
            .ok_or(AuthError::WrongCredentials)?;
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::WrongCredentials);
        }
        self.issue_tokens(user.merchant_id, user.id, true)
    }

    /// `/v2/token/refresh`: a RefreshToken for new Id and Access tokens.
    pub fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, AuthError> {
        let row = self
            .store()
            .token(&token_hash(refresh_token.trim()))
            .map_err(|_| AuthError::Internal)?;
        let row = match row {
            Some(r) if !r.revoked && r.kind == TokenKind::Refresh => r,
            _ => return Err(AuthError::InvalidToken),
        };
        if row.expires_at_ms <= self.now_ms() {
            return Err(AuthError::TokenExpired);
        }
        let merchant = self
            .store()
            .merchant(row.merchant_id)
            .map_err(|_| AuthError::Internal)?
            .ok_or(AuthError::InvalidToken)?;
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::InvalidToken);
        }
        self.issue_tokens(row.merchant_id, row.user_id, false)
    }

    /// `/v1/auth/change-password`: needs the old password; revokes every
    /// token of the user. Runs the memory-hard hash: call from a blocking thread.
    pub fn change_password(
        &self,
        caller: &Caller,
        old: &str,
        new: &str,
    ) -> Result<(), ChangePasswordError> {
        let AuthMethod::Token { user_id } = caller.via else {
            return Err(ChangePasswordError::NeedsToken);
        };
        check_password_rules(new).map_err(ChangePasswordError::Weak)?;
        let user = self
            .store()
            .user(user_id)
            .map_err(|_| ChangePasswordError::Auth(AuthError::Internal))?
            .ok_or(ChangePasswordError::Auth(AuthError::InvalidToken))?;
        if !verify_password(old, &user.password_hash) {
            return Err(ChangePasswordError::Auth(AuthError::WrongCredentials));
        }
        let store = self.store();
        store
            .set_password_hash(user_id, &hash_password(new))
            .map_err(|_| ChangePasswordError::Auth(AuthError::Internal))?;
        store
            .revoke_user_tokens(user_id)
            .map_err(|_| ChangePasswordError::Auth(AuthError::Internal))?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangePasswordError {
    NeedsToken,
    Weak(String),
    Auth(AuthError),
}

/// At least 8 characters, at most 128.
pub fn check_password_rules(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < 8 {
        return Err("password must be at least 8 characters".into());
    }
    if n > 128 {
        return Err("password must be at most 128 characters".into());
    }
    Ok(())
}

/// A valid Argon2id hash of a random password, verified against when the
/// username is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";

/// Decodes a base64 API secret as shown to the merchant.
pub fn decode_secret(secret_b64: &str) -> Result<Vec<u8>, String> {
    B64.decode(secret_b64.trim())
        .map_err(|e| format!("secret is not base64: {e}"))
}
