//! Many nodes on one PostgreSQL: three `tambah serve` processes; clients spread
//! topups across them and send the same refid to different nodes at the same
//! moment; one node is killed with SIGKILL mid-run and restarted. At the end
//! every refid is charged at most once, every acknowledged topup is there with
//! the status it was acknowledged with (or its later final status), nothing
//! is left pending, wallets are exact and `tambah verify` is clean.
//!
//! Needs PostgreSQL (`TAMBAH_TEST_POSTGRES`): reported as ignored without
//! it (see `build.rs`), a failure under CI. Runs in the default pass only
//! (ignored on the PostgreSQL pass).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

pub(crate) fn server_url() -> Option<String> {
    if postgres_server().is_some() {
        return None; // the PostgreSQL pass of the suite: already run in the default pass
    }
    match std::env::var("TAMBAH_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "TAMBAH_TEST_POSTGRES must be set in CI: the multi-node test may not be skipped"
            );
            eprintln!("skipped: set TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 to run");
            None
        }
    }
}

/// Which account a refid uses: mostly instant successes, some forced
/// failures, some that stay Processing for 1–3 s (pending work when the
/// node dies).
fn account_for(i: usize) -> String {
    match i % 10 {
        0 => "60123450048".to_owned(),
        1 | 2 => format!("6012345010{}", 1 + i % 3),
        _ => "0123456789".to_owned(),
    }
}

/// How many refids the run places.
const REFIDS: usize = 240;

/// The order a refid stands for, the same body on every node.
fn order(i: usize) -> Value {
    json!({"refid": format!("MN-{i}"), "product": "D", "account": account_for(i), "amount": "10"})
}

/// What the waves of topups got back: the acknowledged answers as
/// (merchant, request, response), and how many requests died with the node.
struct Waves {
    acked: Vec<(usize, Value, Value)>,
    cut_off: usize,
    /// Answered 503: shed, nothing acknowledged.
    shed: usize,
}

/// Finals per (merchant, refid), polled until no order is left pending.
type Finals = HashMap<(usize, String), Value>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432")]
#[cfg_attr(postgres_pass, ignore = "runs in the default pass (it makes its own PostgreSQL databases)")]
async fn three_nodes_one_database_one_killed() {
    let Some(server) = server_url() else { return };
    let db = Arc::new(Db::fresh_on(Some(server), "multi"));
    let args =
        ["--topup-wait-ms", "500", "--reconcile-interval-ms", "100", "--lease-ms", "1500", "--query-after-ms", "1500"];
    let mut nodes: Vec<Server> = (0..3).map(|_| Server::start_on_db(db.clone(), &args)).collect();
    let merchants: Vec<Merchant> = (0..3).map(|_| create_merchant(&db.url, &[], "100000")).collect();

    security_state_is_shared(&db, &nodes, &merchants[0]).await;
    let waves = send_waves_and_kill_a_node(&mut nodes, &merchants).await;
    one_transaction_per_refid(&waves.acked);
    let finals = every_refid_reaches_a_final(&nodes, &merchants).await;
    acknowledged_answers_agree(&waves.acked, &finals);
    wallets_are_exact(&nodes, &merchants, &finals).await;
    for n in &mut nodes {
        n.kill9();
    }
    assert_verified(&db.url);
    let failed = finals.values().filter(|f| f["statuscode"] == "48").count();
    eprintln!(
        "{} answers acknowledged for {REFIDS} refids over 3 nodes, {} requests cut off by the kill, {} shed \
         ({failed} final failures by design); node 1 killed mid-wave and restarted",
        waves.acked.len(),
        waves.cut_off,
        waves.shed
    );
}

