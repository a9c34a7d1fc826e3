//! The operator console's order queue, disputes and system page against a
//! real server, as a browser without script would use them: the queue lists
//! an order still processing (not a final one) and resolving it as failed
//! releases the hold; a dispute refunded from the console credits the
//! wallet once; the ledger verification reports no violation; each action
//! is in the audit log; a merchant session opens none of it.

use serde_json::json;

use crate::browsing::*;
use crate::harness::*;

fn buy(refid: &str, account: &str) -> serde_json::Value {
    json!({"refid": refid, "product": "D", "account": account, "amount": "10"})
}

/// The queue lists the order still processing and not the delivered one;
/// resolving it as failed releases its hold (the balance comes back), is
/// in the audit log, and a second submit changes nothing.
#[tokio::test]
async fn the_queue_lists_a_processing_order_and_resolving_it_failed_releases_the_hold() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    // Processing for 99 s (the default 2 s wait answers 1), and a delivered one.
    let slow = c.topup(buy("Q-SLOW", "60123450199")).await;
    assert_eq!((slow.status, slow.code()), (200, "1".to_owned()), "{:?}", slow.json);
    let done = c.topup(buy("Q-DONE", "0123456789")).await;
    assert_eq!(done.code(), "20", "{:?}", done.json);
    assert_eq!(c.balance().await, "80.6", "two holds of 9.70");

    let mut op = signed_in_operator(&s, "ops@example.com").await;
    let queue = op.get("/operator/orders?older_than_min=0").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(queue.body.contains("Q-SLOW") && !queue.body.contains("Q-DONE"), "{}", queue.body);
    let young = op.get("/operator/orders").await;
    assert!(!young.body.contains("Q-SLOW") && young.body.contains("id=\"queue-empty\""), "10 minutes by default");

    // The search across merchants: by refid, by account and status.
    let found = op.get("/operator/orders?refid=Q-DONE").await;
    assert!(found.body.contains("Q-DONE") && found.body.contains(&m.account), "{}", found.body);
    let pending = op.get(&format!("/operator/orders?account={}&status=pending", m.account)).await;
    assert!(pending.body.contains("Q-SLOW") && !pending.body.contains("Q-DONE"), "{}", pending.body);
    assert_eq!(op.get("/operator/orders?account=99999999").await.status, 404);

    let csrf = Browser::csrf(&queue);
    let form = |csrf: &str| {
        [
            ("csrf", csrf.to_owned()),
            ("account", m.account.clone()),
            ("refid", "Q-SLOW".to_owned()),
            ("outcome", "failed".to_owned()),
            ("reason", "provider portal: not delivered".to_owned()),
            ("older_than_min", "0".to_owned()),
        ]
    };
    let forged = form("x");
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(op.post("/operator/orders/resolve", &forged).await.status, 403);
    assert_eq!(c.balance().await, "80.6", "a forged form changes nothing");
    let fields = form(&csrf);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resolved = op.post("/operator/orders/resolve", &fields).await;
    assert_eq!((resolved.status, resolved.location.as_str()), (303, "/operator/orders?older_than_min=0&done=failed"));
    assert_eq!(c.balance().await, "90.3", "the hold is released");
    assert_eq!(c.topup(buy("Q-SLOW", "60123450199")).await.code(), "48", "the order failed");
    let after = op.get(&resolved.location).await;
    assert!(after.body.contains("id=\"notice\"") && !after.body.contains("Q-SLOW"), "{}", after.body);

    let again = op.post("/operator/orders/resolve", &fields).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("only pending"), "{}", again.body);
    assert_eq!(c.balance().await, "90.3", "a second submit changes nothing");

    let audit = op.get("/operator/audit").await;
    assert!(audit.body.contains("resolve order"), "{}", audit.body);
    assert!(audit.body.contains("refid Q-SLOW: failed: provider portal: not delivered"), "{}", audit.body);
    assert_verified(&s.db);
}

