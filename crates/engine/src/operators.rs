//! The operator's own accounts and console actions: operators are created
//! with the CLI and sign in with a password and a TOTP code (RFC 6238,
//! SHA-1, 6 digits, 30 s, what every authenticator app reads); each action
//! they take in the console is written to the append-only audit log.

use tambah_domain::{Amount, Environment, MerchantId};
use tambah_store::{AuditRow, LiveAccessRow, MerchantRow, NewMerchant, OperatorRow, StoreError};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::auth::{check_password_rules, AuthError, DUMMY_HASH};
use crate::credentials::{new_token, random_alnum, random_bytes, token_hash};
use crate::merchants::{is_email, AdminError, MerchantChanges};
use crate::Engine;

/// How long an operator session lasts.
pub const OPERATOR_SESSION_TTL_MS: i64 = 8 * 3_600_000;

/// A new operator's credentials, shown once by the CLI.
#[derive(Clone, Debug)]
pub struct NewOperator {
    pub email: String,
    pub password: String,
    /// The TOTP secret in base32, for an authenticator app.
    pub totp_secret: String,
    /// The same as an `otpauth://` URI (most apps read it from a QR code).
    pub otpauth_uri: String,
}

/// A TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s steps), as every
/// authenticator app computes it.
pub struct Authenticator(TOTP);

/// The steps a code may be from (clock drift): one either side of now.
const SKEW_STEPS: u64 = 1;

impl Authenticator {
    pub fn new(secret: &[u8]) -> Result<Authenticator, String> {
        // Skew 0 here: `step_of` looks at the neighbouring steps itself, to
        // know which one a code was.
        TOTP::new(Algorithm::SHA1, 6, 0, 30, secret.to_vec()).map(Authenticator).map_err(|e| format!("TOTP: {e:?}"))
    }

    /// The raw secret of its base32 text (as an app shows it).
    pub fn decode(base32: &str) -> Result<Vec<u8>, String> {
        Secret::Encoded(base32.trim().to_ascii_uppercase())
            .to_bytes()
            .map_err(|_| "the secret is not base32".to_owned())
    }

    pub fn base32(&self) -> String {
        self.0.get_secret_base32()
    }

    /// The code at Unix time `t`.
    pub fn code_at(&self, t: u64) -> String {
        self.0.generate(t)
    }

    /// The 30-second step `code` belongs to, within one step of `now_s`
    /// (compared in constant time).
    pub fn step_of(&self, code: &str, now_s: u64) -> Option<u64> {
        let now = now_s / 30;
        (now.saturating_sub(SKEW_STEPS)..=now + SKEW_STEPS).find(|step| self.0.check(code, step * 30))
    }
}

impl Engine {
    /// Creates an operator with a random password and TOTP secret.
    pub async fn create_operator(&self, email: &str) -> Result<NewOperator, AdminError> {
        let email = email.trim().to_ascii_lowercase();
        if !is_email(&email) {
            return Err(AdminError::Invalid(format!("{email:?} is not an e-mail address")));
        }
        let password = random_alnum(24);
        check_password_rules(&password).map_err(AdminError::Invalid)?;
        let secret = random_bytes(20);
        let encoded = Authenticator::new(&secret).map_err(AdminError::Store)?.base32();
        let hash = self.passwords.hash(password.clone()).await.map_err(|_| AdminError::Busy)?;
        let sealed = self.master_key().seal(&secret);
        self.store().insert_operator(&email, &hash, &sealed, self.now_ms()).await.map_err(|e| match e {
            StoreError::Unique(_) => AdminError::Invalid(format!("operator {email} exists")),
            e => e.into(),
        })?;
        let otpauth_uri = otpauth_uri(&email, &encoded);
        Ok(NewOperator { email, password, totp_secret: encoded, otpauth_uri })
    }

    /// Signs an operator in: password, then a TOTP code not used before on
    /// any node. Returns the session token. Every refusal is the same
    /// `WrongCredentials`, whichever part was wrong.
    pub async fn operator_login(&self, email: &str, password: &str, code: &str) -> Result<String, AuthError> {
        let email = email.trim().to_ascii_lowercase();
        let found = self.store().operator_by_email(&email).await.map_err(AuthError::store)?;
        let hash = found.as_ref().map_or(DUMMY_HASH.to_owned(), |o| o.password_hash.clone());
        let verdict = self.passwords.verify(password.to_owned(), hash, None).await.map_err(|_| AuthError::Busy)?;
        let op = found.filter(|_| verdict.matches).ok_or(AuthError::WrongCredentials)?;
        let secret = self.master_key().open(&op.totp_sealed).map_err(|_| AuthError::WrongCredentials)?;
        let authenticator = Authenticator::new(&secret).map_err(|_| AuthError::WrongCredentials)?;
        let now_s = u64::try_from(self.now_ms() / 1000).unwrap_or(0);
        let step = authenticator.step_of(code.trim(), now_s).ok_or(AuthError::WrongCredentials)?;
        // Once, on every node: the step is recorded in the database.
        let step = i64::try_from(step).map_err(|_| AuthError::WrongCredentials)?;
        if !self.store().use_totp_step(op.id, step).await.map_err(AuthError::store)? {
            return Err(AuthError::WrongCredentials);
        }
        let (token, hash) = new_token("tbh_op_");
        let now = self.now_ms();
        self.store()
            .insert_operator_session(&hash, op.id, now + OPERATOR_SESSION_TTL_MS, now)
            .await
            .map_err(AuthError::store)?;
        self.audit(&op, "log in", None, "").await.map_err(|_| AuthError::Unavailable { nothing_changed: false })?;
        Ok(token)
    }

