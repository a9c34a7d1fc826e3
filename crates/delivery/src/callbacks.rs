//! The callback sender: takes due callbacks from the outbox (leased, so each
//! is sent by one node at a time), delivers them signed, each in its own
//! task, logs every attempt and schedules retries. At least once: a callback
//! whose node dies mid-delivery is sent again after its lease runs out.
//!
//! Many at once, so that a slow receiver delays only its own merchant: up to
//! `concurrency` per node, and up to `per_merchant` of one merchant's across
//! all nodes (the claim counts the leases every node holds). Callbacks of
//! one order go one after the other, oldest first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tambah_engine::Engine;
use tambah_store::{CallbackAttempt, CallbackKind, CallbackNext, CallbackRow, Claim};
use tokio::task::JoinSet;

use crate::DeliveryConfig;

/// Callbacks taken per pass at most.
const BATCH: usize = 64;
/// At shutdown, how long deliveries under way have to finish; the rest are
/// cut off and sent again once their lease runs out.
const STOP_GRACE: Duration = Duration::from_secs(3);

pub struct CallbackSender {
    pub(crate) engine: Arc<Engine>,
    pub(crate) config: DeliveryConfig,
    /// The client for labs that allow private networks; otherwise each send
    /// builds one pinned to the address just checked.
    pub(crate) client: reqwest::Client,
}

/// What one attempt came to.
pub(crate) struct Answer {
    pub http_status: Option<u16>,
    pub error: String,
    pub excerpt: String,
    pub retryable: bool,
    pub ok: bool,
}

impl Answer {
    pub(crate) fn failed(error: String, retryable: bool) -> Answer {
        Answer { http_status: None, error, excerpt: String::new(), retryable, ok: false }
    }

    /// Done without an HTTP status (an e-mail sent, nothing to send to).
    pub(crate) fn done(excerpt: &str) -> Answer {
        Answer { http_status: None, error: String::new(), excerpt: excerpt.into(), retryable: false, ok: true }
    }
}

impl CallbackSender {
    pub fn new(engine: Arc<Engine>, config: DeliveryConfig) -> CallbackSender {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        CallbackSender { engine, config, client }
    }

    /// Leases up to `free` due callbacks (within every merchant's cap).
    async fn claim(&self, free: usize) -> Vec<CallbackRow> {
        let now = self.engine.now_ms();
        let claim = Claim {
            node: self.engine.config().node_id.clone(),
            accepted_before_ms: now,
            now_ms: now,
            lease_ms: self.config.lease_ms,
            limit: u32::try_from(free.min(BATCH)).unwrap_or(0),
        };
        match self.engine.outbox().claim_due(&claim, self.config.per_merchant).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "callbacks: cannot claim due callbacks");
                Vec::new()
            }
        }
    }

    /// Delivers until `stop`: every `interval`, as many due callbacks as
    /// there are free places (`concurrency`) are leased, each sent in its
    /// own task.
    pub async fn run(self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        let sender = Arc::new(self);
        let mut flying = JoinSet::new();
        tokio::pin!(stop);
        loop {
            while flying.try_join_next().is_some() {}
            let free = sender.config.concurrency.saturating_sub(flying.len());
            if free > 0 {
                for cb in sender.claim(free).await {
                    let sender = sender.clone();
                    flying.spawn(async move { sender.attempt(cb).await });
                }
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        // Deliveries under way get a moment; the rest keep their lease, which
        // runs out, and are sent again (at least once).
        let landed = tokio::time::timeout(STOP_GRACE, async { while flying.join_next().await.is_some() {} }).await;
        if landed.is_err() {
            tracing::info!(cut_off = flying.len(), "callbacks: deliveries cut off at shutdown are sent again later");
        }
        flying.abort_all();
    }

    /// Delivers one callback and records the attempt with its next state.
    async fn attempt(&self, cb: CallbackRow) {
        let attempt_no = cb.attempts + 1;
        let started = Instant::now();
        let at_ms = self.engine.now_ms();
        let merchant = match self.engine.outbox().merchant(cb.merchant_id).await {
            Ok(Some(m)) => m,
            other => {
                tracing::warn!(callback = %cb.id, ?other, "callbacks: merchant not readable");
                return;
            }
        };
        let (url, answer) = match cb.kind {
            CallbackKind::Order => self.deliver_order(&cb, &merchant).await,
            CallbackKind::LowBalance => self.deliver_low_balance(&cb, &merchant).await,
        };
        let next = if answer.ok {
            CallbackNext::Delivered
        } else if answer.retryable && attempt_no <= self.config.max_retries {
            CallbackNext::RetryAt(at_ms + self.config.retry_delay_ms)
        } else {
            CallbackNext::Failed
        };
        let record = CallbackAttempt {
            callback_id: cb.id,
            attempt: attempt_no,
            at_ms,
            url,
            http_status: answer.http_status,
            latency_ms: started.elapsed().as_millis() as i64,
            error: answer.error,
            response_excerpt: answer.excerpt,
        };
        if let Err(e) = self.engine.outbox().record_attempt(&record, next).await {
            tracing::warn!(callback = %cb.id, error = %e, "callbacks: could not log the attempt; it will be sent again");
        }
    }
}
