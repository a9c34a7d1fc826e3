//! Micro-benchmarks of the hot pieces of a topup: the HMAC signature check,
//! amount parsing and pricing, the response JSON, and topups through the
//! engine's group-commit writer on SQLite. `cargo bench -p tambah-bench`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tambah_domain::Amount;
use tambah_engine::signing;

fn signature(c: &mut Criterion) {
    let secret = [7u8; 32];
    let body = br#"{"refid":"UID-123","product":"D","account":"0123456789","amount":"10"}"#;
    let canonical = signing::canonical("1700000000", "abcdefghijklmnop", "POST", "", body);
    let sig = signing::sign(&secret, &canonical);
    c.bench_function("signature: canonical + verify", |b| {
        b.iter(|| {
            let canonical = signing::canonical("1700000000", "abcdefghijklmnop", "POST", "", black_box(body));
            assert!(signing::verify(&secret, &canonical, &sig));
        })
    });
}

fn money(c: &mut Criterion) {
    c.bench_function("amount: parse + price", |b| {
        b.iter(|| Amount::parse_rm(black_box("10.00"), 2).unwrap().priced(10_000, 300))
    });
}

fn json(c: &mut Criterion) {
    c.bench_function("json: topup response (seed format)", |b| {
        b.iter(|| {
            serde_json::json!({
                "statuscode": "20", "status": "Successful", "account": "0113242124", "product": "C", "amount": "10",
                "sn": "123456789012", "pin": "", "expiry": "", "cost": Amount::from_rm(10).priced(10_000, 300).to_cents(),
                "balance": Amount::from_minor(1_511_000).to_cents(), "remarks": "", "refid": black_box("UID-123"),
                "timestamp": "2023-10-01 00:11:54", "note": ""
            })
            .to_string()
        })
    });
}

/// 256 topups placed concurrently through the engine: validation, the
/// simulator's inline decision, and the writer's group commit on a real
/// SQLite file (WAL, synchronous=FULL).
fn writer_batch(c: &mut Criterion) {
    use std::sync::Arc;
    use tambah_engine::merchants::MerchantSpec;
    use tambah_engine::{catalog, families, AuthMethod, Caller, Config, Engine, MasterKey, SystemClock, TopupInput};

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("tambah-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn tambah_store::Store> =
        Arc::new(tambah_store_sqlite::SqliteStore::open(dir.join("bench.db")).unwrap());
    let (engine, _runner) = rt.block_on(async {
        Engine::start(
            store,
            catalog::parse(catalog::BUILT_IN).unwrap(),
            families::Families::parse(families::BUILT_IN).unwrap(),
            MasterKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
            Config::default(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap()
    });
    let merchant = rt.block_on(async {
        let spec = MerchantSpec {
            name: "Bench".into(),
            environment: tambah_domain::Environment::Staging,
            level: None,
            username: None,
            password: None,
            api_version: None,
        };
        let m = engine.create_merchant(&spec).await.unwrap().merchant;
        engine.deposit(&m.account, Amount::from_rm(90_000_000), "bench").await.unwrap();
        m
    });
    let caller = Caller { merchant, via: AuthMethod::ApiKey("bench".into()) };
    let mut n = 0u64;
    c.bench_function("engine: 256 concurrent topups, one group commit each batch (SQLite)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..256)
                    .map(|_| {
                        n += 1;
                        let (engine, caller) = (engine.clone(), caller.clone());
                        let input = TopupInput {
                            refid: Some(format!("B{n}")),
                            product: Some("D".into()),
                            account: Some("0123456789".into()),
                            amount: Some("10".into()),
                            ..TopupInput::default()
                        };
                        tokio::spawn(async move { engine.topup(&caller, &input).await.unwrap() })
                    })
                    .collect();
                for t in tasks {
                    assert_eq!(t.await.unwrap().order.status, tambah_domain::StatusCode::SUCCESSFUL);
                }
            })
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, signature, money, json, writer_batch);
criterion_main!(benches);
