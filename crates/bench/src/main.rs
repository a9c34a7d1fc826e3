//! `tambah-bench`: the tools behind `bench/run.sh`.
//!
//! - `ceiling-http ADDR`: axum answering a trivial route (`GET /`), the ceiling
//!   of the HTTP stack alone; and `POST /v2/topup` with a canned answer of a
//!   real status check's size, read whole but not parsed: the ceiling of the
//!   HTTP stack under the same wrk script as the status checks (which builds
//!   each request and reads each answer in Lua, on the same cores).
//! - `ceiling-writer ADDR DB`: axum plus one SQLite writer thread committing
//!   each batch of queued requests as one transaction (WAL, synchronous=FULL),
//!   two statements per request: the ceiling of durable group commit.
//! - `open-loop URL TOKEN RATE SECONDS PREFIX [CONNECTIONS]`: topups sent at
//!   a constant rate whatever the answers' pace, through at most CONNECTIONS
//!   (256) at once; each latency is measured from the moment the request was
//!   due, so a stall (or a wait for a free connection) counts against every
//!   request it delayed (no coordinated omission); the served (20), shed (503)
//!   and other answers are also reported apart, the others by kind. With
//!   `TAMBAH_BENCH_TIMELINE` set, each answer slower than 20 ms is printed to
//!   stderr with its due time (are the slow ones one stall or spread out?).
//! - `closed-loop URL TOKEN CONNECTIONS SECONDS PREFIX`: topups back to back
//!   on CONNECTIONS with the same client: the capacity the overload runs'
//!   percentages are taken of.
//! - `login-flood URL CLIENTS SECONDS`: wrong passwords to `/v2/token` from
//!   CLIENTS loops at once, each answer counted by status.
//! - `idle ADDR CONNECTIONS SECONDS`: holds that many connections open and
//!   silent, then says how many the server had closed.

mod load;
mod overload;

/// Connections the open loop sends through unless told: four times wrk's 64,
/// a pool a merchant's busy backend might hold.
const DEFAULT_CONNECTIONS: usize = 256;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("ceiling-http") => rt.block_on(ceiling_http(&args[2])),
        Some("ceiling-writer") => rt.block_on(ceiling_writer(&args[2], &args[3])),
        Some("open-loop") => rt.block_on(load::open_loop(
            &args[2],
            &args[3],
            args[4].parse().expect("rate"),
            args[5].parse().expect("seconds"),
            &args[6],
            args.get(7).map_or(DEFAULT_CONNECTIONS, |c| c.parse().expect("connections")),
        )),
        Some("closed-loop") => rt.block_on(load::closed_loop(
            &args[2],
            &args[3],
            args[4].parse().expect("connections"),
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
            eprintln!("usage: tambah-bench ceiling-http ADDR | ceiling-writer ADDR DB | open-loop URL TOKEN RATE SECONDS PREFIX [CONNECTIONS] | closed-loop URL TOKEN CONNECTIONS SECONDS PREFIX | login-flood URL CLIENTS SECONDS | idle ADDR CONNECTIONS SECONDS");
            std::process::exit(2);
        }
    }
}

async fn ceiling_http(addr: &str) {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" })).route(
        "/v2/topup",
        axum::routing::post(|_body: axum::body::Bytes| async {
            ([(axum::http::header::CONTENT_TYPE, "application/json")], CANNED_STATUS)
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    println!("listening");
    axum::serve(listener, app).await.expect("serve");
}

/// A status check's answer as tambah sends it (2023-10-01 format).
const CANNED_STATUS: &str = r#"{"statuscode":"20","status":"Successful","account":"0123456789","product":"D","amount":"10.00","sn":"SIM-r12345-seed-17","pin":"","expiry":"","cost":"9.70","balance":"89990302.10","remarks":"","refid":"r12345-seed-17","timestamp":"2026-12-07 11:20:01","note":""}"#;

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
