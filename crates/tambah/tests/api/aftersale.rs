//! After the sale: callbacks to a real HTTP receiver (bodies, signatures,
//! retries, restarts), low-balance notices by webhook and e-mail, the
//! transaction listing, the balance statement, refunds, disputes and the
//! reconciliation reports, checked to the sen.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::harness::*;
use crate::receiver::{Receiver, SmtpSink};

/// Fast retries and loopback receivers for tests.
pub(crate) const FAST: &[&str] = &[
    "--callback-retry-delay-ms",
    "300",
    "--callback-interval-ms",
    "50",
    "--callback-allow-private-networks",
    "true",
    "--reconcile-interval-ms",
    "50",
];

pub(crate) fn buy(refid: &str, account: &str, amount: &str) -> Value {
    json!({"refid": refid, "product": "D", "account": account, "amount": amount})
}

/// Checks `X-Signature: t=…,v1=…` against `secret`, as a merchant would.
pub(crate) fn signed_by(header: &str, secret: &str, payload: &[u8]) -> bool {
    let mut t = "";
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v,
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    sigs.contains(&expected)
}

pub(crate) async fn set_callback(c: &Client, url: &str, method: &str) -> Reply {
    let q =
        form_urlencoded::Serializer::new(String::new()).append_pair("url", url).append_pair("method", method).finish();
    c.signed("POST", &format!("/v2/callback-url?{q}"), None).await
}

async fn secret(c: &Client) -> String {
    let r = c.signed("GET", "/v2/callback-secret", None).await;
    r.json["data"]["secret"].as_str().unwrap().to_owned()
}

pub(crate) async fn log(c: &Client, refid: &str) -> Value {
    c.signed("GET", &format!("/v2/callbacks/{refid}"), None).await.json["data"].clone()
}

