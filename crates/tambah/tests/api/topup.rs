//! Topups over real HTTP: every status code and simulation number, validation,
//! idempotency under concurrency, both API versions, v1.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

fn buy(refid: &str, product: &str, account: &str, amount: &str) -> Value {
    json!({"refid": refid, "product": product, "account": account, "amount": amount})
}

#[tokio::test]
async fn simulation_numbers_give_their_codes_and_release_holds() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let cases = [
        ("60123450044", "44"),
        ("60123450045", "45"),
        ("60123450047", "47"),
        ("60123450048", "48"),
        ("60123450052", "52"),
        ("60123450464", "54"),
        ("60123450055", "55"),
        ("60123450056", "56"),
        ("60123450057", "57"),
        ("60123450861", "61"),
        ("60123450043", "43"),
    ];
    for (i, (account, code)) in cases.iter().enumerate() {
        let refid = format!("SIM-{i}");
        let r = c.topup(buy(&refid, "D", account, "10")).await;
        assert_eq!(r.status, 200, "{account}: {:?}", r.json);
        assert_eq!(r.json["statuscode"], *code, "{account}: {:?}", r.json);
        assert_eq!(r.json["status"], "Failed");
        assert_eq!(r.json["balance"], "100.00", "{account}: the hold is released (or never taken)");
        // Final: resubmitting gives the same answer.
        let again = c.topup(buy(&refid, "D", account, "10")).await;
        assert_eq!(again.json["statuscode"], *code);
    }
    // 41 behaves as a suspended account: 403, nothing stored, refid free.
    let r = c.topup(buy("SIM-41", "D", "60123450041", "10")).await;
    assert_eq!((r.status, r.json["statuscode"].as_str()), (403, Some("41")), "{:?}", r.json);
    let r = c.topup(buy("SIM-41", "D", "0123456789", "10")).await;
    assert_eq!((r.status, r.code()), (200, "20".to_string()), "the refid stayed free: {:?}", r.json);
    assert_eq!(c.balance().await, "90.3");
    assert_verified(&s.db);
}

#[tokio::test]
async fn success_charges_the_discounted_cost_once_and_resubmission_reads_status() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "50");
    let c = Client::new(&s, &m);
    let r = c
        .topup(json!({"refid": "UID-123", "product": "D", "account": "0113242124", "amount": 10, "remarks": "first"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["statuscode"], "20");
    assert_eq!(r.json["status"], "Successful");
    assert_eq!(r.json["cost"], "9.70");
    assert_eq!(r.json["balance"], "40.30");
    assert_eq!(r.json["remarks"], "first");
    assert_eq!(r.json["sn"].as_str().unwrap().len(), 12);
    let again = c.topup(json!({"refid": "UID-123", "product": "D", "account": "0113242124", "amount": "10"})).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json["sn"], r.json["sn"]);
    assert_eq!(again.json["balance"], "40.30");
    assert_eq!(c.balance().await, "40.3");

    // Not enough left for RM 50 at 3%: 43, final, nothing held.
    let r = c.topup(buy("BIG-1", "D", "0113242124", "50")).await;
    assert_eq!((r.status, r.code()), (200, "43".to_string()));
    assert_eq!(r.json["balance"], "40.30");
    // A deposit does not revive a final 43: the refid is spent.
    s.cli(&["deposit", "--account", &m.account, "--amount", "100"]);
    let r = c.topup(buy("BIG-1", "D", "0113242124", "50")).await;
    assert_eq!(r.code(), "43");
    let r = c.topup(buy("BIG-2", "D", "0113242124", "50")).await;
    assert_eq!(r.code(), "20");
    assert_eq!(r.json["balance"], "91.80");
    assert_verified(&s.db);
}

