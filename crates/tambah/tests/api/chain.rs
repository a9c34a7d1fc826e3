//! Two real tambah processes, one the other's upstream: A's live merchant
//! buys product D, A routes it to B through the IIMMPACT connector, and B's
//! staging merchant (its simulator) decides. No fake in between. Every
//! outcome B can give reaches A's merchant with the right status and exact
//! balances on both sides, each order is charged once at A and once at B,
//! and both ledgers verify.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{assert_verified, minor_units, Client, Merchant, Server};

/// One order A's merchant places, and the status it must end with.
struct Sent {
    refid: &'static str,
    account: &'static str,
    /// What A's merchant must end with.
    final_code: &'static str,
}

const ORDERS: &[Sent] = &[
    Sent { refid: "C-OK", account: "0123456789", final_code: "20" },
    // B declines: the same code reaches A's merchant, the hold is released.
    Sent { refid: "C-48", account: "60123450048", final_code: "48" },
    Sent { refid: "C-52", account: "60123450052", final_code: "52" },
    // B cannot take it (unavailable, out of stock, its merchant suspended or
    // short of credit): A has no other route, so 47, the hold released.
    Sent { refid: "C-47", account: "60123450047", final_code: "47" },
    Sent { refid: "C-45", account: "60123450045", final_code: "47" },
    Sent { refid: "C-41", account: "60123450041", final_code: "47" },
    Sent { refid: "C-43", account: "60123450043", final_code: "47" },
    // Processing at B for 3 s, then delivered: A answers 1 at first and
    // learns the 20 by asking B again (same reference, never a new one).
    Sent { refid: "C-LATE", account: "60123450103", final_code: "20" },
];

struct Chain {
    a: Server,
    b: Server,
    buyer: Merchant,
    upstream: Merchant,
}

impl Chain {
    /// B with a staging merchant; A with a live merchant and product D routed
    /// to B under that merchant's API key.
    fn start() -> Chain {
        let b = Server::start(&[]);
        let upstream = b.merchant(&["--environment", "staging"], "1000");
        // A asks B again 1 s after an answer that did not settle the order.
        let a = Server::start(&["--query-after-ms", "1000", "--reconcile-interval-ms", "200"]);
        let buyer = a.merchant(&["--environment", "live"], "500");
        let base_url = format!("{}/v2", b.base);
        a.cli(&[
            "provider",
            "add",
            "--name",
            "tambah-b",
            "--kind",
            "iimmpact",
            "--base-url",
            &base_url,
            "--api-key",
            &upstream.api_key,
            "--api-secret",
            &upstream.api_secret,
            "--timeout-ms",
            "5000",
        ]);
        a.cli(&["route", "add", "--product", "D", "--provider", "tambah-b"]);
        Chain { a, b, buyer, upstream }
    }

    /// The server reloads routes every 2 s: wait until a live order of D
    /// reaches B (a probe B delivers).
    async fn wait_for_route(&self, client: &Client) {
        for i in 0..40 {
            let probe =
                json!({"refid": format!("C-PROBE-{i}"), "product": "D", "account": "0123456789", "amount": "5"});
            client.topup(probe).await;
            if !orders(&self.b, &self.upstream).await.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("A never routed D to B");
    }
}

/// A merchant's orders as its transaction listing shows them.
async fn orders(server: &Server, m: &Merchant) -> Vec<Value> {
    let r = Client::new(server, m).signed("GET", "/v2/transactions?limit=500", None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.json["data"].as_array().cloned().unwrap_or_default()
}

/// Polls A until the order is final (or gives up after 20 s); its code.
async fn final_code(client: &Client, o: &Sent) -> String {
    for _ in 0..100 {
        let r = client.topup(json!({"refid": o.refid, "product": "D", "account": o.account, "amount": "10"})).await;
        let code = r.code();
        if code != "0" && code != "1" {
            return code;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{} did not reach a final status at A", o.refid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_order_is_bought_from_another_tambah() {
    let chain = Chain::start();
    let buyer = Client::new(&chain.a, &chain.buyer);
    chain.wait_for_route(&buyer).await;
    for o in ORDERS {
        let first = buyer.topup(json!({"refid": o.refid, "product": "D", "account": o.account, "amount": "10"})).await;
        assert_eq!(first.status, 200, "{}: {:?}", o.refid, first.json);
    }
    for o in ORDERS {
        assert_eq!(final_code(&buyer, o).await, o.final_code, "{} at A", o.refid);
    }
    check_books(&chain).await;
}

/// The successful orders' cost, in minor units.
fn spent(orders: &[Value]) -> i64 {
    orders.iter().filter(|o| o["status_code"] == "20").map(|o| minor_units(o["price"].as_str().unwrap())).sum()
}

/// Each delivered A order was delivered once at B under its own reference,
/// and both wallets are exact to the sen.
async fn check_books(chain: &Chain) {
    let at_a = orders(&chain.a, &chain.buyer).await;
    let at_b = orders(&chain.b, &chain.upstream).await;
    let mut refs: Vec<&str> = at_b.iter().filter_map(|o| o["refid"].as_str()).collect();
    let all = refs.len();
    refs.sort_unstable();
    refs.dedup();
    assert_eq!(refs.len(), all, "B has one order per upstream reference: {refs:?}");
    assert!(at_b.len() <= at_a.len(), "B has no order A did not send ({} at B, {} at A)", at_b.len(), at_a.len());
    let delivered = |list: &[Value]| list.iter().filter(|o| o["status_code"] == "20").count();
    assert_eq!(delivered(&at_a), delivered(&at_b), "every order delivered at A was delivered at B, once");
    let a_balance = Client::new(&chain.a, &chain.buyer).balance().await;
    assert_eq!(minor_units(&a_balance), minor_units("500") - spent(&at_a), "A's wallet");
    let b_balance = Client::new(&chain.b, &chain.upstream).balance().await;
    assert_eq!(minor_units(&b_balance), minor_units("1000") - spent(&at_b), "B's wallet");
    assert_verified(&chain.a.db);
    assert_verified(&chain.b.db);
}
