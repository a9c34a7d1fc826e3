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

/// A live order of a family product (a JomPAY bill) reaches the provider
/// with its extras: B, an IIMMPACT-compatible upstream, needs the biller,
/// pays that biller, and A's merchant sees it delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_bill_reaches_the_provider_with_its_biller() {
    let chain = Chain::start();
    chain.a.cli(&["route", "add", "--product", "JOMPAY", "--provider", "tambah-b"]);
    let buyer = Client::new(&chain.a, &chain.buyer);
    let bill = |refid: String| {
        json!({"refid": refid, "product": "JOMPAY", "account": "220012345678", "amount": "88.20",
               "extras": {"biller_code": "5454", "ic_number": "900101145678"}})
    };
    // Routes are reloaded every 2 s: until then a live JOMPAY order fails 47.
    let mut delivered = None;
    for i in 0..40 {
        let refid = format!("JP-LIVE-{i}");
        let mut r = buyer.topup(bill(refid.clone())).await;
        for _ in 0..50 {
            if r.code() != "0" && r.code() != "1" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            r = buyer.topup(bill(refid.clone())).await;
        }
        if r.code() == "20" {
            delivered = Some(refid);
            break;
        }
        assert_eq!(r.code(), "47", "before the route is loaded: {:?}", r.json);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(delivered.is_some(), "A never delivered a live bill through B");
    let at_b = orders(&chain.b, &chain.upstream).await;
    let paid = at_b.iter().find(|o| o["product_code"] == "JOMPAY").expect("B has the bill");
    assert_eq!((paid["status_code"].as_str(), paid["biller_code"].as_str()), (Some("20"), Some("5454")), "{paid}");
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
    // A sees its float at B as B's merchant does.
    let float = chain.a.cli(&["provider", "balance", "tambah-b"]);
    assert_eq!(minor_units(float.trim()), minor_units(&b_balance), "provider balance");
    assert!(chain.a.cli(&["provider", "test", "tambah-b"]).contains("ok"));
    // IIMMPACT has no check that buys nothing: asking for one fails, sends
    // nothing (B's list is unchanged below), and names why.
    let check = ["provider", "test", "tambah-b", "--product", "D", "--account", "0123456789", "--amount", "10"];
    let (ok, _, err) = crate::harness::cli_status(&chain.a.db, &check);
    assert!(!ok && err.contains("cannot check an order without buying it"), "{err}");
    let (ok, _, err) = crate::harness::cli_status(&chain.a.db, &check[..5]);
    assert!(!ok && err.contains("--account"), "a check names the whole order: {err}");
    // Our attempts of the day match B's own list, reference by reference.
    let day = today();
    let report: Value =
        serde_json::from_str(&chain.a.cli(&["reconcile", "--provider", "tambah-b", "--date", &day, "--json"])).unwrap();
    assert_eq!(report["differences"], json!([]), "{report}");
    assert_eq!(report["ours"], at_b.len() + 1, "every attempt, the one B refused (41) included: {report}");
    // A's cost of goods is what B charged for what it delivered.
    let cost: Value = serde_json::from_str(&chain.a.cli(&["report", "cost", "--date", &day])).unwrap();
    let lines = cost["lines"].as_array().unwrap();
    let cost_of_goods: i64 = lines.iter().map(|l| minor_units(l["cost_of_goods"].as_str().unwrap())).sum();
    assert_eq!(cost_of_goods, spent(&at_b), "{cost}");
    assert!(lines.iter().all(|l| l["uncosted"] == 0 && l["provider"] == "tambah-b"), "{cost}");
    // B's product list sets the route's buy price: what one ringgit of D costs A at B.
    let synced = chain.a.cli(&["catalog", "sync", "--provider", "tambah-b"]);
    assert!(synced.contains("1 route(s) of tambah-b synced"), "{synced}");
    let routes: Value = serde_json::from_str(&chain.a.cli(&["route", "show", "--product", "D", "--json"])).unwrap();
    assert_eq!(routes[0]["buy_price"], "0.97", "{routes}");
    assert_verified(&chain.a.db);
    assert_verified(&chain.b.db);
}

