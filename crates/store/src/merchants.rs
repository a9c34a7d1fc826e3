//! Merchants: the account a merchant's developer signs in to, its settings,
//! and the wallet it pays from.

use tambah_domain::{AccountId, Amount, Environment, MerchantId};

use crate::{BoxFuture, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerchantRow {
    pub id: MerchantId,
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
    pub wallet_id: AccountId,
    pub created_at_ms: i64,
    /// Where low-balance notices go by e-mail (empty: none).
    pub email: String,
    /// Where status changes are delivered (empty: none).
    pub callback_url: String,
    /// `GET` or `POST`.
    pub callback_method: String,
    /// Notify when the balance falls below this (0: never).
    pub low_balance_threshold: Amount,
    /// The operator's own rate limit, requests per second per node (`None`:
    /// its environment's default).
    pub rate_limit_per_s: Option<u32>,
    /// The addresses and CIDR ranges its API requests may come from,
    /// comma-separated (empty: any).
    pub ip_allowlist: String,
    /// The operator's daily spending caps.
    pub caps: SpendingCaps,
}

/// At most this much spent (orders' cost held) and this many orders per
/// Malaysia-time day; `None`: no cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpendingCaps {
    pub amount: Option<Amount>,
    pub count: Option<u32>,
}

impl SpendingCaps {
    pub fn any(&self) -> bool {
        self.amount.is_some() || self.count.is_some()
    }
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
    pub rate_limit_per_s: Option<u32>,
    pub caps: SpendingCaps,
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

/// Merchants and their operator-editable settings.
pub trait MerchantStore {
    /// Creates the merchant, its wallet and its first user in one transaction.
    fn create_merchant<'a>(&'a self, merchant: &'a NewMerchant) -> BoxFuture<'a, Result<MerchantRow>>;
    fn merchant(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Option<MerchantRow>>>;
    fn merchant_by_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Option<MerchantRow>>>;
    fn merchant_count(&self) -> BoxFuture<'_, Result<u64>>;
    /// Replaces the operator-editable settings; false when no such merchant.
    fn update_merchant<'a>(
        &'a self,
        merchant_id: MerchantId,
        settings: &'a MerchantSettings,
    ) -> BoxFuture<'a, Result<bool>>;
}
