//! The engine: tambah's use cases (authenticate, price, place and resolve
//! orders, onboard merchants), the group-commit writer and the background
//! workers. It sees the database only through the `tambah_store` traits.

pub mod accounts;
pub mod auth;
pub mod bills;
pub mod cache;
pub mod callbacks;
pub mod catalog;
pub mod console;
pub mod credentials;
pub mod disputes;
pub mod families;
mod health;
mod ledger;
pub mod merchants;
pub mod operators;
pub mod orders;
pub mod outbox;
pub mod parking;
pub mod passwords;
pub mod providers;
pub mod reports;
pub mod request_log;
pub mod signing;
pub mod unknowns;
mod waiters;
pub mod workers;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

use tambah_domain::{Catalog, Environment, Product};
use tambah_store::{Store, StoreError, SystemAccounts};

pub use auth::{AuthError, AuthMethod, Caller, SignedRequest};
pub use credentials::MasterKey;
pub use orders::{OrderView, Rejection, RejectionKind, TopupError, TopupInput};
pub use writer::WriteError;

/// Time, passed in so that tests can control it.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// Every limit and timing of the engine, each from configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long a topup response waits for the final status.
    pub topup_wait_ms: u64,
    pub token_ttl_s: i64,
    pub refresh_ttl_s: i64,
    /// Allowed distance between `X-Timestamp` and the server clock.
    pub signature_window_s: i64,
    /// Commands applied in one transaction at most.
    pub writer_batch_max: usize,
    /// Commands waiting for the writer at most (callers wait beyond that).
    pub writer_queue_max: usize,
    /// New orders are refused (503) while the writer's queue has stood
    /// longer than this for a whole interval (zero: never).
    pub shed_queue_delay: std::time::Duration,
    /// Accepted orders older than this that were never sent are sent by the
    /// reconciler (after a crash between commit and dispatch).
    pub dispatch_grace_ms: i64,
    /// After sending an order, ask the provider about it this long later if
    /// no outcome has been recorded by then.
    pub query_after_ms: i64,
    /// When set, only credentials of this environment are accepted.
    pub environment: Option<Environment>,
    /// Seed of the staging simulator's serials and PINs.
    pub simulator_seed: u64,
    /// This node's name in worker leases (unique per running node).
    pub node_id: String,
    /// How long a node holds due order work before another may take it.
    pub lease_ms: i64,
    /// When a failing provider leaves rotation (per product), and for how long.
    pub provider_bucket: tambah_store::Bucket,
    /// Whether anyone may create a staging account from the dashboard.
    pub signup: bool,
    /// Credentials, final orders and balances held in memory (`cache`);
    /// off, every request reads the database.
    pub caches: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            topup_wait_ms: 2_000,
            token_ttl_s: 3_600,
            refresh_ttl_s: 365 * 86_400,
            signature_window_s: 300,
            writer_batch_max: 1_024,
            writer_queue_max: 16_384,
            shed_queue_delay: std::time::Duration::from_millis(50),
            dispatch_grace_ms: 5_000,
            query_after_ms: 10_000,
            environment: None,
            simulator_seed: 0,
            node_id: format!("node-{}", std::process::id()),
            lease_ms: 30_000,
            provider_bucket: tambah_store::Bucket { capacity: 5, window_ms: 60_000, out_ms: 60_000 },
            signup: true,
            caches: true,
        }
    }
}

pub struct Engine {
    store: Arc<dyn Store>,
    catalog: RwLock<Arc<Catalog>>,
    families: Arc<families::Families>,
    health: health::Health,
    catalog_version: std::sync::atomic::AtomicI64,
    router: providers::Router,
    /// Orders this node is asking a provider about right now.
    asking: Arc<std::sync::Mutex<std::collections::HashSet<tambah_domain::OrderId>>>,
    /// The connectors built for configured providers, by (id, row version).
    connectors: std::sync::Mutex<HashMap<(tambah_domain::ProviderId, i64), Arc<dyn providers::Provider>>>,
    writer: writer::WriterHandle,
    waiters: Arc<waiters::Waiters>,
    caches: Arc<cache::Caches>,
    master_key: MasterKey,
    /// Password checks and hashes, on their own few threads.
    passwords: passwords::Passwords,
    /// The last health write and when it was made (shared by callers
    /// within a second, so a flood of /health makes one write a second).
    health_probe: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), StoreError>)>>,
    request_log: request_log::RequestLog,
    config: Config,
    clock: Arc<dyn Clock>,
    me: Weak<Engine>,
}

/// Threads that check passwords (Argon2id, 19 MiB each at once).
const PASSWORD_THREADS: usize = 2;
/// Password checks waiting at most; one more is refused as busy.
const PASSWORD_QUEUE: usize = 32;

/// Owns the writer thread; `shutdown` drains and stops it.
pub struct EngineRunner {
    thread: writer::WriterThread,
}

