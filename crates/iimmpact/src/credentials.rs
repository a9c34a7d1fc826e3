//! Who the client is: an API key with its secret (every request signed), or a
//! username and password (the token flow, the fallback): the tokens held
//! between calls and when they are due for renewal.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::signing::Signer;
use crate::wire::Tokens;

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `X-Api-Key` + HMAC v1 signature: the key id (`tbh_test_…`) and the
    /// secret as printed once (base64).
    ApiKey { key_id: String, secret: String },
    /// `POST /v2/token`, then `Authorization: Bearer <IdToken>`; renewed by
    /// `/v2/token/refresh`, or by logging in again when that is refused.
    Password { username: String, password: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets and passwords stay out of logs.
        match self {
            Credentials::ApiKey { key_id, .. } => {
                f.debug_struct("ApiKey").field("key_id", key_id).finish_non_exhaustive()
            }
            Credentials::Password { username, .. } => {
                f.debug_struct("Password").field("username", username).finish_non_exhaustive()
            }
        }
    }
}

/// The credentials in the form requests use.
#[derive(Debug)]
pub(crate) enum Authenticator {
    Signed(Signer),
    Token(TokenSession),
}

/// A username and password with the tokens last obtained for them. The lock
/// is held while tokens are renewed, so concurrent calls renew once.
pub(crate) struct TokenSession {
    pub username: String,
    pub password: String,
    pub held: Mutex<Option<HeldTokens>>,
}

impl std::fmt::Debug for TokenSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSession").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Tokens and the moment they stop being used.
pub(crate) struct HeldTokens {
    pub tokens: Tokens,
    /// A refresh answer has no RefreshToken: the login's one is kept.
    pub refresh_token: Option<String>,
    renew_at: Instant,
}

impl HeldTokens {
    /// Tokens just received; `previous_refresh` is kept when they bring none.
    pub fn new(tokens: Tokens, previous_refresh: Option<String>) -> HeldTokens {
        // Renewed a little before the server's expiry (a tenth of the
        // lifetime, at most a minute), so that a request is not sent with a
        // token that expires on the way.
        let lifetime = Duration::from_secs(tokens.expires_in);
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        let refresh_token = tokens.refresh_token.clone().or(previous_refresh);
        HeldTokens { tokens, refresh_token, renew_at: Instant::now() + lifetime - margin }
    }

    pub fn is_fresh(&self) -> bool {
        Instant::now() < self.renew_at
    }

    /// Due for renewal now (the server refused the IdToken); the refresh
    /// token is kept, it may still be good.
    pub fn expire(&mut self) {
        self.renew_at = Instant::now();
    }
}

impl Authenticator {
    pub fn from_credentials(credentials: Credentials) -> Result<Authenticator, String> {
        match credentials {
            Credentials::ApiKey { key_id, secret } => {
                if key_id.is_empty() {
                    return Err("the API key id is empty".into());
                }
                let signer = Signer::new(&key_id, &secret).map_err(|e| format!("the API secret is not base64: {e}"))?;
                Ok(Authenticator::Signed(signer))
            }
            Credentials::Password { username, password } => {
                Ok(Authenticator::Token(TokenSession { username, password, held: Mutex::new(None) }))
            }
        }
    }
}
