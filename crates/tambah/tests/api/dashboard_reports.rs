//! The dashboard's disputes, statement CSV and monthly summary against a
//! real server, compared with what the API answers the same merchant.

use serde_json::{json, Value};

use crate::browsing::*;
use crate::harness::*;

impl Browser {
    /// Posts the dispute form of an order (with this session's token).
    async fn dispute(&mut self, refid: &str, emails: &str) -> Page {
        let csrf = Browser::csrf(&self.get("/dashboard").await);
        self.post(&format!("/dashboard/orders/{refid}/dispute"), &[("csrf", &csrf), ("emails", emails)]).await
    }
}

fn order(refid: &str, account: &str) -> Value {
    json!({"refid": refid, "product": "D", "account": account, "amount": "10"})
}

/// Splits one CSV line (quoted fields with doubled quotes).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn signed_minor(text: &str) -> i64 {
    match text.strip_prefix('-') {
        Some(rest) => -minor_units(rest),
        None => minor_units(text),
    }
}

fn signed_value(v: &Value) -> i64 {
    signed_minor(&v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
}

/// More movements than one page of the statement (50): the CSV holds every
/// page, row for row and balance for balance the API statement's.
#[tokio::test]
async fn the_statement_csv_has_the_api_statements_rows_and_balances() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "500");
    let c = Client::new(&s, &m);
    for i in 0..36 {
        let account = if i % 2 == 0 { "0123456789" } else { "60123450048" };
        c.topup(order(&format!("ST-{i}"), account)).await;
    }
    let api = c.signed("GET", "/v2/balance-statement?limit=500", None).await.json;
    let listed = api["data"].as_array().unwrap();
    // 1 deposit, 36 holds, 18 voids of the failed ones: two pages.
    assert_eq!(listed.len(), 55, "{api}");
    let mut b = Browser::new(&s);
    b.log_in_ok(&m).await;
    let page = b.get("/dashboard/statement").await;
    assert!(page.body.contains("href=\"/dashboard/statement.csv?date=\""), "{}", page.body);
    assert!(page.body.contains("55 entries") && page.body.contains("rel=\"next\""), "{}", page.body);
    for path in ["/dashboard/statement.csv?date=", "/dashboard/statement.csv"] {
        let csv = b.get(path).await;
        assert_eq!(csv.status, 200, "{}", csv.body);
        assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert!(csv.headers["content-disposition"].to_str().unwrap().contains("statement.csv"));
        let mut lines = csv.body.lines();
        assert_eq!(
            lines.next(),
            Some("id,date,amount,balance,remarks,type,seq,time_ms,kind,amount_minor,balance_minor,refid,hash")
        );
        let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
        assert_eq!(rows.len(), listed.len(), "{}", csv.body);
        for (row, e) in rows.iter().zip(listed) {
            assert_eq!(row[0], e["id"].to_string(), "{e}");
            assert_eq!(row[1], e["date"].as_str().unwrap(), "{e}");
            assert_eq!(signed_minor(&row[2]), signed_value(&e["amount"]), "{e}");
            assert_eq!(signed_minor(&row[3]), signed_value(&e["balance"]), "{e}");
            assert_eq!(
                (row[4].as_str(), row[5].as_str()),
                (e["remarks"].as_str().unwrap(), e["type"].as_str().unwrap())
            );
        }
        // A hold is a loss: a number, not a text guarded against formulas.
        assert!(rows.iter().any(|r| r[5] == "TRANSACTION" && r[2].starts_with('-')), "{}", csv.body);
    }
    // The same date filter as the page and the API.
    let today = &listed[0]["date"].as_str().unwrap()[..10];
    let day = b.get(&format!("/dashboard/statement.csv?date={today}")).await;
    assert_eq!(day.body.lines().count(), listed.len() + 1);
    let empty = b.get("/dashboard/statement.csv?date=2001-01-01").await;
    assert_eq!(
        empty.body,
        "id,date,amount,balance,remarks,type,seq,time_ms,kind,amount_minor,balance_minor,refid,hash\n"
    );
    let bad = b.get("/dashboard/statement.csv?date=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("not a date"), "{}", bad.body);
}

/// `yyyy-MM` and its first and last days.
fn month_days(month: &str) -> (String, String) {
    let (y, m): (u32, u32) = (month[..4].parse().unwrap(), month[5..].parse().unwrap());
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let last = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (format!("{month}-01"), format!("{month}-{last:02}"))
}