impl Engine {
    /// Starts the engine and its writer thread on `store`.
    pub async fn start(
        store: Arc<dyn Store>,
        catalog: Catalog,
        families: families::Families,
        master_key: MasterKey,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<(Arc<Engine>, EngineRunner), StoreError> {
        let mut systems: HashMap<Environment, SystemAccounts> = HashMap::new();
        for env in [Environment::Staging, Environment::Live] {
            systems.insert(env, store.system_accounts(env).await?);
        }
        let waiters = Arc::new(waiters::Waiters::default());
        let caches = Arc::new(cache::Caches::new(config.caches));
        let (writer, thread) = writer::spawn(
            store.writer()?,
            systems,
            waiters.clone(),
            caches.clone(),
            config.writer_queue_max,
            config.writer_batch_max,
        );
        let store_for_log = store.clone();
        let engine = Arc::new_cyclic(|me| Engine {
            store,
            catalog: RwLock::new(Arc::new(catalog)),
            families: Arc::new(families),
            health: health::Health::default(),
            catalog_version: std::sync::atomic::AtomicI64::new(0),
            router: providers::Router::new(
                providers::simulator::Simulator::new(config.simulator_seed),
                config.simulator_seed,
            ),
            connectors: std::sync::Mutex::default(),
            asking: Arc::default(),
            writer,
            waiters,
            caches,
            master_key,
            passwords: passwords::Passwords::start(PASSWORD_THREADS, PASSWORD_QUEUE),
            health_probe: tokio::sync::Mutex::new(None),
            request_log: request_log::RequestLog::start(store_for_log, clock.clone()),
            config,
            clock,
            me: me.clone(),
        });
        if let Err(e) = engine.reload_providers().await {
            tracing::warn!(error = %e, "providers could not be loaded; live orders have no route until they are");
        }
        if engine.config.caches {
            engine.poll_cache_epoch().await;
            cache::Caches::watch(Arc::downgrade(&engine));
        }
        Ok((engine, EngineRunner { thread }))
    }

    /// The store, for the engine's own services only: the edges reach the
    /// database through use cases.
    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Checks that the database answers (the health endpoint).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Whether the database accepts writes: this node's heartbeat row is
    /// written, at most once a second (callers in between share the answer).
    pub async fn health(&self) -> Result<(), StoreError> {
        let mut probe = self.health_probe.lock().await;
        if let Some((at, result)) = probe.as_ref() {
            if at.elapsed() < std::time::Duration::from_secs(1) {
                return result.clone();
            }
        }
        let result = self.store.heartbeat(&self.config.node_id, self.now_ms()).await;
        *probe = Some((std::time::Instant::now(), result.clone()));
        result
    }

    /// Checks every ledger invariant (`tambah verify`).
    pub async fn verify(&self) -> Result<Vec<tambah_store::Check>, StoreError> {
        self.store.verify().await
    }

    /// How many merchants exist (a fresh database has none).
    pub async fn merchant_count(&self) -> Result<u64, StoreError> {
        self.store.merchant_count().await
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().expect("catalog lock poisoned").clone()
    }

    /// Plans, accounts, billers, zakat types and e-SIM countries.
    pub fn families(&self) -> &families::Families {
        &self.families
    }

    /// `Healthy` or `Interruption` for a product, from recent outcomes. The
    /// staging test product `FP` is always interrupted, and live products
    /// are while no live provider is routed, or every one routed is out of
    /// rotation (the health every node shares).
    pub fn network_healthy(&self, environment: Environment, product: &Product) -> bool {
        let now_ms = self.now_ms();
        if product.family == tambah_domain::Family::Test
            || self.router().route(environment, product, now_ms, tambah_domain::Amount::ZERO).is_none()
        {
            return false;
        }
        if environment == Environment::Live && self.router().all_out(product, now_ms) {
            return false;
        }
        self.health.healthy(environment, &product.code, self.now_ms())
    }

    pub(crate) fn record_health(&self, environment: Environment, product: &str, order: &tambah_store::OrderRow) {
        if providers::simulator::Simulator::is_simulation(&order.account) {
            return;
        }
        let healthy =
            !matches!(order.status, tambah_domain::StatusCode::UNAVAILABLE | tambah_domain::StatusCode::TIMEOUT);
        if order.status.is_final() {
            self.health.record(environment, product, self.now_ms(), healthy);
        }
    }

    /// Loads a catalogue imported since the last look (`tambah catalog
    /// import`); true when it changed. Nodes call this periodically.
    pub async fn reload_catalog(&self) -> Result<bool, String> {
        use std::sync::atomic::Ordering;
        let latest = self.store().latest_catalog(false).await.map_err(|e| e.to_string())?;
        let Some((version, _)) = latest else { return Ok(false) };
        if version <= self.catalog_version.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let Some((version, json)) = self.store().latest_catalog(true).await.map_err(|e| e.to_string())? else {
            return Ok(false);
        };
        let catalog = catalog::parse(&json)?;
        self.set_catalog(catalog);
        self.catalog_version.store(version, Ordering::SeqCst);
        Ok(true)
    }

    /// Swaps the whole catalogue (in-flight requests keep the one they read).
    pub fn set_catalog(&self, catalog: Catalog) {
        *self.catalog.write().expect("catalog lock poisoned") = Arc::new(catalog);
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn router(&self) -> &providers::Router {
        &self.router
    }

    pub(crate) fn writer(&self) -> &writer::WriterHandle {
        &self.writer
    }

    pub(crate) fn waiters(&self) -> &waiters::Waiters {
        &self.waiters
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// Marks an order as being asked about on this node; `None` when it
    /// already is (the mark goes when the guard is dropped).
    pub(crate) fn asking(&self, order: tambah_domain::OrderId) -> Option<Asking> {
        if !self.asking.lock().expect("asking lock poisoned").insert(order) {
            return None;
        }
        Some(Asking { set: self.asking.clone(), order })
    }

    pub(crate) fn arc(&self) -> Arc<Engine> {
        self.me.upgrade().expect("engine is alive while its methods run")
    }
}

impl EngineRunner {
    /// Lets the writer commit everything queued so far, then stops it.
    pub async fn shutdown(self, engine: &Engine) {
        engine.writer().stop().await;
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// An order being asked about on this node (see `Engine::asking`).
pub(crate) struct Asking {
    set: Arc<std::sync::Mutex<std::collections::HashSet<tambah_domain::OrderId>>>,
    order: tambah_domain::OrderId,
}

impl Drop for Asking {
    fn drop(&mut self) {
        self.set.lock().expect("asking lock poisoned").remove(&self.order);
    }
}
