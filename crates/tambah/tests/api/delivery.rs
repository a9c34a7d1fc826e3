//! What tambah sends out stays bounded whatever the other side does: a
//! receiver's answer is read up to 4 KiB (merchants' callbacks and the
//! operator's alert webhook).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aftersale::{buy, log, set_callback, FAST};
use crate::harness::*;
use crate::receiver::Streamer;

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
