//! The merchant's request log: its refused and failed API requests (status
//! 400 and up), kept a week, shown on its dashboard. Noting one never waits
//! and never fails a request: rows go through a bounded queue to a task
//! that writes them in batches; when the queue is full (a flood of bad
//! requests) the rest are counted and dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tambah_store::{RequestLogRow, Store};
use tokio::sync::mpsc;

use crate::accounts::Member;
use crate::merchants::AdminError;
use crate::Engine;

/// Rows waiting to be written at most.
const QUEUE: usize = 4_096;
/// Rows written in one transaction at most.
const BATCH: usize = 512;
/// How long a logged request is kept.
pub const KEEP_MS: i64 = 7 * 86_400_000;
/// The most rows kept per merchant.
const KEEP_PER_MERCHANT: u32 = 1_000;
/// The most rows the dashboard shows.
pub const SHOWN: u32 = 200;

/// Rows one merchant may note per window, and the window: a flood of bad
/// requests from one account (or under one of its key ids) fills neither
/// the queue the others share nor the table.
const PER_MERCHANT: u32 = 30;
const WINDOW_MS: i64 = 10_000;

/// The sending end, held by the engine.
pub(crate) struct RequestLog {
    queue: mpsc::Sender<RequestLogRow>,
    dropped: AtomicU64,
    /// Per merchant: the window's start and the rows noted in it.
    recent: std::sync::Mutex<std::collections::HashMap<tambah_domain::MerchantId, (i64, u32)>>,
}

impl RequestLog {
    /// Starts the writing task on the current runtime (none: rows are
    /// dropped, e.g. in a test without one).
    pub(crate) fn start(store: Arc<dyn Store>, clock: Arc<dyn crate::Clock>) -> RequestLog {
        let (queue, rows) = mpsc::channel(QUEUE);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(write_rows(store, clock, rows));
        }
        RequestLog { queue, dropped: AtomicU64::new(0), recent: std::sync::Mutex::default() }
    }
}

async fn write_rows(store: Arc<dyn Store>, clock: Arc<dyn crate::Clock>, mut rows: mpsc::Receiver<RequestLogRow>) {
    let mut last_trim_ms = 0;
    while let Some(first) = rows.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rows.try_recv() {
                Ok(row) => batch.push(row),
                Err(_) => break,
            }
        }
        if let Err(e) = store.insert_request_log(&batch).await {
            tracing::warn!(error = %e, rows = batch.len(), "request log rows not written");
        }
        let now = clock.now_ms();
        if now - last_trim_ms > 3_600_000 {
            last_trim_ms = now;
            if let Err(e) = store.trim_request_log(now - KEEP_MS, KEEP_PER_MERCHANT).await {
                tracing::warn!(error = %e, "request log not trimmed");
            }
        }
        // A short pause lets a burst gather into one transaction.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Engine {
    /// Notes a refused or failed request of a merchant (never waits).
    pub fn note_failed_request(&self, row: RequestLogRow) {
        {
            let mut recent = self.request_log.recent.lock().expect("request log poisoned");
            if recent.len() > 100_000 {
                recent.retain(|_, (start, _)| row.at_ms - *start < WINDOW_MS);
            }
            let (start, count) = recent.entry(row.merchant_id).or_insert((row.at_ms, 0));
            if row.at_ms - *start >= WINDOW_MS {
                (*start, *count) = (row.at_ms, 0);
            }
            *count += 1;
            if *count > PER_MERCHANT {
                return;
            }
        }
        if self.request_log.queue.try_send(row).is_err() {
            let n = self.request_log.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "request log queue full: rows dropped");
            }
        }
    }

    /// The newest requests of the account the member looks at.
    pub async fn member_request_log(&self, m: &Member) -> Result<Vec<RequestLogRow>, AdminError> {
        Ok(self.store().request_log(m.merchant.id, SHOWN).await?)
    }

    /// The merchant an API key belongs to (for the log of a request whose
    /// signature failed), if the key exists.
    pub async fn key_merchant(&self, key_id: &str) -> Option<tambah_domain::MerchantId> {
        self.store().api_key(key_id).await.ok().flatten().map(|k| k.merchant_id)
    }
}
