//! `tambah-bench`: the tools behind `bench/run.sh`.
//!
//! - `ceiling-http ADDR`: axum answering a trivial route (`GET /`), the ceiling
//!   of the HTTP stack alone.
//! - `ceiling-writer ADDR DB`: axum plus one SQLite writer thread committing
//!   each batch of queued requests as one transaction (WAL, synchronous=FULL),
//!   two statements per request: the ceiling of durable group commit.
//! - `open-loop URL TOKEN RATE SECONDS PREFIX`: topups sent at a constant rate
//!   whatever the answers' pace; each latency is measured from the moment the
//!   request was due, so a stall counts against every request it delayed
//!   (no coordinated omission).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("ceiling-http") => rt.block_on(ceiling_http(&args[2])),
        Some("ceiling-writer") => rt.block_on(ceiling_writer(&args[2], &args[3])),
        Some("open-loop") => rt.block_on(open_loop(
            &args[2],
            &args[3],
            args[4].parse().expect("rate"),
            args[5].parse().expect("seconds"),
            &args[6],
        )),
        _ => {
            eprintln!("usage: tambah-bench ceiling-http ADDR | ceiling-writer ADDR DB | open-loop URL TOKEN RATE SECONDS PREFIX");
            std::process::exit(2);
        }
    }
}

async fn ceiling_http(addr: &str) {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    println!("listening");
    axum::serve(listener, app).await.expect("serve");
}

type Job = oneshot::Sender<()>;

async fn ceiling_writer(addr: &str, db: &str) {
    let (tx, mut rx) = mpsc::channel::<Job>(16_384);
    let path = db.to_owned();
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS a (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS b (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);",
        )
        .expect("schema");
        let mut n: i64 = 0;
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(job) = rx.try_recv() {
                batch.push(job);
                if batch.len() >= 1024 {
                    break;
                }
            }
            conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
            for _ in &batch {
                n += 1;
                conn.prepare_cached("INSERT INTO a (v) VALUES (?1)").unwrap().execute([n]).unwrap();
                conn.prepare_cached("INSERT INTO b (v) VALUES (?1)").unwrap().execute([n]).unwrap();
            }
            conn.execute_batch("COMMIT").expect("commit");
            for job in batch {
                let _ = job.send(());
            }
        }
    });
    let tx = Arc::new(tx);
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let tx = tx.clone();
            async move {
                let (reply, done) = oneshot::channel();
                tx.send(reply).await.expect("writer");
                done.await.expect("commit");
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    println!("listening");
    axum::serve(listener, app).await.expect("serve");
}

async fn open_loop(url: &str, token: &str, rate: u64, seconds: u64, prefix: &str) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).build().expect("client");
    let total = rate * seconds;
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now() + Duration::from_millis(100);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Duration, bool)>();
    let url = format!("{url}/v2/topup");
    let auth = format!("Bearer {token}");
    for i in 0..total {
        let due = start + interval * (i as u32);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, auth, done) = (client.clone(), url.clone(), auth.clone(), done_tx.clone());
        let body = format!(r#"{{"refid":"{prefix}-{i}","product":"D","account":"0123456789","amount":"10"}}"#);
        tokio::spawn(async move {
            let ok = match client
                .post(&url)
                .header("Authorization", auth)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
            {
                Ok(r) => {
                    r.status().is_success()
                        && r.text().await.map(|t| t.contains(r#""statuscode":"20""#)).unwrap_or(false)
                }
                Err(_) => false,
            };
            let _ = done.send((due.elapsed(), ok));
        });
    }
    drop(done_tx);
    let mut latencies = Vec::with_capacity(total as usize);
    let mut failed = 0u64;
    while let Some((latency, ok)) = done_rx.recv().await {
        latencies.push(latency);
        if !ok {
            failed += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "open loop: offered {rate}/s for {seconds} s, {} answered in {elapsed:.1} s ({:.0}/s), {failed} not 20",
        latencies.len(),
        latencies.len() as f64 / elapsed
    );
    println!(
        "latency from the due time (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
}
