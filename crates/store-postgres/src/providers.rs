//! Providers on PostgreSQL: the connectors the operator configures, the routes of each product to them, and the
//! attempt log of an order (the writer records attempts; see `writer`).

use tambah_domain::{Amount, OrderId, ProviderId};
use tambah_store::{
    attempt_columns, provider_columns, route_columns, rows, AttemptRow, BoxFuture, Bucket, NewProvider, ProviderRow,
    ProviderStore, Result, RouteRow, StoreError,
};

use crate::{all, one, PgStore};

/// The order's latest attempt (the writer reads it inside its batch).
pub(crate) const LAST_ATTEMPT: &str =
    concat!("SELECT ", attempt_columns!(), " FROM attempts WHERE order_id = $1 ORDER BY attempt DESC LIMIT 1");

impl ProviderStore for PgStore {
    fn create_provider<'a>(&'a self, p: &'a NewProvider) -> BoxFuture<'a, Result<ProviderRow>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "INSERT INTO providers (name, kind, base_url, auth_url, ref_prefix, secrets_sealed, timeout_ms,
                   created_at_ms, updated_at_ms, low_balance_minor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING ",
                provider_columns!()
            );
            let row = self
                .query_opt(
                    SQL,
                    &[
                        &p.name,
                        &p.kind.as_str(),
                        &p.base_url,
                        &p.auth_url,
                        &p.ref_prefix,
                        &p.secrets_sealed,
                        &p.timeout_ms,
                        &p.now_ms,
                        &p.low_balance.map(Amount::minor),
                    ],
                )
                .await?
                .ok_or_else(|| StoreError::Other("provider insert returned nothing".into()))?;
            one(&row, rows::provider)
        })
    }

    fn providers(&self) -> BoxFuture<'_, Result<Vec<ProviderRow>>> {
        Box::pin(async move {
            // Byte order, as SQLite sorts.
            const SQL: &str = concat!("SELECT ", provider_columns!(), " FROM providers ORDER BY name COLLATE \"C\"");
            all(&self.query(SQL, &[]).await?, rows::provider)
        })
    }

    fn set_provider_enabled<'a>(&'a self, name: &'a str, enabled: bool, now_ms: i64) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute(
                    "UPDATE providers SET enabled = $2, updated_at_ms = $3 WHERE name = $1",
                    &[&name, &enabled, &now_ms],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn set_provider_codes<'a>(
        &'a self,
        name: &'a str,
        codes_json: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute(
                    "UPDATE providers SET codes_json = $2, updated_at_ms = $3 WHERE name = $1",
                    &[&name, &codes_json, &now_ms],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn put_route<'a>(&'a self, route: &'a RouteRow) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (priority, weight) = (i64::from(route.priority), i64::from(route.weight));
            self.execute(
                "INSERT INTO routes (product, provider_id, upstream_product, priority, weight, buy_price_minor)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (product, provider_id) DO UPDATE SET upstream_product = excluded.upstream_product,
                   priority = excluded.priority, weight = excluded.weight, buy_price_minor = excluded.buy_price_minor",
                &[
                    &route.product,
                    &route.provider_id.get(),
                    &route.upstream_product,
                    &priority,
                    &weight,
                    &route.buy_price.map(Amount::minor),
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn remove_route<'a>(&'a self, product: &'a str, provider_id: ProviderId) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute("DELETE FROM routes WHERE product = $1 AND provider_id = $2", &[&product, &provider_id.get()])
                .await?;
            Ok(n == 1)
        })
    }

    fn routes(&self) -> BoxFuture<'_, Result<Vec<RouteRow>>> {
        Box::pin(async move {
            // Byte order of products, as SQLite sorts.
            const SQL: &str = concat!(
                "SELECT ",
                route_columns!(),
                " FROM routes ORDER BY product COLLATE \"C\", priority, provider_id"
            );
            all(&self.query(SQL, &[]).await?, rows::route)
        })
    }

    fn attempts(&self, order_id: OrderId) -> BoxFuture<'_, Result<Vec<AttemptRow>>> {
        Box::pin(async move {
            const SQL: &str =
                concat!("SELECT ", attempt_columns!(), " FROM attempts WHERE order_id = $1 ORDER BY attempt");
            all(&self.query(SQL, &[&order_id.get()]).await?, rows::attempt)
        })
    }

    fn record_provider_failure<'a>(
        &'a self,
        provider_id: ProviderId,
        product: &'a str,
        now_ms: i64,
        bucket: Bucket,
    ) -> BoxFuture<'a, Result<Option<i64>>> {
        Box::pin(async move {
            // The level leaks `capacity` per window since the last update,
            // then takes this failure; a full bucket empties and sets the
            // time out. Advisory: two nodes racing may both count.
            let full = i64::from(bucket.capacity) * 1000;
            let window_ms = bucket.window_ms.max(1);
            const BUMP: &str = "INSERT INTO provider_health (provider_id, product, level_milli, updated_at_ms)
                 VALUES ($1, $2, 1000, $3)
                 ON CONFLICT (provider_id, product) DO UPDATE SET
                   level_milli = GREATEST(0, provider_health.level_milli
                     - GREATEST(0, $3 - provider_health.updated_at_ms) * $4 / $5) + 1000,
                   updated_at_ms = $3
                 RETURNING level_milli";
            let rows = self.query(BUMP, &[&provider_id.get(), &product, &now_ms, &full, &window_ms]).await?;
            let level: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
            // Not full while no more than capacity − 1 failures are in it: the
            // capacity-th failure in a short time fills it (leaking is continuous).
            if level <= full - 1000 {
                return Ok(None);
            }
            let until = now_ms + bucket.out_ms;
            const OUT: &str =
                "UPDATE provider_health SET level_milli = 0, out_until_ms = $3 WHERE provider_id = $1 AND product = $2";
            self.execute(OUT, &[&provider_id.get(), &product, &until]).await?;
            Ok(Some(until))
        })
    }

    fn providers_out(&self, now_ms: i64) -> BoxFuture<'_, Result<Vec<(ProviderId, String, i64)>>> {
        Box::pin(async move {
            const SQL: &str = "SELECT provider_id, product, out_until_ms FROM provider_health WHERE out_until_ms > $1";
            let rows = self.query(SQL, &[&now_ms]).await?;
            Ok(rows.iter().map(|r| (ProviderId::new(r.get(0)), r.get(1), r.get(2))).collect())
        })
    }

    fn attempts_sent(
        &self,
        provider_id: ProviderId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<AttemptRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                attempt_columns!(),
                " FROM attempts WHERE provider_id = $1 AND sent_at_ms >= $2 AND sent_at_ms < $3
                 ORDER BY sent_at_ms, order_id, attempt"
            );
            all(&self.query(SQL, &[&provider_id.get(), &from_ms, &to_ms]).await?, rows::attempt)
        })
    }
}
