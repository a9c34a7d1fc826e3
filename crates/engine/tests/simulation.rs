//! A seeded simulation: many merchants, deposits and random orders (successes,
//! every forced failure, processing and reversal scenarios, duplicate refids
//! sent concurrently, wallets running dry) driven through the engine on a real
//! SQLite file, with time advanced by hand. At the end every order is final,
//! `verify` finds nothing, and every wallet equals deposits minus the cost of
//! its successful orders. Set TAMBAH_SIM_SEED to replay a run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tambah_domain::{Amount, Environment};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_orders_keep_the_ledger_exact() {
    let seed: u64 = std::env::var("TAMBAH_SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x7A4B_A100_2026);
    eprintln!("simulation seed {seed} (TAMBAH_SIM_SEED to replay)");
    let mut rng = Rng(seed | 1);

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

    // Merchants with small wallets, so that some run dry (43 for real).
    let mut callers = Vec::new();
    let mut deposits: HashMap<String, i64> = HashMap::new();
    for i in 0..6 {
        let c = engine
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
        let rm = 300 + rng.below(900) as i64;
        engine.deposit(&c.merchant.account, Amount::from_rm(rm), "float").await.unwrap();
        deposits.insert(c.merchant.account.clone(), rm * 10_000);
        callers.push(Caller { merchant: c.merchant.clone(), via: AuthMethod::ApiKey("sim".into()) });
    }

    let mut sent: Vec<(usize, TopupInput)> = Vec::new();
    let reconciler = OrderReconciler::new(engine.clone());
    for round in 0..30 {
        // A burst of concurrent orders, some repeating earlier refids.
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (who, input) = if !sent.is_empty() && rng.below(8) == 0 {
                sent[rng.below(sent.len() as u64) as usize].clone()
            } else {
                let who = rng.below(callers.len() as u64) as usize;
                let (product, amounts) = PRODUCTS[rng.below(PRODUCTS.len() as u64) as usize];
                let input = TopupInput {
                    refid: Some(format!("S{round}-{}", rng.next() % 1_000_000)),
                    product: Some(product.into()),
                    account: Some(ACCOUNTS[rng.below(ACCOUNTS.len() as u64) as usize].into()),
                    amount: Some(amounts[rng.below(amounts.len() as u64) as usize].into()),
                    ..TopupInput::default()
                };
                sent.push((who, input.clone()));
                (who, input)
            };
            let engine = engine.clone();
            let caller = callers[who].clone();
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
        // Time passes; pending orders are asked about and reversals land.
        clock.0.fetch_add(rng.below(20_000) as i64, Ordering::SeqCst);
        reconciler.run_once().await;
        if round % 5 == 4 {
            let k = rng.below(callers.len() as u64) as usize;
            engine.deposit(&callers[k].merchant.account, Amount::from_rm(400), "top-up").await.unwrap();
            *deposits.get_mut(&callers[k].merchant.account).unwrap() += 400 * 10_000;
        }
    }
    // Let every scenario run out, then settle everything that is due.
    clock.0.fetch_add(200_000, Ordering::SeqCst);
    for _ in 0..10 {
        tokio::task::yield_now().await;
        let pass = reconciler.run_once().await;
        if pass.dispatched == 0 && pass.rechecked == 0 {
            break;
        }
    }

    // Every order is final, and wallets hold deposits minus successful costs.
    let mut counts: HashMap<u8, usize> = HashMap::new();
    let mut spent: HashMap<i64, i64> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for (who, input) in &sent {
        let m = &callers[*who].merchant;
        if !seen.insert((m.id, input.refid.clone())) {
            continue;
        }
        let Some(order) = store.order_by_refid(m.id, input.refid.as_deref().unwrap()).await.unwrap() else {
            continue; // lost a refid collision with other parameters
        };
        assert!(order.status >= 20, "order {} still {}", order.refid, order.status);
        *counts.entry(order.status).or_default() += 1;
        if order.status == 20 {
            *spent.entry(m.id).or_default() += order.cost_minor;
        }
    }
    for c in &callers {
        let m = &c.merchant;
        let expected = deposits[&m.account] - spent.get(&m.id).copied().unwrap_or(0);
        assert_eq!(store.balance(m.wallet_id).await.unwrap(), expected, "wallet of {}", m.account);
    }
    let checks = store.verify().await.unwrap();
    for c in &checks {
        assert!(c.violations.is_empty(), "{}: {:?}", c.name, c.violations);
    }
    eprintln!("final statuses: {counts:?}");
    for code in [20u8, 43, 48, 53] {
        assert!(counts.get(&code).copied().unwrap_or(0) > 0, "the run should produce status {code}: {counts:?}");
    }
    runner.shutdown(&engine).await;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