#[tokio::test]
async fn validation_failures_are_400_and_leave_the_refid_free() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"product": "D", "account": "0123456789", "amount": "10"}), "44", "refid is required"),
        (json!({"refid": "R", "account": "0123456789", "amount": "10"}), "44", "product is required"),
        (json!({"refid": "R", "product": "D", "amount": "10"}), "44", "account is required"),
        (json!({"refid": "R", "product": "D", "account": "0123456789"}), "44", "amount is required"),
        (buy("R-THIS-REFID-IS-TOO-LONG-X", "D", "0123456789", "10"), "44", "longer than 25"),
        (buy("R", "NOPE", "0123456789", "10"), "44", "unknown product"),
        (buy("R", "D", "0123456789", "10.50"), "58", "whole ringgit"),
        (buy("R", "D", "0123456789", "11"), "58", "not a denomination"),
        (buy("R", "D", "0123456789", "ten"), "61", "not a decimal number"),
        (buy("R", "D", "12345", "10"), "40", "not a Malaysian mobile number"),
        (buy("R", "TNB", "12345", "10"), "40", "must be 12 digits"),
        (buy("R", "CB", "0123456789", "1000.01"), "58", "not a denomination"),
        (buy("R", "CB", "0123456789", "10.005"), "61", "decimal places"),
    ];
    for (body, code, reason) in cases {
        let r = c.topup(body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.json);
        assert_eq!(r.json["statuscode"], code, "{body}: {:?}", r.json);
        assert_eq!(r.json["status"], "Failed");
        assert_eq!(r.json["cost"], "0.00");
        assert!(r.json["remarks"].as_str().unwrap().contains(reason), "{body}: {:?}", r.json);
    }
    // Malformed JSON is a 400 in the same envelope.
    let r = c.signed_raw("POST", "/v2/topup", "application/json", b"{not json", &[]).await;
    assert_eq!((r.status, r.json["statuscode"].as_str()), (400, Some("44")), "{:?}", r.json);
    // Nothing was charged and the refid "R" is still free.
    assert_eq!(c.balance().await, "100");
    let r = c.topup(buy("R", "CB", "0123456789", "12.34")).await;
    assert_eq!((r.status, r.code()), (200, "20".to_string()), "{:?}", r.json);
    assert_eq!(r.json["cost"], "12.34", "postpaid: no discount at the default level");
    assert_verified(&s.db);
}

#[tokio::test]
async fn reused_refid_with_other_parameters_is_409_and_changes_nothing() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let first = c.topup(buy("DUP-1", "D", "0123456789", "10")).await;
    assert_eq!(first.code(), "20");
    // Each answer names what differs (the first, by precedence: product,
    // account, amount, extras) at the start of its remarks, and lists it all.
    for (body, named, said) in [
        (buy("DUP-1", "D", "0123456789", "20"), "exists_with_different_amount", "amount 10 (this request: 20)"),
        (buy("DUP-1", "D", "0123456780", "10"), "exists_with_different_account", "account 0123456789"),
        (buy("DUP-1", "C", "0123456789", "10"), "exists_with_different_product", "product D (this request: C)"),
        (buy("DUP-1", "C", "0123456789", "30"), "exists_with_different_product", "amount 10 (this request: 30)"),
    ] {
        let r = c.topup(body.clone()).await;
        assert_eq!(r.status, 409, "{body}: {:?}", r.json);
        assert_eq!(r.json["statuscode"], "54");
        assert_eq!(r.json["status"], "Failed");
        let remarks = r.json["remarks"].as_str().unwrap();
        assert!(remarks.starts_with(named) && remarks.contains(said), "{body}: {remarks}");
        // The seed shape has no field of its own for it (SDKs parse it as is).
        assert!(r.json.get("conflict").is_none(), "{:?}", r.json);
    }
    // The current shape names it in a field too.
    let current = c
        .signed_raw(
            "POST",
            "/v2/topup",
            "application/json",
            buy("DUP-1", "D", "0123456789", "20").to_string().as_bytes(),
            &[("X-Api-Version", "2025-05-20")],
        )
        .await;
    assert_eq!(current.status, 409);
    assert_eq!(current.json["data"]["conflict"], "exists_with_different_amount", "{:?}", current.json);
    let again = c.topup(buy("DUP-1", "D", "0123456789", "10")).await;
    assert_eq!((again.code(), &again.json["sn"]), ("20".to_string(), &first.json["sn"]));
    assert_eq!(c.balance().await, "90.3");
}

