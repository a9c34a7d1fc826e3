//! The client against a real tambah process (no fake in between): signed and
//! token calls, every topup outcome class the simulator can force, and the
//! failure classes (`Rejected`, `Auth`, `NotSent`, `Unknown`) produced for
//! real: a refused signature, a dead port, a client timeout, a killed server.

mod support;

use std::time::{Duration, Instant};

use support::Server;
use tambah_iimmpact::{
    Amount, Client, Config, Credentials, Error, Method, Outcome, RejectionCode, ResponseShape, TopupRequest,
    TopupResponse,
};

fn rm(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

/// A refid no other test uses.
fn refid(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{}", nanos % 1_000_000_000_000)
}

/// Status checks (the same request again) until the order is final.
async fn until_final(client: &Client, request: &TopupRequest, within: Duration) -> TopupResponse {
    let deadline = Instant::now() + within;
    loop {
        let answer = client.status(request).await.expect("status check");
        if answer.is_final() || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn signed_balance_and_products() {
    let server = Server::start(&[]);
    let m = server.merchant(&[], "100");
    let client = server.client(m.api_key());

    let balance = client.balance().await.unwrap();
    assert_eq!(balance.account, m.account);
    assert_eq!(balance.name, "Kedai Ujian Sdn Bhd");
    assert_eq!(balance.balance, Amount::from_rm(100));
    assert_eq!(balance.access, Some(0));

    let products = client.products().await.unwrap();
    let digi = products.iter().find(|p| p.product_code == "D").expect("D is listed");
    assert_eq!(digi.product_name, "Digi Prepaid");
    assert!(digi.is_active());
    assert_eq!(digi.datatype, "Integer");
    assert!(!digi.has_subproduct);
    assert_eq!(digi.raw["product_code"], "D");
    assert!(products.iter().any(|p| p.has_subproduct), "the families need a subproduct");
    assert!(digi.cost_of(Amount::from_rm(10)).is_some(), "{digi:?}");
}

#[tokio::test]
async fn signed_topups_succeed_fail_and_are_refused() {
    let server = Server::start(&[]);
    let m = server.merchant(&[], "100");
    let client = server.client(m.api_key());
    let products = client.products().await.unwrap();
    let digi = products.into_iter().find(|p| p.product_code == "D").unwrap();

    // 20: charged exactly the listing's price, serial number given.
    let order = TopupRequest::new(refid("OK"), "D", "0123456789", Amount::from_rm(10));
    let done = client.topup(&order).await.unwrap();
    assert_eq!((done.status_code, done.outcome(), done.shape), (20, Outcome::Successful, ResponseShape::Seed));
    assert_eq!(done.status, "Successful");
    assert_eq!((done.refid.as_str(), done.product.as_str(), done.amount), (order.refid.as_str(), "D", order.amount));
    assert_eq!(done.sn.len(), 12, "{done:?}");
    assert_eq!(Some(done.cost), digi.cost_of(order.amount), "the documented price rule");
    let after = Amount::from_rm(100).checked_sub(done.cost).unwrap();
    assert_eq!(done.balance, after);

    // The status check answers the same order and charges nothing more.
    let again = client.status(&order).await.unwrap();
    assert_eq!((again.status_code, again.sn.as_str(), again.cost), (20, done.sn.as_str(), done.cost));
    assert_eq!(client.balance().await.unwrap().balance, after);

    // 48: the provider refuses; stored, final, the hold released (HTTP 200).
    let refused =
        client.topup(&TopupRequest::new(refid("P48"), "D", "60123450048", Amount::from_rm(10))).await.unwrap();
    assert_eq!((refused.status_code, refused.outcome()), (48, Outcome::Failed));
    // 43: an empty wallet, as the simulation number forces it (HTTP 200, final).
    let broke = client.topup(&TopupRequest::new(refid("P43"), "D", "60123450043", Amount::from_rm(10))).await.unwrap();
    assert_eq!((broke.status_code, broke.outcome()), (43, Outcome::Failed));
    // A failed order costs nothing, and says so: cost 0 and why in remarks.
    assert_eq!((refused.cost, broke.cost), (Amount::ZERO, Amount::ZERO));
    assert!(refused.remarks.ends_with("nothing was charged"), "{}", refused.remarks);
    assert_eq!((refused.balance, broke.balance), (after, after));
    assert_eq!(client.balance().await.unwrap().balance, after, "failures hold nothing");

    // 403 / 41: as a suspended merchant, refused in the topup envelope, nothing stored.
    let suspended = TopupRequest::new(refid("P41"), "D", "60123450041", Amount::from_rm(10));
    let e = client.topup(&suspended).await.unwrap_err();
    assert!(matches!(e, Error::Rejected { http_status: 403, code: RejectionCode::Status(41), .. }), "{e:?}");

    // 400 / 40: the account does not fit; nothing stored, the refid stays free.
    let bad = TopupRequest::new(refid("BAD"), "D", "12", Amount::from_rm(10));
    let e = client.topup(&bad).await.unwrap_err();
    assert!(matches!(e, Error::Rejected { http_status: 400, code: RejectionCode::Status(40), .. }), "{e:?}");
    let fixed = TopupRequest { account: "0123456780".into(), ..bad };
    assert_eq!(client.topup(&fixed).await.unwrap().status_code, 20);

    // 400 / 58: not a denomination of an Integer product.
    let odd = TopupRequest::new(refid("ODD"), "D", "0123456789", rm("10.5"));
    assert_eq!(client.topup(&odd).await.unwrap_err().rejection_status(), Some(58));
}

#[tokio::test]
async fn current_version_reads_into_the_same_types() {
    let server = Server::start(&[]);
    let m = server.merchant(&["--api-version", "2025-05-20"], "50");
    let client = server.client(m.api_key());
    let digi = client.products().await.unwrap().into_iter().find(|p| p.product_code == "D").unwrap();
    assert_eq!(digi.datatype, "Integer", "read from denomination_data_type");
    let order = TopupRequest::new(refid("CUR"), "D", "0123456789", Amount::from_rm(5));
    let done = client.topup(&order).await.unwrap();
    assert_eq!((done.status_code, done.status.as_str(), done.shape), (20, "Succesful", ResponseShape::Current));
    assert_eq!(done.product_name, "Digi Prepaid");
    assert_eq!(Some(done.cost), digi.cost_of(order.amount));
    assert_eq!(done.balance, Amount::from_rm(50).checked_sub(done.cost).unwrap());
    let e = client.topup(&TopupRequest::new(refid("CUR"), "D", "12", Amount::from_rm(5))).await.unwrap_err();
    assert_eq!(e.rejection_status(), Some(40), "{e:?}");
}

#[tokio::test]
async fn processing_then_the_status_check_gives_the_final_code() {
    let server = Server::start(&["--topup-wait-ms", "200"]);
    let m = server.merchant(&[], "100");
    let client = server.client(m.api_key());

    // 0 → 1 for 2 s → 20, and 0 → 1 for 2 s → 48.
    let later_ok = TopupRequest::new(refid("SC1"), "D", "60123450102", Amount::from_rm(10));
    let later_fail = TopupRequest::new(refid("SC3"), "D", "60123450302", Amount::from_rm(10));
    for order in [&later_ok, &later_fail] {
        let first = client.topup(order).await.unwrap();
        assert_eq!(first.outcome(), Outcome::Pending, "{first:?}");
    }
    let ok = until_final(&client, &later_ok, Duration::from_secs(10)).await;
    let failed = until_final(&client, &later_fail, Duration::from_secs(10)).await;
    assert_eq!(ok.status_code, 20, "{ok:?}");
    assert_eq!(failed.status_code, 48, "{failed:?}");
    let charged = Amount::from_rm(100).checked_sub(ok.cost).unwrap();
    assert_eq!(client.balance().await.unwrap().balance, charged, "charged once, the failure released");
}

#[tokio::test]
async fn a_reused_refid_with_other_parameters_is_rejected() {
    let server = Server::start(&[]);
    let m = server.merchant(&[], "100");
    let client = server.client(m.api_key());
    let order = TopupRequest::new(refid("DUP"), "D", "0123456789", Amount::from_rm(10));
    let done = client.topup(&order).await.unwrap();

    let other_amount = TopupRequest { amount: Amount::from_rm(20), ..order.clone() };
    let e = client.topup(&other_amount).await.unwrap_err();
    assert!(matches!(e, Error::Rejected { http_status: 409, code: RejectionCode::Status(54), .. }), "{e:?}");
    let other_account = TopupRequest { account: "0123456780".into(), ..order.clone() };
    assert_eq!(client.topup(&other_account).await.unwrap_err().rejection_status(), Some(54));

    // The original is untouched and charged once.
    let original = client.status(&order).await.unwrap();
    assert_eq!((original.status_code, original.sn.as_str()), (20, done.sn.as_str()));
    assert_eq!(client.balance().await.unwrap().balance, done.balance);
}

#[tokio::test]
async fn refused_credentials_are_auth_and_store_nothing() {
    let server = Server::start(&[]);
    let m = server.merchant(&[], "100");
    let wrong_secret = Credentials::ApiKey { key_id: m.api_key.clone(), secret: "d3Jvbmctc2VjcmV0".into() };
    let impostor = server.client(wrong_secret);
    let e = impostor.balance().await.unwrap_err();
    assert!(matches!(e, Error::Auth { http_status: 401, ref code, .. } if code == "invalid_signature"), "{e:?}");

    let order = TopupRequest::new(refid("AUTH"), "D", "0123456789", Amount::from_rm(10));
    assert!(matches!(impostor.topup(&order).await.unwrap_err(), Error::Auth { .. }));
    // Nothing was stored: the rightful key places the order under that refid.
    assert_eq!(server.client(m.api_key()).topup(&order).await.unwrap().status_code, 20);

    let unknown_key = Credentials::ApiKey { key_id: "tbh_test_nosuchkey".into(), secret: m.api_secret.clone() };
    let e = server.client(unknown_key).balance().await.unwrap_err();
    assert!(
        matches!(e, Error::Auth { ref code, ref message, .. } if code == "invalid_api_key" && message == "API key not found")
    );

    let wrong_password = Credentials::Password { username: m.username.clone(), password: "not-the-password".into() };
    let e = server.client(wrong_password).balance().await.unwrap_err();
    assert!(matches!(e, Error::Auth { ref code, .. } if code == "NotAuthorizedException"), "{e:?}");
}

#[tokio::test]
async fn token_login_works_like_the_signature() {
    let server = Server::start(&["--token-ttl-seconds", "2"]);
    let m = server.merchant(&[], "100");
    let client = server.client(m.password());

    // The first call logs in by itself.
    assert_eq!(client.balance().await.unwrap().balance, Amount::from_rm(100));
    let done = client.topup(&TopupRequest::new(refid("TOK"), "D", "0123456789", Amount::from_rm(10))).await.unwrap();
    assert_eq!(done.status_code, 20);

    let tokens = client.login().await.unwrap();
    assert_eq!((tokens.token_type.as_str(), tokens.expires_in), ("Bearer", 2));
    assert!(tokens.id_token.starts_with("tbh_id_") && tokens.refresh_token.is_some(), "{tokens:?}");
    let refreshed = client.refresh().await.unwrap();
    assert!(refreshed.refresh_token.is_none(), "a refresh brings no RefreshToken");
    assert_ne!(refreshed.id_token, tokens.id_token);

    // Past the lifetime the client renews before calling.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(client.balance().await.unwrap().balance, done.balance);

    let signed = server.client(m.api_key());
    assert!(matches!(signed.login().await.unwrap_err(), Error::Config(_)));
}

#[tokio::test]
async fn a_dead_port_or_unknown_host_is_not_sent() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let credentials = Credentials::ApiKey { key_id: "tbh_test_x".into(), secret: "c2VjcmV0".into() };
    let client = Client::new(Config::new(format!("http://127.0.0.1:{port}/v2"), credentials.clone())).unwrap();
    let e = client.topup(&TopupRequest::new("DEAD-1", "D", "0123456789", Amount::from_rm(10))).await.unwrap_err();
    assert!(matches!(e, Error::NotSent { .. }) && e.is_not_sent(), "{e:?}");
    assert!(matches!(client.balance().await.unwrap_err(), Error::NotSent { .. }));

    // `.invalid` never resolves (RFC 2606).
    let mut config = Config::new("http://tambah-upstream.invalid/v2", credentials.clone());
    config.connect_timeout = Duration::from_secs(3);
    let e = Client::new(config).unwrap().balance().await.unwrap_err();
    assert!(matches!(e, Error::NotSent { .. }), "{e:?}");

    // Tokens are needed before the call: a dead port there is not sent either.
    let password = Credentials::Password { username: "u".into(), password: "p".into() };
    let e =
        Client::new(Config::new(format!("http://127.0.0.1:{port}"), password)).unwrap().balance().await.unwrap_err();
    assert!(matches!(e, Error::NotSent { .. }), "{e:?}");
}

#[tokio::test]
async fn a_timeout_is_unknown_and_the_status_check_finds_the_order() {
    // The server waits 2 s for the outcome; the client gives up after 0.5 s.
    let server = Server::start(&[]);
    let m = server.merchant(&[], "100");
    let impatient = server.client_with_timeout(m.api_key(), Duration::from_millis(500));
    let order = TopupRequest::new(refid("SLOW"), "D", "60123450103", Amount::from_rm(10));
    let e = impatient.topup(&order).await.unwrap_err();
    assert!(matches!(e, Error::Unknown { http_status: None, .. }) && e.is_unknown(), "{e:?}");

    // The order exists: the status check (same refid) follows it to 20, and
    // it was charged once.
    let client = server.client(m.api_key());
    let done = until_final(&client, &order, Duration::from_secs(10)).await;
    assert_eq!(done.status_code, 20, "{done:?}");
    assert_eq!(client.balance().await.unwrap().balance, Amount::from_rm(100).checked_sub(done.cost).unwrap());
}

#[tokio::test]
async fn a_server_killed_mid_call_is_unknown_not_a_failure() {
    let mut server = Server::start(&["--topup-wait-ms", "5000", "--query-after-ms", "300"]);
    let m = server.merchant(&[], "100");
    let client = server.client(m.api_key());
    let order = TopupRequest::new(refid("KILL"), "D", "60123450102", Amount::from_rm(10));
    let call = tokio::spawn({
        let order = order.clone();
        async move { client.topup(&order).await }
    });
    // The order is placed and the server waits on it; then the process dies.
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill9();
    let e = call.await.unwrap().unwrap_err();
    assert!(e.is_unknown(), "{e:?}");

    server.restart();
    let client = server.client(m.api_key());
    let done = until_final(&client, &order, Duration::from_secs(10)).await;
    assert_eq!(done.status_code, 20, "{done:?}");
    assert_eq!(client.balance().await.unwrap().balance, Amount::from_rm(100).checked_sub(done.cost).unwrap());
}

#[tokio::test]
async fn low_level_request_signs_queries() {
    let server = Server::start(&[]);
    let m = server.merchant(&[], "10");
    let client = server.client(m.api_key());
    let reply = client.request(Method::GET, "/v2/networkstatus", &[("product", "D")], None).await.unwrap();
    let json = reply.json().unwrap();
    assert_eq!(json["data"]["product_code"], "D", "{json}");
    // A value that needs encoding: the signature covers the decoded pairs.
    let reply = client
        .request(
            Method::GET,
            "/v2/transactions",
            &[("status", "SUCCESSFUL,FAILED"), ("date", "2026-01-01 - 2026-01-02")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.json().unwrap()["meta"]["transaction_count"], "0");
    let e = client.request(Method::GET, "/v2/no-such-thing", &[], None).await.unwrap_err();
    assert!(
        matches!(e, Error::Rejected { http_status: 404, code: RejectionCode::Error(ref w), .. } if w == "not_found"),
        "{e:?}"
    );
}