    /// The operator of a live session.
    pub async fn operator_session(&self, token: &str) -> Result<Option<OperatorRow>, StoreError> {
        self.store().operator_session(&token_hash(token), self.now_ms()).await
    }

    pub async fn operator_logout(&self, token: &str) -> Result<(), StoreError> {
        self.store().revoke_operator_session(&token_hash(token)).await.map(|_| ())
    }

    async fn audit(
        &self,
        op: &OperatorRow,
        action: &str,
        merchant: Option<MerchantId>,
        detail: &str,
    ) -> Result<(), AdminError> {
        Ok(self.store().record_audit(op.id, action, merchant, detail, self.now_ms()).await?)
    }

    /// Merchants matching `text` (account, name or a member's username).
    pub async fn find_merchants(&self, text: &str) -> Result<Vec<MerchantRow>, AdminError> {
        Ok(self.store().search_merchants(text.trim(), 100).await?)
    }

    /// Requests for live access not yet approved, with their merchants.
    pub async fn live_requests(&self) -> Result<Vec<(LiveAccessRow, MerchantRow)>, AdminError> {
        let mut out = Vec::new();
        for request in self.store().live_requests().await? {
            if let Some(m) = self.store().merchant(request.staging_merchant_id).await? {
                out.push((request, m));
            }
        }
        Ok(out)
    }

    /// The live access of a staging merchant, if asked.
    pub async fn live_access_of(&self, staging: &MerchantRow) -> Result<Option<LiveAccessRow>, AdminError> {
        Ok(self.store().live_access(staging.id).await?)
    }

    /// Approves a staging merchant's request: its live account is created
    /// (same name, default level and version), empty, and linked.
    pub async fn approve_live(&self, op: &OperatorRow, staging_account: &str) -> Result<MerchantRow, AdminError> {
        let staging = self.merchant_by_account(staging_account).await?;
        if staging.environment != Environment::Staging {
            return Err(AdminError::Invalid(format!("{staging_account} is not a staging account")));
        }
        let live = NewMerchant {
            name: staging.name.clone(),
            environment: Environment::Live,
            level: crate::merchants::DEFAULT_LEVEL.to_owned(),
            api_version: staging.api_version.clone(),
            username: String::new(),
            password_hash: String::new(),
            created_at_ms: self.now_ms(),
        };
        let approved = self.store().approve_live(staging.id, &live).await?;
        self.caches.clear();
        let approved = approved.ok_or_else(|| {
            AdminError::Invalid(format!(
                "{staging_account} has no open request for live access (never asked, or approved)"
            ))
        })?;
        let detail = format!("live account {}", approved.account);
        self.audit(op, "approve live access", Some(staging.id), &detail).await?;
        Ok(approved)
    }

    /// Credits a wallet with the reason shown in the merchant's statement.
    pub async fn operator_deposit(
        &self,
        op: &OperatorRow,
        account: &str,
        amount: Amount,
        reason: &str,
    ) -> Result<Amount, AdminError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(AdminError::Invalid("a deposit needs a reason of 1-200 characters".into()));
        }
        let merchant = self.merchant_by_account(account).await?;
        let balance = self.deposit(account, amount, reason).await?;
        let detail = format!("RM {}: {reason}", amount.to_cents());
        self.audit(op, "deposit", Some(merchant.id), &detail).await?;
        Ok(balance)
    }

    /// Suspends or restores a merchant; a staging account's linked live
    /// account with it (its members reach both).
    pub async fn operator_suspend(
        &self,
        op: &OperatorRow,
        account: &str,
        suspended: bool,
    ) -> Result<MerchantRow, AdminError> {
        let changes = MerchantChanges { suspended: Some(suspended), ..MerchantChanges::default() };
        let m = self.update_merchant(account, &changes).await?;
        let action = if suspended { "suspend" } else { "restore" };
        self.audit(op, action, Some(m.id), "").await?;
        if let Some(live) = self.linked_live(&m).await? {
            self.update_merchant(&live.account, &changes).await?;
            self.audit(op, action, Some(live.id), &format!("with staging account {}", m.account)).await?;
        }
        Ok(m)
    }

    /// The newest entries of the audit log.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRow>, AdminError> {
        Ok(self.store().audit_log(limit).await?)
    }
}

/// The `otpauth://` URI authenticator apps read (from a QR code or typed).
pub fn otpauth_uri(email: &str, secret_base32: &str) -> String {
    let label = form_label(email);
    format!("otpauth://totp/tambah:{label}?secret={secret_base32}&issuer=tambah&algorithm=SHA1&digits=6&period=30")
}

/// An e-mail address as an otpauth label (RFC 3986 unreserved kept, `@`
/// escaped).
fn form_label(email: &str) -> String {
    email
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_test_vector() {
        // RFC 6238 appendix B: the 20-byte ASCII secret, T = 59 s, 8 digits
        // 94287082; its 6-digit form is the last six.
        let t = Authenticator::new(b"12345678901234567890").unwrap();
        assert_eq!(t.code_at(59), "287082");
        assert_eq!(t.code_at(1_111_111_109), "081804");
        assert_eq!(t.step_of("287082", 59), Some(1));
        assert_eq!(t.step_of("287082", 59 + 30), Some(1), "one step of skew");
        assert_eq!(t.step_of("287082", 59 + 90), None);
        let again = Authenticator::new(&Authenticator::decode(&t.base32().to_lowercase()).unwrap()).unwrap();
        assert_eq!(again.code_at(59), "287082", "base32 there and back");
    }
}