/// `tambah reconcile` of today finds nothing between A and `provider`.
fn assert_reconciled(a: &Server, provider: &str) {
    let report: Value =
        serde_json::from_str(&a.cli(&["reconcile", "--provider", provider, "--date", &today(), "--json"])).unwrap();
    assert_eq!(report["differences"], json!([]), "{report}");
}

/// Today in Malaysia time, `yyyy-MM-dd`.
fn today() -> String {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    tambah_domain::time::date_text(tambah_domain::time::day_of(now_ms))
}

/// A port nothing listens on: connections to it are refused (not sent).
fn dead_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v2")
}

/// Routes of D at A: `name` → `url` at `priority`, signed as `m`.
fn add_route(a: &Server, name: &str, url: &str, m: &Merchant, priority: &str) {
    let provider = ["provider", "add", "--name", name, "--kind", "iimmpact", "--base-url", url];
    let keys = ["--api-key", &m.api_key, "--api-secret", &m.api_secret, "--timeout-ms", "5000"];
    a.cli(&[&provider[..], &keys[..]].concat());
    a.cli(&["route", "add", "--product", "D", "--provider", name, "--priority", priority]);
}

/// A provider that is down: its order fails over to the next route under a
/// new attempt and reference, and is delivered once; with no route left it
/// fails 47 and its hold is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_fails_over_or_fails_cleanly() {
    let b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let down_url = dead_port_url();
    // One failure takes a provider out of rotation.
    let a = Server::start(&["--reconcile-interval-ms", "200", "--provider-failure-capacity", "1"]);
    let buyer = a.merchant(&["--environment", "live"], "500");
    add_route(&a, "down", &down_url, &upstream, "1");
    add_route(&a, "tambah-b", &format!("{}/v2", b.base), &upstream, "2");
    tokio::time::sleep(Duration::from_millis(2_500)).await; // every node reloads routes within 2 s
    let client = Client::new(&a, &buyer);

    let over = Sent { refid: "F-OVER", account: "0123456789", final_code: "20" };
    client.topup(json!({"refid": over.refid, "product": "D", "account": over.account, "amount": "10"})).await;
    assert_eq!(final_code(&client, &over).await, "20", "failed over to B");
    let at_b = orders(&b, &upstream).await;
    assert_eq!(at_b.len(), 1, "B got the order once: {at_b:?}");
    let reference = at_b[0]["refid"].as_str().unwrap();
    assert!(reference.ends_with("-2"), "the second attempt's reference: {reference}");

    a.cli(&["route", "remove", "--product", "D", "--provider", "tambah-b"]);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let before = client.balance().await;
    let nowhere = Sent { refid: "F-NONE", account: "0123456789", final_code: "47" };
    client.topup(json!({"refid": nowhere.refid, "product": "D", "account": nowhere.account, "amount": "10"})).await;
    assert_eq!(final_code(&client, &nowhere).await, "47", "no route left");
    assert_eq!(client.balance().await, before, "the hold of a 47 is released");
    // The provider comes back, and a callback names the failed order's
    // reference: it is not asked about (asking could place it now).
    let shown: Value = serde_json::from_str(&a.cli(&["order", "show", "F-NONE", "--account", &buyer.account])).unwrap();
    let reference = shown["attempts"][0]["upstream_ref"].as_str().unwrap().to_owned();
    let address = down_url.trim_start_matches("http://").trim_end_matches("/v2").to_owned();
    let back = Relay::start_on(&address, b.base.trim_start_matches("http://").to_owned(), NO_DELAY).await;
    back.pass_on();
    let prompt = reqwest::Client::new().post(a.url("/upstream/down/callback")).json(&json!({"refid": reference}));
    assert_eq!(prompt.send().await.unwrap().status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(orders(&b, &upstream).await.len(), 1, "a failed order is never asked about again");
    let unknown = reqwest::Client::new().post(a.url("/upstream/down/callback")).json(&json!({"refid": "tX-1"}));
    assert_eq!(unknown.send().await.unwrap().status().as_u16(), 404, "a reference A never sent");
    // Its only route is out of rotation: the product shows interrupted.
    let status = client.signed("GET", "/v2/networkstatus?product=D", None).await;
    assert_eq!(status.json["data"]["network_status"], "Interruption", "{:?}", status.json);
    assert_eq!(orders(&b, &upstream).await.len(), 1, "B saw nothing of it");
    assert_reconciled(&a, "tambah-b");
    assert_verified(&a.db);
    assert_verified(&b.db);
}

