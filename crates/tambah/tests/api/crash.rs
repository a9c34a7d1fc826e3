//! Durability: a kill -9 after acknowledged topups loses none of them, a kill
//! in the middle of a burst leaves a consistent ledger, and orders left
//! pending by a crash are finished after restart. Also graceful SIGTERM.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn kill_9_after_acknowledged_topups_loses_nothing() {
    let mut s = Server::start(&[]);
    let m = s.merchant(&[], "1000");
    let c = Client::new(&s, &m);
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let c = c.clone();
            // A mix of successes, failures and PINs.
            let (product, account) = match i % 4 {
                0 => ("D", "0123456789"),
                1 => ("D", "60123450048"),
                2 => ("CP", "0123456789"),
                _ => ("CB", "0123456789"),
            };
            tokio::spawn(async move {
                let body = json!({"refid": format!("K9-{i}"), "product": product, "account": account, "amount": "10"});
                let r = c.topup(body.clone()).await;
                (body, r)
            })
        })
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        let (body, r) = t.await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.json);
        acked.push((body, r.json));
    }
    let balance_before = c.balance().await;

    s.kill9();
    s.restart();
    let c = Client::new(&s, &m);
    for (body, before) in &acked {
        let after = c.topup(body.clone()).await;
        for field in ["statuscode", "sn", "pin", "expiry", "cost", "timestamp"] {
            assert_eq!(after.json[field], before[field], "{field} of {body}");
        }
    }
    assert_eq!(c.balance().await, balance_before);
    s.kill9();
    assert_verified(&s.db);
}

#[tokio::test]
async fn kill_9_mid_burst_keeps_every_acknowledged_topup_and_a_clean_ledger() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let mut s = Server::start(&[]);
    let m = s.merchant(&[], "100000");
    let c = Client::new(&s, &m);
    let acked_count = Arc::new(AtomicUsize::new(0));
    // Eight clients send topups back to back until the server dies under them.
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let c = c.clone();
            let acked_count = acked_count.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0.. {
                    let body =
                        json!({"refid": format!("B{w}-{i}"), "product": "D", "account": "0123456789", "amount": "5"});
                    let bytes = body.to_string();
                    match c.try_signed_raw("POST", "/v2/topup", "application/json", bytes.as_bytes(), &[]).await {
                        Ok(r) if r.status == 200 => {
                            acked.push((body, r.json));
                            acked_count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => panic!("unexpected {}: {:?}", r.status, r.json),
                        Err(_) => return (acked, body),
                    }
                }
                unreachable!()
            })
        })
        .collect();
    while acked_count.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.kill9();
    let mut acked = Vec::new();
    let mut cut_off = Vec::new();
    for w in workers {
        let (a, in_flight) = w.await.unwrap();
        acked.extend(a);
        cut_off.push(in_flight);
    }
    assert_verified(&s.db);
    s.restart();
    let c = Client::new(&s, &m);
    for (body, before) in &acked {
        let after = c.topup(body.clone()).await;
        assert_eq!(after.json["statuscode"], before["statuscode"], "{body}");
        assert_eq!(after.json["sn"], before["sn"], "{body}");
    }
    // Requests cut off by the kill were committed or not; either way a
    // resubmission settles them, once.
    for body in &cut_off {
        assert_eq!(c.topup(body.clone()).await.code(), "20");
    }
    let charged = acked.len() + cut_off.len();
    // Each topup costs RM 4.85 (5 at 3%): in minor units, 48_500.
    let expected_minor = 100_000 * 10_000 - 48_500 * charged as i64;
    assert_eq!(minor_units(&c.balance().await), expected_minor);
    s.kill9();
    assert_verified(&s.db);
    eprintln!("{} topups acknowledged before the kill, {} cut off in flight", acked.len(), cut_off.len());
}

#[tokio::test]
async fn orders_pending_at_a_crash_are_finished_after_restart() {
    let mut s = Server::start(&["--topup-wait-ms", "0", "--reconcile-interval-ms", "50"]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let body = json!({"refid": "PEND-1", "product": "D", "account": "60123450101", "amount": "10"});
    let r = c.topup(body.clone()).await;
    assert_eq!(r.code(), "0");
    s.kill9();
    s.restart();
    let c = Client::new(&s, &m);
    let start = std::time::Instant::now();
    loop {
        let r = c.topup(body.clone()).await;
        if r.code() == "20" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "still {:?}", r.json);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.balance().await, "90.3");
    s.kill9();
    assert_verified(&s.db);
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let mut s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    // A request still waiting for its final status when SIGTERM arrives.
    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            c.topup(json!({"refid": "TERM-1", "product": "D", "account": "60123450101", "amount": "10"})).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let term = tokio::task::spawn_blocking(move || {
        let ok = s.terminate();
        (ok, s)
    });
    let r = slow.await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.json);
    let (ok, s) = term.await.unwrap();
    assert!(ok, "clean exit status");
    assert_verified(&s.db);
}
