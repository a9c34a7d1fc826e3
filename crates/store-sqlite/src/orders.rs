//! Orders on SQLite: reads outside the writer (by id, by refid, with the
//! wallet's balance) and the lease by which a node takes due order work.

use rusqlite::{params, Connection, OptionalExtension};
use tambah_domain::{AccountId, Amount, MerchantId, OrderId};
use tambah_store::{order_columns, ready, rows, BoxFuture, Claim, OrderRow, OrderStore, Result};

use crate::{ledger, Cols, SqliteStore};

const BY_ID: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = ?1");
const BY_REFID: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE merchant_id = ?1 AND refid = ?2");
const WITH_REFID: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE refid = ?1 ORDER BY id");

/// Accepted orders never sent, and orders whose re-check is due, that no
/// other node holds a live lease on. A `UNION` of two arms rather than one
/// `OR`, so that each arm reads its own partial index (`orders_pending`,
/// `orders_recheck`).
const DUE: &str = concat!(
    "SELECT ",
    order_columns!(),
    " FROM (
         SELECT * FROM orders WHERE status = 0 AND created_at_ms < ?1
         UNION
         SELECT * FROM orders WHERE recheck_at_ms IS NOT NULL AND recheck_at_ms <= ?2)
     WHERE lease_until_ms IS NULL OR lease_until_ms < ?2 OR lease_owner = ?3
     ORDER BY id LIMIT ?4"
);

/// An order by id (read side and writer alike).
pub(crate) fn order_by_id(conn: &Connection, order_id: OrderId) -> rusqlite::Result<Option<OrderRow>> {
    conn.prepare_cached(BY_ID)?.query_row([order_id.get()], |r| rows::order(&Cols::new(r))).optional()
}

/// A merchant's order by refid (read side and writer alike).
pub(crate) fn find_order(
    conn: &Connection,
    merchant_id: MerchantId,
    refid: &str,
) -> rusqlite::Result<Option<OrderRow>> {
    conn.prepare_cached(BY_REFID)?
        .query_row(params![merchant_id.get(), refid], |r| rows::order(&Cols::new(r)))
        .optional()
}

impl OrderStore for SqliteStore {
    fn order(&self, order_id: OrderId) -> BoxFuture<'_, Result<Option<OrderRow>>> {
        ready(self.read(|c| order_by_id(c, order_id)))
    }

    fn order_by_refid<'a>(
        &'a self,
        merchant_id: MerchantId,
        refid: &'a str,
    ) -> BoxFuture<'a, Result<Option<OrderRow>>> {
        ready(self.read(|c| find_order(c, merchant_id, refid)))
    }

    fn order_with_balance<'a>(
        &'a self,
        merchant_id: MerchantId,
        refid: &'a str,
        wallet_id: AccountId,
    ) -> BoxFuture<'a, Result<(Option<OrderRow>, Amount)>> {
        ready(self.read(|c| Ok((find_order(c, merchant_id, refid)?, ledger::balance_of(c, wallet_id)?))))
    }

    fn orders_with_refid<'a>(&'a self, refid: &'a str) -> BoxFuture<'a, Result<Vec<OrderRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(WITH_REFID)?;
            let rows = stmt.query_map([refid], |r| rows::order(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn pending_orders(&self, created_before_ms: i64, limit: u32) -> BoxFuture<'_, Result<Vec<OrderRow>>> {
        const SQL: &str = concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE status IN (0, 1) AND created_at_ms < ?1 ORDER BY created_at_ms, id LIMIT ?2"
        );
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(SQL)?;
            let rows = stmt.query_map(params![created_before_ms, limit], |r| rows::order(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn claim_due_orders<'a>(&'a self, c: &'a Claim) -> BoxFuture<'a, Result<Vec<OrderRow>>> {
        ready(self.claim_leased(
            DUE,
            params![c.accepted_before_ms, c.now_ms, c.node, c.limit],
            |r| rows::order(&Cols::new(r)),
            "orders",
            |o| o.id.get(),
            c,
        ))
    }
}
