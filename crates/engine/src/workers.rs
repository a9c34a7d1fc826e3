//! Background work as idempotent reconcilers with a `run_once` that tests can
//! step: the order reconciler sends accepted orders that were never sent (a
//! crash between commit and dispatch) and asks providers about orders whose
//! re-check is due.

use std::sync::Arc;
use std::time::Duration;

use tambah_domain::StatusCode;
use tambah_store::Claim;

use crate::Engine;

/// Orders handled per pass at most.
pub const RECONCILE_BATCH: u32 = 256;

pub struct OrderReconciler {
    engine: Arc<Engine>,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub dispatched: usize,
    pub rechecked: usize,
    pub failed: usize,
}

impl OrderReconciler {
    pub fn new(engine: Arc<Engine>) -> OrderReconciler {
        OrderReconciler { engine }
    }

    pub async fn run_once(&self) -> Pass {
        let now = self.engine.now_ms();
        let config = self.engine.config();
        let claim = Claim {
            node: config.node_id.clone(),
            accepted_before_ms: now - config.dispatch_grace_ms,
            now_ms: now,
            // At least as long as the slowest provider's calls for one order
            // (every route tried): no other node takes it mid-call.
            lease_ms: config
                .lease_ms
                .max(self.engine.router().max_timeout_ms().saturating_mul(i64::from(crate::orders::ATTEMPTS_MAX))),
            limit: RECONCILE_BATCH,
        };
        let due = match self.engine.store().claim_due_orders(&claim).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "reconciler: cannot claim due orders");
                return Pass { failed: 1, ..Pass::default() };
            }
        };
        let mut pass = Pass::default();
        for order in due {
            if order.status == StatusCode::ACCEPTED {
                let provider = self
                    .engine
                    .store()
                    .merchant(order.merchant_id)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|m| self.engine.catalog().get(&order.product).cloned().map(|p| (m, p)))
                    .and_then(|(m, p)| self.engine.router().route(m.environment, &p, now, order.cost));
                match provider {
                    Some(route) => {
                        self.engine.dispatch(order, route).await;
                        pass.dispatched += 1;
                    }
                    None => {
                        tracing::warn!(order = %order.id, "reconciler: no provider for an accepted order");
                        pass.failed += 1;
                    }
                }
            } else {
                match self.engine.recheck(order).await {
                    Ok(()) => pass.rechecked += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, "reconciler: re-check failed");
                        pass.failed += 1;
                    }
                }
            }
        }
        pass
    }

    /// Runs a pass every `interval` until `stop` resolves.
    pub async fn run(self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        every(interval, stop, || self.run_once()).await
    }
}

/// Runs `pass` now and then every `interval` after the last one finished,
/// until `stop` resolves (a pass in progress is finished first).
pub async fn every<F: std::future::Future>(
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
    mut pass: impl FnMut() -> F,
) {
    tokio::pin!(stop);
    loop {
        pass().await;
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
