//! The dashboard against a real server, as a browser without script would
//! use it: cookies by hand, redirects not followed.

use serde_json::json;

use crate::browsing::*;
use crate::harness::*;

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

/// A merchant as the tests' API client needs it, from a dashboard key.
fn merchant_with_key(account: &str, key: (String, String), username: &str) -> Merchant {
    Merchant {
        account: account.to_owned(),
        api_key: key.0,
        api_secret: key.1,
        username: username.to_owned(),
        password: String::new(),
    }
}

/// Self-serve sign-up makes a staging account whose first key, created on
/// the keys page and shown once, works over the API at once.
#[tokio::test]
async fn a_developer_signs_up_creates_a_key_and_orders_with_it() {
    let s = Server::start(&[]);
    let mut b = Browser::new(&s);
    let made = b.sign_up("Kedai Runcit Ali", "Ali@Example.com", "correct horse battery").await;
    assert_eq!((made.status, made.location.as_str()), (303, "/dashboard"), "{}", made.body);
    let home = b.get("/dashboard").await;
    assert!(home.body.contains("Kedai Runcit Ali") && home.body.contains("staging"), "{}", home.body);
    let account = home.body.split("Account ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
    let key = b.create_key().await;
    assert!(key.0.starts_with("tbh_") && key.1.len() >= 40, "{key:?}");
    let listed = b.get("/dashboard/keys").await;
    assert!(listed.body.contains(&key.0) && !listed.body.contains(&key.1), "the secret is never shown again");
    s.cli(&["deposit", "--account", &account, "--amount", "100", "--remarks", "test float"]);
    let c = Client::new(&s, &merchant_with_key(&account, key.clone(), "ali@example.com"));
    let bought = c.topup(json!({"refid": "SIGNUP-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    assert_eq!((bought.status, bought.code()), (200, "20".to_owned()), "{:?}", bought.json);
    assert!(b.get("/dashboard/transactions").await.body.contains("SIGNUP-1"));
    // The same e-mail cannot sign up twice; a weak password is refused.
    let mut again = Browser::new(&s);
    let twice = again.sign_up("Other", "ali@example.com", "another long password").await;
    assert_eq!(twice.status, 400);
    assert!(twice.body.contains("already has an account"), "{}", twice.body);
    assert_eq!(again.sign_up("Other", "bob@example.com", "short").await.status, 400);
    // Revoked on the page: refused by the API at once.
    let keys = b.get("/dashboard/keys").await;
    let revoked = b.post("/dashboard/keys/revoke", &[("csrf", &Browser::csrf(&keys)), ("key", &key.0)]).await;
    assert!(revoked.body.contains("is revoked"), "{}", revoked.body);
    assert_eq!(c.signed("GET", "/v2/balance", None).await.status, 401);
}

#[tokio::test]
async fn sign_up_can_be_turned_off() {
    let s = Server::start(&["--no-signup"]);
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/dashboard/signup").await.status, 403);
    assert!(!b.get("/dashboard/login").await.body.contains("/dashboard/signup"));
}

/// An admin invites a viewer; the viewer chooses a password through the
/// one-use link, reads, but reaches neither keys nor members, even by
/// posting the forms; removed, the viewer's session ends.
#[tokio::test]
async fn a_viewer_reads_but_cannot_reach_key_creation() {
    let s = Server::start(&[]);
    let mut admin = Browser::new(&s);
    admin.sign_up("Syarikat Roles", "owner@example.com", "owner password 1").await;
    assert_eq!(admin.get("/dashboard/members").await.status, 403, "members need two-factor sign-in");
    admin.enable_two_factor().await;
    let members = admin.get("/dashboard/members").await;
    let csrf = Browser::csrf(&members);
    let invited =
        admin.post("/dashboard/members", &[("csrf", &csrf), ("email", "viewer@example.com"), ("role", "viewer")]).await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    let link = Browser::by_id(&invited, "invite-link");
    let path = &link[link.find("/dashboard/invite").unwrap()..];
    let mut viewer = Browser::new(&s);
    let form = viewer.get(path).await;
    assert!(form.body.contains("Syarikat Roles") && form.body.contains("viewer@example.com"), "{}", form.body);
    assert_eq!(Browser::new(&s).get("/dashboard/invite?token=made-up").await.status, 404);
    let token = path.split("token=").nth(1).unwrap();
    let accept = [("csrf", Browser::csrf(&form)), ("token", token.to_owned()), ("password", "viewer password".into())];
    let accept: Vec<(&str, &str)> = accept.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(viewer.post("/dashboard/invite", &accept).await.location, "/dashboard");
    // The link works once.
    let mut replay = Browser::new(&s);
    let used = replay.get(path).await;
    assert_eq!(used.status, 404, "a used link shows no form");
    assert!(used.body.contains("was used") && !used.body.contains("Syarikat Roles"), "{}", used.body);
    let form = replay.get("/dashboard/login").await;
    let again = [("csrf", Browser::csrf(&form)), ("token", token.to_owned()), ("password", "hijacked pass".into())];
    let again: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(replay.post("/dashboard/invite", &again).await.status, 404, "a used link sets no password");

    let home = viewer.get("/dashboard").await;
    assert_eq!(home.status, 200);
    a_viewers_token_reads_but_neither_orders_nor_changes_settings(&s).await;
    assert!(!home.body.contains("/dashboard/keys") && !home.body.contains("/dashboard/members"), "{}", home.body);
    assert!(viewer.get("/dashboard/transactions").await.status == 200);
    let keys = viewer.get("/dashboard/keys").await;
    assert_eq!(keys.status, 403);
    assert!(keys.body.contains("viewer role cannot manage API keys"), "{}", keys.body);
    let csrf = Browser::csrf(&home);
    assert_eq!(viewer.post("/dashboard/keys", &[("csrf", &csrf)]).await.status, 403, "no key by posting either");
    assert_eq!(viewer.get("/dashboard/members").await.status, 403);
    assert_eq!(viewer.get("/dashboard/settings").await.status, 403);
    let hook = [("csrf", csrf.as_str()), ("url", "http://127.0.0.1:9/x"), ("method", "POST")];
    assert_eq!(viewer.post("/dashboard/settings/callback", &hook).await.status, 403);
    assert_eq!(viewer.post("/dashboard/settings/secret", &[("csrf", &csrf)]).await.status, 403);
    let invite = [("csrf", csrf.as_str()), ("email", "x@example.com"), ("role", "admin")];
    assert_eq!(viewer.post("/dashboard/members", &invite).await.status, 403);
    assert_eq!(viewer.post("/dashboard/live", &[("csrf", &csrf)]).await.status, 403);

    // Removed by the admin: signed out everywhere.
    let members = admin.get("/dashboard/members").await;
    let row = members.body.split("viewer@example.com").nth(1).unwrap();
    let user = row.split("name=\"user\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let removed = admin.post("/dashboard/members/remove", &[("csrf", &Browser::csrf(&members)), ("user", &user)]).await;
    assert!(removed.body.contains("removed"), "{}", removed.body);
    assert_eq!(viewer.get("/dashboard").await.location, "/dashboard/login");
}

/// Staging merchant asks for live access; the operator (password + TOTP)
/// approves it and deposits with a reason; the merchant switches to the
/// live account and sees the deposit with its reason. Each action is in
/// the audit log; a merchant session never opens the console.
#[tokio::test]
async fn the_operator_approves_live_access_and_the_merchant_sees_the_deposit() {
    let s = Server::start(&[]);
    let mut m = Browser::new(&s);
    m.sign_up("Kedai Live", "live@example.com", "merchant password").await;
    m.enable_two_factor().await;
    let home = m.get("/dashboard").await;
    assert!(home.body.contains("id=\"request-live\""), "{}", home.body);
    let asked = m.post("/dashboard/live", &[("csrf", &Browser::csrf(&home))]).await;
    assert_eq!(asked.location, "/dashboard");
    let home = m.get("/dashboard").await;
    assert!(home.body.contains("Live access requested") && !home.body.contains("id=\"request-live\""));
    let staging = home.body.split("Account ").nth(1).unwrap().split(' ').next().unwrap().to_owned();

    // The console is not reachable with a merchant session.
    assert_eq!(m.get("/operator").await.location, "/operator/login");
    let (password, secret) = operator(&s, "ops@example.com");
    let mut op = Browser::new(&s);
    let wrong = operator_log_in(&mut op, "ops@example.com", &password, "000000").await;
    assert_eq!(wrong.status, 401);
    let code = totp_code(&secret, 0);
    let inside = operator_log_in(&mut op, "ops@example.com", &password, &code).await;
    assert_eq!((inside.status, inside.location.as_str()), (303, "/operator"), "{}", inside.body);
    let console = op.get("/operator").await;
    assert!(console.body.contains(&format!("/operator/merchants/{staging}")), "{}", console.body);
    let page = op.get(&format!("/operator/merchants/{staging}")).await;
    let csrf = Browser::csrf(&page);
    let approved = op.post(&format!("/operator/merchants/{staging}/approve"), &[("csrf", &csrf)]).await;
    // After an action, the console redirects (a reload sends nothing again).
    let (path, done) = approved.location.split_once('?').expect("a redirect with what was done");
    assert_eq!(done, "done=approved");
    let live = path.rsplit('/').next().unwrap().to_owned();
    assert!(op.get(&approved.location).await.body.contains("Live access approved"));
    let twice = op.post(&format!("/operator/merchants/{staging}/approve"), &[("csrf", &csrf)]).await;
    assert_eq!(twice.status, 400, "approved once");
    let forged = [("csrf", "x"), ("amount", "1"), ("reason", "r")];
    assert_eq!(op.post(&format!("/operator/merchants/{live}/deposit"), &forged).await.status, 403);
    let deposit = [("csrf", csrf.as_str()), ("amount", "250.00"), ("reason", "Float top-up, bank ref 8812")];
    let deposited = op.post(&format!("/operator/merchants/{live}/deposit"), &deposit).await;
    assert_eq!(deposited.location, format!("/operator/merchants/{live}?done=deposited"), "{}", deposited.body);
    assert!(op.get(&deposited.location).await.body.contains("RM 250.00"));
    let echoed = op.get(&format!("/operator/merchants/{live}?done=%3Cb%3Ephish")).await;
    assert!(!echoed.body.contains("phish"), "nothing of the query is echoed");
    let bad = [("csrf", csrf.as_str()), ("amount", "1.001"), ("reason", "x")];
    assert_eq!(op.post(&format!("/operator/merchants/{live}/deposit"), &bad).await.status, 400);

    // The merchant switches to live and sees it.
    let home = m.get("/dashboard").await;
    let switched = m.post("/dashboard/environment", &[("csrf", &Browser::csrf(&home)), ("environment", "live")]).await;
    assert_eq!(switched.location, "/dashboard");
    let live_home = m.get("/dashboard").await;
    assert!(live_home.body.contains(&format!("Account {live}")) && live_home.body.contains("RM 250.00"));
    let statement = m.get("/dashboard/statement").await;
    assert!(statement.body.contains("Float top-up, bank ref 8812"), "{}", statement.body);
    let (key, _) = m.create_key().await;
    assert!(key.starts_with("tbh_live_"), "a live key: {key}");

    let audit = op.get("/operator/audit").await;
    for action in ["approve live access", "deposit", "log in"] {
        assert!(audit.body.contains(action), "{action} in {}", audit.body);
    }
    // Suspending the staging account suspends its live one, and ends the
    // members' sessions.
    let page = op.get(&format!("/operator/merchants/{staging}")).await;
    let form = [("csrf", Browser::csrf(&page)), ("suspended", "1".to_owned())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let suspended = op.post(&format!("/operator/merchants/{staging}/suspension"), &form).await;
    assert_eq!(suspended.location, format!("/operator/merchants/{staging}?done=suspended"));
    assert_eq!(m.get("/dashboard").await.location, "/dashboard/login", "a suspended account's sessions end");
    let live_page = op.get(&format!("/operator/merchants/{live}")).await;
    assert!(live_page.body.contains("<dd>suspended</dd>"), "{}", live_page.body);
    // The same code is not accepted twice.
    let mut again = Browser::new(&s);
    let replay = operator_log_in(&mut again, "ops@example.com", &password, &code).await;
    assert_eq!(replay.status, 401);
}

/// The same role rules over the API: a viewer's bearer token reads the
/// balance, but places no order and changes no callback or alert setting.
async fn a_viewers_token_reads_but_neither_orders_nor_changes_settings(s: &Server) {
    let http = reqwest::Client::new();
    let login = json!({"username": "viewer@example.com", "password": "viewer password"});
    let r = read(http.post(s.url("/v2/token")).json(&login).send().await.unwrap()).await;
    let token = format!("Bearer {}", r.json["AuthenticationResult"]["IdToken"].as_str().unwrap());
    let get = |path: &str| http.get(s.url(path)).header("authorization", &token);
    assert_eq!(read(get("/v2/balance").send().await.unwrap()).await.status, 200);
    let order = json!({"refid": "VIEWER-1", "product": "D", "account": "0123456789", "amount": "10"});
    let topup =
        read(http.post(s.url("/v2/topup")).header("authorization", &token).json(&order).send().await.unwrap()).await;
    assert_eq!(topup.status, 403, "{:?}", topup.json);
    assert!(topup.json.to_string().contains("cannot place orders"), "{:?}", topup.json);
    let url = json!({"url": "https://example.com/hook"});
    let callback =
        read(http.post(s.url("/v2/callback-url")).header("authorization", &token).json(&url).send().await.unwrap())
            .await;
    assert_eq!(callback.status, 403, "{:?}", callback.json);
    let dispute = json!({"refid": "ANY-1", "emails": ["x@example.com"]});
    let check = read(
        http.post(s.url("/v2/transactions/check")).header("authorization", &token).json(&dispute).send().await.unwrap(),
    )
    .await;
    assert_eq!(check.status, 403, "a viewer opens no dispute: {:?}", check.json);
    let alert = json!({"amount": "50"});
    let low = read(
        http.post(s.url("/v2/low-balance-threshold"))
            .header("authorization", &token)
            .json(&alert)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(low.status, 403, "{:?}", low.json);
}

/// Settings from the dashboard: a callback URL (checked as the API checks
/// it) receives the order's status signed with the secret rotated on the
/// page; the order page sends it again; the threshold is saved; a viewer
/// gets none of it.
#[tokio::test]
async fn a_developer_sets_callbacks_rotates_the_secret_and_redelivers() {
    let s = Server::start(crate::aftersale::FAST);
    let hook = crate::receiver::Receiver::start(&[]).await;
    let mut b = Browser::new(&s);
    b.sign_up("Kedai Hook", "hook@example.com", "hook password 1").await;
    let before = b.get("/dashboard/settings").await;
    assert_eq!(before.status, 403, "settings need two-factor sign-in first");
    assert!(before.body.contains("two-factor"), "{}", before.body);
    b.enable_two_factor().await;
    let page = b.get("/dashboard/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = Browser::csrf(&page);
    let bad =
        b.post("/dashboard/settings/callback", &[("csrf", &csrf), ("url", "ftp://x/y"), ("method", "POST")]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let saved =
        b.post("/dashboard/settings/callback", &[("csrf", &csrf), ("url", &hook.url), ("method", "POST")]).await;
    assert!(saved.body.contains("The callback URL is saved"), "{}", saved.body);
    let rotated = b.post("/dashboard/settings/secret", &[("csrf", &csrf)]).await;
    let secret = Browser::by_id(&rotated, "new-secret");
    assert!(!b.get("/dashboard/settings").await.body.contains(&secret), "the secret is shown once");
    let alert = [("csrf", csrf.as_str()), ("amount", "25.50"), ("email", "Finance@Kedai.example")];
    let threshold = b.post("/dashboard/settings/low-balance", &alert).await;
    assert!(threshold.body.contains("value=\"25.50\""), "{}", threshold.body);
    assert!(threshold.body.contains("value=\"finance@kedai.example\""), "{}", threshold.body);
    let bad_email = [("csrf", csrf.as_str()), ("amount", "25.50"), ("email", "not an address")];
    assert_eq!(b.post("/dashboard/settings/low-balance", &bad_email).await.status, 400);
    assert_eq!(b.post("/dashboard/settings/low-balance", &[("csrf", &csrf), ("amount", "0.5")]).await.status, 400);
    let pinned = b.post("/dashboard/settings/api-version", &[("csrf", &csrf), ("api_version", "2025-05-20")]).await;
    assert!(pinned.body.contains("now use API version 2025-05-20"), "{}", pinned.body);
    assert_eq!(
        b.post("/dashboard/settings/api-version", &[("csrf", &csrf), ("api_version", "1999-01-01")]).await.status,
        400
    );

    let home = b.get("/dashboard").await;
    let account = home.body.split("Account ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
    let key = b.create_key().await;
    s.cli(&["deposit", "--account", &account, "--amount", "100", "--remarks", "float"]);
    let c = Client::new(&s, &merchant_with_key(&account, key, "hook@example.com"));
    c.topup(json!({"refid": "HOOK-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    let first = hook.wait_for(1, 10).await;
    let signature = first[0].headers["x-signature"].to_str().unwrap().to_owned();
    assert!(crate::aftersale::signed_by(&signature, &secret, &first[0].body), "signed with the rotated secret");
    // An allowlist without this address shuts the API, not the dashboard.
    let page = b.get("/dashboard/settings").await;
    let csrf = Browser::csrf(&page);
    let bad = b.post("/dashboard/settings/ip-allowlist", &[("csrf", &csrf), ("ip_allowlist", "not-an-ip")]).await;
    assert_eq!(bad.status, 400);
    let elsewhere = [("csrf", csrf.as_str()), ("ip_allowlist", "203.0.113.0/24\n2001:db8::/32")];
    assert!(b
        .post("/dashboard/settings/ip-allowlist", &elsewhere)
        .await
        .body
        .contains("only from 203.0.113.0/24, 2001:db8::/32"));
    let shut = c.signed("GET", "/v2/balance", None).await;
    assert_eq!(shut.status, 403, "{:?}", shut.json);
    assert!(shut.json["message"].as_str().unwrap().contains("127.0.0.1"), "{:?}", shut.json);
    let here = [("csrf", csrf.as_str()), ("ip_allowlist", "203.0.113.0/24, 127.0.0.1")];
    b.post("/dashboard/settings/ip-allowlist", &here).await;
    assert_eq!(c.signed("GET", "/v2/balance", None).await.status, 200);
    b.post("/dashboard/settings/ip-allowlist", &[("csrf", &csrf), ("ip_allowlist", "")]).await;
    let order = b.get("/dashboard/orders/HOOK-1").await;
    let again = b.post("/dashboard/orders/HOOK-1/redeliver", &[("csrf", &Browser::csrf(&order))]).await;
    assert_eq!(again.location, "/dashboard/orders/HOOK-1");
    assert_eq!(hook.wait_for(2, 10).await.len(), 2, "sent again");
    assert_eq!(b.post("/dashboard/orders/NOPE/redeliver", &[("csrf", &Browser::csrf(&order))]).await.status, 404);
}

/// A forgotten password: the link arrives by e-mail (and the page answers
/// the same for an address without an account), works once, sets the new
/// password and ends the sessions of the old one. A password changed on
/// the account page ends every session too.
#[tokio::test]
async fn a_forgotten_password_is_reset_by_e_mail_and_a_changed_one_ends_sessions() {
    let smtp = crate::receiver::SmtpSink::start().await;
    let s = Server::start(&["--smtp-url", smtp.url.as_str(), "--smtp-from", "noreply@tambah.test"]);
    let mut owner = Browser::new(&s);
    owner.sign_up("Kedai Lupa", "lupa@example.com", "first password").await;
    assert_eq!(owner.get("/dashboard").await.status, 200);

    let mut b = Browser::new(&s);
    let unknown = ask_for_a_reset(&s, "nobody@example.com").await;
    let known = ask_for_a_reset(&s, "LUPA@example.com ").await;
    assert_eq!((unknown.status, known.status), (200, 200));
    assert_eq!(unknown.body.replace(char::is_alphanumeric, ""), known.body.replace(char::is_alphanumeric, ""));
    let mut mail = Vec::new();
    for _ in 0..100 {
        mail = smtp.messages();
        if !mail.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(mail.len(), 1, "one e-mail, to the address with an account: {mail:?}");
    assert!(mail[0].contains("lupa@example.com"));
    let link = mail[0].split("/dashboard/password/reset?token=").nth(1).unwrap().split_whitespace().next().unwrap();
    let form = b.get(&format!("/dashboard/password/reset?token={link}")).await;
    let reset =
        [("csrf", Browser::csrf(&form)), ("token", link.to_owned()), ("password", "second password".to_owned())];
    let reset: Vec<(&str, &str)> = reset.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = b.post("/dashboard/password/reset", &reset).await;
    assert_eq!(done.location, "/dashboard/login?changed=1", "a link alone opens no session");
    assert_eq!(owner.get("/dashboard").await.location, "/dashboard/login", "the old password's sessions end");
    let m = Merchant {
        account: String::new(),
        api_key: String::new(),
        api_secret: String::new(),
        username: "lupa@example.com".into(),
        password: "second password".into(),
    };
    assert_eq!(b.log_in(&m).await.location, "/dashboard", "the new password signs in");
    let form = b.get("/dashboard/password/reset").await;
    let again = [("csrf", Browser::csrf(&form)), ("token", link.to_owned()), ("password", "third password".to_owned())];
    let again: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post("/dashboard/password/reset", &again).await.status, 404, "the link works once");

    // The account page: a wrong current password is refused; the right one
    // changes it and signs out.
    let page = b.get("/dashboard/account").await;
    assert!(page.body.contains("lupa@example.com"));
    let csrf = Browser::csrf(&page);
    let wrong = [("csrf", csrf.as_str()), ("old_password", "first password"), ("new_password", "fourth password")];
    assert_eq!(b.post("/dashboard/account/password", &wrong).await.status, 400);
    let right = [("csrf", csrf.as_str()), ("old_password", "second password"), ("new_password", "fourth password")];
    assert_eq!(b.post("/dashboard/account/password", &right).await.location, "/dashboard/login?changed=1");
    assert_eq!(b.get("/dashboard").await.location, "/dashboard/login");
    let m = Merchant {
        account: String::new(),
        api_key: String::new(),
        api_secret: String::new(),
        username: "lupa@example.com".into(),
        password: "fourth password".into(),
    };
    assert_eq!(b.log_in(&m).await.location, "/dashboard", "the new password signs in");
}

#[tokio::test]
async fn without_smtp_the_reset_page_says_to_ask_an_admin() {
    let s = Server::start(&[]);
    let page = Browser::new(&s).get("/dashboard/password/forgot").await;
    assert!(page.body.contains("sends no e-mail") && !page.body.contains("name=\"email\""), "{}", page.body);
}

async fn ask_for_a_reset(s: &Server, email: &str) -> Page {
    let mut anon = Browser::new(s);
    let form = anon.get("/dashboard/password/forgot").await;
    anon.post("/dashboard/password/forgot", &[("csrf", &Browser::csrf(&form)), ("email", email)]).await
}

/// Two-factor sign-in: once on, a log-in asks for the app's code after the
/// password, refuses a wrong or reused code, and the admin cannot turn it
/// off (its role sees keys).
#[tokio::test]
async fn two_factor_sign_in_asks_for_a_fresh_code() {
    let s = Server::start(&[]);
    let mut b = Browser::new(&s);
    b.sign_up("Kedai Dua", "dua@example.com", "dua password 1").await;
    let secret = b.enable_two_factor().await;
    // A session alone cannot replace the second factor: the current app's
    // code is asked.
    let page = b.get("/dashboard/account").await;
    let other = Browser::by_id(&page, "totp-secret");
    let swap = [("csrf", Browser::csrf(&page)), ("secret", other.clone()), ("code", totp_code(&other, 0))];
    let swap: Vec<(&str, &str)> = swap.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = b.post("/dashboard/account/totp", &swap).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let page = b.get("/dashboard/account").await;
    let off = b.post("/dashboard/account/totp/remove", &[("csrf", &Browser::csrf(&page))]).await;
    assert_eq!(off.status, 403, "an admin keeps it");
    let m = Merchant {
        account: String::new(),
        api_key: String::new(),
        api_secret: String::new(),
        username: "dua@example.com".into(),
        password: "dua password 1".into(),
    };
    let mut c = Browser::new(&s);
    let asked = c.log_in(&m).await;
    assert_eq!(asked.status, 401);
    assert!(asked.body.contains("name=\"code\"") && !c.cookies.contains_key("tambah_session"), "{}", asked.body);
    let with = |code: String| [("username", m.username.clone()), ("password", m.password.clone()), ("code", code)];
    let login = |b: &Page| Browser::csrf(b);
    let wrong = with("000000".into());
    let mut form: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let csrf = login(&asked);
    form.push(("csrf", &csrf));
    let refused = c.post("/dashboard/login", &form).await;
    assert_eq!(refused.status, 401, "a wrong code");
    // A code of the next step (the enrolment used this one).
    let code = totp_code(&secret, 30);
    let right = with(code.clone());
    let mut form: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let csrf = login(&refused);
    form.push(("csrf", &csrf));
    assert_eq!(c.post("/dashboard/login", &form).await.location, "/dashboard", "the right code");
    let mut d = Browser::new(&s);
    let page = d.get("/dashboard/login").await;
    let again = with(code);
    let mut form: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let csrf = login(&page);
    form.push(("csrf", &csrf));
    assert_eq!(d.post("/dashboard/login", &form).await.status, 401, "the same code twice");
}

/// The request log shows the merchant's own refused requests with what the
/// API answered — a signature made with the wrong secret under its key
/// included — and nothing of another merchant's or of its successes.
#[tokio::test]
async fn the_request_log_shows_refused_requests_with_the_answer() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let other = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    assert_eq!(
        c.topup(json!({"refid": "LOG-1", "product": "D", "account": "0123456789", "amount": "10"})).await.status,
        200
    );
    let bad = c.topup(json!({"refid": "LOG-2", "product": "D", "account": "0123456789", "amount": "1.001"})).await;
    assert_eq!(bad.status, 400);
    let mut forged = m.clone();
    forged.api_secret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy1zZWNyZXQ=".into();
    assert_eq!(Client::new(&s, &forged).signed("GET", "/v2/balance", None).await.status, 401);
    let theirs = Client::new(&s, &other);
    assert_eq!(
        theirs.topup(json!({"refid": "X", "product": "NOPE", "account": "1", "amount": "10"})).await.status,
        400
    );

    let mut b = Browser::new(&s);
    b.log_in(&m).await;
    let mut page = b.get("/dashboard/requests").await;
    for _ in 0..50 {
        if page.body.contains("invalid_signature") && page.body.contains("/v2/topup") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page = b.get("/dashboard/requests").await;
    }
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<code>POST /v2/topup</code>") && page.body.contains(">400<"), "{}", page.body);
    assert!(page.body.contains("1.001"), "the API's message: {}", page.body);
    assert!(
        page.body.contains("<code>GET /v2/balance</code>") && page.body.contains("invalid_signature"),
        "{}",
        page.body
    );
    assert!(page.body.contains("127.0.0.1"), "from where");
    assert!(!page.body.contains("NOPE") && !page.body.contains(">200<"), "neither another's nor a success");
    let mut them = Browser::new(&s);
    them.log_in(&other).await;
    let theirs = them.get("/dashboard/requests").await;
    assert!(!theirs.body.contains("invalid_signature") && !theirs.body.contains("1.001"), "{}", theirs.body);
}

/// The statement and the month's invoice as PDF: real PDF files holding the
/// same movements and balances as the API's statement and invoice.
#[tokio::test]
async fn the_statement_and_the_invoice_download_as_pdf() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    c.topup(json!({"refid": "PDF-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    let mut b = Browser::new(&s);
    b.log_in(&m).await;
    let page = b.get("/dashboard/statement").await;
    assert!(page.body.contains("/dashboard/statement.pdf"), "linked from the page");
    let pdf = b.get("/dashboard/statement.pdf").await;
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.body.starts_with("%PDF-") && pdf.body.trim_end().ends_with("%%EOF"));
    let api = c.signed("GET", "/v2/balance-statement", None).await.json;
    for e in api["data"].as_array().unwrap() {
        let balance = format!("{:.2}", e["balance"].as_f64().unwrap());
        assert!(pdf.body.contains(&balance), "balance {balance} in the PDF");
    }
    assert!(pdf.body.contains("Transaction PDF-1 (D)") && pdf.body.contains(&m.account));
    let invoice = b.get("/dashboard/summary.pdf").await;
    assert_eq!(invoice.headers["content-type"], "application/pdf");
    let month = {
        let page = b.get("/dashboard/summary").await;
        page.body.split("summary.csv?month=").nth(1).unwrap().split('"').next().unwrap().to_owned()
    };
    let api = c.signed("GET", &format!("/v2/reports/invoice?month={month}"), None).await.json;
    let closing = api["data"]["closing_balance"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| api["data"]["closing_balance"].to_string());
    assert!(invoice.body.contains("Closing balance") && invoice.body.contains(&closing), "closing {closing}: {api}");
    assert_eq!(b.get("/dashboard/summary.pdf?month=2026-13").await.status, 400);
}

/// An API token is not a dashboard session: it opens no page, so neither
/// two-factor sign-in nor the IP allowlist can be gone around with one.
#[tokio::test]
async fn an_api_token_opens_no_dashboard_page() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "10");
    let token = Client::new(&s, &m).login().await;
    let mut b = Browser::new(&s);
    b.cookies.insert("tambah_session".into(), token);
    assert_eq!(b.get("/dashboard").await.location, "/dashboard/login");
    assert_eq!(b.get("/dashboard/keys").await.location, "/dashboard/login");
}