/// Orders, a failure and a refunded dispute: the month's page and CSV have
/// the numbers of the API's invoice and transaction summary.
#[tokio::test]
async fn the_monthly_summary_and_its_csv_match_the_api_reports() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "200");
    let c = Client::new(&s, &m);
    for (refid, account) in [("SU-1", "0123456789"), ("SU-2", "0123456789"), ("SU-3", "60123450048")] {
        c.topup(order(refid, account)).await;
    }
    let r = c.topup(json!({"refid": "SU-4", "product": "D", "account": "0123456789", "amount": "5"})).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    // A refund: a case resolved with one.
    let opened = c.signed("POST", "/v2/transactions/check", Some(&json!({"refid": "SU-2"}))).await;
    assert_eq!(opened.json["data"]["status"], "Success", "{:?}", opened.json);
    let case: Value = serde_json::from_str(s.cli(&["dispute", "list"]).lines().next().unwrap()).unwrap();
    s.cli(&["dispute", "resolve", &case["id"].to_string(), "--resolution", "not delivered", "--refund"]);

    let statement = c.signed("GET", "/v2/balance-statement", None).await.json;
    let month = statement["data"][0]["date"].as_str().unwrap()[..7].to_owned();
    let (first, last) = month_days(&month);
    let invoice = c.signed("GET", &format!("/v2/reports/invoice?month={month}"), None).await.json["data"].clone();
    assert_ne!(invoice["refunds"], "0.00", "{invoice}");
    let range = format!("{first}%20-%20{last}");
    let summary =
        c.signed("GET", &format!("/v2/reports/transaction-summary?date={range}"), None).await.json["data"].clone();
    assert!(!summary["data"].as_array().unwrap().is_empty(), "{summary}");

    let mut b = Browser::new(&s);
    b.log_in_ok(&m).await;
    let page = b.get("/dashboard/summary").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body, b.get(&format!("/dashboard/summary?month={month}")).await.body, "this month by default");
    for (id, key) in [
        ("opening", "opening_balance"),
        ("deposits", "deposits"),
        ("charges", "charges"),
        ("refunds", "refunds"),
        ("closing", "closing_balance"),
    ] {
        assert_eq!(Browser::by_id(&page, id), invoice[key].as_str().unwrap(), "{id}: {invoice}");
    }
    for key in ["count", "amount", "cost", "profit"] {
        let expected =
            summary["total"][key].as_str().map(str::to_owned).unwrap_or_else(|| summary["total"][key].to_string());
        assert_eq!(Browser::by_id(&page, &format!("total-{key}")), expected, "{key}: {summary}");
    }
    let lines = invoice["lines"].as_array().unwrap();
    assert_eq!(page.body.matches("id=\"product-").count(), lines.len(), "{}", page.body);
    for line in lines {
        let at = page.body.find(&format!("id=\"product-{}\"", line["product_code"].as_str().unwrap())).unwrap();
        let row = &page.body[at..at + page.body[at..].find("</tr>").unwrap()];
        let cells: Vec<&str> = row.split("class=\"num\">").skip(1).map(|c| c.split('<').next().unwrap()).collect();
        let count = line["count"].to_string();
        let expected = [count.as_str(), line["amount"].as_str().unwrap(), line["cost"].as_str().unwrap()];
        assert_eq!(cells[..3], expected, "{row}");
    }

    let csv = b.get(&format!("/dashboard/summary.csv?month={month}")).await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let blocks: Vec<&str> = csv.body.split("\n\n").collect();
    assert_eq!(blocks.len(), 3, "{}", csv.body);
    let balances: Vec<String> = blocks[0].lines().nth(1).map(csv_fields).unwrap();
    assert_eq!(blocks[0].lines().next(), Some("month,opening_balance,deposits,charges,refunds,closing_balance"));
    let expected: Vec<String> = ["opening_balance", "deposits", "charges", "refunds", "closing_balance"]
        .iter()
        .map(|k| invoice[*k].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(balances[0], month);
    assert_eq!(balances[1..], expected[..]);
    // The per-product and per-day tables are the API's own CSVs.
    let invoice_csv = c.signed("GET", &format!("/v2/reports/invoice?month={month}&format=csv"), None).await.json;
    assert_eq!(format!("{}\n", blocks[1]), invoice_csv.as_str().unwrap());
    let path = format!("/v2/reports/transaction-summary?date={range}&format=csv");
    let summary_csv = c.signed("GET", &path, None).await.json;
    assert_eq!(blocks[2], summary_csv.as_str().unwrap());
    let days: Vec<Vec<String>> = blocks[2].lines().skip(1).map(csv_fields).collect();
    assert_eq!(days.len(), summary["data"].as_array().unwrap().len());
    for (row, line) in days.iter().zip(summary["data"].as_array().unwrap()) {
        assert_eq!(
            (row[1].as_str(), row[4].as_str()),
            (line["product_code"].as_str().unwrap(), line["amount"].as_str().unwrap())
        );
    }

    let bad = b.get("/dashboard/summary?month=2026-13").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("is not a month"), "{}", bad.body);
    assert_eq!(b.get("/dashboard/summary.csv?month=May").await.status, 400);
}