/// Shared security state: a signed request replayed to another node is
/// refused, and a key revoked outside the nodes stops working on every
/// node within the caches' bound (1 s).
async fn security_state_is_shared(db: &Db, nodes: &[Server], m: &Merchant) {
    let (ts, nonce) = (now_s().to_string(), nonce());
    let sig = signature(&m.api_secret, &ts, &nonce, "GET", "", b"");
    let http = reqwest::Client::new();
    let send = |node: &Server| {
        http.get(node.url("/v2/balance"))
            .header("X-Api-Key", &m.api_key)
            .header("X-Timestamp", &ts)
            .header("X-Nonce", &nonce)
            .header("X-Signature", &sig)
            .send()
    };
    assert_eq!(read(send(&nodes[0]).await.unwrap()).await.status, 200);
    let replay = read(send(&nodes[2]).await.unwrap()).await;
    assert_eq!((replay.status, replay.json["error"].as_str()), (401, Some("nonce_reused")), "{:?}", replay.json);
    let spare = create_merchant(&db.url, &[], "1");
    assert_eq!(Client::new(&nodes[1], &spare).signed("GET", "/v2/balance", None).await.status, 200);
    cli(&db.url, &["key", "revoke", &spare.api_key]);
    let revoked = Instant::now();
    for (i, node) in nodes.iter().enumerate() {
        // Each node reads the change within its caches' bound, then refuses for good.
        loop {
            let status = Client::new(node, &spare).signed("GET", "/v2/balance", None).await.status;
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(
                revoked.elapsed() < CHANGE_SEEN_WITHIN,
                "node {i} still accepts a key revoked {:?} ago",
                revoked.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for node in nodes {
        assert_eq!(Client::new(node, &spare).signed("GET", "/v2/balance", None).await.status, 401);
    }
}

/// The refids, each sent to two or three nodes at once by one merchant;
/// node 1 is killed during wave 4 and restarted before wave 7.
async fn send_waves_and_kill_a_node(nodes: &mut [Server], merchants: &[Merchant]) -> Waves {
    let mut waves = Waves { acked: Vec::new(), cut_off: 0, shed: 0 };
    let mut killed_at = None;
    for wave in 0..(REFIDS / 24) {
        if wave == 7 {
            nodes[1].restart();
        }
        let mut tasks = Vec::new();
        for j in 0..24 {
            let i = wave * 24 + j;
            let who = i % merchants.len();
            let body = order(i);
            let fanout = 2 + i % 2;
            for k in 0..fanout {
                let node = &nodes[(i + k) % nodes.len()];
                let c = Client::new(node, &merchants[who]);
                let body = body.clone();
                tasks.push(tokio::spawn(async move {
                    let bytes = body.to_string();
                    let r = c.try_signed_raw("POST", "/v2/topup", "application/json", bytes.as_bytes(), &[]).await;
                    (who, body, r.ok())
                }));
            }
        }
        if wave == 4 {
            // Kill node 1 while this wave's requests are in flight.
            tokio::time::sleep(Duration::from_millis(15)).await;
            nodes[1].kill9();
            killed_at = Some(Instant::now());
        }
        for t in tasks {
            let (who, body, r) = t.await.unwrap();
            match r {
                Some(r) if r.status == 200 => waves.acked.push((who, body, r.json)),
                // Shed by a node past what it does in time (debug builds
                // under a wave): acknowledged nothing; every refid is still
                // driven to its final below and the wallets checked.
                Some(r) if r.status == 503 => waves.shed += 1,
                Some(r) => panic!("unexpected {}: {:?}", r.status, r.json),
                None => waves.cut_off += 1, // sent to the dead node, or cut off by the kill
            }
        }
    }
    assert!(killed_at.is_some());
    waves
}

/// Same refid answered by several nodes: never two different transactions.
fn one_transaction_per_refid(acked: &[(usize, Value, Value)]) {
    let mut by_refid: HashMap<(usize, String), Vec<&Value>> = HashMap::new();
    for (who, body, r) in acked {
        by_refid.entry((*who, body["refid"].as_str().unwrap().to_owned())).or_default().push(r);
    }
    for ((_, refid), answers) in &by_refid {
        let finals: Vec<&&Value> =
            answers.iter().filter(|a| a["statuscode"].as_str().unwrap().parse::<u8>().unwrap() >= 20).collect();
        for pair in finals.windows(2) {
            assert_eq!(pair[0]["statuscode"], pair[1]["statuscode"], "{refid}");
            assert_eq!(pair[0]["sn"], pair[1]["sn"], "{refid}: one transaction");
        }
    }
}

/// Nothing stranded: every refid reaches a final status through any node,
/// including orders the killed node was processing.
async fn every_refid_reaches_a_final(nodes: &[Server], merchants: &[Merchant]) -> Finals {
    let live = Client::new(&nodes[0], &merchants[0]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finals = Finals::new();
    for i in 0..REFIDS {
        let who = i % merchants.len();
        let body = order(i);
        let c = Client { m: merchants[who].clone(), base: nodes[i % 3].base.clone(), ..live.clone() };
        loop {
            let r = c.topup(body.clone()).await;
            assert_eq!(r.status, 200, "{:?}", r.json);
            if r.code().parse::<u8>().unwrap() >= 20 {
                finals.insert((who, format!("MN-{i}")), r.json);
                break;
            }
            assert!(Instant::now() < deadline, "MN-{i} still {:?}", r.json);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    finals
}

/// Acknowledged answers agree with the final state.
fn acknowledged_answers_agree(acked: &[(usize, Value, Value)], finals: &Finals) {
    for (who, body, r) in acked {
        let f = &finals[&(*who, body["refid"].as_str().unwrap().to_owned())];
        let code: u8 = r["statuscode"].as_str().unwrap().parse().unwrap();
        if code >= 20 {
            assert_eq!((&f["statuscode"], &f["sn"]), (&r["statuscode"], &r["sn"]), "{body}");
        } else {
            assert_eq!(f["statuscode"], "20", "{body}: pending scenario orders end successful");
        }
    }
}

/// Wallets: deposits minus the cost of successful orders, to the sen.
async fn wallets_are_exact(nodes: &[Server], merchants: &[Merchant], finals: &Finals) {
    for (who, m) in merchants.iter().enumerate() {
        let spent: i64 = finals
            .iter()
            .filter(|((w, _), f)| *w == who && f["statuscode"] == "20")
            .map(|(_, f)| minor_units(f["cost"].as_str().unwrap()))
            .sum();
        let c = Client::new(&nodes[2], m);
        assert_eq!(minor_units(&c.balance().await), 100_000 * 10_000 - spent, "wallet of {}", m.account);
    }
}