/// A TCP relay between A and B that can swallow requests (accept them and
/// never answer, as a provider that hangs) or pass them on.
struct Relay {
    url: String,
    forward: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Where connections are passed on to (a restarted server moves).
    target: std::sync::Arc<std::sync::Mutex<String>>,
    /// Connections wait 0, 1, 2 or 3 times this (ms, in turn) before they
    /// are passed on.
    slow_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// How long the relay holds each connection before passing it on.
const NO_DELAY: Duration = Duration::ZERO;

impl Relay {
    async fn start(to: String) -> Relay {
        Relay::start_delayed(to, NO_DELAY).await
    }

    /// A relay that passes the first connection on only after `delay` (a
    /// provider slower than our timeout, once), and the others at once.
    async fn start_delayed(to: String, delay: Duration) -> Relay {
        Relay::start_on("127.0.0.1:0", to, delay).await
    }

    /// A relay on a given address (a provider that comes back where it was).
    async fn start_on(address: &str, to: String, delay: Duration) -> Relay {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        let url = format!("http://{}/v2", listener.local_addr().unwrap());
        let forward = std::sync::Arc::new(AtomicBool::new(false));
        let flag = forward.clone();
        let target = std::sync::Arc::new(std::sync::Mutex::new(to));
        let current = target.clone();
        let slow_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let slow = slow_ms.clone();
        tokio::spawn(async move {
            let mut swallowed = Vec::new();
            let mut first = true;
            let mut turn = 0u64;
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    swallowed.push(inbound); // held open, never answered
                    continue;
                }
                let to = current.lock().unwrap().clone();
                turn += 1;
                let wait = if std::mem::take(&mut first) { delay } else { NO_DELAY }
                    + Duration::from_millis(slow.load(Ordering::SeqCst) * (turn % 4));
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay { url, forward, target, slow_ms }
    }

    /// Holds new connections 0, 1, 2 or 3 × `ms` in turn before passing them
    /// on (0: all at once).
    fn slow_all(&self, ms: u64) {
        self.slow_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Passes connections on to `to` from now on.
    fn point_to(&self, to: &str) {
        *self.target.lock().unwrap() = to.trim_start_matches("http://").to_owned();
    }

    fn pass_on(&self) {
        self.forward.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A's node dies while its provider has the order and has not answered:
/// after the restart the order is asked about under the same reference (the
/// attempt written before the call), never sent under a new one, and it ends
/// delivered once at B and charged once at A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_call_asks_before_anything_else() {
    let b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let relay = Relay::start(b.base.trim_start_matches("http://").to_owned()).await;
    let mut a =
        Server::start(&["--query-after-ms", "1000", "--reconcile-interval-ms", "200", "--topup-wait-ms", "300"]);
    let buyer = a.merchant(&["--environment", "live"], "500");
    add_route(&a, "relayed-b", &relay.url, &upstream, "1");
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let order = Sent { refid: "K-1", account: "0123456789", final_code: "20" };
    let body = json!({"refid": order.refid, "product": "D", "account": order.account, "amount": "10"});
    let first = Client::new(&a, &buyer).topup(body).await;
    assert_eq!(first.code(), "1", "the provider has not answered: processing");
    a.kill9();
    relay.pass_on();
    a.restart();
    let client = Client::new(&a, &buyer);
    assert_eq!(final_code(&client, &order).await, "20", "asked again after the restart");
    let at_b = orders(&b, &upstream).await;
    assert_eq!(at_b.len(), 1, "one order at B: {at_b:?}");
    assert!(at_b[0]["refid"].as_str().unwrap().ends_with("-1"), "the first attempt's reference, asked again");
    let spent = minor_units(at_b[0]["price"].as_str().unwrap());
    let at_a = orders(&a, &buyer).await;
    assert_eq!(at_a.len(), 1);
    assert_eq!(
        minor_units(&client.balance().await),
        minor_units("500") - minor_units(at_a[0]["price"].as_str().unwrap())
    );
    assert!(spent > 0);
    assert_reconciled(&a, "relayed-b");
    assert_verified(&a.db);
    assert_verified(&b.db);
}

/// A provider that never answers: the orders stay Processing (never failed,
/// never refunded, never sent again), the operator lists them with their
/// upstream references and settles each by hand, with the reason on record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcomes_are_listed_and_resolved_by_hand() {
    let b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let relay = Relay::start(b.base.trim_start_matches("http://").to_owned()).await;
    let a = Server::start(&["--query-after-ms", "500", "--reconcile-interval-ms", "200", "--topup-wait-ms", "300"]);
    let buyer = a.merchant(&["--environment", "live"], "500");
    add_route(&a, "silent", &relay.url, &upstream, "1");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let client = Client::new(&a, &buyer);
    for refid in ["U-GOT", "U-LOST"] {
        let r = client.topup(json!({"refid": refid, "product": "D", "account": "0123456789", "amount": "10"})).await;
        assert_eq!(r.code(), "1", "{refid}: no answer yet");
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await; // still nothing from the provider
    let listed: Value = serde_json::from_str(&a.cli(&["order", "pending", "--older-than", "0s", "--json"])).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|p| p["upstream_ref"].as_str().unwrap().ends_with("-1")), "{listed:?}");
    let held = client.balance().await;

    a.cli(&["order", "resolve", "U-GOT", "--account", &buyer.account, "--delivered", "--sn", "SN-BY-HAND"]);
    let reason = "the provider's portal shows it failed";
    a.cli(&["order", "resolve", "U-LOST", "--account", &buyer.account, "--failed", "--reason", reason]);
    let got = client.topup(json!({"refid": "U-GOT", "product": "D", "account": "0123456789", "amount": "10"})).await;
    assert_eq!(got.code(), "20");
    assert_eq!(got.json["sn"], "SN-BY-HAND");
    let lost = client.topup(json!({"refid": "U-LOST", "product": "D", "account": "0123456789", "amount": "10"})).await;
    assert_eq!(lost.code(), "48");
    let released = minor_units(&client.balance().await) - minor_units(&held);
    assert_eq!(released, minor_units("9.70"), "the failed order's hold is released, the delivered one's kept");
    // Credentials the provider refuses fail `provider test`, and buy nothing.
    let wrong = Merchant { api_secret: "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==".into(), ..upstream.clone() };
    add_route(&a, "wrong-key", &format!("{}/v2", b.base), &wrong, "9");
    let (ok, _, err) = crate::harness::cli_status(&a.db, &["provider", "test", "wrong-key"]);
    assert!(!ok, "a refused key fails the test: {err}");
    let (ok, _, err) = crate::harness::cli_status(
        &a.db,
        &["order", "resolve", "U-GOT", "--account", &buyer.account, "--failed", "--reason", "x"],
    );
    assert!(!ok && err.contains("only pending"), "a final order is not resolved again: {err}");
    assert!(orders(&b, &upstream).await.is_empty(), "nothing reached B");
    // B never saw them: the one settled as delivered is a difference (the
    // failed one too: we sent it, B does not list it); the exit says so.
    relay.pass_on(); // the provider's list is read through it
    let (ok, out, _) =
        crate::harness::cli_status(&a.db, &["reconcile", "--provider", "silent", "--date", &today(), "--json"]);
    assert!(!ok, "differences exit non-zero");
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    let kinds: Vec<&str> =
        report["differences"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["missing_upstream", "missing_upstream"], "{report}");
    assert_verified(&a.db);
}

/// B answers only after A stopped waiting (A's call timed out after the
/// request left): the outcome is unknown, so A keeps the order Processing
/// and asks again under the same reference; B, which did take the order,
/// answers with it, and it ends delivered once, charged once on each side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_after_our_timeout_is_asked_for_not_resent() {
    let b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let relay =
        Relay::start_delayed(b.base.trim_start_matches("http://").to_owned(), Duration::from_millis(1_500)).await;
    relay.pass_on();
    let a = Server::start(&["--query-after-ms", "500", "--reconcile-interval-ms", "200", "--topup-wait-ms", "300"]);
    let buyer = a.merchant(&["--environment", "live"], "500");
    let provider = ["provider", "add", "--name", "slow-b", "--kind", "iimmpact", "--base-url", &relay.url];
    let keys = ["--api-key", &upstream.api_key, "--api-secret", &upstream.api_secret, "--timeout-ms", "1000"];
    a.cli(&[&provider[..], &keys[..]].concat());
    a.cli(&["route", "add", "--product", "D", "--provider", "slow-b"]);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let client = Client::new(&a, &buyer);
    let order = Sent { refid: "T-SLOW", account: "0123456789", final_code: "20" };
    let first =
        client.topup(json!({"refid": order.refid, "product": "D", "account": order.account, "amount": "10"})).await;
    assert_eq!(first.code(), "1", "no answer within our timeout: processing, not failed");
    assert_eq!(final_code(&client, &order).await, "20", "asked again under the same reference");
    let at_b = orders(&b, &upstream).await;
    assert_eq!(at_b.len(), 1, "one order at B: {at_b:?}");
    assert!(at_b[0]["refid"].as_str().unwrap().ends_with("-1"));
    assert_eq!(minor_units(&client.balance().await), minor_units("500") - minor_units("9.70"));
    assert_eq!(minor_units(&Client::new(&b, &upstream).balance().await), minor_units("1000") - minor_units("9.70"));
    assert_reconciled(&a, "slow-b");
    assert_verified(&a.db);
    assert_verified(&b.db);
}

/// A reversal at B after delivery reaches A: B's callback to A's
/// `/upstream/{provider}/callback` is a prompt; A asks B, learns 53, and
/// returns the cost to its merchant. B signs its callbacks; one that is not
/// signed is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversal_upstream_reaches_the_merchant() {
    let b = Server::start(&["--callback-allow-private-networks", "true", "--callback-interval-ms", "100"]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let a = Server::start(&["--reconcile-interval-ms", "200"]);
    let buyer = a.merchant(&["--environment", "live"], "500");
    let b_client = Client::new(&b, &upstream);
    let url = a.url("/upstream/tambah-b/callback");
    let set = b_client.signed("POST", "/v2/callback-url", Some(&json!({"url": url, "method": "POST"}))).await;
    assert_eq!(set.status, 200, "{:?}", set.json);
    // B signs its callbacks; A is given the secret and checks every one.
    let secret = b_client.signed("GET", "/v2/callback-secret", None).await;
    let secret = secret.json["data"]["secret"].as_str().unwrap().to_owned();
    let base_url = format!("{}/v2", b.base);
    let provider = ["provider", "add", "--name", "tambah-b", "--kind", "iimmpact", "--base-url", &base_url];
    let keys = ["--api-key", &upstream.api_key, "--api-secret", &upstream.api_secret, "--callback-secret", &secret];
    a.cli(&[&provider[..], &keys[..]].concat());
    a.cli(&["route", "add", "--product", "D", "--provider", "tambah-b"]);
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let client = Client::new(&a, &buyer);
    // Delivered at once, reversed by B 3 s later.
    let order = Sent { refid: "R-53", account: "60123450203", final_code: "20" };
    let body = json!({"refid": order.refid, "product": "D", "account": order.account, "amount": "10"});
    assert_eq!(client.topup(body.clone()).await.code(), "20");
    let mut code = String::new();
    for _ in 0..75 {
        code = client.topup(body.clone()).await.code();
        if code == "53" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(code, "53", "the reversal at B reached A's merchant");
    assert_eq!(client.balance().await, "500", "the cost went back");

    let forged = reqwest::Client::new().post(&url).json(&json!({"refid": "t-not-ours-1"})).send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 403, "an unsigned callback from a provider that signs");
    assert_verified(&a.db);
    assert_verified(&b.db);
}

/// Attempts at `provider` over these orders of `m` (from `tambah order show`).
fn attempts_at(a: &Server, m: &Merchant, refids: &[String], provider: &str) -> usize {
    let mut n = 0;
    for refid in refids {
        let shown: Value = serde_json::from_str(&a.cli(&["order", "show", refid, "--account", &m.account])).unwrap();
        n += shown["attempts"].as_array().unwrap().iter().filter(|t| t["provider"] == provider).count();
    }
    n
}

/// One of two providers of equal weight fails: after the bucket's worth of
/// failures it gets nothing more (the orders all go to the other), and once
/// it is back and its time out is over it takes its share again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_leaves_rotation_and_comes_back() {
    let b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let flaky_url = dead_port_url();
    let flaky_address = flaky_url.trim_start_matches("http://").trim_end_matches("/v2").to_owned();
    let a = Server::start(&[
        "--provider-failure-capacity",
        "3",
        "--provider-out-ms",
        "4000",
        "--reconcile-interval-ms",
        "200",
    ]);
    let buyer = a.merchant(&["--environment", "live"], "900");
    add_route(&a, "flaky", &flaky_url, &upstream, "1");
    add_route(&a, "steady", &format!("{}/v2", b.base), &upstream, "1");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let client = Client::new(&a, &buyer);
    let buy = |refid: String| {
        let client = client.clone();
        async move {
            let r =
                client.topup(json!({"refid": refid, "product": "D", "account": "0123456789", "amount": "10"})).await;
            assert_eq!(r.code(), "20", "{refid}: delivered (by the other provider if need be)");
        }
    };
    let down: Vec<String> = (0..20).map(|i| format!("E-DOWN-{i}")).collect();
    for refid in &down {
        buy(refid.clone()).await;
    }
    assert_eq!(
        attempts_at(&a, &buyer, &down, "flaky"),
        3,
        "out of rotation after 3 failures: no more orders sent to it"
    );

