//! The operator's watch over providers, on every node: each provider's float
//! (for routing, and against its low-balance mark: one alert per crossing),
//! and once a day
//! yesterday's reconciliation with each provider (an alert when anything
//! differs or it cannot be done). Nodes watch independently, so with several
//! nodes an alert comes once per node.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tambah_delivery::alerts::Alerts;
use tambah_domain::time;
use tambah_engine::Engine;
use tokio::sync::watch;

/// What the watch remembers between passes.
#[derive(Default)]
struct Seen {
    /// Providers already alerted for a low float (until it is back above).
    low: HashSet<String>,
    /// The last day reconciled (`yyyy-MM-dd`).
    reconciled: Option<String>,
}

pub async fn watch_providers(engine: Arc<Engine>, alerts: Alerts, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut seen = Seen::default();
    loop {
        floats(&engine, &alerts, &mut seen).await;
        reconcile_yesterday(&engine, &alerts, &mut seen).await;
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Reads every provider's float (routing skips a provider whose float is
/// short of an order's cost), and alerts once per provider whose float fell
/// below its mark.
async fn floats(engine: &Engine, alerts: &Alerts, seen: &mut Seen) {
    let Ok(providers) = engine.providers().await else { return };
    for p in providers.iter().filter(|p| p.enabled && p.connected) {
        let float = match engine.provider_balance(&p.name).await {
            Ok(Some(float)) => float,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(provider = %p.name, error = %e, "provider float not read");
                continue;
            }
        };
        let Some(mark) = p.low_balance else { continue };
        if float >= mark {
            seen.low.remove(&p.name);
        } else if seen.low.insert(p.name.clone()) {
            let text = format!(
                "provider {}: our float is RM {}, below the mark of RM {}",
                p.name,
                float.to_cents(),
                mark.to_cents()
            );
            alerts.send("provider_low_balance", &text, engine.now_ms()).await;
        }
    }
}

/// Once a day: yesterday (Malaysia time) against every provider's own list.
async fn reconcile_yesterday(engine: &Engine, alerts: &Alerts, seen: &mut Seen) {
    let yesterday = time::date_text(time::day_of(engine.now_ms()) - 1);
    if seen.reconciled.as_deref() == Some(yesterday.as_str()) {
        return;
    }
    let Ok(providers) = engine.providers().await else { return };
    for p in providers.iter().filter(|p| p.enabled && p.connected) {
        let text = match engine.reconcile(&p.name, &yesterday).await {
            Ok(r) if r.differences.is_empty() => continue,
            Ok(r) => format!(
                "provider {} on {yesterday}: {} difference(s); run `tambah reconcile --provider {} --date {yesterday}`",
                p.name,
                r.differences.len(),
                p.name
            ),
            Err(e) => format!("provider {} on {yesterday}: reconciliation failed: {e}", p.name),
        };
        alerts.send("reconciliation", &text, engine.now_ms()).await;
    }
    seen.reconciled = Some(yesterday);
}
