//! Recent provider health per environment and product, for `networkstatus`:
//! the share of recent provider outcomes that were "unavailable" or timed out.
//! Kept in each node's memory: advisory, as the contract says.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tambah_domain::Environment;

/// Outcomes kept per product, and how old they may be.
const WINDOW: usize = 50;
const WINDOW_MS: i64 = 10 * 60_000;
/// Fewer outcomes than this say nothing.
const MIN_SAMPLES: usize = 5;

/// Recent outcomes of one product: (when, healthy).
type Outcomes = VecDeque<(i64, bool)>;

#[derive(Default)]
pub(crate) struct Health {
    recent: Mutex<HashMap<(Environment, String), Outcomes>>,
}

impl Health {
    pub(crate) fn record(&self, environment: Environment, product: &str, at_ms: i64, healthy: bool) {
        let mut map = self.recent.lock().expect("health poisoned");
        let q = map.entry((environment, product.to_owned())).or_default();
        q.push_back((at_ms, healthy));
        while q.len() > WINDOW {
            q.pop_front();
        }
    }

    /// False when at least half of enough recent outcomes were failures of
    /// the provider itself.
    pub(crate) fn healthy(&self, environment: Environment, product: &str, now_ms: i64) -> bool {
        let map = self.recent.lock().expect("health poisoned");
        let Some(q) = map.get(&(environment, product.to_owned())) else { return true };
        let recent: Vec<bool> = q.iter().filter(|(at, _)| now_ms - at <= WINDOW_MS).map(|(_, ok)| *ok).collect();
        if recent.len() < MIN_SAMPLES {
            return true;
        }
        recent.iter().filter(|ok| !**ok).count() * 2 < recent.len()
    }
}
