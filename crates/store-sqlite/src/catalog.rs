//! Catalogue state on SQLite: imported catalogue versions, PIN stock and
//! biller payment counts (the writer takes stock and counts payments; see
//! `writer.rs`).

use rusqlite::{params, OptionalExtension};
use tambah_store::{ready, BoxFuture, CatalogStore, Result};

use crate::SqliteStore;

impl CatalogStore for SqliteStore {
    fn save_catalog<'a>(&'a self, json: &'a str, now_ms: i64) -> BoxFuture<'a, Result<i64>> {
        ready(self.write(|tx| {
            tx.execute("INSERT INTO catalog_versions (json, created_at_ms) VALUES (?1, ?2)", params![json, now_ms])?;
            Ok(tx.last_insert_rowid())
        }))
    }

    fn latest_catalog(&self, with_json: bool) -> BoxFuture<'_, Result<Option<(i64, String)>>> {
        ready(self.read(|c| {
            c.prepare_cached(
                "SELECT version, CASE WHEN ?1 THEN json ELSE '' END FROM catalog_versions ORDER BY version DESC LIMIT 1",
            )?
            .query_row([with_json], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
        }))
    }

    fn set_stock<'a>(&'a self, product: &'a str, remaining: Option<u64>) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            match remaining {
                Some(n) => tx.execute(
                    "INSERT INTO stock (product, remaining) VALUES (?1, ?2)
                     ON CONFLICT (product) DO UPDATE SET remaining = excluded.remaining",
                    params![product, n],
                )?,
                None => tx.execute("DELETE FROM stock WHERE product = ?1", [product])?,
            };
            Ok(())
        }))
    }

    fn stock_levels(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT product, remaining FROM stock ORDER BY product")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        }))
    }

    fn bill_payments<'a>(&'a self, product: &'a str, account: &'a str, month: i64) -> BoxFuture<'a, Result<u64>> {
        ready(self.read(|c| {
            c.prepare_cached("SELECT count FROM bill_counts WHERE product = ?1 AND account = ?2 AND month = ?3")?
                .query_row(params![product, account, month], |r| r.get(0))
                .optional()
                .map(|n| n.unwrap_or(0))
        }))
    }
}
