//! A seeded simulation: many merchants, deposits and random orders (successes,
//! every forced failure, processing and reversal scenarios, duplicate refids
//! sent concurrently, wallets running dry) driven through the engine on a real
//! SQLite file, with time advanced by hand. At the end every order is final,
//! `verify` finds nothing, and every wallet equals deposits minus the cost of
//! its successful orders. Set TAMBAH_SIM_SEED to replay a run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tambah_domain::{Amount, Environment, MerchantId, StatusCode};
use tambah_engine::merchants::MerchantSpec;
use tambah_engine::workers::OrderReconciler;
use tambah_engine::{catalog, AuthMethod, Caller, Clock, Config, Engine, MasterKey, TopupError, TopupInput};
use tambah_store::Store;
use tambah_store_sqlite::SqliteStore;

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// xorshift64*: small, seeded, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ACCOUNTS: &[&str] = &[
    "0123456789",
    "0123456789",
    "0123456789",
    "0198765432",
    "60123450043",
    "60123450044",
    "60123450045",
    "60123450047",
    "60123450048",
    "60123450052",
    "60123450464",
    "60123450055",
    "60123450056",
    "60123450057",
    "60123450861",
    "60123450103",
    "60123450130",
    "60123450205",
    "60123450260",
    "60123450302",
];
const PRODUCTS: &[(&str, &[&str])] = &[
    ("D", &["5", "10", "30", "50"]),
    ("CP", &["5", "10", "30"]),
    ("CB", &["1.23", "45.60", "99.99"]),
    ("C", &["5", "10"]),
];

/// The engine under test, on a real SQLite file, with a hand-driven clock.
struct World {
    engine: Arc<Engine>,
    runner: Option<tambah_engine::EngineRunner>,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    path: std::path::PathBuf,
    rng: Rng,
    callers: Vec<Caller>,
    /// Minor units deposited per merchant account.
    deposits: HashMap<String, i64>,
    /// Every request sent: (caller index, input).
    sent: Vec<(usize, TopupInput)>,
}

