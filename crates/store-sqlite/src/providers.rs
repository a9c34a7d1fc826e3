//! Providers on SQLite: the connectors the operator configures, the routes of
//! each product to them, and the attempt log of an order (the writer records
//! attempts; see `writer.rs`).

use rusqlite::{params, Connection, OptionalExtension};
use tambah_domain::{Amount, OrderId, ProviderId};
use tambah_store::{
    attempt_columns, provider_columns, ready, route_columns, rows, AttemptRow, BoxFuture, Bucket, NewProvider,
    ProviderRow, ProviderStore, Result, RouteRow, StoreError,
};

use crate::{Cols, SqliteStore};

const PROVIDER_BY_ID: &str = concat!("SELECT ", provider_columns!(), " FROM providers WHERE id = ?1");
const PROVIDERS: &str = concat!("SELECT ", provider_columns!(), " FROM providers ORDER BY name");
const ROUTES: &str = concat!("SELECT ", route_columns!(), " FROM routes ORDER BY product, priority, provider_id");
const ATTEMPTS: &str = concat!("SELECT ", attempt_columns!(), " FROM attempts WHERE order_id = ?1 ORDER BY attempt");
const LAST_ATTEMPT: &str =
    concat!("SELECT ", attempt_columns!(), " FROM attempts WHERE order_id = ?1 ORDER BY attempt DESC LIMIT 1");

/// The order's latest attempt, on the writer's connection (inside its batch).
pub(crate) fn last_attempt(conn: &Connection, order_id: OrderId) -> rusqlite::Result<Option<AttemptRow>> {
    conn.prepare_cached(LAST_ATTEMPT)?.query_row([order_id.get()], |r| rows::attempt(&Cols::new(r))).optional()
}

impl SqliteStore {
    fn create_provider_now(&self, p: &NewProvider) -> Result<ProviderRow> {
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO providers (name, kind, base_url, auth_url, ref_prefix, secrets_sealed, timeout_ms,
                   created_at_ms, updated_at_ms, low_balance_minor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
                params![
                    p.name,
                    p.kind.as_str(),
                    p.base_url,
                    p.auth_url,
                    p.ref_prefix,
                    p.secrets_sealed,
                    p.timeout_ms,
                    p.now_ms,
                    p.low_balance.map(Amount::minor)
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        self.read(|c| c.prepare_cached(PROVIDER_BY_ID)?.query_row([id], |r| rows::provider(&Cols::new(r))).optional())?
            .ok_or_else(|| StoreError::Other("provider vanished after insert".into()))
    }
}

impl ProviderStore for SqliteStore {
    fn create_provider<'a>(&'a self, provider: &'a NewProvider) -> BoxFuture<'a, Result<ProviderRow>> {
        ready(self.create_provider_now(provider))
    }

    fn providers(&self) -> BoxFuture<'_, Result<Vec<ProviderRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(PROVIDERS)?;
            let rows = stmt.query_map([], |r| rows::provider(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn set_provider_enabled<'a>(&'a self, name: &'a str, enabled: bool, now_ms: i64) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE providers SET enabled = ?2, updated_at_ms = ?3 WHERE name = ?1",
                params![name, enabled, now_ms],
            )
            .map(|n| n == 1)
        }))
    }

    fn set_provider_codes<'a>(
        &'a self,
        name: &'a str,
        codes_json: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE providers SET codes_json = ?2, updated_at_ms = ?3 WHERE name = ?1",
                params![name, codes_json, now_ms],
            )
            .map(|n| n == 1)
        }))
    }

    fn put_route<'a>(&'a self, route: &'a RouteRow) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO routes (product, provider_id, upstream_product, priority, weight, buy_price_minor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (product, provider_id) DO UPDATE SET upstream_product = excluded.upstream_product,
                   priority = excluded.priority, weight = excluded.weight, buy_price_minor = excluded.buy_price_minor",
                params![
                    route.product,
                    route.provider_id.get(),
                    route.upstream_product,
                    route.priority,
                    route.weight,
                    route.buy_price.map(Amount::minor)
                ],
            )
            .map(|_| ())
        }))
    }

    fn remove_route<'a>(&'a self, product: &'a str, provider_id: ProviderId) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute(
                "DELETE FROM routes WHERE product = ?1 AND provider_id = ?2",
                params![product, provider_id.get()],
            )
            .map(|n| n == 1)
        }))
    }

    fn routes(&self) -> BoxFuture<'_, Result<Vec<RouteRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(ROUTES)?;
            let rows = stmt.query_map([], |r| rows::route(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn attempts(&self, order_id: OrderId) -> BoxFuture<'_, Result<Vec<AttemptRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(ATTEMPTS)?;
            let rows = stmt.query_map([order_id.get()], |r| rows::attempt(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn record_provider_failure<'a>(
        &'a self,
        provider_id: ProviderId,
        product: &'a str,
        now_ms: i64,
        bucket: Bucket,
    ) -> BoxFuture<'a, Result<Option<i64>>> {
        // The level leaks `capacity` per window since the last update, then
        // takes this failure; a full bucket empties and sets the time out.
        let full = i64::from(bucket.capacity) * 1000;
        ready(self.write(|tx| {
            let level: i64 = tx.query_row(
                "INSERT INTO provider_health (provider_id, product, level_milli, updated_at_ms) VALUES (?1, ?2, 1000, ?3)
                 ON CONFLICT (provider_id, product) DO UPDATE SET
                   level_milli = MAX(0, level_milli - MAX(0, ?3 - updated_at_ms) * ?4 / ?5) + 1000,
                   updated_at_ms = ?3
                 RETURNING level_milli",
                params![provider_id.get(), product, now_ms, full, bucket.window_ms.max(1)],
                |r| r.get(0),
            )?;
            // Not full while no more than capacity − 1 failures are in it: the
            // capacity-th failure in a short time fills it (leaking is continuous).
            if level <= full - 1000 {
                return Ok(None);
            }
            let until = now_ms + bucket.out_ms;
            tx.execute(
                "UPDATE provider_health SET level_milli = 0, out_until_ms = ?3 WHERE provider_id = ?1 AND product = ?2",
                params![provider_id.get(), product, until],
            )?;
            Ok(Some(until))
        }))
    }

    fn providers_out(&self, now_ms: i64) -> BoxFuture<'_, Result<Vec<(ProviderId, String, i64)>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT provider_id, product, out_until_ms FROM provider_health WHERE out_until_ms > ?1",
            )?;
            let rows = stmt.query_map([now_ms], |r| Ok((ProviderId::new(r.get(0)?), r.get(1)?, r.get(2)?)))?;
            rows.collect()
        }))
    }

    fn attempts_sent(
        &self,
        provider_id: ProviderId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<AttemptRow>>> {
        const SQL: &str = concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE provider_id = ?1 AND sent_at_ms >= ?2 AND sent_at_ms < ?3 ORDER BY sent_at_ms, order_id, attempt"
        );
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(SQL)?;
            let rows = stmt.query_map(params![provider_id.get(), from_ms, to_ms], |r| rows::attempt(&Cols::new(r)))?;
            rows.collect()
        }))
    }
}
