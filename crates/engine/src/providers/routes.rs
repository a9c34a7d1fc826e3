//! Which provider an order goes to. Staging orders always go to the
//! simulator. Live orders follow their product's routes (`tambah route add`):
//! the lowest priority first, shared by weight among routes of the same
//! priority; a product without a route (or whose providers are all disabled)
//! has nowhere to go (47). The table is read from the database and replaced
//! whole when the operator changes it, so every node follows within seconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tambah_domain::{Amount, Environment, Product, ProviderId};

use super::simulator::Simulator;
use super::Provider;

/// A provider chosen for an order, and how the order is known there.
#[derive(Clone)]
pub struct Route {
    pub provider: Arc<dyn Provider>,
    /// The configured provider (`None` for the simulator, which keeps no
    /// attempt log).
    pub provider_id: Option<ProviderId>,
    /// The provider's product code.
    pub upstream_product: String,
    /// Starts this installation's references at the provider.
    pub ref_prefix: String,
    /// How long a call to the provider may take (0 for the simulator).
    pub timeout_ms: i64,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("provider", &self.provider.name())
            .field("provider_id", &self.provider_id)
            .field("upstream_product", &self.upstream_product)
            .finish()
    }
}

impl Route {
    /// Our reference at the provider for an attempt at an order:
    /// deterministic, so that it can be looked up there after a crash, and
    /// at most 25 characters of `[A-Za-z0-9-]` (IIMMPACT's refid rules).
    pub fn upstream_ref(&self, order_id: tambah_domain::OrderId, attempt: u32) -> String {
        if self.provider_id.is_none() {
            return String::new();
        }
        format!("{}{order_id}-{attempt}", self.ref_prefix)
    }
}

/// A configured provider, ready to send.
#[derive(Clone)]
pub struct Connector {
    pub id: ProviderId,
    pub provider: Arc<dyn Provider>,
    pub ref_prefix: String,
    pub timeout_ms: i64,
}

/// One live route, resolved to its connector.
#[derive(Clone)]
pub struct LiveRoute {
    pub connector: Connector,
    pub upstream_product: String,
    pub priority: u32,
    pub weight: u32,
}

/// The live routing table: enabled connectors by name, and each product's
/// routes in priority order.
#[derive(Default)]
pub struct LiveTable {
    pub by_name: HashMap<String, Connector>,
    pub by_product: HashMap<String, Vec<LiveRoute>>,
}

pub struct Router {
    simulator: Arc<Simulator>,
    live: RwLock<Arc<LiveTable>>,
    /// (provider, product) out of rotation, until when (shared through the
    /// database; this node's own findings count at once).
    out: RwLock<HashMap<(ProviderId, String), i64>>,
    /// Our float at each provider as last read (and spent since), where known.
    floats: RwLock<HashMap<ProviderId, Amount>>,
    /// Counts live choices: the weighted pick is a deterministic rotation
    /// (seedable for tests), not a random draw.
    picks: AtomicU64,
}

impl Router {
    pub fn new(simulator: Simulator, seed: u64) -> Router {
        Router {
            simulator: Arc::new(simulator),
            live: RwLock::new(Arc::default()),
            out: RwLock::default(),
            floats: RwLock::default(),
            picks: AtomicU64::new(seed),
        }
    }

    /// Replaces the live routing table (every route sorted by priority).
    pub fn set_live(&self, table: LiveTable) {
        *self.live.write().expect("routes lock poisoned") = Arc::new(table);
    }

    /// Replaces what is out of rotation with the shared view.
    pub fn set_out(&self, out: HashMap<(ProviderId, String), i64>) {
        *self.out.write().expect("routes lock poisoned") = out;
    }

    /// Takes a provider out of rotation for a product until `until_ms`.
    pub fn mark_out(&self, provider: ProviderId, product: &str, until_ms: i64) {
        self.out.write().expect("routes lock poisoned").insert((provider, product.to_owned()), until_ms);
    }

    /// Our float at a provider, as just read.
    pub fn set_float(&self, provider: ProviderId, float: Amount) {
        self.floats.write().expect("routes lock poisoned").insert(provider, float);
    }

    /// A delivery the provider charged us `cost` for, until the next read.
    pub fn spend(&self, provider: ProviderId, cost: Amount) {
        if let Some(float) = self.floats.write().expect("routes lock poisoned").get_mut(&provider) {
            *float = float.checked_sub(cost).unwrap_or(Amount::ZERO);
        }
    }

    /// Our float there is known and below `cost`.
    fn short(&self, provider: ProviderId, cost: Amount) -> bool {
        self.floats.read().expect("routes lock poisoned").get(&provider).is_some_and(|f| *f < cost)
    }

    fn is_out(&self, provider: ProviderId, product: &str, now_ms: i64) -> bool {
        let out = self.out.read().expect("routes lock poisoned");
        out.get(&(provider, product.to_owned())).is_some_and(|until| *until > now_ms)
    }

