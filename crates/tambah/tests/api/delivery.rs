//! What tambah sends out stays bounded whatever the other side does: a
//! receiver's answer is read up to 4 KiB (merchants' callbacks and the
//! operator's alert webhook); a receiver that hangs holds up only its own
//! merchant's callbacks, at most 4 at once on all nodes together; the
//! callbacks of one order arrive in turn; no callback work can be queued for
//! free (a refusal that holds nothing queues none; redelivery is limited).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aftersale::{buy, log, set_callback, FAST};
use crate::harness::*;
use crate::receiver::{Hanging, Receiver, Streamer};

/// What an endless receiver streams at most (the node must stop far sooner).
const STREAM_CAP: u64 = 128 << 20;
/// What the node may write into its sockets' buffers before it hangs up.
const BUFFERED_MAX: u64 = 32 << 20;
/// Growth of the node's peak resident set the test tolerates.
const RSS_GROWTH_MAX_KIB: u64 = 48 * 1024;

/// Polls the order's callback log until its first callback is no longer
/// pending (or panics after `secs`).
async fn settled(c: &Client, refid: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let entries = log(c, refid).await;
        if entries[0]["state"] != "pending" {
            return entries;
        }
        assert!(Instant::now() < deadline, "the callback of {refid} is still pending: {entries}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A receiver answering 503, then 200, each with a body that never ends:
/// the callback is retried, then delivered, each answer read only up to
/// 4 KiB, and the node's memory does not grow with what the receiver sends.
#[tokio::test]
async fn an_endless_callback_answer_is_read_only_up_to_4_kib() {
    let mut args = FAST.to_vec();
    args.extend(["--callback-timeout-ms", "10000"]);
    let s = Server::start(&args);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let rx = Streamer::start(&[503, 200], STREAM_CAP).await;
    assert_eq!(set_callback(&c, &rx.url, "POST").await.status, 200);
    let before = s.peak_rss_kib();

    c.topup(buy("BIG-1", "0123456789", "10")).await;
    let entries = settled(&c, "BIG-1", 30).await;
    assert_eq!(entries[0]["state"], "delivered", "{entries}");
    let attempts = entries[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.iter().map(|a| a["http_status"].as_u64().unwrap()).collect::<Vec<_>>(), vec![503, 200]);
    for a in attempts {
        let excerpt = a["response_excerpt"].as_str().unwrap();
        assert!(excerpt.starts_with("xxxx") && excerpt.chars().count() <= 500, "{excerpt}");
    }
    let written = wait_for_answers(&rx, 2).await;
    let after = s.peak_rss_kib();
    assert!(after < before + RSS_GROWTH_MAX_KIB, "peak RSS grew from {before} KiB to {after} KiB");
    assert!(written.iter().all(|n| *n < BUFFERED_MAX), "the node hung up after the first KiB: {written:?}");
}

/// The operator's alert webhook answering 500 with an endless body: the
/// alert goes out, the answer is not read past 4 KiB, memory stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_alert_webhook_answer_is_read_only_up_to_4_kib() {
    let b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let hook = Streamer::start(&[500], STREAM_CAP).await;
    let a = Server::start(&["--alert-webhook", &hook.url, "--provider-check-interval-ms", "300"]);
    let before = a.peak_rss_kib();
    let provider = ["provider", "add", "--name", "b", "--kind", "iimmpact", "--base-url", &b.base];
    let keys = ["--api-key", &upstream.api_key, "--api-secret", &upstream.api_secret, "--low-balance", "2000"];
    a.cli(&[&provider[..], &keys[..]].concat());
    let written = wait_for_answers(&hook, 1).await;
    assert!(written[0] < BUFFERED_MAX, "the node hung up after the first KiB: {written:?}");
    let after = a.peak_rss_kib();
    assert!(after < before + RSS_GROWTH_MAX_KIB, "peak RSS grew from {before} KiB to {after} KiB");
}

/// Waits until `n` answers of the streamer ended; returns the bytes each got out.
async fn wait_for_answers(rx: &Streamer, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let written = rx.written();
        if written.len() >= n {
            return written;
        }
        assert!(Instant::now() < deadline, "only {} of {n} answers ended: {written:?}", written.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fast passes, loopback receivers, and a callback timeout long enough that
/// "well before it" is a generous bound on a loaded machine.
const HANGING: &[&str] =
    &["--callback-interval-ms", "50", "--callback-allow-private-networks", "true", "--callback-timeout-ms", "10000"];

/// Eight callbacks to a receiver that never answers take 4 connections (the
/// merchant's cap), not more; another merchant's callback arrives well
/// before the hanging ones time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_delays_only_its_own_merchant() {
    let s = Server::start(HANGING);
    let (slow, fast) = (Client::new(&s, &s.merchant(&[], "200")), Client::new(&s, &s.merchant(&[], "100")));
    let hang = Hanging::start().await;
    let rx = Receiver::start(&[]).await;
    assert_eq!(set_callback(&slow, &hang.url, "POST").await.status, 200);
    assert_eq!(set_callback(&fast, &rx.url, "POST").await.status, 200);
    for i in 0..8 {
        slow.topup(buy(&format!("HANG-{i}"), "0123456789", "10")).await;
    }
    hang.wait_open(1, 10).await;

    let sent = Instant::now();
    fast.topup(buy("FAST-1", "0123456789", "10")).await;
    let got = rx.wait_for(1, 5).await;
    assert!(sent.elapsed() < Duration::from_secs(5), "the other merchant's callback took {:?}", sent.elapsed());
    assert_eq!(serde_json::from_slice::<Value>(&got[0].body).unwrap()["refid"], "FAST-1");

    hang.wait_open(4, 5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hang.open(), (4, 4), "four of the merchant's callbacks in flight at once, never more");
}

/// An order's success callback fails once and waits for its retry; the
/// refund (53) queued meanwhile waits for it: the merchant sees 20, then 53.
#[tokio::test]
async fn callbacks_of_one_order_arrive_in_turn() {
    let mut args = HANGING.to_vec();
    args.extend(["--callback-retry-delay-ms", "1500"]);
    let s = Server::start(&args);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let rx = Receiver::start(&[500]).await;
    assert_eq!(set_callback(&c, &rx.url, "POST").await.status, 200);
    c.topup(buy("TURN-1", "0123456789", "10")).await;
    rx.wait_for(1, 10).await;
    s.cli(&["order", "refund", "TURN-1", "--account", &m.account]);
    let got = rx.wait_for(3, 15).await;
    let seen: Vec<(String, u16)> = got
        .iter()
        .map(|r| {
            (serde_json::from_slice::<Value>(&r.body).unwrap()["statuscode"].as_str().unwrap().to_owned(), r.answered)
        })
        .collect();
    let expected = [("20", 500), ("20", 200), ("53", 200)].map(|(code, status)| (code.to_owned(), status));
    assert_eq!(seen, expected, "the 53 waits until the 20 is delivered");
}

/// PostgreSQL for the two-node test, in the default pass only (as
/// `multinode`).
fn postgres_for_two_nodes() -> Option<String> {
    if postgres_server().is_some() {
        return None;
    }
    match std::env::var("TAMBAH_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            assert!(std::env::var("CI").is_err(), "TAMBAH_TEST_POSTGRES must be set in CI");
            eprintln!("skipped: set TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 to run");
            None
        }
    }
}

/// Two nodes on one PostgreSQL: the hanging merchant's cap holds on both
/// together (4 connections, not 8), and the other merchant's callbacks,
/// placed on both nodes, each arrive once and soon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432")]
#[cfg_attr(postgres_pass, ignore = "runs in the default pass (it makes its own PostgreSQL databases)")]
async fn on_two_nodes_the_merchant_cap_holds_and_each_callback_arrives_once() {
    let Some(server) = postgres_for_two_nodes() else { return };
    let db = Arc::new(Db::fresh_on(Some(server), "cbcap"));
    let nodes = [Server::start_on_db(db.clone(), HANGING), Server::start_on_db(db.clone(), HANGING)];
    let (slow, fast) = (create_merchant(&db.url, &[], "200"), create_merchant(&db.url, &[], "200"));
    let hang = Hanging::start().await;
    let rx = Receiver::start(&[]).await;
    assert_eq!(set_callback(&Client::new(&nodes[0], &slow), &hang.url, "POST").await.status, 200);
    assert_eq!(set_callback(&Client::new(&nodes[0], &fast), &rx.url, "POST").await.status, 200);
    for i in 0..8 {
        Client::new(&nodes[i % 2], &slow).topup(buy(&format!("HANG-{i}"), "0123456789", "10")).await;
    }
    hang.wait_open(4, 10).await;

    let sent = Instant::now();
    for i in 0..20 {
        Client::new(&nodes[i % 2], &fast).topup(buy(&format!("FAST-{i}"), "0123456789", "5")).await;
    }
    rx.wait_for(20, 5).await;
    assert!(sent.elapsed() < Duration::from_secs(5), "the other merchant's callbacks took {:?}", sent.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_refid: HashMap<String, usize> = HashMap::new();
    for r in rx.received() {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        *per_refid.entry(body["refid"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(per_refid.len(), 20);
    assert!(per_refid.values().all(|n| *n == 1), "each callback once: {per_refid:?}");
    assert_eq!(hang.open(), (4, 4), "four of the merchant's callbacks in flight on both nodes together");
}

/// Orders refused before anything is charged (43: too little credit, for
/// real and by the simulation number) queue no callback: the topup answer is
/// the only notice. An order that charges still gets its callback.
#[tokio::test]
async fn refusals_that_cost_nothing_queue_no_callback() {
    let s = Server::start(FAST);
    let m = s.merchant(&[], "5");
    let c = Client::new(&s, &m);
    let rx = Receiver::start(&[]).await;
    assert_eq!(set_callback(&c, &rx.url, "POST").await.status, 200);
    for i in 0..20 {
        let r = c.topup(buy(&format!("POOR-{i}"), "0123456789", "10")).await;
        assert_eq!(r.code(), "43", "{:?}", r.json);
    }
    assert_eq!(c.topup(buy("SIM-43", "60123450043", "10")).await.code(), "43");
    assert_eq!(c.topup(buy("PAID-1", "0123456789", "5")).await.code(), "20");
    rx.wait_for(1, 10).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let refids: Vec<Value> =
        rx.received().iter().map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["refid"].clone()).collect();
    assert_eq!(refids, vec![Value::from("PAID-1")], "only the order that charged was called back");
    assert_eq!(log(&c, "POOR-0").await, Value::Array(vec![]), "nothing was queued for a refusal");
}

/// Waits until every callback of the order has left `pending`; returns the log.
async fn all_settled(c: &Client, refid: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entries = log(c, refid).await;
        let list = entries.as_array().unwrap();
        if list.len() >= n && list.iter().all(|e| e["state"] != "pending") {
            return entries;
        }
        assert!(Instant::now() < deadline, "{n} settled callbacks of {refid} expected: {entries}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn redeliver(c: &Client, refid: &str) -> Reply {
    c.signed("POST", &format!("/v2/callbacks/{refid}/redeliver"), None).await
}

/// Redelivery is refused while a callback of the order is pending (409) and
/// once the order has had 10 callbacks (429), by the API and the CLI alike;
/// of two redeliveries asked at once, one is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_is_refused_while_pending_and_beyond_the_cap() {
    let s = Server::start(&[
        "--callback-interval-ms",
        "50",
        "--callback-allow-private-networks",
        "true",
        "--callback-retry-delay-ms",
        "60000",
    ]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let rx = Receiver::start(&[500]).await;
    assert_eq!(set_callback(&c, &rx.url, "POST").await.status, 200);
    let redeliver_cli =
        |refid: &str| cli_status(&s.db, &["callbacks", "redeliver", "--account", &m.account, "--refid", refid]);

    // The first callback failed and waits a minute for its retry: pending.
    c.topup(buy("PEND-1", "0123456789", "10")).await;
    rx.wait_for(1, 10).await;
    let r = redeliver(&c, "PEND-1").await;
    assert_eq!((r.status, r.json["error"].as_str()), (409, Some("callback_pending")), "{:?}", r.json);
    let (ok, _, err) = redeliver_cli("PEND-1");
    assert!(!ok && err.contains("pending"), "{err}");

    // A delivered order: its own callback and 9 redeliveries, then no more.
    c.topup(buy("CAP-1", "0123456789", "10")).await;
    all_settled(&c, "CAP-1", 1).await;
    for n in 2..=10 {
        let r = redeliver(&c, "CAP-1").await;
        assert_eq!(r.status, 200, "redelivery {n}: {:?}", r.json);
        all_settled(&c, "CAP-1", n).await;
    }
    let r = redeliver(&c, "CAP-1").await;
    assert_eq!((r.status, r.json["error"].as_str()), (429, Some("redelivery_limit")), "{:?}", r.json);
    let (ok, _, err) = redeliver_cli("CAP-1");
    assert!(!ok && err.contains("10 callbacks"), "{err}");
    assert_eq!(log(&c, "CAP-1").await.as_array().unwrap().len(), 10);

    // Two at once: one is queued, the other finds it pending.
    c.topup(buy("TWICE-1", "0123456789", "10")).await;
    all_settled(&c, "TWICE-1", 1).await;
    let (a, b) = tokio::join!(redeliver(&c, "TWICE-1"), redeliver(&c, "TWICE-1"));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{:?} {:?}", a.json, b.json);
}