#[tokio::test]
async fn post_and_get_callbacks_arrive_signed() {
    let s = Server::start(FAST);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let rx = Receiver::start(&[]).await;

    let r = set_callback(&c, &rx.url, "POST").await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["data"], json!({"Status": "Success", "CallbackUrl": rx.url, "Method": "POST"}));
    assert_eq!(r.json["@metadata"]["status_code"], 200);
    let got = c.signed("GET", "/v2/callback-url", None).await;
    assert_eq!(got.json["data"]["CallbackUrl"], rx.url.as_str());
    let secret = secret(&c).await;
    assert!(secret.starts_with("tbh_whsec_"));

    let answer = c.topup(buy("CB-1", "0123456789", "10")).await;
    let got = rx.wait_for(1, 10).await;
    let cb = &got[0];
    assert_eq!(cb.method, "POST");
    let body: Value = serde_json::from_slice(&cb.body).unwrap();
    assert_eq!(body, answer.json, "the callback body is the topup response of the account's version");
    let sig = cb.headers["x-signature"].to_str().unwrap();
    assert!(signed_by(sig, &secret, &cb.body), "{sig}");
    assert!(!signed_by(sig, "tbh_whsec_wrong", &cb.body));

    // GET: refid, status, price, message (the response data, URL-encoded JSON).
    assert_eq!(set_callback(&c, &rx.url, "GET").await.status, 200);
    c.topup(buy("CB-2", "60123450048", "10")).await;
    let got = rx.wait_for(2, 10).await;
    let cb = &got[1];
    assert_eq!(cb.method, "GET");
    let query = cb.path_and_query.split_once('?').unwrap().1;
    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(params["refid"], "CB-2");
    assert_eq!(params["status"], "48");
    assert_eq!(params["price"], "0.00", "a failed order charged nothing");
    let message: Value = serde_json::from_str(&params["message"]).unwrap();
    assert_eq!(message["statuscode"], "48");
    assert!(signed_by(cb.headers["x-signature"].to_str().unwrap(), &secret, query.as_bytes()));

    // Rotation: both secrets sign for a while.
    let r = c.signed("POST", "/v2/callback-secret/rotate", None).await;
    let new_secret = r.json["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(set_callback(&c, &rx.url, "POST").await.status, 200);
    c.topup(buy("CB-3", "0123456789", "10")).await;
    let got = rx.wait_for(3, 10).await;
    let sig = got[2].headers["x-signature"].to_str().unwrap();
    assert_eq!(sig.matches("v1=").count(), 2, "{sig}");
    assert!(signed_by(sig, &new_secret, &got[2].body) && signed_by(sig, &secret, &got[2].body));

    // Manual redelivery, by API and (once that one is delivered: one at a
    // time) by the CLI, and the log of it all.
    let r = c.signed("POST", "/v2/callbacks/CB-1/redeliver", None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    rx.wait_for(4, 10).await;
    for _ in 0..100 {
        if log(&c, "CB-1").await.as_array().unwrap().iter().all(|e| e["state"] == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    s.cli(&["callbacks", "redeliver", "--account", &m.account, "--refid", "CB-1"]);
    let got = rx.wait_for(5, 10).await;
    assert!(got[3..].iter().all(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["refid"] == "CB-1"));
    let entries = log(&c, "CB-1").await;
    assert_eq!(entries.as_array().unwrap().len(), 3, "{entries}");
    let cli_log: Value =
        serde_json::from_str(&s.cli(&["callbacks", "log", "--account", &m.account, "--refid", "CB-1"])).unwrap();
    assert_eq!(cli_log.as_array().unwrap().len(), 3);
    assert_eq!(c.signed("POST", "/v2/callbacks/NOPE/redeliver", None).await.status, 404);
    // Without a callback URL a redelivery could only fail: refused, nothing queued.
    assert_eq!(set_callback(&c, "", "POST").await.status, 200);
    let r = c.signed("POST", "/v2/callbacks/CB-1/redeliver", None).await;
    assert_eq!((r.status, r.json["error"].as_str()), (409, Some("no_callback_url")), "{}", r.json);
}

#[tokio::test]
async fn retries_on_5xx_not_on_404_and_urls_are_checked() {
    let s = Server::start(FAST);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let flaky = Receiver::start(&[500, 500, 200]).await;
    set_callback(&c, &flaky.url, "POST").await;
    c.topup(buy("RT-1", "0123456789", "10")).await;
    let got = flaky.wait_for(3, 15).await;
    assert_eq!(got.iter().map(|r| r.answered).collect::<Vec<_>>(), vec![500, 500, 200]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(flaky.received().len(), 3, "no attempt after the 200");
    let entries = log(&c, "RT-1").await;
    let attempts = entries[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.iter().map(|a| a["http_status"].as_u64().unwrap()).collect::<Vec<_>>(), vec![500, 500, 200]);
    assert_eq!(entries[0]["state"], "delivered");
    assert!(attempts.iter().all(|a| a["latency_ms"].is_number()));

    let gone = Receiver::start(&[404]).await;
    set_callback(&c, &gone.url, "POST").await;
    c.topup(buy("RT-2", "0123456789", "10")).await;
    gone.wait_for(1, 10).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(gone.received().len(), 1, "a 404 is final");
    assert_eq!(log(&c, "RT-2").await[0]["state"], "failed");

    // Out of retries: 1 + 3 attempts, then failed.
    let down = Receiver::start(&[503, 503, 503, 503, 503]).await;
    set_callback(&c, &down.url, "POST").await;
    c.topup(buy("RT-3", "0123456789", "10")).await;
    down.wait_for(4, 15).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(down.received().len(), 4);
    assert_eq!(log(&c, "RT-3").await[0]["state"], "failed");

    // Without the operator's permission, loopback URLs are refused (SSRF).
    let strict = Server::start(&[]);
    let sm = strict.merchant(&[], "1");
    let r = set_callback(&Client::new(&strict, &sm), &flaky.url, "POST").await;
    assert_eq!((r.status, r.json["error"].as_str()), (400, Some("invalid_callback_url")), "{:?}", r.json);
    for bad in ["ftp://example.my/x", "not a url", "http://10.0.0.1/x", "http://169.254.169.254/latest"] {
        let r = set_callback(&Client::new(&strict, &sm), bad, "POST").await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.json);
    }
    let r = set_callback(&Client::new(&strict, &sm), "https://example.my/hook", "PUT").await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn a_restart_mid_retry_neither_loses_nor_multiplies_a_callback() {
    let mut s = Server::start(&[
        "--callback-retry-delay-ms",
        "1500",
        "--callback-interval-ms",
        "50",
        "--callback-allow-private-networks",
        "true",
        // Short leases, so a callback taken by the killed node is taken again soon.
        "--callback-timeout-ms",
        "1000",
        "--lease-ms",
        "1000",
    ]);
    let m = s.merchant(&[], "100");
    let rx = Receiver::start(&[500]).await;
    set_callback(&Client::new(&s, &m), &rx.url, "POST").await;
    Client::new(&s, &m).topup(buy("RS-1", "0123456789", "10")).await;
    rx.wait_for(1, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The retry is due in 1.5 s; the node dies before it.
    s.kill9();
    s.restart();
    let got = rx.wait_for(2, 20).await;
    assert_eq!(got[1].answered, 200);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let got = rx.received();
    let delivered = got.iter().filter(|r| r.answered == 200).count();
    assert_eq!(delivered, 1, "delivered once: {:?}", got.iter().map(|r| r.answered).collect::<Vec<_>>());
    assert_eq!(log(&Client::new(&s, &m), "RS-1").await[0]["state"], "delivered");
}

#[tokio::test]
async fn low_balance_is_notified_once_per_crossing_by_webhook_and_email() {
    let smtp = SmtpSink::start().await;
    let mut args = FAST.to_vec();
    args.extend(["--smtp-url", smtp.url.as_str(), "--smtp-from", "alerts@tambah.test"]);
    let s = Server::start(&args);
    let m = s.merchant(&[], "100");
    s.cli(&["merchant", "update", "--account", &m.account, "--email", "finance@kedai.my"]);
    let c = Client::new(&s, &m);
    let rx = Receiver::start(&[]).await;
    set_callback(&c, &rx.url, "POST").await;

    let r = c.signed("POST", "/v2/low-balance-threshold?amount=95", None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["data"]["BalanceThreshold"], json!(95));
    assert_eq!(r.json["data"]["Email"], "finance@kedai.my");
    assert!(r.json["data"]["Note"].as_str().unwrap().contains("below 95"));
    assert!(r.json["@metadata"]["last_updated"].is_string());
    assert_eq!(c.signed("POST", "/v2/low-balance-threshold?amount=0.5", None).await.status, 400);
    let r = c.signed("GET", "/v1/low-balance-threshold", None).await;
    assert_eq!(r.json["data"]["BalanceThreshold"], json!(95));

    // 100 → 90.30: below 95, one notice (plus the order's own callback).
    c.topup(buy("LB-1", "0123456789", "10")).await;
    // 90.30 → 80.60: still below, no second notice.
    c.topup(buy("LB-2", "0123456789", "10")).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events = |rx: &Receiver| {
        rx.received()
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .filter(|b| b["event"] == "low_balance")
            .collect::<Vec<_>>()
    };
    let notices = events(&rx);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["data"]["balance"], json!(90.3));
    assert_eq!(notices[0]["data"]["threshold"], json!(95));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("To: <finance@kedai.my>") && mails[0].contains("90.30"), "{}", mails[0]);

    // Back above, then below again: a second crossing, a second notice.
    s.cli(&["deposit", "--account", &m.account, "--amount", "50"]);
    c.topup(buy("LB-3", "0123456789", "50")).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(events(&rx).len(), 2);
    assert_eq!(smtp.messages().len(), 2);
}

/// A history with every kind of movement: deposits, successes, failures, a
/// reversal, an operator refund.
async fn seed_history(s: &Server, c: &Client) {
    for (refid, account, amount) in [
        ("H-1", "0123456789", "10"),
        ("H-2", "0123456789", "30"),
        ("H-3", "60123450048", "10"),
        ("H-4", "0198765432", "50"),
        ("H-5", "60123450043", "5"),
        ("H-6", "0123456789", "5"),
    ] {
        let r = c.topup(buy(refid, account, amount)).await;
        assert_eq!(r.status, 200, "{:?}", r.json);
    }
    // The exact form: the refid alone is enough when only one merchant used it.
    let out = s.cli(&["order", "refund", "H-6", "--reason", "customer complaint"]);
    assert!(out.contains("refunded"), "{out}");
}

#[tokio::test]
async fn transactions_statement_and_reports_agree_to_the_sen() {
    let s = Server::start(FAST);
    let m = s.merchant(&[], "200");
    let c = Client::new(&s, &m);
    seed_history(&s, &c).await;
    // Costs at 3%: H-1 9.70, H-2 29.10, H-4 48.50, H-6 4.85 (refunded);
    // H-3 failed 48 (held then released), H-5 failed 43 (never held).
    assert_eq!(c.balance().await, "112.7"); // 200 − 9.70 − 29.10 − 48.50

    let today = tambah_domain::time::date_text(tambah_domain::time::day_of(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64,
    ));
    transactions_of_the_day(&c, &m, &today).await;
    transaction_filters(&c, &today).await;
    v1_transaction_lookups(&c).await;
    balance_statement(&c).await;
    reports_reconcile(&s, &c, &m, &today).await;
    assert_verified(&s.db);
}

/// The day's listing of the seeded history: counts and totals to the sen,
/// newest first.
async fn transactions_of_the_day(c: &Client, m: &Merchant, today: &str) {
    let r = c.signed("GET", &format!("/v2/transactions?date={today}"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let meta = &r.json["meta"];
    assert_eq!(meta["transaction_count"], "6");
    assert_eq!(meta["successful_count"], "3");
    assert_eq!(meta["failed_count"], "2");
    assert_eq!(meta["refund_count"], "1");
    assert_eq!(meta["pending_count"], "0");
    assert_eq!(meta["total_amount"], "90.00");
    assert_eq!(meta["total_price"], "87.30");
    assert_eq!(meta["profit"], "2.70");
    let first = &r.json["data"][0];
    assert_eq!(first["refid"], "H-6", "newest first");
    assert_eq!(first["status"], "Refund");
    assert_eq!(first["status_code"], "53");
    assert_eq!(first["amount"], "5.00");
    assert_eq!(first["price"], "4.85");
    assert_eq!(first["member_id"], m.account.as_str());
    assert_eq!(first["date"].as_str().unwrap().len(), 23, "yyyy-MM-dd HH:mm:ss.fff");
}

/// Filters: repeated status, account, product, paging, and the day before.
async fn transaction_filters(c: &Client, today: &str) {
    let r = c.signed("GET", "/v2/transactions?status=SUCCESSFUL&status=REFUND", None).await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 4);
    let r = c.signed("GET", "/v2/transactions?account=0198765432", None).await;
    assert_eq!(r.json["data"][0]["refid"], "H-4");
    assert_eq!(c.signed("GET", "/v2/transactions?product=C", None).await.json["meta"]["transaction_count"], "0");
    let r = c.signed("GET", "/v2/transactions?limit=2&offset=4", None).await;
    let page: Vec<&str> = r.json["data"].as_array().unwrap().iter().map(|t| t["refid"].as_str().unwrap()).collect();
    assert_eq!(page, vec!["H-2", "H-1"]);
    assert_eq!(r.json["meta"]["transaction_count"], "6", "meta counts the whole filtered set");
    assert_eq!(c.signed("GET", "/v2/transactions?limit=2&offset=6", None).await.json["data"], json!([]));
    let yesterday = {
        let d = tambah_domain::time::parse_date(today).unwrap() - 1;
        tambah_domain::time::date_text(d)
    };
    let r = c.signed("GET", &format!("/v2/transactions?date={yesterday}"), None).await;
    assert_eq!(r.json["meta"]["transaction_count"], "0");
    let range = form_urlencoded::byte_serialize(format!("{yesterday} - {today}").as_bytes()).collect::<String>();
    let r = c.signed("GET", &format!("/v2/transactions?date={range}"), None).await;
    assert_eq!(r.json["meta"]["transaction_count"], "6");
    for bad in ["date=2023-13-01", "status=WON", "limit=0", "limit=9999", "offset=-1"] {
        assert_eq!(c.signed("GET", &format!("/v2/transactions?{bad}"), None).await.status, 400, "{bad}");
    }
}

/// v1: refid, sn, direction.
async fn v1_transaction_lookups(c: &Client) {
    let r = c.signed("GET", "/v1/transactions?refid=H-2", None).await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    let sn = r.json["data"][0]["sn"].as_str().unwrap().to_owned();
    assert_eq!(c.signed("GET", &format!("/v1/transactions?sn={sn}"), None).await.json["data"][0]["ref_id"], "H-2");
    let r = c.signed("GET", "/v1/transactions?direction=asc&limit=1", None).await;
    assert_eq!(r.json["data"][0]["ref_id"], "H-1");
}

/// Statement: every movement with the balance after it.
async fn balance_statement(c: &Client) {
    let r = c.signed("GET", "/v2/balance-statement?limit=3", None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let rows = r.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[0]["type"].as_str(), &rows[0]["amount"], &rows[0]["balance"]),
        (Some("DEPOSIT"), &json!(200), &json!(200))
    );
    assert_eq!(
        (rows[1]["type"].as_str(), &rows[1]["amount"], &rows[1]["balance"]),
        (Some("TRANSACTION"), &json!(-9.7), &json!(190.3))
    );
    assert_eq!(rows[2]["balance"], json!(161.2));
    let meta = &r.json["meta"];
    // deposit, 5 holds (H-5 never held), H-3's release, H-6's refund = 8
    assert_eq!(
        (meta["total"].as_u64(), meta["last_page"].as_u64(), meta["from"].as_u64(), meta["to"].as_u64()),
        (Some(8), Some(3), Some(1), Some(3))
    );
    assert!(r.json["links"]["prev"].is_null());
    assert!(r.json["links"]["next"].as_str().unwrap().contains("page=2"));
    let last = c.signed("GET", "/v2/balance-statement?limit=3&page=3", None).await;
    let rows = last.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["type"], "REFUND");
    assert_eq!(rows[1]["balance"], json!(112.7), "the last balance is the wallet's");
    assert!(last.json["links"]["next"].is_null());
    let summary = &last.json["summary"];
    assert_eq!(summary["total_deposit"], json!({"amount": 200, "count": 1}));
    assert_eq!(summary["total_transactions"], json!({"amount": 101.85, "count": 5}));
    assert_eq!(summary["total_refund"], json!({"amount": 14.55, "count": 2}));
    let refunds = c.signed("GET", "/v2/balance-statement?type=REFUND", None).await;
    let rows = refunds.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["amount"], json!(9.7));
    assert_eq!(rows[0]["balance"], json!(161.2), "balances stay true when the filter skips entries");
    assert_eq!(c.signed("GET", "/v2/balance-statement?page=9", None).await.json["data"], json!([]));
}

/// Reports: the summary counts what was bought and kept; the invoice
/// reconciles the wallet; the CLI renders both the same.
async fn reports_reconcile(s: &Server, c: &Client, m: &Merchant, today: &str) {
    let r = c.signed("GET", &format!("/v2/reports/transaction-summary?date={today}"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let data = &r.json["data"];
    assert_eq!(data["total"], json!({"count": 3, "amount": "90.00", "cost": "87.30", "profit": "2.70"}));
    assert_eq!(data["data"][0]["product_code"], "D");
    assert_eq!(data["data"][0]["date"], today);
    let csv = c
        .http
        .get(s.url(&format!("/v2/reports/transaction-summary?date={today}&format=csv")))
        .bearer_auth(c.login().await)
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().next().unwrap(), "date,product_code,product_name,count,amount,cost,profit");
    assert!(csv.lines().nth(1).unwrap().ends_with(",3,90.00,87.30,2.70"), "{csv}");

    let month = &today[..7];
    let r = c.signed("GET", &format!("/v2/reports/invoice?month={month}"), None).await;
    let inv = &r.json["data"];
    assert_eq!(inv["opening_balance"], "0.00");
    assert_eq!(inv["deposits"], "200.00");
    assert_eq!(inv["charges"], "92.15", "holds 101.85 minus the released 9.70");
    assert_eq!(inv["refunds"], "4.85");
    assert_eq!(inv["closing_balance"], "112.70");
    assert_eq!(inv["lines"][0]["cost"], "87.30", "charges − refunds = the cost of what was kept");
    let cli = s.cli(&["report", "invoice", "--account", &m.account, "--month", month]);
    let cli: Value = serde_json::from_str(&cli).unwrap();
    assert_eq!(&cli, inv, "the CLI renders the same report");
    let cli_csv = s.cli(&["report", "summary", "--account", &m.account, "--date", today, "--csv"]);
    assert_eq!(cli_csv, csv);
    assert_eq!(c.signed("GET", "/v2/reports/invoice?month=2026-13", None).await.status, 400);
}

#[tokio::test]
async fn refunds_and_disputes() {
    let s = Server::start(FAST);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let rx = Receiver::start(&[]).await;
    set_callback(&c, &rx.url, "POST").await;
    c.topup(buy("D-1", "0123456789", "10")).await;
    c.topup(buy("D-2", "60123450048", "10")).await;
    rx.wait_for(2, 10).await;

    // A dispute on a failed order is refused; on a successful one it opens once.
    let r = c.signed("POST", "/v2/transactions/check", Some(&json!({"refid": "D-2"}))).await;
    assert_eq!(r.json["data"]["status"], "Failed", "{:?}", r.json);
    let r = c.signed("POST", "/v2/transactions/check", Some(&json!({"refid": "D-1", "user_email": ["a@b.my"]}))).await;
    assert_eq!((r.json["data"]["status"].as_str(), r.json["data"]["refid"].as_str()), (Some("Success"), Some("D-1")));
    let again = c.signed("POST", "/v2/transactions/check", Some(&json!({"refid": "D-1"}))).await;
    assert_eq!(again.json["data"]["message"], r.json["data"]["message"], "the same case");
    assert_eq!(c.signed("POST", "/v2/transactions/check", Some(&json!({"refid": "NOPE"}))).await.status, 404);
    assert_eq!(c.signed("POST", "/v2/transactions/check", Some(&json!({}))).await.status, 400);

    let listed = s.cli(&["dispute", "list"]);
    let case: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(
        (case["refid"].as_str(), case["state"].as_str(), case["emails"].as_str()),
        (Some("D-1"), Some("open"), Some("a@b.my"))
    );
    let id = case["id"].as_i64().unwrap().to_string();
    s.cli_change(&["dispute", "resolve", &id, "--resolution", "provider confirmed non-delivery", "--refund"]);
    assert!(s.cli(&["dispute", "list"]).trim().is_empty());
    assert!(s.cli(&["dispute", "list", "--all"]).contains("provider confirmed"));

    // The refund: 53, money back, a callback with 53.
    let r = c.topup(buy("D-1", "0123456789", "10")).await;
    assert_eq!(r.json["statuscode"], "53");
    assert_eq!(c.balance().await, "100");
    let got = rx.wait_for(3, 10).await;
    let last: Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!((last["refid"].as_str(), last["statuscode"].as_str()), (Some("D-1"), Some("53")));
    // Only successful orders can be refunded, and only once.
    let (ok, _, err) = cli_status(&s.db, &["order", "refund", "D-1", "--account", &m.account]);
    assert!(!ok && err.contains("only successful"), "{err}");
    let (ok, _, err) = cli_status(&s.db, &["order", "refund", "D-2", "--account", &m.account]);
    assert!(!ok && err.contains("status 48"), "{err}");
    // A refid two merchants used needs --account.
    let other = s.merchant(&[], "100");
    Client::new(&s, &other).topup(buy("D-1", "0123456789", "10")).await;
    let (ok, _, err) = cli_status(&s.db, &["order", "refund", "D-1"]);
    assert!(!ok && err.contains("add --account") && err.contains(&other.account), "{err}");
    let out = s.cli(&["order", "refund", "D-1", "--account", &other.account]);
    assert!(out.contains("status 53"), "{out}");
    assert_verified(&s.db);
}
