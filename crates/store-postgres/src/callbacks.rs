//! Callbacks on PostgreSQL: callback settings, the outbox outside a batch, delivery leases and the attempt log.

use std::collections::HashMap;

use tambah_domain::{Amount, CallbackId, MerchantId, OrderId};
use tambah_store::{
    callback_attempt_columns, callback_columns, rows, BoxFuture, CallbackAttempt, CallbackLog, CallbackNext,
    CallbackRow, CallbackSecrets, CallbackStore, Claim, NewCallback, Result, StoreError,
};
use tokio_postgres::types::ToSql;

use crate::{all, PgStore};

/// The outbox insert, shared by the writer (inside a batch) and
/// `enqueue_callback` (on its own), bound by [`callback_values`]. Due at once.
pub(crate) const INSERT_CALLBACK: &str =
    "INSERT INTO callbacks (merchant_id, kind, order_id, status, balance_minor, created_at_ms, next_attempt_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";

/// A new callback's typed columns as the SQL values [`callback_values`]
/// binds (held by the caller, as the bound values are references).
pub(crate) struct CallbackKeys {
    merchant_id: i64,
    kind: &'static str,
    order_id: Option<i64>,
    /// The column is a BIGINT.
    status: Option<i64>,
    /// In minor units, as the column stores it.
    balance: i64,
}

impl CallbackKeys {
    pub(crate) fn of(c: &NewCallback) -> CallbackKeys {
        CallbackKeys {
            merchant_id: c.merchant_id.get(),
            kind: c.kind.as_str(),
            order_id: c.order_id.map(OrderId::get),
            status: c.status.map(|s| i64::from(s.code())),
            balance: c.balance.minor(),
        }
    }
}

/// The 6 values of [`INSERT_CALLBACK`], in order.
pub(crate) fn callback_values<'a>(c: &'a NewCallback, k: &'a CallbackKeys) -> [&'a (dyn ToSql + Sync); 6] {
    [&k.merchant_id, &k.kind, &k.order_id, &k.status, &k.balance, &c.created_at_ms]
}

