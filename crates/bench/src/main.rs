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
//!   (no coordinated omission); the served (20), shed (503) and other
//!   answers are also reported apart.
//! - `login-flood URL CLIENTS SECONDS`: wrong passwords to `/v2/token` from
//!   CLIENTS loops at once, each answer counted by status.
//! - `idle ADDR CONNECTIONS SECONDS`: holds that many connections open and
//!   silent, then says how many the server had closed.

mod overload;

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
        Some("login-flood") => rt.block_on(overload::login_flood(
            &args[2],
            args[3].parse().expect("clients"),
            args[4].parse().expect("seconds"),
        )),
        Some("idle") => rt.block_on(overload::idle(
            &args[2],
            args[3].parse().expect("connections"),
            args[4].parse().expect("seconds"),
        )),
        _ => {
            eprintln!("usage: tambah-bench ceiling-http ADDR | ceiling-writer ADDR DB | open-loop URL TOKEN RATE SECONDS PREFIX | login-flood URL CLIENTS SECONDS | idle ADDR CONNECTIONS SECONDS");
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

/// What became of one open-loop request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// 200 with status code 20.
    Served,
    /// 503: shed.
    Shed,
    Other,
}

async fn open_loop(url: &str, token: &str, rate: u64, seconds: u64, prefix: &str) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).build().expect("client");
    let total = rate * seconds;
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now() + Duration::from_millis(100);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Duration, Answer)>();
    let url = format!("{url}/v2/topup");
    let auth = format!("Bearer {token}");
    for i in 0..total {
        let due = start + interval * (i as u32);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, auth, done) = (client.clone(), url.clone(), auth.clone(), done_tx.clone());
        let body = format!(r#"{{"refid":"{prefix}-{i}","product":"D","account":"0123456789","amount":"10"}}"#);
        tokio::spawn(async move {
            let sent = client.post(&url).header("Authorization", auth).header("Content-Type", "application/json");
            let answer = match sent.body(body).send().await {
                Ok(r) if r.status() == 503 => Answer::Shed,
                Ok(r) if r.status().is_success() => {
                    let final20 = r.text().await.map(|t| t.contains(r#""statuscode":"20""#)).unwrap_or(false);
                    if final20 {
                        Answer::Served
                    } else {
                        Answer::Other
                    }
                }
                _ => Answer::Other,
            };
            let _ = done.send((due.elapsed(), answer));
        });
    }
    drop(done_tx);
    let mut all = Vec::with_capacity(total as usize);
    while let Some(done) = done_rx.recv().await {
        all.push(done);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let failed = all.iter().filter(|(_, a)| *a != Answer::Served).count();
    println!(
        "open loop: offered {rate}/s for {seconds} s, {} answered in {elapsed:.1} s ({:.0}/s), {failed} not 20",
        all.len(),
        all.len() as f64 / elapsed
    );
    let mut latencies: Vec<Duration> = all.iter().map(|(l, _)| *l).collect();
    let p = percentiles(&mut latencies);
    println!(
        "latency from the due time (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        p[0], p[1], p[2], p[3], p[4]
    );
    for (name, class) in [("served", Answer::Served), ("shed", Answer::Shed), ("other", Answer::Other)] {
        let mut of: Vec<Duration> = all.iter().filter(|(_, a)| *a == class).map(|(l, _)| *l).collect();
        let n = of.len();
        let p = percentiles(&mut of);
        println!("{name}: {n} p50 {:.2} p99 {:.2} max {:.2}", p[0], p[2], p[4]);
    }
}

/// p50, p90, p99, p99.9 and max in milliseconds (zeros when empty).
fn percentiles(latencies: &mut [Duration]) -> [f64; 5] {
    if latencies.is_empty() {
        return [0.0; 5];
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    [pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1.0)]
}
