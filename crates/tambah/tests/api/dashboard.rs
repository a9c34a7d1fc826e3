//! The dashboard against a real server, as a browser without script would
//! use it: cookies by hand, redirects not followed.

use serde_json::json;

use crate::harness::*;

/// A browser of one: its cookies, no redirects followed.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Browser {
    fn new(s: &Server) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: s.url(""), cookies: Default::default() }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let r = req.header("cookie", jar.join("; ")).send().await.unwrap();
        for set in r.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let headers = r.headers().clone();
        Page { status, location, headers, body: r.text().await.unwrap() }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    /// The value of the hidden `csrf` field of a page.
    fn csrf(page: &Page) -> String {
        let at = page.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        page.body[at..at + page.body[at..].find('"').unwrap()].to_owned()
    }

    async fn log_in(&mut self, m: &Merchant) -> Page {
        let form = self.get("/dashboard/login").await;
        let csrf = Browser::csrf(&form);
        self.post("/dashboard/login", &[("username", &m.username), ("password", &m.password), ("csrf", &csrf)]).await
    }
}

#[tokio::test]
async fn a_merchant_logs_in_sees_the_balance_and_orders_and_logs_out() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let bought = c.topup(json!({"refid": "DASH-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    assert_eq!(bought.status, 200);
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/").await.location, "/dashboard");
    assert_eq!(b.get("/dashboard").await.location, "/dashboard/login");
    let login = b.get("/dashboard/login").await;
    assert_eq!(login.status, 200);
    let csp = login.headers["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let entered = b.log_in(&m).await;
    assert_eq!((entered.status, entered.location.as_str()), (303, "/dashboard"));
    let set = entered.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let session = set.iter().find(|c| c.starts_with("tambah_session=")).expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    let home = b.get("/dashboard").await;
    assert_eq!(home.status, 200);
    let balance = c.signed("GET", "/v2/balance", None).await.json["data"]["balance"].to_string();
    assert!(
        home.body.contains(&format!("RM {}", balance.trim_matches('"'))) || home.body.contains("RM 90.30"),
        "{}",
        home.body
    );
    assert!(home.body.contains("DASH-1"));
    // Log out: the session's token is revoked, not only the cookie dropped.
    let token = b.cookies["tambah_session"].clone();
    let out = b.post("/dashboard/logout", &[("csrf", &Browser::csrf(&home))]).await;
    assert_eq!((out.status, out.location.as_str()), (303, "/dashboard/login"));
    assert_eq!(b.get("/dashboard").await.location, "/dashboard/login");
    let mut stolen = Browser::new(&s);
    stolen.cookies.insert("tambah_session".into(), token);
    assert_eq!(stolen.get("/dashboard").await.location, "/dashboard/login", "a logged-out session is dead");
}

#[tokio::test]
async fn the_transactions_search_and_its_csv_match_the_api_listing() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "500");
    let c = Client::new(&s, &m);
    for (refid, account) in [("TX-1", "0123456789"), ("TX-2", "60123450048"), ("TX-3", "0123456789")] {
        c.topup(json!({"refid": refid, "product": "D", "account": account, "amount": "10"})).await;
    }
    let mut b = Browser::new(&s);
    b.log_in(&m).await;
    let all = b.get("/dashboard/transactions").await;
    assert_eq!(all.status, 200);
    assert!(["TX-1", "TX-2", "TX-3"].iter().all(|r| all.body.contains(r)), "{}", all.body);
    let failed = b.get("/dashboard/transactions?status=FAILED&date=&product=").await;
    assert!(failed.body.contains("TX-2") && !failed.body.contains("TX-1"), "{}", failed.body);
    let bad = b.get("/dashboard/transactions?date=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("not a date"), "{}", bad.body);
    // The CSV has the API listing's orders, field for field.
    let csv = b.get("/dashboard/transactions.csv?account=0123456789").await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let api = c.signed("GET", "/v2/transactions?account=0123456789", None).await.json;
    let rows: Vec<Vec<&str>> = csv.body.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let listed = api["data"].as_array().unwrap();
    assert_eq!(rows.len(), listed.len());
    for (row, o) in rows.iter().zip(listed) {
        let field = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
        let expected = [
            field("trxid"),
            field("refid"),
            field("date"),
            field("product_code"),
            field("account"),
            field("amount"),
            field("price"),
        ];
        assert_eq!(&row[..7], &expected.iter().map(String::as_str).collect::<Vec<_>>()[..], "{o}");
    }
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "10");
    let mut b = Browser::new(&s);
    // Log-in without the form's token (a cross-site post has no cookie).
    let r = b.post("/dashboard/login", &[("username", &m.username), ("password", &m.password), ("csrf", "x")]).await;
    assert_eq!(r.status, 403);
    assert!(!b.cookies.contains_key("tambah_session"));
    b.log_in(&m).await;
    let r = b.post("/dashboard/logout", &[("csrf", "forged")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(b.get("/dashboard").await.status, 200, "still logged in");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_repeated_failures_lock_the_address_out() {
    // The default allowance of 5 per username from one address, as shipped.
    let s = Server::start(&["--logins-per-minute", "20,5,30"]);
    let m = s.merchant(&[], "10");
    let mut b = Browser::new(&s);
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let form = b.get("/dashboard/login").await;
        let csrf = Browser::csrf(&form);
        let r = b
            .post("/dashboard/login", &[("username", &m.username), ("password", "wrong-password"), ("csrf", &csrf)])
            .await;
        statuses.push(r.status);
        if r.status == 401 {
            assert!(r.body.contains("Wrong username or password"), "{}", r.body);
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    // Locked out: even the right password waits.
    assert_eq!(b.log_in(&m).await.status, 429);
}

/// An order's page shows its story to its merchant; another merchant who
/// changes the refid in the URL finds nothing, exactly as for a refid that
/// does not exist.
#[tokio::test]
async fn an_order_page_is_its_merchants_only() {
    let s = Server::start(&[]);
    let (owner, other) = (s.merchant(&[], "100"), s.merchant(&[], "100"));
    let c = Client::new(&s, &owner);
    c.topup(json!({"refid": "MINE-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    let mut b = Browser::new(&s);
    b.log_in(&owner).await;
    let list = b.get("/dashboard/transactions").await;
    assert!(list.body.contains("href=\"/dashboard/orders/MINE-1\""), "{}", list.body);
    let page = b.get("/dashboard/orders/MINE-1").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Order MINE-1") && page.body.contains("0123456789") && page.body.contains("Successful"));
    let mut intruder = Browser::new(&s);
    intruder.log_in(&other).await;
    let theirs = intruder.get("/dashboard/orders/MINE-1").await;
    let missing = intruder.get("/dashboard/orders/NO-SUCH").await;
    assert_eq!((theirs.status, missing.status), (404, 404));
    assert!(!theirs.body.contains("0123456789"), "nothing of the order shows");
    assert_eq!(theirs.body.replace("MINE-1", "X"), missing.body.replace("NO-SUCH", "X"), "the same answer");
    assert_eq!(Browser::new(&s).get("/dashboard/orders/MINE-1").await.location, "/dashboard/login");
}

/// The statement page shows every wallet movement with the balance after
/// it, as the API's statement does.
#[tokio::test]
async fn the_statement_shows_each_movement_with_the_balance_after_it() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "50");
    let c = Client::new(&s, &m);
    c.topup(json!({"refid": "ST-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    let mut b = Browser::new(&s);
    b.log_in(&m).await;
    let page = b.get("/dashboard/statement").await;
    assert_eq!(page.status, 200);
    let api = c.signed("GET", "/v2/balance-statement", None).await.json;
    for e in api["data"].as_array().unwrap() {
        let balance = format!("{:.2}", e["balance"].as_f64().unwrap());
        assert!(page.body.contains(&balance), "balance {balance} in {}", page.body);
    }
    assert!(page.body.contains("Transaction ST-1 (D)") && page.body.contains("DEPOSIT"), "{}", page.body);
    assert_eq!(b.get("/dashboard/statement?date=31-12-2026").await.status, 400);
}