    /// The longest call any live provider may take (0 with none).
    pub fn max_timeout_ms(&self) -> i64 {
        self.table().by_name.values().map(|c| c.timeout_ms).max().unwrap_or(0)
    }

    /// Every live route of the product is out of rotation at `now_ms`.
    pub fn all_out(&self, product: &Product, now_ms: i64) -> bool {
        let table = self.table();
        table
            .by_product
            .get(&product.code)
            .is_none_or(|routes| routes.iter().all(|r| self.is_out(r.connector.id, &product.code, now_ms)))
    }

    fn table(&self) -> Arc<LiveTable> {
        self.live.read().expect("routes lock poisoned").clone()
    }

    fn simulated(&self, product: &Product) -> Route {
        Route {
            provider: self.simulator.clone(),
            provider_id: None,
            upstream_product: product.code.clone(),
            ref_prefix: String::new(),
            timeout_ms: 0,
        }
    }

    /// The provider a new order of `product` costing `cost` goes to at `now_ms`.
    pub fn route(&self, environment: Environment, product: &Product, now_ms: i64, cost: Amount) -> Option<Route> {
        match environment {
            Environment::Staging => Some(self.simulated(product)),
            Environment::Live => self.next_route(product, &[], now_ms, cost),
        }
    }

    /// The route a live order of `product` fails over to once the providers
    /// in `tried` could not take it: the lowest priority left, shared by
    /// weight. Providers out of rotation for the product, or whose float is
    /// known to be short of `cost`, are skipped, unless every route left is
    /// (then they are tried rather than refusing).
    pub fn next_route(&self, product: &Product, tried: &[ProviderId], now_ms: i64, cost: Amount) -> Option<Route> {
        let table = self.table();
        let untried: Vec<&LiveRoute> =
            table.by_product.get(&product.code)?.iter().filter(|r| !tried.contains(&r.connector.id)).collect();
        let usable =
            |r: &&LiveRoute| !self.is_out(r.connector.id, &product.code, now_ms) && !self.short(r.connector.id, cost);
        let healthy: Vec<&LiveRoute> = untried.iter().copied().filter(usable).collect();
        let left = if healthy.is_empty() { untried } else { healthy };
        let first = left.first()?.priority;
        let group: Vec<&LiveRoute> = left.into_iter().take_while(|r| r.priority == first).collect();
        let n = self.picks.fetch_add(1, Ordering::Relaxed);
        let chosen = pick_weighted(&group, n);
        Some(Route {
            provider: chosen.connector.provider.clone(),
            provider_id: Some(chosen.connector.id),
            upstream_product: chosen.upstream_product.clone(),
            ref_prefix: chosen.connector.ref_prefix.clone(),
            timeout_ms: chosen.connector.timeout_ms,
        })
    }

    /// The provider named on an order (to ask about it), with the product
    /// code it was sent as.
    pub fn by_name(&self, name: &str, upstream_product: &str) -> Option<Route> {
        if name == Simulator::NAME {
            return Some(Route {
                provider: self.simulator.clone(),
                provider_id: None,
                upstream_product: upstream_product.to_owned(),
                ref_prefix: String::new(),
                timeout_ms: 0,
            });
        }
        let table = self.table();
        let c = table.by_name.get(name)?;
        Some(Route {
            provider: c.provider.clone(),
            provider_id: Some(c.id),
            upstream_product: upstream_product.to_owned(),
            ref_prefix: c.ref_prefix.clone(),
            timeout_ms: c.timeout_ms,
        })
    }

    pub fn simulator(&self) -> &Simulator {
        &self.simulator
    }
}

/// The `n`-th choice of a rotation through `group` in which each route
/// appears as often as its weight.
fn pick_weighted<'a>(group: &[&'a LiveRoute], n: u64) -> &'a LiveRoute {
    let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
    let mut slot = n % total.max(1);
    for r in group {
        if slot < u64::from(r.weight) {
            return r;
        }
        slot -= u64::from(r.weight);
    }
    group[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, weight: u32) -> LiveRoute {
        LiveRoute {
            connector: Connector {
                id: ProviderId::new(1),
                provider: Arc::new(Simulator::new(0)),
                ref_prefix: name.to_owned(),
                timeout_ms: 1,
            },
            upstream_product: String::new(),
            priority: 1,
            weight,
        }
    }

    #[test]
    fn weights_share_the_choices() {
        let (a, b) = (route("a", 3), route("b", 1));
        let group = [&a, &b];
        let picked: Vec<&str> = (0..8).map(|n| pick_weighted(&group, n).connector.ref_prefix.as_str()).collect();
        assert_eq!(picked, ["a", "a", "a", "b", "a", "a", "a", "b"]);
    }
}
