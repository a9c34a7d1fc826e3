//! Callbacks on SQLite: each merchant's callback settings, the outbox outside
//! a batch, delivery leases and the attempt log.

use rusqlite::{params, Connection};
use tambah_domain::{Amount, CallbackId, MerchantId, OrderId, StatusCode};
use tambah_store::{
    callback_attempt_columns, callback_columns, ready, rows, BoxFuture, CallbackAttempt, CallbackLog, CallbackNext,
    CallbackRow, CallbackSecrets, CallbackStore, Claim, NewCallback, OrderCallbacks, Result,
};

use crate::{Cols, SqliteStore};

/// Pending callbacks whose next attempt is due, that no node holds a live
/// lease on, that are the oldest pending callback of their order, and that
/// fit under their merchant's cap (`?3`) with the ones already in flight
/// (leased and pending); lowest ids first, at most `?2`.
const DUE: &str = concat!(
    "SELECT ",
    callback_columns!(),
    " FROM callbacks WHERE id IN (
       SELECT e.id FROM (
         SELECT c.id, c.merchant_id, row_number() OVER (PARTITION BY c.merchant_id ORDER BY c.id) AS place
         FROM callbacks c
         WHERE c.state = 'pending' AND c.next_attempt_ms <= ?1
           AND (c.lease_until_ms IS NULL OR c.lease_until_ms < ?1)
           AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.order_id = c.order_id AND p.state = 'pending'
                           AND p.id < c.id)) e
       LEFT JOIN (
         SELECT merchant_id, count(*) AS n FROM callbacks
         WHERE state = 'pending' AND next_attempt_ms <= ?1 AND lease_until_ms >= ?1 GROUP BY merchant_id) busy
         ON busy.merchant_id = e.merchant_id
       WHERE e.place + coalesce(busy.n, 0) <= ?3
       ORDER BY e.id LIMIT ?2)
     ORDER BY id"
);
const OF_ORDER: &str = concat!("SELECT ", callback_columns!(), " FROM callbacks WHERE order_id = ?1 ORDER BY id");
const ATTEMPTS: &str =
    concat!("SELECT ", callback_attempt_columns!(), " FROM callback_attempts WHERE callback_id = ?1 ORDER BY attempt");

/// Queues a callback: from the writer's batch, or alone (`enqueue_callback`).
pub(crate) fn insert_callback(conn: &Connection, c: &NewCallback) -> rusqlite::Result<CallbackId> {
    conn.prepare_cached(
        "INSERT INTO callbacks (merchant_id, kind, order_id, status, balance_minor, created_at_ms, next_attempt_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        c.merchant_id.get(),
        c.kind.as_str(),
        c.order_id.map(OrderId::get),
        c.status.map(StatusCode::code),
        c.balance.minor(),
        c.created_at_ms
    ])?;
    Ok(CallbackId::new(conn.last_insert_rowid()))
}

/// An order's callbacks, counted: pending, and in all.
pub(crate) fn order_callbacks(conn: &Connection, order_id: OrderId) -> rusqlite::Result<OrderCallbacks> {
    conn.prepare_cached("SELECT coalesce(sum(state = 'pending'), 0), count(*) FROM callbacks WHERE order_id = ?1")?
        .query_row([order_id.get()], |r| Ok(OrderCallbacks { pending: r.get(0)?, queued: r.get(1)? }))
}

impl SqliteStore {
    fn record_callback_attempt_now(&self, a: &CallbackAttempt, next: CallbackNext) -> Result<()> {
        let (state, next_at) = match next {
            CallbackNext::Delivered => ("delivered", None),
            CallbackNext::RetryAt(at) => ("pending", Some(at)),
            CallbackNext::Failed => ("failed", None),
        };
        self.write(|tx| {
            tx.execute(
                "INSERT INTO callback_attempts (callback_id, attempt, at_ms, url, http_status, latency_ms, error, response_excerpt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.callback_id.get(), a.attempt, a.at_ms, a.url, a.http_status, a.latency_ms, a.error, a.response_excerpt],
            )?;
            tx.execute(
                "UPDATE callbacks SET attempts = ?2, state = ?3, next_attempt_ms = ?4, lease_owner = NULL,
                   lease_until_ms = NULL WHERE id = ?1",
                params![a.callback_id.get(), a.attempt, state, next_at],
            )?;
            Ok(())
        })
    }

