//! Merchants and their credentials: onboarding (wallet, dashboard user, first
//! API key), keys, deposits and balances.

use tambah_domain::{Amount, Environment};
use tambah_store::{ApiKeyRow, MerchantRow, MerchantSettings, NewMerchant, SpendingCaps, StoreError};

use crate::auth::check_password_rules;
use crate::credentials::{hash_password, new_api_secret, random_alnum};
use crate::writer::WriteError;
use crate::Engine;

/// The response formats a merchant can be pinned to.
pub const API_VERSIONS: [&str; 2] = ["2023-10-01", "2025-05-20"];
pub const DEFAULT_API_VERSION: &str = API_VERSIONS[0];
/// The pricing level new merchants get when none is given.
pub const DEFAULT_LEVEL: &str = "1";

#[derive(Clone, Debug)]
pub struct MerchantSpec {
    pub name: String,
    pub environment: Environment,
    pub level: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub api_version: Option<String>,
}

/// Changes to a merchant's settings; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerchantChanges {
    pub name: Option<String>,
    pub level: Option<String>,
    pub access: Option<u8>,
    pub suspended: Option<bool>,
    pub api_version: Option<String>,
    pub require_api_key_for_topup: Option<bool>,
    /// Where low-balance notices are e-mailed (empty to stop).
    pub email: Option<String>,
    /// The merchant's own rate limit (`Some(None)`: back to the default).
    pub rate_limit_per_s: Option<Option<u32>>,
    /// The daily spending cap on the wallet's spend (`Some(None)`: none).
    pub daily_cap_amount: Option<Option<Amount>>,
    /// The daily cap on the number of orders (`Some(None)`: none).
    pub daily_cap_count: Option<Option<u32>>,
}

/// A new merchant and the credentials shown exactly once.
#[derive(Clone, Debug)]
pub struct CreatedMerchant {
    pub merchant: MerchantRow,
    pub username: String,
    pub password: String,
    pub api_key: String,
    pub api_secret: String,
}

#[derive(Debug)]
pub enum AdminError {
    Invalid(String),
    NotFound(String),
    /// The member's role or the account's state does not allow it.
    Forbidden(String),
    /// The password threads are busy: nothing was done, try again.
    Busy,
    Store(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Invalid(m) | AdminError::NotFound(m) | AdminError::Forbidden(m) | AdminError::Store(m) => {
                f.write_str(m)
            }
            AdminError::Busy => f.write_str("too many password checks at once: try again"),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e.to_string())
    }
}

impl From<WriteError> for AdminError {
    fn from(e: WriteError) -> Self {
        AdminError::Store(e.to_string())
    }
}

pub(crate) fn check_username(u: &str) -> Result<(), AdminError> {
    let ok = (3..=64).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!("username {u:?} must be 3-64 letters, digits or . _ - @")))
    }
}

pub(crate) fn is_email(text: &str) -> bool {
    tambah_domain::AccountFormat::MsisdnOrEmail.check(text).is_ok() && text.contains('@')
}

pub(crate) fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(AdminError::Invalid("name must be 1-100 characters".into()));
    }
    Ok(())
}

fn check_level(level: &str) -> Result<(), AdminError> {
    if level.is_empty() || level.len() > 16 || !level.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AdminError::Invalid(format!("level {level:?} must be 1-16 letters or digits")));
    }
    Ok(())
}

fn check_api_version(version: &str) -> Result<(), AdminError> {
    if !API_VERSIONS.contains(&version) {
        return Err(AdminError::Invalid(format!("api version {version:?} is not one of {API_VERSIONS:?}")));
    }
    Ok(())
}

impl Engine {
    /// Applies `changes` to the merchant with public account number `account`.
    pub async fn update_merchant(&self, account: &str, changes: &MerchantChanges) -> Result<MerchantRow, AdminError> {
        let m = self.merchant_by_account(account).await?;
        let settings = MerchantSettings {
            name: changes.name.clone().unwrap_or(m.name.clone()).trim().to_owned(),
            level: changes.level.clone().unwrap_or(m.level.clone()),
            access: changes.access.unwrap_or(m.access),
            suspended: changes.suspended.unwrap_or(m.suspended),
            api_version: changes.api_version.clone().unwrap_or(m.api_version.clone()),
            require_api_key_for_topup: changes.require_api_key_for_topup.unwrap_or(m.require_api_key_for_topup),
            email: changes.email.clone().unwrap_or(m.email.clone()),
            rate_limit_per_s: changes.rate_limit_per_s.unwrap_or(m.rate_limit_per_s),
            caps: SpendingCaps {
                amount: changes.daily_cap_amount.unwrap_or(m.caps.amount),
                count: changes.daily_cap_count.unwrap_or(m.caps.count),
            },
        };
        if settings.caps.amount.is_some_and(|a| a <= Amount::ZERO) || settings.caps.count == Some(0) {
            return Err(AdminError::Invalid("a daily cap is more than zero (or none)".into()));
        }
        if settings.rate_limit_per_s == Some(0) {
            return Err(AdminError::Invalid("a rate limit is at least 1 request per second".into()));
        }
        if !settings.email.is_empty() && !is_email(&settings.email) {
            return Err(AdminError::Invalid(format!("{:?} is not an e-mail address", settings.email)));
        }
        check_name(&settings.name)?;
        check_level(&settings.level)?;
        check_api_version(&settings.api_version)?;
        if !matches!(settings.access, 0 | 50) {
            return Err(AdminError::Invalid(format!("access {} must be 0 (full) or 50 (read-only)", settings.access)));
        }
        let updated = self.store().update_merchant(m.id, &settings).await?;
        self.caches.clear();
        if !updated {
            return Err(AdminError::NotFound(format!("no merchant account {account:?}")));
        }
        self.merchant_by_account(account).await
    }

