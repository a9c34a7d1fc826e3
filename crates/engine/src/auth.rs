//! Authentication: API key + HMAC v1 signatures (with timestamp window and
//! nonce replay protection), and bearer tokens issued for username/password.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use tambah_domain::{Capability, Environment, MerchantId, Role, UserId};
use tambah_store::{MerchantRow, StoreError, TokenKind, TokenRow, UserRow};

use crate::credentials::{new_token, token_hash};
use crate::{signing, Engine};

/// Who is calling, once authenticated.
#[derive(Clone, Debug)]
pub struct Caller {
    pub merchant: MerchantRow,
    pub via: AuthMethod,
}

/// What a callback setting asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingAccess {
    /// Reads something secret (the signing secret).
    ReadSecret,
    /// Changes something (the URL, the secret, a redelivery).
    Change,
}

/// The most entries an IP allowlist holds.
pub const IP_ALLOWLIST_MAX: usize = 50;

/// An allowlist as typed (entries between commas, spaces or new lines,
/// each an address or a CIDR range) in its stored form: comma-separated,
/// networks normalised. Empty: any address.
pub fn parse_ip_allowlist(text: &str) -> Result<String, String> {
    let entries: Vec<&str> = text.split([',', ' ', '\n', '\r', '\t']).filter(|e| !e.is_empty()).collect();
    if entries.len() > IP_ALLOWLIST_MAX {
        return Err(format!("at most {IP_ALLOWLIST_MAX} addresses or ranges"));
    }
    let mut out: Vec<String> = Vec::new();
    for entry in entries {
        let net = match entry.parse::<ipnet::IpNet>() {
            // An IPv4-mapped IPv6 range is its IPv4 range (clients are
            // matched in their IPv4 form).
            Ok(ipnet::IpNet::V6(v6)) if v6.addr().to_ipv4_mapped().is_some() && v6.prefix_len() >= 96 => {
                let v4 = v6.addr().to_ipv4_mapped().expect("checked");
                ipnet::IpNet::V4(ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).expect("96..=128 less 96").trunc())
            }
            Ok(net) => net.trunc(),
            Err(_) => match entry.parse::<std::net::IpAddr>() {
                Ok(ip) => ipnet::IpNet::from(ip.to_canonical()),
                Err(_) => {
                    return Err(format!(
                        "{entry:?} is neither an IP address nor a CIDR range (203.0.113.7, 203.0.113.0/24)"
                    ))
                }
            },
        };
        let text = net.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out.join(","))
}

/// Whether `ip` is in a stored allowlist (an empty one allows any).
pub fn ip_allowed(allowlist: &str, ip: Option<std::net::IpAddr>) -> bool {
    if allowlist.is_empty() {
        return true;
    }
    let Some(ip) = ip.map(|ip| ip.to_canonical()) else { return false };
    allowlist.split(',').filter_map(|n| n.parse::<ipnet::IpNet>().ok()).any(|net| net.contains(&ip))
}

impl Caller {
    /// Whether the caller's role allows `capability` (a signed request is
    /// trusted with orders and settings, not with members).
    pub fn can(&self, capability: Capability) -> bool {
        match self.via {
            AuthMethod::ApiKey(_) => capability != Capability::Members,
            AuthMethod::Token { role, .. } => role.may(capability),
        }
    }

