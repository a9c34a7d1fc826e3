//! Catalogue state on PostgreSQL: imported catalogue versions, PIN stock and biller payment counts.

use tambah_store::{BoxFuture, CatalogStore, Result, StoreError};

use crate::PgStore;

impl CatalogStore for PgStore {
    fn save_catalog<'a>(&'a self, json: &'a str, now_ms: i64) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "INSERT INTO catalog_versions (version, json, created_at_ms)
                     SELECT COALESCE(MAX(version), 0) + 1, $1, $2 FROM catalog_versions RETURNING version",
                    &[&json, &now_ms],
                )
                .await?;
            row.map(|r| r.get(0)).ok_or_else(|| StoreError::Other("catalogue insert returned nothing".into()))
        })
    }

    fn latest_catalog(&self, with_json: bool) -> BoxFuture<'_, Result<Option<(i64, String)>>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT version, CASE WHEN $1 THEN json ELSE '' END FROM catalog_versions ORDER BY version DESC LIMIT 1",
                    &[&with_json],
                )
                .await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn set_stock<'a>(&'a self, product: &'a str, remaining: Option<u64>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match remaining {
                Some(n) => {
                    let n = n as i64;
                    self.execute(
                        "INSERT INTO stock (product, remaining) VALUES ($1, $2)
                         ON CONFLICT (product) DO UPDATE SET remaining = excluded.remaining",
                        &[&product, &n],
                    )
                    .await?
                }
                None => self.execute("DELETE FROM stock WHERE product = $1", &[&product]).await?,
            };
            Ok(())
        })
    }

    fn stock_levels(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>>> {
        Box::pin(async move {
            let rows = self.query("SELECT product, remaining FROM stock ORDER BY product COLLATE \"C\"", &[]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1) as u64)).collect())
        })
    }

    fn bill_payments<'a>(&'a self, product: &'a str, account: &'a str, month: i64) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT count FROM bill_counts WHERE product = $1 AND account = $2 AND month = $3",
                    &[&product, &account, &month],
                )
                .await?;
            Ok(row.map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0))
        })
    }
}