    pub async fn create_merchant(&self, spec: &MerchantSpec) -> Result<CreatedMerchant, AdminError> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AdminError::Invalid("name must be 1-100 characters".into()));
        }
        let level = spec.level.clone().unwrap_or_else(|| DEFAULT_LEVEL.to_owned());
        if level.is_empty() || level.len() > 16 || !level.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AdminError::Invalid(format!("level {level:?} must be 1-16 letters or digits")));
        }
        let api_version = spec.api_version.clone().unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        if !API_VERSIONS.contains(&api_version.as_str()) {
            return Err(AdminError::Invalid(format!("api version {api_version:?} is not one of {API_VERSIONS:?}")));
        }
        let username = spec.username.clone().unwrap_or_else(|| format!("merchant-{}", random_alnum(8).to_lowercase()));
        check_username(&username)?;
        let password = spec.password.clone().unwrap_or_else(|| random_alnum(20));
        check_password_rules(&password).map_err(AdminError::Invalid)?;
        let merchant = self
            .store()
            .create_merchant(&NewMerchant {
                name: name.to_owned(),
                environment: spec.environment,
                level,
                api_version,
                username: username.clone(),
                password_hash: hash_password(&password),
                created_at_ms: self.now_ms(),
            })
            .await
            .map_err(|e| match e {
                StoreError::Unique(_) => AdminError::Invalid(format!("username {username:?} is taken")),
                e => e.into(),
            })?;
        let (api_key, api_secret) = self.create_api_key(&merchant).await?;
        Ok(CreatedMerchant { merchant, username, password, api_key, api_secret })
    }

    /// A new API key for the merchant; returns the key id and the secret
    /// (base64), which is shown only now.
    pub async fn create_api_key(&self, merchant: &MerchantRow) -> Result<(String, String), AdminError> {
        let key_id = format!("{}{}", merchant.environment.key_prefix(), random_alnum(24));
        let (secret_b64, secret) = new_api_secret();
        let row = ApiKeyRow {
            key_id: key_id.clone(),
            merchant_id: merchant.id,
            secret_sealed: self.master_key().seal(&secret),
            revoked: false,
        };
        self.store().insert_api_key(&row, self.now_ms()).await?;
        Ok((key_id, secret_b64))
    }

    /// Revokes an API key; `false` when it was already revoked.
    pub async fn revoke_api_key(&self, key_id: &str) -> Result<bool, AdminError> {
        let key = self.store().api_key(key_id).await?;
        match key {
            None => Err(AdminError::NotFound(format!("no API key {key_id:?}"))),
            Some(k) if k.revoked => Ok(false),
            Some(_) if self.store().revoke_api_key(key_id).await? => {
                self.caches.clear();
                Ok(true)
            }
            Some(_) => Err(AdminError::NotFound(format!("no API key {key_id:?}"))),
        }
    }

    pub async fn merchant_by_account(&self, account: &str) -> Result<MerchantRow, AdminError> {
        self.store()
            .merchant_by_account(account)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no merchant account {account:?}")))
    }

    /// Credits a wallet through the ledger (a DEPOSIT entry); returns the new balance.
    pub async fn deposit(&self, account: &str, amount: Amount, remarks: &str) -> Result<Amount, AdminError> {
        if amount <= Amount::ZERO {
            return Err(AdminError::Invalid("deposit amount must be greater than 0".into()));
        }
        let merchant = self.merchant_by_account(account).await?;
        let balance = self
            .writer()
            .run(crate::writer::Deposit {
                wallet_id: merchant.wallet_id,
                environment: merchant.environment,
                amount,
                remarks: remarks.to_owned(),
                now_ms: self.now_ms(),
            })
            .await?;
        Ok(balance)
    }

    /// Sets the low-balance threshold (0 turns notices off).
    pub async fn set_low_balance_threshold(&self, merchant: &MerchantRow, threshold: Amount) -> Result<(), AdminError> {
        self.store().set_low_balance_threshold(merchant.id, threshold).await?;
        self.caches.clear();
        Ok(())
    }

    /// The wallet balance, pending holds already taken off.
    pub async fn balance(&self, merchant: &MerchantRow) -> Result<Amount, StoreError> {
        self.store().balance(merchant.wallet_id).await
    }
}