    fn callback_log_now(&self, order_id: OrderId) -> Result<CallbackLog> {
        self.read(|c| {
            let callbacks: Vec<CallbackRow> = c
                .prepare_cached(OF_ORDER)?
                .query_map([order_id.get()], |r| rows::callback(&Cols::new(r)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = c.prepare_cached(ATTEMPTS)?;
            callbacks
                .into_iter()
                .map(|cb| {
                    let attempts = stmt
                        .query_map([cb.id.get()], |r| rows::callback_attempt(&Cols::new(r)))?
                        .collect::<rusqlite::Result<_>>()?;
                    Ok((cb, attempts))
                })
                .collect()
        })
    }
}

impl CallbackStore for SqliteStore {
    fn set_callback_url<'a>(
        &'a self,
        merchant_id: MerchantId,
        url: &'a str,
        method: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET callback_url = ?2, callback_method = ?3 WHERE id = ?1",
                params![merchant_id.get(), url, method],
            )
            .map(|_| ())
        }))
    }

    fn callback_secrets(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<CallbackSecrets>> {
        ready(self.read(|c| {
            c.query_row(
                "SELECT callback_secret_sealed, callback_secret_prev_sealed, callback_secret_prev_until_ms
                 FROM merchants WHERE id = ?1",
                [merchant_id.get()],
                |r| {
                    let prev: Option<Vec<u8>> = r.get(1)?;
                    let until: Option<i64> = r.get(2)?;
                    Ok(CallbackSecrets { current: r.get(0)?, previous: prev.zip(until) })
                },
            )
        }))
    }

    fn set_callback_secrets<'a>(
        &'a self,
        merchant_id: MerchantId,
        s: &'a CallbackSecrets,
    ) -> BoxFuture<'a, Result<()>> {
        let (prev, until) = match &s.previous {
            Some((p, u)) => (Some(p.clone()), Some(*u)),
            None => (None, None),
        };
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET callback_secret_sealed = ?2, callback_secret_prev_sealed = ?3,
                   callback_secret_prev_until_ms = ?4 WHERE id = ?1",
                params![merchant_id.get(), s.current, prev, until],
            )
            .map(|_| ())
        }))
    }

    fn set_low_balance_threshold(&self, merchant_id: MerchantId, threshold: Amount) -> BoxFuture<'_, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET low_balance_threshold_minor = ?2, low_balance_notified = 0 WHERE id = ?1",
                params![merchant_id.get(), threshold.minor()],
            )
            .map(|_| ())
        }))
    }

    fn enqueue_callback<'a>(&'a self, callback: &'a NewCallback) -> BoxFuture<'a, Result<CallbackId>> {
        ready(self.write(|tx| insert_callback(tx, callback)))
    }

    fn claim_due_callbacks<'a>(&'a self, c: &'a Claim, per_merchant: u32) -> BoxFuture<'a, Result<Vec<CallbackRow>>> {
        ready(self.claim_leased(
            DUE,
            params![c.now_ms, c.limit, per_merchant],
            |r| rows::callback(&Cols::new(r)),
            "callbacks",
            |cb| cb.id.get(),
            c,
        ))
    }

    fn record_callback_attempt<'a>(
        &'a self,
        attempt: &'a CallbackAttempt,
        next: CallbackNext,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.record_callback_attempt_now(attempt, next))
    }

    fn callback_log(&self, order_id: OrderId) -> BoxFuture<'_, Result<CallbackLog>> {
        ready(self.callback_log_now(order_id))
    }
}
