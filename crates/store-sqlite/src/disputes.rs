//! Disputes on SQLite: opening one on an order (at most one open per order),
//! listing them, and resolving one.

use rusqlite::{params, OptionalExtension};
use tambah_domain::{DisputeId, MerchantId, OrderId};
use tambah_store::{dispute_select, ready, rows, BoxFuture, DisputeRow, DisputeStore, OrderRow, Result};

use crate::{Cols, SqliteStore};

const BY_ID: &str = concat!(dispute_select!(), " WHERE d.id = ?1");
const LIST: &str = concat!(dispute_select!(), " WHERE (?1 = 0 OR d.state = 'open') ORDER BY d.id");
const OF_MERCHANT: &str = concat!(
    dispute_select!(),
    " WHERE d.merchant_id = ?1 AND (?2 IS NULL OR d.order_id = ?2) ORDER BY d.id DESC LIMIT 500"
);

impl SqliteStore {
    fn open_dispute_now(&self, order: &OrderRow, emails: &str, now_ms: i64) -> Result<DisputeRow> {
        let order_id = order.id.get();
        let id = self.write(|tx| {
            let existing: Option<i64> = tx
                .query_row("SELECT id FROM disputes WHERE order_id = ?1 AND state = 'open'", [order_id], |r| r.get(0))
                .optional()?;
            if let Some(id) = existing {
                return Ok(id);
            }
            tx.execute(
                "INSERT INTO disputes (merchant_id, order_id, emails, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![order.merchant_id.get(), order_id, emails, now_ms],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        self.read(|c| c.query_row(BY_ID, [id], |r| rows::dispute(&Cols::new(r))))
    }
}

impl DisputeStore for SqliteStore {
    fn open_dispute<'a>(
        &'a self,
        order: &'a OrderRow,
        emails: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<DisputeRow>> {
        ready(self.open_dispute_now(order, emails, now_ms))
    }

    fn disputes(&self, open_only: bool) -> BoxFuture<'_, Result<Vec<DisputeRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare(LIST)?;
            let rows = stmt.query_map([open_only], |r| rows::dispute(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn merchant_disputes(
        &self,
        merchant_id: MerchantId,
        order_id: Option<OrderId>,
    ) -> BoxFuture<'_, Result<Vec<DisputeRow>>> {
        ready(self.read(|c| {
            c.prepare_cached(OF_MERCHANT)?
                .query_map(params![merchant_id.get(), order_id.map(OrderId::get)], |r| rows::dispute(&Cols::new(r)))?
                .collect()
        }))
    }

    fn resolve_dispute<'a>(&'a self, id: DisputeId, resolution: &'a str, now_ms: i64) -> BoxFuture<'a, Result<bool>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE disputes SET state = 'resolved', resolution = ?2, resolved_at_ms = ?3 WHERE id = ?1 AND state = 'open'",
                params![id.get(), resolution, now_ms],
            )
            .map(|n| n == 1)
        }))
    }
}