    let _back = Relay::start_on(&flaky_address, b.base.trim_start_matches("http://").to_owned(), NO_DELAY).await;
    _back.pass_on();
    tokio::time::sleep(Duration::from_millis(4_500)).await; // its time out is over
    let back: Vec<String> = (0..20).map(|i| format!("E-BACK-{i}")).collect();
    for refid in &back {
        buy(refid.clone()).await;
    }
    let shared = attempts_at(&a, &buyer, &back, "flaky");
    assert!((7..=13).contains(&shared), "back in rotation with about half the orders: {shared} of 20");
    assert_eq!(orders(&b, &upstream).await.len(), 40, "every order delivered once at B");
    assert_verified(&a.db);
    assert_verified(&b.db);
}

/// B dies in the middle of a burst and comes back (on another address): the
/// orders it never answered stay Processing at A and are asked about under
/// their references once it is back; every one ends delivered once, the
/// wallets are exact on both sides and the day reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_killed_mid_burst_then_restarted() {
    let mut b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let relay = Relay::start(b.base.trim_start_matches("http://").to_owned()).await;
    relay.pass_on();
    let a = Server::start(&["--query-after-ms", "500", "--reconcile-interval-ms", "200", "--topup-wait-ms", "500"]);
    let buyer = a.merchant(&["--environment", "live"], "900");
    let provider = ["provider", "add", "--name", "b", "--kind", "iimmpact", "--base-url", &relay.url];
    let keys = ["--api-key", &upstream.api_key, "--api-secret", &upstream.api_secret, "--timeout-ms", "3000"];
    a.cli(&[&provider[..], &keys[..]].concat());
    a.cli(&["route", "add", "--product", "D", "--provider", "b"]);
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let client = Client::new(&a, &buyer);
    // B answers some orders at once and some later, so that it dies with
    // the burst half answered.
    relay.slow_all(100);
    let burst: Vec<Sent> = (0..30)
        .map(|i| Sent { refid: Box::leak(format!("K-{i}").into_boxed_str()), account: "0123456789", final_code: "20" })
        .collect();
    let sends: Vec<_> = burst
        .iter()
        .map(|o| {
            let client = client.clone();
            let body = json!({"refid": o.refid, "product": "D", "account": o.account, "amount": "10"});
            tokio::spawn(async move { client.topup(body).await.code() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    b.kill9();
    let mut unsettled = 0;
    for s in sends {
        let code = s.await.unwrap();
        assert!(["0", "1", "20"].contains(&code.as_str()), "nothing fails while B is down: {code}");
        unsettled += usize::from(code != "20");
    }
    assert!(unsettled > 0, "the burst was in flight when B died");
    b.restart();
    relay.slow_all(0);
    relay.point_to(&b.base);
    for o in &burst {
        assert_eq!(final_code(&client, o).await, "20", "{} after B came back", o.refid);
    }
    let at_b = orders(&b, &upstream).await;
    assert_eq!(at_b.len(), burst.len(), "each order once at B");
    assert_eq!(minor_units(&client.balance().await), minor_units("900") - 30 * minor_units("9.70"));
    assert_eq!(
        minor_units(&Client::new(&b, &upstream).balance().await),
        minor_units("1000") - 30 * minor_units("9.70")
    );
    assert_reconciled(&a, "b");
    assert_verified(&a.db);
    assert_verified(&b.db);
}

/// The operator is alerted, once, when the float at a provider falls below
/// its mark: by webhook and by e-mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_float_at_a_provider_alerts_the_operator() {
    let b = Server::start(&[]);
    let upstream = b.merchant(&["--environment", "staging"], "1000");
    let hook = crate::receiver::Receiver::start(&[]).await;
    let smtp = crate::receiver::SmtpSink::start().await;
    let a = Server::start(&[
        "--alert-webhook",
        &hook.url,
        "--alert-email",
        "ops@example.com",
        "--smtp-url",
        &smtp.url,
        "--provider-check-interval-ms",
        "300",
    ]);
    let provider = ["provider", "add", "--name", "b", "--kind", "iimmpact", "--base-url", &b.base];
    let keys = ["--api-key", &upstream.api_key, "--api-secret", &upstream.api_secret, "--low-balance", "2000"];
    a.cli(&[&provider[..], &keys[..]].concat());
    let alerts = hook.wait_for(1, 15).await;
    let body: Value = serde_json::from_slice(&alerts[0].body).unwrap();
    assert_eq!(body["event"], "provider_low_balance", "{body}");
    assert!(body["text"].as_str().unwrap().contains("RM 1000.00"), "{body}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let again = hook.received().iter().filter(|r| r.body.windows(20).any(|w| w == b"provider_low_balance")).count();
    assert_eq!(again, 1, "one alert per crossing, not one per check");
    for _ in 0..50 {
        if smtp.messages().iter().any(|m| m.contains("provider_low_balance")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no alert e-mail: {:?}", smtp.messages());
}

/// A provider whose float is known to be short of an order's cost is passed
/// over for the next route (without a doomed attempt there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_short_of_float_is_passed_over() {
    let b = Server::start(&[]);
    let poor = b.merchant(&["--environment", "staging"], "5");
    let rich = b.merchant(&["--environment", "staging"], "1000");
    let a = Server::start(&["--provider-check-interval-ms", "300"]);
    let buyer = a.merchant(&["--environment", "live"], "500");
    add_route(&a, "poor", &format!("{}/v2", b.base), &poor, "1");
    add_route(&a, "rich", &format!("{}/v2", b.base), &rich, "2");
    tokio::time::sleep(Duration::from_millis(2_500)).await; // routes reloaded, floats read
    let client = Client::new(&a, &buyer);
    let r = client.topup(json!({"refid": "S-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    assert_eq!(r.code(), "20");
    let shown: Value = serde_json::from_str(&a.cli(&["order", "show", "S-1", "--account", &buyer.account])).unwrap();
    let attempts = shown["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{shown}");
    assert_eq!(attempts[0]["provider"], "rich", "RM 5 at the first provider cannot pay RM 9.70: {shown}");
    assert_verified(&a.db);
}

/// The operator changes what one of B's codes means at A without a new
/// build: the next order reads the change; given back, the shipped meaning
/// returns. A meaning the code cannot have is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_changes_what_a_code_means() {
    let chain = Chain::start();
    let buyer = Client::new(&chain.a, &chain.buyer);
    chain.wait_for_route(&buyer).await;
    let codes =
        || -> Value { serde_json::from_str(&chain.a.cli(&["provider", "codes", "tambah-b", "--json"])).unwrap() };
    let entry = |key: &str| codes().as_array().unwrap().iter().find(|c| c["key"] == key).cloned();
    assert_eq!(
        entry("48"),
        Some(json!({"key": "48", "meaning": "declined:48", "shipped": "declined:48", "changed": false}))
    );

    chain.a.cli(&["provider", "code", "tambah-b", "48", "declined:52"]);
    chain.a.cli(&["provider", "code", "tambah-b", "99", "unavailable"]);
    assert_eq!(
        entry("48"),
        Some(json!({"key": "48", "meaning": "declined:52", "shipped": "declined:48", "changed": true}))
    );
    assert_eq!(entry("99"), Some(json!({"key": "99", "meaning": "unavailable", "shipped": null, "changed": true})));
    for (bad, says) in [
        (["provider", "code", "tambah-b", "48", "duplicate"], "cannot mean duplicate"),
        (["provider", "code", "tambah-b", "48", "declined:20"], "declined:NN"),
        (["provider", "code", "tambah-b", "error:X", "pending"], "IIMMPACT status code"),
        (["provider", "code", "nobody", "48", "pending"], "no provider"),
    ] {
        let (ok, _, err) = crate::harness::cli_status(&chain.a.db, &bad);
        assert!(!ok && err.contains(says), "{bad:?}: {err}");
    }
    assert_eq!(entry("48").unwrap()["meaning"], "declined:52", "a refused change changes nothing");

    tokio::time::sleep(Duration::from_millis(2_500)).await; // every node reloads providers within 2 s
    let changed = Sent { refid: "K-48", account: "60123450048", final_code: "52" };
    buyer.topup(json!({"refid": changed.refid, "product": "D", "account": changed.account, "amount": "10"})).await;
    assert_eq!(final_code(&buyer, &changed).await, "52", "B's 48 read as the operator said");

    chain.a.cli(&["provider", "code", "tambah-b", "48", "--shipped"]);
    assert_eq!(entry("48").unwrap()["changed"], false);
    let (ok, _, err) = crate::harness::cli_status(&chain.a.db, &["provider", "code", "tambah-b", "48", "--shipped"]);
    assert!(!ok && err.contains("not changed"), "{err}");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let shipped = Sent { refid: "K-48B", account: "60123450048", final_code: "48" };
    buyer.topup(json!({"refid": shipped.refid, "product": "D", "account": shipped.account, "amount": "10"})).await;
    assert_eq!(final_code(&buyer, &shipped).await, "48", "the shipped meaning is back");

    // Both declined orders released their holds: A's merchant paid only for
    // what was delivered (the probe that found the route).
    let at_a = orders(&chain.a, &chain.buyer).await;
    assert_eq!(minor_units(&buyer.balance().await), minor_units("500") - spent(&at_a), "A's wallet is exact");
    assert_verified(&chain.a.db);
    assert_verified(&chain.b.db);
}