    /// The rules for new orders also guard what could redirect or reveal
    /// them: a suspended merchant changes and reads no callback secrets, a
    /// read-only one changes nothing, and where the account requires an API
    /// key for topups a token can do neither (else a stolen token could
    /// point callbacks, with their PINs and e-SIM codes, elsewhere).
    pub fn may(&self, access: SettingAccess) -> Result<(), &'static str> {
        let m = &self.merchant;
        if !self.can(Capability::Settings) {
            return Err("this member's role cannot change callback settings or read signing secrets");
        }
        if m.suspended {
            return Err("merchant account is suspended: callback settings and secrets are frozen");
        }
        if access == SettingAccess::Change && m.access != 0 {
            return Err("merchant account is read-only");
        }
        if m.require_api_key_for_topup && matches!(self.via, AuthMethod::Token { .. }) {
            return Err(
                "this account requires an API key signature for callback settings and secrets; tokens are refused",
            );
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A signed request: the key's holder is trusted with orders and
    /// settings (only admins and developers create keys).
    ApiKey(String),
    /// A bearer token of a member, with the member's role.
    Token { user_id: UserId, role: Role },
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
    /// The database cannot take the call now (read-only, full,
    /// unreachable); answered 503.
    Unavailable {
        nothing_changed: bool,
    },
    /// Too many password checks at once on this node: nothing was checked;
    /// answered 503.
    Busy,
    /// The merchant is suspended: no new tokens (told only to whoever
    /// knows the password or holds a refresh token); answered 403.
    Suspended,
}

impl AuthError {
    /// A store failure: 503 when the database is unavailable, else 500.
    pub fn store(e: StoreError) -> AuthError {
        match e {
            StoreError::Unavailable { nothing_changed, .. } => AuthError::Unavailable { nothing_changed },
            _ => AuthError::Internal,
        }
    }

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
            AuthError::Unavailable { .. } => "unavailable",
            AuthError::Busy => "unavailable",
            AuthError::Suspended => "merchant_suspended",
        }
    }

    /// The `message`, using the texts clients look for.
    pub fn message(self) -> &'static str {
        match self {
            AuthError::KeyNotFound => "API key not found",
            AuthError::SignatureMismatch => "Signature mismatch",
            AuthError::WrongCredentials => "Incorrect username or password.",
            AuthError::Internal => "Internal server error",
            AuthError::Unavailable { .. } => "Service unavailable, try again",
            AuthError::Busy => "Service unavailable, try again",
            AuthError::Suspended => "Merchant account is suspended",
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
            AuthError::Internal | AuthError::Unavailable { .. } => "",
            AuthError::Busy => "too many log-ins at once on this node; retry after a second",
            AuthError::Suspended => "a suspended account gets no new tokens; ask the operator",
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

impl Engine {
    pub(crate) fn env_allowed(&self, environment: Environment) -> bool {
        self.config().environment.is_none_or(|bound| bound == environment)
    }

    /// Checks an API key and HMAC v1 signature.
    pub async fn authenticate_signed(&self, req: &SignedRequest<'_>) -> Result<Caller, AuthError> {
        let store = self.store();
        let found = match self.caches.key(req.api_key) {
            Some(entry) => Some(entry),
            None => {
                let ticket = self.caches.ticket();
                let found = store.api_key_with_merchant(req.api_key).await.map_err(AuthError::store)?;
                let found = found.map(std::sync::Arc::new);
                if let Some(entry) = &found {
                    self.caches.fill_key(ticket, req.api_key, entry.clone());
                }
                found
            }
        };
        let (key, merchant) = match found.as_deref() {
            Some((k, m)) if !k.revoked => (k, m.clone()),
            _ => return Err(AuthError::KeyNotFound),
        };
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::KeyNotFound);
        }
        let (Some(timestamp), Some(nonce), Some(signature)) = (req.timestamp, req.nonce, req.signature) else {
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
        let secret = self.master_key().open(&key.secret_sealed).map_err(|_| AuthError::Internal)?;
        let canonical = signing::canonical(timestamp, nonce, req.method, req.raw_query, req.body);
        if !signing::verify(&secret, &canonical, signature) {
            return Err(AuthError::SignatureMismatch);
        }
        // Only a correctly signed request may spend a nonce.
        let first = store.remember_nonce(&key.key_id, nonce, ts + window_s, now_s).await;
        if !first.map_err(AuthError::store)? {
            return Err(AuthError::NonceReused);
        }
        Ok(Caller { merchant, via: AuthMethod::ApiKey(key.key_id.clone()) })
    }

    /// Checks an `Authorization` header value: `Bearer <token>` (the scheme in
    /// any case, RFC 7235) or the raw token.
    pub async fn authenticate_token(&self, authorization: &str) -> Result<Caller, AuthError> {
        // The cache is keyed by the token itself: a hit hashes nothing.
        let token = bearer_token(authorization);
        let found = match self.caches.token(token) {
            Some(entry) => Some(entry),
            None => {
                let ticket = self.caches.ticket();
                let found = self.store().token_with_merchant(&token_hash(token)).await.map_err(AuthError::store)?;
                let found = found.map(std::sync::Arc::new);
                if let Some(entry) = &found {
                    self.caches.fill_token(ticket, token, entry.clone());
                }
                found
            }
        };
        let (row, merchant, role) = match found.as_deref() {
            Some((r, m, role)) if !r.revoked && r.kind != TokenKind::Refresh => (r, m.clone(), *role),
            _ => return Err(AuthError::InvalidToken),
        };
        if row.expires_at_ms <= self.now_ms() {
            return Err(AuthError::TokenExpired);
        }
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::InvalidToken);
        }
        Ok(Caller { merchant, via: AuthMethod::Token { user_id: row.user_id, role } })
    }

    async fn new_stored_token(
        &self,
        kind: TokenKind,
        prefix: &str,
        ttl_s: i64,
        merchant_id: MerchantId,
        user_id: UserId,
    ) -> Result<String, AuthError> {
        let now = self.now_ms();
        let (token, hash) = new_token(prefix);
        let row = TokenRow {
            token_hash: hash,
            kind,
            merchant_id,
            user_id,
            expires_at_ms: now + ttl_s * 1000,
            revoked: false,
        };
        self.store().insert_token(&row, now).await.map_err(AuthError::store)?;
        Ok(token)
    }

    pub(crate) async fn issue_tokens(
        &self,
        merchant_id: MerchantId,
        user_id: UserId,
        with_refresh: bool,
    ) -> Result<IssuedTokens, AuthError> {
        let ttl_s = self.config().token_ttl_s;
        let id_token = self.new_stored_token(TokenKind::Id, "tbh_id_", ttl_s, merchant_id, user_id).await?;
        let access_token = self.new_stored_token(TokenKind::Access, "tbh_at_", ttl_s, merchant_id, user_id).await?;
        let refresh_token = if with_refresh {
            let ttl = self.config().refresh_ttl_s;
            Some(self.new_stored_token(TokenKind::Refresh, "tbh_rt_", ttl, merchant_id, user_id).await?)
        } else {
            None
        };
        Ok(IssuedTokens { id_token, access_token, refresh_token, expires_in_s: ttl_s })
    }

    /// `/v2/token`: username and password for an IdToken, AccessToken and
    /// RefreshToken. The memory-hard hash runs on the password pool (busy:
    /// refused at once, nothing checked).
    pub async fn login(&self, username: &str, password: &str) -> Result<IssuedTokens, AuthError> {
        let user = self.check_password(username, password).await?;
        self.issue_tokens(user.merchant_id, user.id, true).await
    }

    /// The member whose username and password these are, if its merchant
    /// may sign in on this node.
    pub(crate) async fn check_password(&self, username: &str, password: &str) -> Result<UserRow, AuthError> {
        let user = self.store().user_by_username(username).await.map_err(AuthError::store)?;
        let (hash, user) = match user {
            Some(u) => (u.password_hash.clone(), Some(u)),
            // Same work as a real check, so timing does not reveal usernames.
            None => (DUMMY_HASH.to_owned(), None),
        };
        let verdict = self.passwords.verify(password.to_owned(), hash, None).await.map_err(|_| AuthError::Busy)?;
        let matches = verdict.matches;
        let Some(user) = user.filter(|_| matches) else {
            return Err(AuthError::WrongCredentials);
        };
        let merchant = self.store().merchant(user.merchant_id).await.map_err(AuthError::store)?;
        let merchant = merchant.ok_or(AuthError::WrongCredentials)?;
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::WrongCredentials);
        }
        if merchant.suspended {
            return Err(AuthError::Suspended);
        }
        Ok(user)
    }

    /// Ends a dashboard session: its token is revoked on every node.
    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        let revoked = self.store().revoke_token(&token_hash(bearer_token(token))).await;
        self.caches.clear();
        revoked.map(|_| ()).map_err(AuthError::store)
    }

    /// `/v2/token/refresh`: a RefreshToken for new Id and Access tokens.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, AuthError> {
        let row = self.store().token(&token_hash(refresh_token.trim())).await.map_err(AuthError::store)?;
        let row = match row {
            Some(r) if !r.revoked && r.kind == TokenKind::Refresh => r,
            _ => return Err(AuthError::InvalidToken),
        };
        if row.expires_at_ms <= self.now_ms() {
            return Err(AuthError::TokenExpired);
        }
        let merchant = self.store().merchant(row.merchant_id).await.map_err(AuthError::store)?;
        let merchant = merchant.ok_or(AuthError::InvalidToken)?;
        if !self.env_allowed(merchant.environment) {
            return Err(AuthError::InvalidToken);
        }
        if merchant.suspended {
            return Err(AuthError::Suspended);
        }
        self.issue_tokens(row.merchant_id, row.user_id, false).await
    }

    /// `/v1/auth/change-password`: needs the old password; revokes every
    /// token of the user. The memory-hard hashes run on the blocking pool.
    pub async fn change_password(&self, caller: &Caller, old: &str, new: &str) -> Result<(), ChangePasswordError> {
        let internal = |e| ChangePasswordError::Auth(AuthError::store(e));
        let AuthMethod::Token { user_id, .. } = caller.via else {
            return Err(ChangePasswordError::NeedsToken);
        };
        check_password_rules(new).map_err(ChangePasswordError::Weak)?;
        let user = self.store().user(user_id).await.map_err(internal)?;
        let user = user.ok_or(ChangePasswordError::Auth(AuthError::InvalidToken))?;
        let (old, new, stored) = (old.to_owned(), new.to_owned(), user.password_hash.clone());
        let verdict = self
            .passwords
            .verify(old, stored, Some(new))
            .await
            .map_err(|_| ChangePasswordError::Auth(AuthError::Busy))?;
        let new_hash = verdict.new_hash.ok_or(ChangePasswordError::Auth(AuthError::WrongCredentials))?;
        self.set_password(user_id, &new_hash).await.map_err(|_| ChangePasswordError::Auth(AuthError::Internal))?;
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
pub(crate) const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";

/// Decodes a base64 API secret as shown to the merchant.
pub fn decode_secret(secret_b64: &str) -> Result<Vec<u8>, String> {
    B64.decode(secret_b64.trim()).map_err(|e| format!("secret is not base64: {e}"))
}

/// The token of an `Authorization` value: after the `Bearer` scheme, whose
/// name is case-insensitive (RFC 7235 §2.1), or the raw value (v1 SDKs).
fn bearer_token(authorization: &str) -> &str {
    let value = authorization.trim();
    match value.split_once([' ', '\t']) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value,
    }
}

