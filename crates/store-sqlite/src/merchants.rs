//! Merchants on SQLite: creating one with its wallet and first user, reading
//! them, and the operator-editable settings.

use rusqlite::{params, OptionalExtension};
use tambah_domain::{Amount, MerchantId};
use tambah_store::{
    merchant_select, ready, rows, BoxFuture, MerchantRow, MerchantSettings, MerchantStore, NewMerchant, Result,
    StoreError,
};

use crate::{Cols, SqliteStore};

const BY_ID: &str = concat!(merchant_select!(), " WHERE m.id = ?1");
const BY_ACCOUNT: &str = concat!(merchant_select!(), " WHERE m.account = ?1");

impl SqliteStore {
    fn merchant_where(&self, sql: &str, key: &dyn rusqlite::ToSql) -> Result<Option<MerchantRow>> {
        self.read(|c| c.prepare_cached(sql)?.query_row([key], |r| rows::merchant(&Cols::new(r))).optional())
    }

    fn create_merchant_now(&self, m: &NewMerchant) -> Result<MerchantRow> {
        let id = self.write(|tx| insert_merchant(tx, m))?;
        self.merchant_where(BY_ID, &id)?.ok_or_else(|| StoreError::Other("merchant vanished after insert".into()))
    }

    pub(crate) fn merchant_now(&self, id: i64) -> Result<Option<MerchantRow>> {
        self.merchant_where(BY_ID, &id)
    }

    fn update_merchant_now(&self, merchant_id: MerchantId, m: &MerchantSettings) -> Result<bool> {
        self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET name = ?2, level = ?3, access = ?4, suspended = ?5, api_version = ?6,
                   require_api_key_for_topup = ?7, email = ?8, rate_limit_per_s = ?9,
                   daily_cap_amount_minor = ?10, daily_cap_count = ?11 WHERE id = ?1",
                params![
                    merchant_id.get(),
                    m.name,
                    m.level,
                    m.access,
                    m.suspended,
                    m.api_version,
                    m.require_api_key_for_topup,
                    m.email,
                    m.rate_limit_per_s,
                    m.caps.amount.map(Amount::minor),
                    m.caps.count
                ],
            )
            .map(|n| n == 1)
        })
    }
}

impl MerchantStore for SqliteStore {
    fn create_merchant<'a>(&'a self, merchant: &'a NewMerchant) -> BoxFuture<'a, Result<MerchantRow>> {
        ready(self.create_merchant_now(merchant))
    }

    fn merchant(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Option<MerchantRow>>> {
        ready(self.merchant_where(BY_ID, &merchant_id.get()))
    }

    fn merchant_by_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Option<MerchantRow>>> {
        ready(self.merchant_where(BY_ACCOUNT, &account))
    }

    fn merchant_count(&self) -> BoxFuture<'_, Result<u64>> {
        ready(self.read(|c| c.query_row("SELECT COUNT(*) FROM merchants", [], |r| r.get(0))))
    }

    fn update_merchant<'a>(
        &'a self,
        merchant_id: MerchantId,
        settings: &'a MerchantSettings,
    ) -> BoxFuture<'a, Result<bool>> {
        ready(self.update_merchant_now(merchant_id, settings))
    }
}

/// A merchant, its wallet and (when `m.username` is not empty) its first
/// user, an admin, inside `tx`; returns its id.
pub(crate) fn insert_merchant(tx: &rusqlite::Transaction, m: &NewMerchant) -> rusqlite::Result<i64> {
    // The account number derives from the id, which exists only after the
    // insert: a unique placeholder holds the place until then.
    tx.execute(
        "INSERT INTO merchants (account, name, environment, level, api_version, created_at_ms)
         VALUES ('pending-' || hex(randomblob(8)), ?1, ?2, ?3, ?4, ?5)",
        params![m.name, m.environment.as_str(), m.level, m.api_version, m.created_at_ms],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute("UPDATE merchants SET account = CAST(10000 + id AS TEXT) WHERE id = ?1", [id])?;
    tx.execute(
        "INSERT INTO ledger_accounts (kind, environment, merchant_id) VALUES ('wallet', ?1, ?2)",
        params![m.environment.as_str(), id],
    )?;
    if !m.username.is_empty() {
        tx.execute(
            "INSERT INTO users (merchant_id, username, password_hash, role) VALUES (?1, ?2, ?3, 'admin')",
            params![id, m.username, m.password_hash],
        )?;
    }
    Ok(id)
}
