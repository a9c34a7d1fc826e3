//! Disputes on PostgreSQL: opening one per order (race-safe), listing and resolving them.

use tambah_domain::{DisputeId, MerchantId, OrderId};
use tambah_store::{dispute_select, rows, BoxFuture, DisputeRow, DisputeStore, OrderRow, Result, StoreError};

use crate::{all, maybe, PgStore};

/// How often `open_dispute` tries again when the open dispute it lost a race
/// to is resolved before it can read it.
const OPEN_ATTEMPTS: usize = 8;

impl DisputeStore for PgStore {
    fn open_dispute<'a>(
        &'a self,
        order: &'a OrderRow,
        emails: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<DisputeRow>> {
        Box::pin(async move {
            // The partial unique index `disputes_open_once` settles races: the
            // loser inserts nothing and reads the winner's open dispute. If
            // that one is resolved in between, try again.
            for _ in 0..OPEN_ATTEMPTS {
                if let Some(id) = self.open_dispute_id(order, emails, now_ms).await? {
                    const SQL: &str = concat!(dispute_select!(), " WHERE d.id = $1");
                    let row = self.query_opt(SQL, &[&id.get()]).await?;
                    return maybe(row.as_ref(), rows::dispute)?
                        .ok_or_else(|| StoreError::Other(format!("dispute {id} vanished")));
                }
            }
            Err(StoreError::Other(format!("could not open a dispute on order {}", order.id)))
        })
    }

    fn disputes(&self, open_only: bool) -> BoxFuture<'_, Result<Vec<DisputeRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(dispute_select!(), " WHERE (NOT $1 OR d.state = 'open') ORDER BY d.id");
            all(&self.query(SQL, &[&open_only]).await?, rows::dispute)
        })
    }

    fn merchant_disputes(
        &self,
        merchant_id: MerchantId,
        order_id: Option<OrderId>,
    ) -> BoxFuture<'_, Result<Vec<DisputeRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                dispute_select!(),
                " WHERE d.merchant_id = $1 AND ($2::BIGINT IS NULL OR d.order_id = $2) ORDER BY d.id DESC LIMIT 500"
            );
            all(&self.query(SQL, &[&merchant_id.get(), &order_id.map(OrderId::get)]).await?, rows::dispute)
        })
    }

    fn resolve_dispute<'a>(&'a self, id: DisputeId, resolution: &'a str, now_ms: i64) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute(
                    "UPDATE disputes SET state = 'resolved', resolution = $2, resolved_at_ms = $3
                     WHERE id = $1 AND state = 'open'",
                    &[&id.get(), &resolution, &now_ms],
                )
                .await?;
            Ok(n == 1)
        })
    }
}

impl PgStore {
    /// The id of the order's open dispute: the one inserted now, or else the
    /// one already open (`None` when neither: it was resolved in between).
    async fn open_dispute_id(&self, order: &OrderRow, emails: &str, now_ms: i64) -> Result<Option<DisputeId>> {
        let inserted = self
            .query_opt(
                "INSERT INTO disputes (merchant_id, order_id, emails, created_at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (order_id) WHERE state = 'open' DO NOTHING RETURNING id",
                &[&order.merchant_id.get(), &order.id.get(), &emails, &now_ms],
            )
            .await?;
        Ok(match inserted {
            Some(r) => Some(DisputeId::new(r.get(0))),
            None => self
                .query_opt("SELECT id FROM disputes WHERE order_id = $1 AND state = 'open'", &[&order.id.get()])
                .await?
                .map(|r| DisputeId::new(r.get(0))),
        })
    }
}