#[cfg(test)]
mod allowlist_tests {
    use super::*;

    #[test]
    fn an_allowlist_is_read_normalised_and_matched() {
        let list = parse_ip_allowlist("203.0.113.7, 198.51.100.9/24\n2001:db8::1/32 203.0.113.7").unwrap();
        assert_eq!(list, "203.0.113.7/32,198.51.100.0/24,2001:db8::/32");
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        assert!(ip_allowed(&list, ip("198.51.100.200")));
        assert!(ip_allowed(&list, ip("::ffff:203.0.113.7")), "an IPv4-mapped address is its IPv4 one");
        assert!(ip_allowed(&list, ip("2001:db8:ffff::5")));
        assert!(!ip_allowed(&list, ip("203.0.113.8")));
        assert!(!ip_allowed(&list, None), "an unknown address is not on a list");
        assert!(ip_allowed("", None), "an empty list allows any");
        assert!(parse_ip_allowlist("10.0.0.0/33").is_err());
        let mapped = parse_ip_allowlist("::ffff:203.0.113.0/120").unwrap();
        assert_eq!(mapped, "203.0.113.0/24", "a mapped range is its IPv4 range");
        assert!(ip_allowed(&mapped, ip("203.0.113.9")));
        assert!(parse_ip_allowlist("example.com").is_err());
        assert_eq!(parse_ip_allowlist("  ").unwrap(), "");
    }
}