impl World {
    async fn start(seed: u64) -> World {
        let path = std::env::temp_dir().join(format!("tambah-sim-{}-{seed}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let clock = Arc::new(ManualClock(AtomicI64::new(1_764_000_000_000)));
        let config = Config { topup_wait_ms: 0, writer_batch_max: 64, ..Config::default() };
        let key = MasterKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let (engine, runner) = Engine::start(
            store.clone(),
            catalog::parse(catalog::BUILT_IN).unwrap(),
            tambah_engine::families::Families::parse(tambah_engine::families::BUILT_IN).unwrap(),
            key,
            config,
            clock.clone(),
        )
        .await
        .unwrap();
        let rng = Rng(seed | 1);
        World {
            engine,
            runner: Some(runner),
            store,
            clock,
            path,
            rng,
            callers: Vec::new(),
            deposits: HashMap::new(),
            sent: Vec::new(),
        }
    }

    /// Merchants with small wallets, so that some run dry (43 for real).
    async fn merchants(&mut self, n: usize) {
        for i in 0..n {
            let c = self
                .engine
                .create_merchant(&MerchantSpec {
                    name: format!("Sim {i}"),
                    environment: Environment::Staging,
                    level: Some(if i % 2 == 0 { "1".into() } else { "12".into() }),
                    username: None,
                    password: Some("simulation-password".into()),
                    api_version: None,
                })
                .await
                .unwrap();
            let rm = 300 + self.rng.below(900) as i64;
            self.engine.deposit(&c.merchant.account, Amount::from_rm(rm), "float").await.unwrap();
            self.deposits.insert(c.merchant.account.clone(), rm * 10_000);
            self.callers.push(Caller { merchant: c.merchant.clone(), via: AuthMethod::ApiKey("sim".into()) });
        }
    }

    /// A new random request, or (one time in eight) one sent before.
    fn request(&mut self, round: usize) -> (usize, TopupInput) {
        if !self.sent.is_empty() && self.rng.below(8) == 0 {
            return self.sent[self.rng.below(self.sent.len() as u64) as usize].clone();
        }
        let who = self.rng.below(self.callers.len() as u64) as usize;
        let (product, amounts) = PRODUCTS[self.rng.below(PRODUCTS.len() as u64) as usize];
        let input = TopupInput {
            refid: Some(format!("S{round}-{}", self.rng.next() % 1_000_000)),
            product: Some(product.into()),
            account: Some(ACCOUNTS[self.rng.below(ACCOUNTS.len() as u64) as usize].into()),
            amount: Some(amounts[self.rng.below(amounts.len() as u64) as usize].into()),
            ..TopupInput::default()
        };
        self.sent.push((who, input.clone()));
        (who, input)
    }

    /// A burst of concurrent orders, some repeating earlier refids.
    async fn burst(&mut self, round: usize, size: usize) {
        let mut tasks = Vec::new();
        for _ in 0..size {
            let (who, input) = self.request(round);
            let engine = self.engine.clone();
            let caller = self.callers[who].clone();
            tasks.push(tokio::spawn(async move { engine.topup(&caller, &input).await }));
        }
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => {}
                // A refid reused with other parameters (random collisions).
                Err(TopupError::Rejected(r)) if r.kind == tambah_engine::RejectionKind::Conflict => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }

    /// Every order is final, and wallets hold deposits minus successful
    /// costs. Returns how many orders ended with each status.
    async fn check_books(&self) -> HashMap<u8, usize> {
        let mut counts: HashMap<u8, usize> = HashMap::new();
        let mut spent: HashMap<MerchantId, i64> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for (who, input) in &self.sent {
            let m = &self.callers[*who].merchant;
            if !seen.insert((m.id, input.refid.clone())) {
                continue;
            }
            let Some(order) = self.store.order_by_refid(m.id, input.refid.as_deref().unwrap()).await.unwrap() else {
                continue; // lost a refid collision with other parameters
            };
            assert!(order.status.is_final(), "order {} still {}", order.refid, order.status);
            *counts.entry(order.status.code()).or_default() += 1;
            if order.status == StatusCode::SUCCESSFUL {
                *spent.entry(m.id).or_default() += order.cost.minor();
            }
        }
        for c in &self.callers {
            let m = &c.merchant;
            let expected = self.deposits[&m.account] - spent.get(&m.id).copied().unwrap_or(0);
            assert_eq!(self.store.balance(m.wallet_id).await.unwrap().minor(), expected, "wallet of {}", m.account);
        }
        for c in &self.store.verify().await.unwrap() {
            assert!(c.violations.is_empty(), "{}: {:?}", c.name, c.violations);
        }
        counts
    }

    async fn stop(mut self) {
        if let Some(runner) = self.runner.take() {
            runner.shutdown(&self.engine).await;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_orders_keep_the_ledger_exact() {
    let seed: u64 = std::env::var("TAMBAH_SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7A4B_A100_2026);
    eprintln!("simulation seed {seed} (TAMBAH_SIM_SEED to replay)");
    let mut world = World::start(seed).await;
    world.merchants(6).await;
    let reconciler = OrderReconciler::new(world.engine.clone());
    for round in 0..30 {
        world.burst(round, 40).await;
        // Time passes; pending orders are asked about and reversals land.
        world.clock.0.fetch_add(world.rng.below(20_000) as i64, Ordering::SeqCst);
        reconciler.run_once().await;
        if round % 5 == 4 {
            let k = world.rng.below(world.callers.len() as u64) as usize;
            let account = world.callers[k].merchant.account.clone();
            world.engine.deposit(&account, Amount::from_rm(400), "top-up").await.unwrap();
            *world.deposits.get_mut(&account).unwrap() += 400 * 10_000;
        }
    }
    // Let every scenario run out, then settle everything that is due.
    world.clock.0.fetch_add(200_000, Ordering::SeqCst);
    for _ in 0..10 {
        tokio::task::yield_now().await;
        let pass = reconciler.run_once().await;
        if pass.dispatched == 0 && pass.rechecked == 0 {
            break;
        }
    }
    let counts = world.check_books().await;
    eprintln!("final statuses: {counts:?}");
    for code in [20u8, 43, 48, 53] {
        assert!(counts.get(&code).copied().unwrap_or(0) > 0, "the run should produce status {code}: {counts:?}");
    }
    world.stop().await;
}