impl CallbackStore for PgStore {
    fn set_callback_url<'a>(
        &'a self,
        merchant_id: MerchantId,
        url: &'a str,
        method: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "UPDATE merchants SET callback_url = $2, callback_method = $3 WHERE id = $1",
                &[&merchant_id.get(), &url, &method],
            )
            .await
            .map(|_| ())
        })
    }

    fn callback_secrets(&self, merchant_id: MerchantId) -> BoxFuture<'_, Result<CallbackSecrets>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT callback_secret_sealed, callback_secret_prev_sealed, callback_secret_prev_until_ms
                     FROM merchants WHERE id = $1",
                    &[&merchant_id.get()],
                )
                .await?
                .ok_or_else(|| StoreError::Other(format!("no merchant {merchant_id}")))?;
            let previous: Option<Vec<u8>> = row.get(1);
            let until: Option<i64> = row.get(2);
            Ok(CallbackSecrets { current: row.get(0), previous: previous.zip(until) })
        })
    }

    fn set_callback_secrets<'a>(
        &'a self,
        merchant_id: MerchantId,
        s: &'a CallbackSecrets,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let previous = s.previous.as_ref().map(|(p, _)| p.as_slice());
            let until = s.previous.as_ref().map(|(_, u)| *u);
            self.execute(
                "UPDATE merchants SET callback_secret_sealed = $2, callback_secret_prev_sealed = $3,
                   callback_secret_prev_until_ms = $4 WHERE id = $1",
                &[&merchant_id.get(), &s.current.as_deref(), &previous, &until],
            )
            .await
            .map(|_| ())
        })
    }

    fn set_low_balance_threshold(&self, merchant_id: MerchantId, threshold: Amount) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.execute(
                "UPDATE merchants SET low_balance_threshold_minor = $2, low_balance_notified = false WHERE id = $1",
                &[&merchant_id.get(), &threshold.minor()],
            )
            .await
            .map(|_| ())
        })
    }

    fn enqueue_callback<'a>(&'a self, c: &'a NewCallback) -> BoxFuture<'a, Result<CallbackId>> {
        Box::pin(async move {
            let keys = CallbackKeys::of(c);
            let row = self.query_opt(INSERT_CALLBACK, &callback_values(c, &keys)).await?;
            row.map(|r| CallbackId::new(r.get(0)))
                .ok_or_else(|| StoreError::Other("callback insert returned no id".into()))
        })
    }

    fn claim_due_callbacks<'a>(&'a self, c: &'a Claim, per_merchant: u32) -> BoxFuture<'a, Result<Vec<CallbackRow>>> {
        Box::pin(async move {
            // As claim_due_orders, rows another node is leasing are skipped;
            // the oldest pending callback of each order only; each merchant's
            // in flight (live leases, any node) and new ones within its cap.
            // Two nodes claiming at once rank the same callbacks first, so one
            // skips what the other locked; the outer conditions are checked
            // again on a row another node leased meanwhile.
            const SQL: &str = concat!(
                "UPDATE callbacks SET lease_owner = $2, lease_until_ms = $1 + $4
                 WHERE id IN (
                     SELECT id FROM callbacks WHERE id IN (
                         SELECT e.id FROM (
                             SELECT c.id, c.merchant_id,
                                    row_number() OVER (PARTITION BY c.merchant_id ORDER BY c.id) AS place
                             FROM callbacks c
                             WHERE c.state = 'pending' AND c.next_attempt_ms <= $1
                               AND (c.lease_until_ms IS NULL OR c.lease_until_ms < $1)
                               AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.order_id = c.order_id
                                               AND p.state = 'pending' AND p.id < c.id)) e
                         LEFT JOIN (
                             SELECT merchant_id, count(*) AS n FROM callbacks
                             WHERE state = 'pending' AND next_attempt_ms <= $1 AND lease_until_ms >= $1
                             GROUP BY merchant_id) busy ON busy.merchant_id = e.merchant_id
                         WHERE e.place + coalesce(busy.n, 0) <= $5
                         ORDER BY e.id LIMIT $3)
                     FOR UPDATE SKIP LOCKED)
                   AND state = 'pending' AND (lease_until_ms IS NULL OR lease_until_ms < $1)
                 RETURNING ",
                callback_columns!()
            );
            let limit = i64::from(c.limit);
            let per_merchant = i64::from(per_merchant);
            let claimed = self.query(SQL, &[&c.now_ms, &c.node, &limit, &c.lease_ms, &per_merchant]).await?;
            let mut callbacks = all(&claimed, rows::callback)?;
            callbacks.sort_by_key(|cb| cb.id);
            Ok(callbacks)
        })
    }

    fn record_callback_attempt<'a>(&'a self, a: &'a CallbackAttempt, next: CallbackNext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (state, next_at) = match next {
                CallbackNext::Delivered => ("delivered", None),
                CallbackNext::RetryAt(at) => ("pending", Some(at)),
                CallbackNext::Failed => ("failed", None),
            };
            let callback_id = a.callback_id.get();
            let attempt = i64::from(a.attempt);
            let http_status = a.http_status.map(i64::from);
            // One statement: atomic without a transaction on a shared connection.
            self.execute(
                "WITH logged AS (
                     INSERT INTO callback_attempts (callback_id, attempt, at_ms, url, http_status, latency_ms, error,
                       response_excerpt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
                 UPDATE callbacks SET attempts = $2, state = $9, next_attempt_ms = $10, lease_owner = NULL,
                   lease_until_ms = NULL WHERE id = $1",
                &[
                    &callback_id,
                    &attempt,
                    &a.at_ms,
                    &a.url,
                    &http_status,
                    &a.latency_ms,
                    &a.error,
                    &a.response_excerpt,
                    &state,
                    &next_at,
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn callback_log(&self, order_id: OrderId) -> BoxFuture<'_, Result<CallbackLog>> {
        Box::pin(async move {
            const CALLBACKS: &str =
                concat!("SELECT ", callback_columns!(), " FROM callbacks WHERE order_id = $1 ORDER BY id");
            const ATTEMPTS: &str = concat!(
                "SELECT ",
                callback_attempt_columns!(),
                " FROM callback_attempts WHERE callback_id = ANY($1) ORDER BY callback_id, attempt, id"
            );
            let callbacks = all(&self.query(CALLBACKS, &[&order_id.get()]).await?, rows::callback)?;
            if callbacks.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<i64> = callbacks.iter().map(|cb| cb.id.get()).collect();
            let mut attempts: HashMap<CallbackId, Vec<CallbackAttempt>> = HashMap::new();
            for attempt in all(&self.query(ATTEMPTS, &[&ids]).await?, rows::callback_attempt)? {
                attempts.entry(attempt.callback_id).or_default().push(attempt);
            }
            Ok(callbacks
                .into_iter()
                .map(|cb| {
                    let log = attempts.remove(&cb.id).unwrap_or_default();
                    (cb, log)
                })
                .collect())
        })
    }
}