#[tokio::test]
async fn thirty_two_concurrent_posts_of_one_refid_charge_once() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.topup(buy("SAME-REFID", "D", "0123456789", "10")).await })
        })
        .collect();
    let mut sns = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!((r.status, r.code()), (200, "20".to_string()), "{:?}", r.json);
        sns.push(r.json["sn"].as_str().unwrap().to_owned());
    }
    sns.dedup();
    assert_eq!(sns.len(), 1, "every answer is the same transaction");
    assert_eq!(c.balance().await, "90.3", "charged exactly once");
    assert_verified(&s.db);
}

#[tokio::test]
async fn forty_concurrent_refids_charge_exactly_forty_times() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "1000");
    let c = Client::new(&s, &m);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.topup(buy(&format!("MANY-{i}"), "D", "0123456789", "10")).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!((r.status, r.code()), (200, "20".to_string()), "{:?}", r.json);
    }
    // 1000 - 40 × 9.70 = 612.00
    assert_eq!(c.balance().await, "612");
    assert_verified(&s.db);
}

/// Resubmits until the status is final or `limit` passes.
async fn until_final(c: &Client, body: &Value, limit: Duration) -> Vec<String> {
    let start = std::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        let r = c.topup(body.clone()).await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        let code = r.code();
        if seen.last() != Some(&code) {
            seen.push(code.clone());
        }
        if code.parse::<u8>().unwrap() >= 20 || start.elapsed() > limit {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn accepted_processing_then_final_and_refund() {
    // With no wait, the first answer is 0 Accepted; resubmitting shows 1, then 20.
    let s = Server::start(&["--topup-wait-ms", "0", "--reconcile-interval-ms", "50"]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let pending = buy("SLOW-1", "D", "60123450102", "10");
    let first = c.topup(pending.clone()).await;
    assert_eq!((first.status, first.code()), (200, "0".to_string()), "{:?}", first.json);
    assert_eq!(first.json["status"], "Accepted");
    assert_eq!(first.json["balance"], "90.30", "the cost is held at once");
    let seen = until_final(&c, &pending, Duration::from_secs(10)).await;
    assert_eq!(seen.last().unwrap(), "20", "{seen:?}");
    assert!(seen.contains(&"1".to_string()), "Processing was visible: {seen:?}");

    // Processing, then failed: the hold comes back.
    let failing = buy("SLOW-2", "D", "60123450301", "10");
    let seen = until_final(&c, &failing, Duration::from_secs(10)).await;
    assert_eq!(seen.last().unwrap(), "48", "{seen:?}");
    assert_eq!(c.balance().await, "90.3");

    // Successful, then reversed: 53 and the cost returned.
    let reversed = buy("REV-1", "D", "60123450201", "10");
    let seen = until_final(&c, &reversed, Duration::from_secs(10)).await;
    assert_eq!(seen.last().unwrap(), "20", "{seen:?}");
    // The balance is 80.60 until the reversal lands, then 90.30.
    let start = std::time::Instant::now();
    loop {
        let r = c.topup(reversed.clone()).await;
        if r.code() == "53" {
            assert_eq!(r.json["status"], "Refund");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no refund: {:?}", r.json);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.balance().await, "90.3");
    // v1 reads a refunded order as Failed, so SDK loops end.
    let r = c.signed("POST", "/v1/topup", Some(&reversed)).await;
    assert_eq!(r.json["data"]["status"], "Failed");
    assert_verified(&s.db);
}

#[tokio::test]
async fn the_response_waits_for_the_final_status() {
    // Default wait (2 s) covers a 1-second processing scenario: one call gets 20.
    let s = Server::start(&["--reconcile-interval-ms", "50"]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let r = c.topup(buy("WAIT-1", "D", "60123450101", "10")).await;
    assert_eq!(r.code(), "20", "{:?}", r.json);
    assert_eq!(r.json["balance"], "90.30");
    // A 5-second scenario outlasts the wait: 1 Processing comes back.
    let r = c.topup(buy("WAIT-2", "D", "60123450105", "10")).await;
    assert_eq!(r.code(), "1", "{:?}", r.json);
    assert_eq!(r.json["status"], "Processing");
}

#[tokio::test]
async fn live_without_a_provider_fails_47_and_releases_the_hold() {
    let s = Server::start(&[]);
    let m = s.merchant(&["--environment", "live"], "100");
    let c = Client::new(&s, &m);
    let r = c.topup(buy("LIVE-1", "D", "0123456789", "10")).await;
    assert_eq!((r.status, r.code()), (200, "47".to_string()), "{:?}", r.json);
    assert_eq!(r.json["balance"], "100.00");
    // Live never honours simulation numbers: the same path, 47.
    let r = c.topup(buy("LIVE-2", "D", "60123450043", "10")).await;
    assert_eq!(r.code(), "47", "{:?}", r.json);
    assert_verified(&s.db);
}

#[tokio::test]
async fn pin_products_return_pin_serial_expiry_and_note() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let r = c.topup(buy("PIN-1", "CP", "0123456789", "10")).await;
    assert_eq!(r.code(), "20", "{:?}", r.json);
    assert_eq!(r.json["pin"].as_str().unwrap().len(), 16);
    assert_eq!(r.json["sn"].as_str().unwrap().len(), 12);
    let expiry = r.json["expiry"].as_str().unwrap();
    assert_eq!(expiry.len(), 8, "yyyymmdd: {expiry}");
    assert!(expiry.bytes().all(|b| b.is_ascii_digit()));
    assert!(!r.json["note"].as_str().unwrap().is_empty());
    // Reloads carry none of it.
    let r = c.topup(buy("REL-1", "D", "0123456789", "10")).await;
    assert_eq!((r.json["pin"].as_str(), r.json["expiry"].as_str()), (Some(""), Some("")));
}

#[tokio::test]
async fn versions_pinned_and_overridden() {
    let s = Server::start(&[]);
    let seed = s.merchant(&[], "100");
    let current = s.merchant(&["--api-version", "2025-05-20"], "100");
    let cs = Client::new(&s, &seed);
    let cc = Client::new(&s, &current);
    let r = cs.topup(buy("V-1", "D", "0123456789", "10")).await;
    assert_eq!(r.json["statuscode"], "20");
    let r = cc.topup(buy("V-1", "D", "0123456789", "10")).await;
    assert_eq!(r.json["data"]["statusCode"], 20);
    assert_eq!(r.json["data"]["status"], "Succesful");
    assert_eq!(r.json["data"]["cost"], json!(9.7));
    // Override per request, both ways.
    let body = buy("V-1", "D", "0123456789", "10").to_string();
    let r = cs
        .signed_raw("POST", "/v2/topup", "application/json", body.as_bytes(), &[("X-Api-Version", "2025-05-20")])
        .await;
    assert_eq!(r.json["data"]["statusCode"], 20);
    let r = cc
        .signed_raw("POST", "/v2/topup", "application/json", body.as_bytes(), &[("X-Api-Version", "2023-10-01")])
        .await;
    assert_eq!(r.json["statuscode"], "20");
    let r = cc
        .signed_raw("POST", "/v2/topup", "application/json", body.as_bytes(), &[("X-Api-Version", "1999-01-01")])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "invalid_api_version");
    // Product listing follows the version too.
    let r = cs.signed("GET", "/v2/product-list", None).await;
    assert_eq!(r.json["data"][0]["has_subproduct"], "false");
    let r = cc.signed("GET", "/v2/products", None).await;
    assert_eq!(r.json["data"][0]["has_subproduct"], false);
}

#[tokio::test]
async fn pricing_levels_apply_their_discount() {
    let s = Server::start(&[]);
    let m = s.merchant(&["--level", "12"], "100");
    let c = Client::new(&s, &m);
    let list = c.signed("GET", "/v2/product-list", None).await;
    let celcom = list.json["data"].as_array().unwrap().iter().find(|p| p["product_code"] == "C").unwrap().clone();
    assert_eq!(celcom["discount"], "3.5%");
    let r = c.topup(buy("LVL-1", "C", "0193456789", "10")).await;
    assert_eq!(r.json["cost"], "9.65");
    let r = c.signed("GET", "/v2/balance", None).await;
    assert_eq!(r.json["data"]["level"], "12");
}

#[tokio::test]
async fn http_edges_413_404_and_request_ids() {
    let s = Server::start(&["--body-limit-bytes", "1024"]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let big = format!("{{\"refid\":\"X\",\"remarks\":\"{}\"}}", "a".repeat(2000));
    let r = c.signed_raw("POST", "/v2/topup", "application/json", big.as_bytes(), &[]).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json["error"], "payload_too_large");
    let r = read(reqwest::get(s.url("/v2/nope")).await.unwrap()).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json["error"], "not_found");
    assert!(r.headers.contains_key("x-request-id"));
    let r =
        read(reqwest::Client::new().get(s.url("/health")).header("X-Request-Id", "trace-abc").send().await.unwrap())
            .await;
    assert_eq!(r.headers["x-request-id"], "trace-abc");
    assert_eq!(r.json["status"], "ok");
}

#[tokio::test]
async fn operator_settings_take_effect_within_a_second() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);

    // Suspended: 403 with code 41, nothing stored; resumed: the same refid works.
    let shown = s.cli_change(&["merchant", "update", "--account", &m.account, "--suspended", "true"]);
    let v: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["suspended"], true);
    let r = c.topup(buy("OP-1", "D", "0123456789", "10")).await;
    assert_eq!((r.status, r.json["statuscode"].as_str()), (403, Some("41")), "{:?}", r.json);
    s.cli_change(&["merchant", "update", "--account", &m.account, "--suspended", "false"]);
    assert_eq!(c.topup(buy("OP-1", "D", "0123456789", "10")).await.code(), "20");

    // Read-only (access 50): balance readable, topups refused.
    s.cli_change(&["merchant", "update", "--account", &m.account, "--access", "50"]);
    let r = c.signed("GET", "/v2/balance", None).await;
    assert_eq!(r.json["data"]["access"], 50);
    let r = c.topup(buy("OP-2", "D", "0123456789", "10")).await;
    assert_eq!((r.status, r.json["statuscode"].as_str()), (403, Some("41")));
    s.cli_change(&["merchant", "update", "--account", &m.account, "--access", "0"]);

    // API key required for topups: tokens get 403, signatures still work.
    s.cli_change(&["merchant", "update", "--account", &m.account, "--require-api-key-for-topup", "true"]);
    let token = c.login().await;
    let r = read(
        c.http
            .post(s.url("/v2/topup"))
            .bearer_auth(&token)
            .json(&buy("OP-3", "D", "0123456789", "10"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.json["statuscode"].as_str()), (403, Some("41")), "{:?}", r.json);
    assert!(r.json["remarks"].as_str().unwrap().contains("API key"));
    assert_eq!(c.topup(buy("OP-3", "D", "0123456789", "10")).await.code(), "20");

    // Bad settings are refused and change nothing.
    let (ok, _, err) = cli_status(&s.db, &["merchant", "update", "--account", &m.account, "--access", "7"]);
    assert!(!ok && err.contains("access"), "{err}");
    let shown: Value = serde_json::from_str(&s.cli(&["merchant", "show", "--account", &m.account])).unwrap();
    assert_eq!(shown["access"], 0);
    assert_eq!(shown["balance"], "80.60");
    assert_eq!(shown["require_api_key_for_topup"], true);
}

/// A status check is a read: resubmitting the refid of a delivered order
/// answers its true status whatever the merchant's state since (it answered
/// 403 "Failed" cost 0.00 before, and SDK loops stop on "Failed"). The same
/// rules that guard new orders guard the callback settings and secrets, and
/// a suspended merchant gets no new tokens.
#[tokio::test]
async fn a_status_check_is_a_read_and_settings_follow_the_order_rules() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let first = c.topup(buy("ST-1", "D", "0123456789", "10")).await;
    assert_eq!(first.code(), "20");
    let token = c.login().await;
    let by_token = |path: &str, method: reqwest::Method| c.http.request(method, s.url(path)).bearer_auth(&token);
    for (flag, value) in [("--suspended", "true"), ("--access", "50"), ("--require-api-key-for-topup", "true")] {
        s.cli_change(&["merchant", "update", "--account", &m.account, flag, value]);
        let again = read(
            by_token("/v2/topup", reqwest::Method::POST)
                .json(&buy("ST-1", "D", "0123456789", "10"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((again.status, again.code()), (200, "20".to_owned()), "{flag}: {:?}", again.json);
        assert_eq!(again.json["data"]["cost"], first.json["data"]["cost"], "{flag}");
        let signed = c.topup(buy("ST-1", "D", "0123456789", "10")).await;
        assert_eq!(signed.code(), "20", "{flag}");
        // A new order is still refused (by token under the key rule).
        let new = by_token("/v2/topup", reqwest::Method::POST).json(&buy("ST-2", "D", "0123456789", "10"));
        assert_eq!(new.send().await.unwrap().status(), 403, "{flag}");
        // Callback settings: a token (and a suspended or read-only merchant
        // by any credential) cannot point callbacks elsewhere or read the secret.
        let set = by_token("/v2/callback-url?url=https://example.com/cb", reqwest::Method::POST).send().await.unwrap();
        assert_eq!(set.status(), 403, "{flag}");
        let rotate = by_token("/v2/callback-secret/rotate", reqwest::Method::POST).send().await.unwrap();
        assert_eq!(rotate.status(), 403, "{flag}");
        let redeliver = by_token("/v2/callbacks/ST-1/redeliver", reqwest::Method::POST).send().await.unwrap();
        assert_eq!(redeliver.status(), 403, "{flag}");
        let secret = by_token("/v2/callback-secret", reqwest::Method::GET).send().await.unwrap();
        let read_only = flag == "--access";
        assert_eq!(secret.status(), if read_only { 200 } else { 403 }, "{flag}: the secret is a read");
        let rotate = c.signed("POST", "/v2/callback-secret/rotate", None).await;
        let key_rule = flag == "--require-api-key-for-topup";
        assert_eq!(rotate.status, if key_rule { 200 } else { 403 }, "{flag}: signed");
        let reset = if flag == "--access" { "0" } else { "false" };
        s.cli_change(&["merchant", "update", "--account", &m.account, flag, reset]);
    }
    let url = c.signed("GET", "/v2/callback-url", None).await;
    assert_eq!(url.json["data"]["CallbackUrl"], "", "nothing was changed");

    s.cli_change(&["merchant", "update", "--account", &m.account, "--suspended", "true"]);
    let login = read(
        c.http
            .post(s.url("/v2/token"))
            .json(&json!({"username": m.username, "password": m.password}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((login.status, login.json["message"].as_str().unwrap_or_default().contains("suspended")), (403, true));
    let wrong = c.http.post(s.url("/v2/token")).json(&json!({"username": m.username, "password": "nope"}));
    assert_eq!(wrong.send().await.unwrap().status(), 401, "suspension is told only to whoever knows the password");
    assert_eq!(c.signed("GET", "/v2/balance", None).await.status, 200, "reads still work");
}

#[tokio::test]
async fn past_max_in_flight_requests_get_503_with_retry_after() {
    let s = Server::start(&["--max-in-flight", "1", "--reconcile-interval-ms", "50"]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    // One request holds the only slot while it waits for its final status.
    let slow = {
        let c = c.clone();
        tokio::spawn(async move { c.topup(buy("SLOT-1", "D", "60123450101", "10")).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c.topup(buy("SLOT-2", "D", "0123456789", "10")).await;
    assert_eq!(r.status, 503, "{:?}", r.json);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(slow.await.unwrap().code(), "20");
    // The refused request changed nothing: the refid is free.
    assert_eq!(c.topup(buy("SLOT-2", "D", "0123456789", "10")).await.code(), "20");
}

/// A topup waiting on its provider's outcome is not work the node is doing:
/// a wave of them, each waiting a second, neither trips the shedding of work
/// in flight nor holds a place that the next wave would be refused for.
#[tokio::test]
async fn topups_waiting_on_their_provider_do_not_count_as_work_in_flight() {
    // A target far above the work of placing an order (a debug build on
    // PostgreSQL under 32 callers takes ~25 ms), far below the provider's second.
    let s = Server::start(&["--shed-in-flight-ms", "200", "--rate-staging-per-s", "1000"]);
    let m = s.merchant(&[], "2000");
    let c = Client::new(&s, &m);
    // Without parking, the first wave reads as a standing queue and the
    // limit (its throughput × 200 ms, 64 at most) refuses part of the second.
    for (wave, size) in [(0, 32), (1, 80)] {
        let sent: Vec<_> = (0..size)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move { c.topup(buy(&format!("WAIT-{wave}-{i}"), "D", "60123450101", "10")).await })
            })
            .collect();
        for r in sent {
            let r = r.await.unwrap();
            assert_eq!(r.status, 200, "wave {wave}: {:?}", r.json);
            assert_eq!(r.code(), "20", "wave {wave}: {:?}", r.json);
        }
        // The node decides every 100 ms: the next wave comes after that.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!s.log_text().contains("load shedding"), "{}", s.log_text());
}

/// The operator's daily caps: an order past the amount or the count is
/// refused with 54 and says why, before anything is held; concurrent orders
/// against a count cap get exactly that many through; removing the caps lets
/// orders through again.
#[tokio::test]
async fn daily_spending_caps_refuse_orders_past_them_before_any_hold() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let shown = s.cli_change(&["merchant", "update", "--account", &m.account, "--daily-cap-amount", "25"]);
    assert!(shown.contains("\"daily_cap_amount\":\"25.00\""), "{shown}");
    // RM 10 of D costs 9.70: two fit in RM 25, a third does not.
    for i in 0..2 {
        assert_eq!(c.topup(buy(&format!("CAP-{i}"), "D", "0123456789", "10")).await.code(), "20");
    }
    let third = c.topup(buy("CAP-2", "D", "0123456789", "10")).await;
    assert_eq!((third.status, third.code()), (200, "54".to_string()), "{:?}", third.json);
    let remarks = third.json["remarks"].as_str().unwrap();
    assert!(remarks.contains("daily spending cap reached: at most RM 25.00 spent per day"), "{remarks}");
    assert_eq!(third.json["cost"], "0.00");
    assert_eq!(c.balance().await, "80.6", "nothing held for the refused order");
    // Final: asking again gives the same answer, and a smaller order still fits.
    assert_eq!(c.topup(buy("CAP-2", "D", "0123456789", "10")).await.code(), "54");
    assert_eq!(c.topup(buy("CAP-3", "D", "0123456789", "5")).await.code(), "20");

    // A count cap with concurrent orders: exactly that many get through.
    s.cli_change(&["merchant", "update", "--account", &m.account, "--daily-cap-amount", "none"]);
    s.cli_change(&["merchant", "update", "--account", &m.account, "--daily-cap-count", "6"]);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.topup(buy(&format!("CNT-{i}"), "D", "0123456789", "5")).await.code() })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    // Three placed already today (CAP-0, CAP-1, CAP-3): three more fit in six.
    assert_eq!(codes, ["20", "20", "20", "54", "54", "54", "54", "54"], "{codes:?}");
    s.cli_change(&["merchant", "update", "--account", &m.account, "--daily-cap-count", "none"]);
    assert_eq!(c.topup(buy("FREE-1", "D", "0123456789", "5")).await.code(), "20");
    let (ok, _, err) = cli_status(&s.db, &["merchant", "update", "--account", &m.account, "--daily-cap-amount", "0"]);
    assert!(!ok && err.contains("--daily-cap-amount"), "{err}");
    assert_verified(&s.db);
}