/// Open disputes with their orders; a refund from the console returns the
/// cost once (the same form again finds the case closed), a rejection
/// returns nothing; both are listed as resolved and audited.
#[tokio::test]
async fn a_dispute_refunded_from_the_console_credits_the_wallet_once() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    for refid in ["DSP-1", "DSP-2"] {
        assert_eq!(c.topup(buy(refid, "0123456789")).await.code(), "20");
        let body = json!({"refid": refid, "user_email": ["customer@example.com"]});
        let r = c.signed("POST", "/v2/transactions/check", Some(&body)).await;
        assert_eq!(r.json["data"]["status"], "Success", "{:?}", r.json);
    }
    assert_eq!(c.balance().await, "80.6");

    let mut op = signed_in_operator(&s, "ops@example.com").await;
    let page = op.get("/operator/disputes").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("DSP-1") && page.body.contains("customer@example.com"), "{}", page.body);
    let id_of = |body: &str, refid: &str| {
        let card = body.split("<h3 id=\"dispute-").find(|card| card.contains(refid)).unwrap();
        card.split("name=\"id\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
    };
    let (first, second) = (id_of(&page.body, "DSP-1"), id_of(&page.body, "DSP-2"));
    let csrf = Browser::csrf(&page);
    let refund =
        [("csrf", csrf.as_str()), ("id", first.as_str()), ("action", "refund"), ("resolution", "not delivered")];
    let forged = [("csrf", "x"), ("id", first.as_str()), ("action", "refund")];
    assert_eq!(op.post("/operator/disputes/resolve", &forged).await.status, 403);
    // A status check now holds the order in the node's cache; the refund
    // must show at the very next one all the same.
    assert_eq!(c.topup(buy("DSP-1", "0123456789")).await.code(), "20");
    let done = op.post("/operator/disputes/resolve", &refund).await;
    assert_eq!((done.status, done.location.as_str()), (303, "/operator/disputes?done=refunded"), "{}", done.body);
    assert_eq!(c.topup(buy("DSP-1", "0123456789")).await.code(), "53", "at once, on the node that refunded");
    assert_eq!(c.balance().await, "90.3", "the cost is returned");
    let twice = op.post("/operator/disputes/resolve", &refund).await;
    assert_eq!(twice.status, 404, "{}", twice.body);
    assert_eq!(c.balance().await, "90.3", "refunded once");
    assert_eq!(c.topup(buy("DSP-1", "0123456789")).await.code(), "53");

    let reject = [("csrf", csrf.as_str()), ("id", second.as_str()), ("action", "reject"), ("resolution", "")];
    let done = op.post("/operator/disputes/resolve", &reject).await;
    assert_eq!(done.location, "/operator/disputes?done=rejected", "{}", done.body);
    assert_eq!(c.balance().await, "90.3", "a rejection returns nothing");
    assert_eq!(c.topup(buy("DSP-2", "0123456789")).await.code(), "20");

    let page = op.get("/operator/disputes").await;
    assert!(page.body.contains("id=\"none-open\""), "{}", page.body);
    let resolved = page.body.split("id=\"resolved\"").nth(1).expect("a resolved list");
    for text in ["DSP-1", "not delivered", "Refund (53)", "DSP-2", "rejected by the operator"] {
        assert!(resolved.contains(text), "{text} in {resolved}");
    }
    let audit = op.get("/operator/audit").await;
    assert!(audit.body.contains("refund dispute") && audit.body.contains("reject dispute"), "{}", audit.body);
    assert_verified(&s.db);
}

/// This node and its heartbeat are listed; the ledger verification runs
/// from the console, reports no violation on a healthy database and is in
/// the audit log.
#[tokio::test]
async fn the_system_page_lists_the_node_and_verifies_the_ledger() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    assert_eq!(Client::new(&s, &m).topup(buy("SYS-1", "0123456789")).await.code(), "20");
    let mut op = signed_in_operator(&s, "ops@example.com").await;
    let page = op.get("/operator/system").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("accepts writes") && page.body.contains("(this node)"), "{}", page.body);
    assert!(page.body.contains("Not run from the console recently."), "{}", page.body);

    assert_eq!(op.post("/operator/system/verify", &[("csrf", "x")]).await.status, 403);
    let ran = op.post("/operator/system/verify", &[("csrf", &Browser::csrf(&page))]).await;
    assert_eq!((ran.status, ran.location.as_str()), (303, "/operator/system?done=verified"), "{}", ran.body);
    let page = op.get(&ran.location).await;
    let result = page.body.split("id=\"verify-result\">").nth(1).expect("a result").split('<').next().unwrap();
    assert!(result.starts_with("0 violations in ") && !result.ends_with(" 0 checks"), "{result}");
    assert!(!page.body.contains("id=\"violations\""), "{}", page.body);
    let audit = op.get("/operator/audit").await;
    assert!(audit.body.contains("ledger verify") && audit.body.contains("0 violations"), "{}", audit.body);
}

/// A merchant's session opens none of the console's pages nor its actions.
#[tokio::test]
async fn a_merchant_session_opens_no_console_page() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let mut b = Browser::new(&s);
    assert_eq!(b.log_in(&m).await.location, "/dashboard");
    for path in ["/operator/orders", "/operator/orders?older_than_min=0", "/operator/disputes", "/operator/system"] {
        assert_eq!(b.get(path).await.location, "/operator/login", "{path}");
    }
    for path in ["/operator/orders/resolve", "/operator/disputes/resolve", "/operator/system/verify"] {
        let page = b.post(path, &[("csrf", "x")]).await;
        assert_eq!((page.status, page.location.as_str()), (303, "/operator/login"), "{path}");
    }
}