/// The dispute message the API gives for an order now.
async fn api_check(c: &Client, refid: &str) -> Reply {
    c.signed("POST", "/v2/transactions/check", Some(&json!({"refid": refid, "user_email": ["api@example.com"]}))).await
}

/// A case opened on the order page is stored and listed like one opened
/// over the API; asking again, or for an order that is not successful, gets
/// the API's answer in words; a resolved case shows its resolution.
#[tokio::test]
async fn a_dispute_opened_on_the_order_page_is_listed_like_one_opened_over_the_api() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    for (refid, account) in [("DP-1", "0123456789"), ("DP-2", "0123456789"), ("DP-BAD", "60123450048")] {
        c.topup(order(refid, account)).await;
    }
    let mut b = Browser::new(&s);
    b.log_in_ok(&m).await;
    let page = b.get("/dashboard/orders/DP-1").await;
    assert!(page.body.contains("action=\"/dashboard/orders/DP-1/dispute\""), "{}", page.body);
    assert!(page.body.contains("No dispute was opened"), "{}", page.body);
    let failed = b.get("/dashboard/orders/DP-BAD").await;
    assert!(!failed.body.contains("/dispute\"") && failed.body.contains("Only successful orders"), "{}", failed.body);

    let opened = b.dispute("DP-1", " ops@example.com, support@example.com ,").await;
    assert_eq!((opened.status, opened.location.as_str()), (303, "/dashboard/orders/DP-1"), "{}", opened.body);
    let over_api = api_check(&c, "DP-2").await;
    assert_eq!(over_api.json["data"]["status"], "Success", "{:?}", over_api.json);

    // Stored alike: the operator's list has both, with their addresses.
    let cases: Vec<Value> = s.cli(&["dispute", "list"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(cases.len(), 2, "{cases:?}");
    let by_refid = |r: &str| cases.iter().find(|c| c["refid"] == r).unwrap().clone();
    let (ours, theirs) = (by_refid("DP-1"), by_refid("DP-2"));
    assert_eq!(ours["emails"], "ops@example.com,support@example.com");
    assert_eq!((ours["state"].as_str(), theirs["state"].as_str()), (Some("open"), Some("open")));

    // The order page and the list show them, newest first, linked.
    let page = b.get("/dashboard/orders/DP-1").await;
    assert!(page.body.contains(&format!("id=\"dispute-{}\"", ours["id"])), "{}", page.body);
    assert!(
        page.body.contains("ops@example.com, support@example.com") && page.body.contains(">open<"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("action=\"/dashboard/orders/DP-1/dispute\""), "no second form: {}", page.body);
    assert!(!page.body.contains(&format!("dispute-{}", theirs["id"])), "only this order's cases");
    let list = b.get("/dashboard/disputes").await;
    assert_eq!(list.status, 200);
    let (at_ours, at_theirs) = (
        list.body.find(&format!("dispute-{}", ours["id"])).unwrap(),
        list.body.find(&format!("dispute-{}", theirs["id"])).unwrap(),
    );
    assert!(at_theirs < at_ours, "newest first: {}", list.body);
    assert!(
        list.body.contains("href=\"/dashboard/orders/DP-1\"") && list.body.contains("href=\"/dashboard/orders/DP-2\"")
    );
    assert!(list.body.contains("2 cases, 2 open"), "{}", list.body);

    // Again: the API's answer (the open case), in words.
    let again = b.dispute("DP-1", "").await;
    assert_eq!(again.status, 409, "{}", again.body);
    let api_again = api_check(&c, "DP-1").await;
    assert!(again.body.contains(api_again.json["data"]["message"].as_str().unwrap()), "{}", again.body);
    assert!(again.body.contains(&format!("Dispute case {} is open", ours["id"])), "{}", again.body);
    let bad = b.dispute("DP-BAD", "").await;
    assert_eq!(bad.status, 409);
    let api_bad = api_check(&c, "DP-BAD").await;
    assert_eq!(api_bad.json["data"]["status"], "Failed");
    assert!(bad.body.contains(api_bad.json["data"]["message"].as_str().unwrap()), "{}", bad.body);
    assert_eq!(b.dispute("NOPE", "").await.status, 404);
    assert_eq!(s.cli(&["dispute", "list"]).lines().count(), 2, "no case was added");

    // Resolved by the operator: its state and resolution on both pages.
    s.cli(&["dispute", "resolve", &ours["id"].to_string(), "--resolution", "provider confirmed delivery"]);
    let page = b.get("/dashboard/orders/DP-1").await;
    assert!(page.body.contains(">resolved<") && page.body.contains("provider confirmed delivery"), "{}", page.body);
    assert!(page.body.contains("action=\"/dashboard/orders/DP-1/dispute\""), "a new case may be opened");
    assert!(b.get("/dashboard/disputes").await.body.contains("2 cases, 1 open"));
}

/// Another merchant's refid is not found by the form, the order page or
/// the list; a forged form is refused and opens nothing.
#[tokio::test]
async fn another_merchants_order_and_disputes_are_never_shown() {
    let s = Server::start(&[]);
    let (first, second) = (s.merchant(&[], "100"), s.merchant(&[], "100"));
    let c = Client::new(&s, &first);
    c.topup(order("MINE-1", "0123456789")).await;
    c.topup(order("MINE-2", "0123456789")).await;
    assert_eq!(api_check(&c, "MINE-1").await.json["data"]["status"], "Success");

    let mut other = Browser::new(&s);
    other.log_in_ok(&second).await;
    let tried = other.dispute("MINE-2", "x@example.com").await;
    assert_eq!(tried.status, 404, "{}", tried.body);
    assert!(tried.body.contains("Transaction not found"), "{}", tried.body);
    assert_eq!(other.get("/dashboard/orders/MINE-1").await.status, 404);
    let list = other.get("/dashboard/disputes").await;
    assert!(!list.body.contains("MINE-1") && list.body.contains("No disputes"), "{}", list.body);
    assert_eq!(s.cli(&["dispute", "list"]).lines().count(), 1);

    let mut owner = Browser::new(&s);
    owner.log_in_ok(&first).await;
    let forged = owner.post("/dashboard/orders/MINE-2/dispute", &[("csrf", "forged"), ("emails", "")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(s.cli(&["dispute", "list"]).lines().count(), 1, "a forged form opens nothing");
    assert!(owner.get("/dashboard/disputes").await.body.contains("href=\"/dashboard/orders/MINE-1\""));
}

/// A viewer (invited on the members page) reads the disputes, the
/// statement CSV and the summary, sees no form and is refused by posting it.
#[tokio::test]
async fn a_viewer_reads_disputes_but_opens_none() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    Client::new(&s, &m).topup(order("VW-1", "0123456789")).await;
    let mut admin = Browser::new(&s);
    admin.log_in_ok(&m).await;
    admin.enable_two_factor().await;
    let members = admin.get("/dashboard/members").await;
    let invite = [("csrf", Browser::csrf(&members)), ("email", "viewer@example.com".into()), ("role", "viewer".into())];
    let invite: Vec<(&str, &str)> = invite.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let invited = admin.post("/dashboard/members", &invite).await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    let link = Browser::by_id(&invited, "invite-link");
    let path = &link[link.find("/dashboard/invite").unwrap()..];
    let mut viewer = Browser::new(&s);
    let form = viewer.get(path).await;
    let token = path.split("token=").nth(1).unwrap();
    let accept = [("csrf", Browser::csrf(&form)), ("token", token.to_owned()), ("password", "viewer password".into())];
    let accept: Vec<(&str, &str)> = accept.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(viewer.post("/dashboard/invite", &accept).await.location, "/dashboard");

    let page = viewer.get("/dashboard/orders/VW-1").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/dispute\""), "no form for a viewer: {}", page.body);
    let refused = viewer.dispute("VW-1", "").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("cannot open disputes"), "{}", refused.body);
    assert!(s.cli(&["dispute", "list"]).trim().is_empty());
    assert_eq!(viewer.get("/dashboard/disputes").await.status, 200);
    assert_eq!(viewer.get("/dashboard/statement.csv").await.status, 200);
    assert_eq!(viewer.get("/dashboard/summary").await.status, 200);
}
