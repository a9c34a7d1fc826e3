//! Callbacks on SQLite: each merchant's callback settings, the outbox outside
//! a batch, delivery leases and the attempt log.

use rusqlite::{params, Connection};
use tambah_domain::{Amount, CallbackId, MerchantId, OrderId, StatusCode};
use tambah_store::{
    callback_attempt_columns, callback_columns, ready, rows, BoxFuture, CallbackAttempt, CallbackLog, CallbackNext,
    CallbackRow, CallbackSecrets, CallbackStore, Claim, NewCallback, Result,
};

use crate::{Cols, SqliteStore};

/// Pending callbacks whose next attempt is due and that no other node holds
/// a live lease on.
const DUE: &str = concat!(
    "SELECT ",
    callback_columns!(),
    " FROM callbacks WHERE state = 'pending' AND next_attempt_ms <= ?1
       AND (lease_until_ms IS NULL OR lease_until_ms < ?1 OR lease_owner = ?2)
     ORDER BY id LIMIT ?3"
);
const OF_ORDER: &str = concat!("SELECT ", callback_columns!(), " FROM callbacks WHERE order_id = ?1 ORDER BY id");
const ATTEMPTS: &str =
    concat!("SELECT ", callback_attempt_columns!(), " FROM callback_attempts WHERE callback_id = ?1 ORDER BY attempt");

/// Queues a callback: from the writer's batch, or alone (a redelivery).
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

    fn claim_due_callbacks<'a>(&'a self, c: &'a Claim) -> BoxFuture<'a, Result<Vec<CallbackRow>>> {
        ready(self.claim_leased(
            DUE,
            params![c.now_ms, c.node, c.limit],
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
