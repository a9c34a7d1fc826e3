//! Merchants on PostgreSQL: creating one with its wallet and first user, look-ups, and settings.

use tambah_domain::{Amount, MerchantId};
use tambah_store::{
    merchant_select, rows, BoxFuture, MerchantRow, MerchantSettings, MerchantStore, NewMerchant, Result, StoreError,
};

use crate::{maybe, PgStore};

impl MerchantStore for PgStore {
    fn create_merchant<'a>(&'a self, m: &'a NewMerchant) -> BoxFuture<'a, Result<MerchantRow>> {
        Box::pin(async move {
            // One statement, so it is atomic without a transaction on a
            // shared connection.
            let row = self
                .query_opt(
                    "WITH n AS (SELECT nextval('merchants_id_seq') AS id),
                          m AS (INSERT INTO merchants (id, account, name, environment, level, api_version, created_at_ms)
                                SELECT id, (10000 + id)::text, $1, $2, $3, $4, $5 FROM n RETURNING id),
                          w AS (INSERT INTO ledger_accounts (kind, environment, merchant_id)
                                SELECT 'wallet', $2, id FROM m),
                          u AS (INSERT INTO users (merchant_id, username, password_hash, role)
                                SELECT id, $6, $7, 'admin' FROM m WHERE $6 <> '')
                     SELECT id FROM m",
                    &[&m.name, &m.environment.as_str(), &m.level, &m.api_version, &m.created_at_ms, &m.username, &m.password_hash],
                )
                .await?
                .ok_or_else(|| StoreError::Other("merchant insert returned nothing".into()))?;
            let id = MerchantId::new(row.get(0));
            self.merchant(id).await?.ok_or_else(|| StoreError::Other("merchant vanished after insert".into()))
        })
    }

    fn merchant(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<Option<MerchantRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(merchant_select!(), " WHERE m.id = $1");
            maybe(self.query_opt(SQL, &[&merchant_id.get()]).await?.as_ref(), rows::merchant)
        })
    }

    fn merchant_by_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Option<MerchantRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(merchant_select!(), " WHERE m.account = $1");
            maybe(self.query_opt(SQL, &[&account]).await?.as_ref(), rows::merchant)
        })
    }

    fn merchant_count(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let row = self.query_opt("SELECT COUNT(*) FROM merchants", &[]).await?;
            Ok(row.map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0))
        })
    }

    fn update_merchant<'a>(&'a self, merchant_id: MerchantId, m: &'a MerchantSettings) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let access = i16::from(m.access);
            let n = self
                .execute(
                    "UPDATE merchants SET name = $2, level = $3, access = $4, suspended = $5, api_version = $6,
                       require_api_key_for_topup = $7, email = $8, rate_limit_per_s = $9,
                       daily_cap_amount_minor = $10, daily_cap_count = $11 WHERE id = $1",
                    &[
                        &merchant_id.get(),
                        &m.name,
                        &m.level,
                        &access,
                        &m.suspended,
                        &m.api_version,
                        &m.require_api_key_for_topup,
                        &m.email,
                        &m.rate_limit_per_s.map(i64::from),
                        &m.caps.amount.map(Amount::minor),
                        &m.caps.count.map(i64::from),
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }
}
