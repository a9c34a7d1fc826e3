//! The dashboard in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, with `fantoccini`). Needs Debian's `chromium`
//! and `chromium-driver` (`.ci/run` installs them); without chromedriver
//! these tests are reported *ignored* (`cfg(browser_tests)`, set by
//! build.rs when it finds one).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::json;

use crate::harness::*;

/// A chromedriver of our own on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromium() -> (Driver, Browser) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let mut caps = serde_json::Map::new();
    let args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"];
    caps.insert("goog:chromeOptions".into(), json!({"args": args, "binary": "/usr/bin/chromium"}));
    // The browser's console, read back by `console_errors`.
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    for _ in 0..100 {
        match ClientBuilder::new(connector.clone()).capabilities(caps.clone()).connect(&driver.url).await {
            Ok(browser) => return (driver, browser),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("chromedriver did not start at {}", driver.url);
}

/// axe-core's source (pinned in `tests/browser/package.json`), installed
/// into `target/axe` with npm the first time.
fn axe_source() -> String {
    let root = format!("{}/../..", env!("CARGO_MANIFEST_DIR"));
    let path = format!("{root}/target/axe/node_modules/axe-core/axe.min.js");
    if !std::path::Path::new(&path).exists() {
        std::fs::create_dir_all(format!("{root}/target/axe")).unwrap();
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(format!("{root}/tests/browser/{file}"), format!("{root}/target/axe/{file}")).unwrap();
        }
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", &format!("{root}/target/axe")])
            .status()
            .expect("npm, to install axe-core");
        assert!(npm.success(), "npm ci of axe-core failed");
    }
    std::fs::read_to_string(path).unwrap()
}

/// Runs axe-core's WCAG 2 A and AA rules on the page shown; the rules it
/// breaks, with how many elements break each.
async fn accessibility_violations(b: &Browser, axe: &str) -> Vec<String> {
    b.execute(axe, vec![]).await.expect("axe-core loads");
    let run = "const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
           .then(r => done(r.violations.map(v => v.id + ' (' + v.nodes.length + '): ' + v.help)))
           .catch(e => done(['axe failed: ' + e]));";
    let found = b.execute_async(run, vec![]).await.expect("axe-core runs");
    serde_json::from_value(found).unwrap()
}

/// ChromeDriver's log endpoint (not in W3C WebDriver, so not in
/// fantoccini): the browser console's entries since the last read.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// What the page wrote to the console at level SEVERE (errors: a script
/// error, a resource that failed to load, a CSP violation) since the last
/// call.
async fn console_errors(b: &Browser) -> Vec<String> {
    let entries = b.issue_cmd(BrowserLog).await.expect("chromedriver's browser log");
    let entries = entries.as_array().cloned().unwrap_or_default();
    entries.iter().filter(|e| e["level"] == "SEVERE").map(|e| e["message"].to_string()).collect()
}

/// The checks every page gets: no console errors, no accessibility
/// violations, and a screenshot.
async fn check_page(b: &Browser, axe: &str, name: &str) {
    check_refused_page(b, axe, name, None).await;
}

/// As `check_page`, for a page answered with an error `status` on purpose:
/// the browser logs that status, and nothing else.
async fn check_refused_page(b: &Browser, axe: &str, name: &str, status: Option<u16>) {
    let logged = console_errors(b).await;
    match status {
        None => assert_eq!(logged, Vec::<String>::new(), "console errors on {name}"),
        Some(code) => assert!(
            logged.len() == 1 && logged[0].contains(&format!("status of {code}")),
            "console of {name}: {logged:?}"
        ),
    }
    assert_eq!(accessibility_violations(b, axe).await, Vec::<String>::new(), "accessibility of {name}");
    screenshot(b, name).await;
}

/// Saves what the browser shows to `target/screenshots/NAME.png`.
async fn screenshot(b: &Browser, name: &str) {
    let dir = format!("{}/../../target/screenshots", env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/{name}.png"), b.screenshot().await.unwrap()).unwrap();
}

/// Log in, see the balance and the order bought over the API, search for
/// it: the pages as a person sees them, at desktop and phone width, each
/// passing axe-core's WCAG 2.1 A/AA rules, with screenshots kept.
#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver)")]
async fn a_merchant_uses_the_dashboard_in_a_real_browser() {
    let s = Server::start(&[]);
    let m = s.merchant(&["--name", "Kedai Runcit Ali"], "250");
    let c = Client::new(&s, &m);
    for (refid, account) in [("WEB-1", "0123456789"), ("WEB-2", "60123450048"), ("WEB-3", "0198765432")] {
        c.topup(json!({"refid": refid, "product": "D", "account": account, "amount": "10"})).await;
    }
    let axe = axe_source();
    let (_driver, b) = chromium().await;
    b.goto(&s.url("/")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/dashboard/login"));
    check_page(&b, &axe, "login").await;
    b.find(Locator::Id("username")).await.unwrap().send_keys(&m.username).await.unwrap();
    b.find(Locator::Id("password")).await.unwrap().send_keys(&m.password).await.unwrap();
    b.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    let balance = b.wait().for_element(Locator::Id("balance")).await.unwrap().text().await.unwrap();
    let api = c.signed("GET", "/v2/balance", None).await.json["data"]["balance"].clone();
    assert_eq!(balance, format!("RM {:.2}", api.as_f64().unwrap()), "the balance the API reports");
    assert!(b.source().await.unwrap().contains("WEB-1"));
    check_page(&b, &axe, "overview").await;
    b.find(Locator::LinkText("Transactions")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Id("csv")).await.unwrap();
    b.find(Locator::Css("#status option[value=FAILED]")).await.unwrap().click().await.unwrap();
    b.find(Locator::Css("form.filters button")).await.unwrap().click().await.unwrap();
    // The results page shows the search it ran.
    b.wait().for_element(Locator::Css("#status option[value=FAILED][selected]")).await.unwrap();
    let page = b.source().await.unwrap();
    assert!(page.contains("WEB-2") && !page.contains("WEB-1"), "only the failed order");
    check_page(&b, &axe, "transactions").await;
    b.find(Locator::LinkText("WEB-2")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css("dl.facts")).await.unwrap();
    assert!(b.source().await.unwrap().contains("60123450048"));
    check_page(&b, &axe, "order").await;
    b.find(Locator::LinkText("Statement")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css("table")).await.unwrap();
    assert!(b.source().await.unwrap().contains("Transaction WEB-1 (D)"));
    check_page(&b, &axe, "statement").await;
    b.set_window_size(390, 844).await.unwrap();
    b.goto(&s.url("/dashboard/transactions")).await.unwrap();
    screenshot(&b, "transactions-phone").await;
    // Log out: back to the log-in page, and the overview is closed.
    b.find(Locator::Css("nav form button")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Id("username")).await.unwrap();
    b.goto(&s.url("/dashboard")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/dashboard/login"));
    b.close().await.unwrap();
}

/// Types into a field, replacing what it held.
async fn fill(b: &Browser, id: &str, text: &str) {
    let field = b.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Clicks what submits a form or follows a link, and waits until the
/// next page replaced this one.
async fn click(b: &Browser, css: &str) {
    navigate(b, Locator::Css(css)).await;
}

async fn follow(b: &Browser, link_text: &str) {
    navigate(b, Locator::LinkText(link_text)).await;
}

async fn navigate(b: &Browser, target: Locator<'_>) {
    let old = b.find(Locator::Css("html")).await.unwrap();
    b.find(target).await.unwrap().click().await.unwrap();
    for _ in 0..200 {
        if old.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the page did not change");
}

async fn text_of(b: &Browser, id: &str) -> String {
    b.wait().for_element(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

async fn body(b: &Browser) -> String {
    b.source().await.unwrap()
}

/// The current TOTP code of a base32 secret.
fn totp_code(secret: &str) -> String {
    authenticator_code(secret, 0)
}

/// A staging sign-up through to live, in the browser, with the operator in
/// a browser of its own: sign-up → a key → a topup with that key over the
/// API → the order in transactions and the statement → the CSV export
/// matches the API listing; live access requested, approved by the
/// operator, who deposits → the merchant sees the deposit on its live
/// account; a viewer cannot reach key creation; another merchant's order is
/// not found by its URL; a form without its CSRF token is refused; repeated
/// wrong passwords lock the log-in out. Every page: no console error, no
/// WCAG 2.1 A/AA violation, a screenshot.
#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver)")]
async fn a_developer_signs_up_and_goes_live_in_a_real_browser() {
    // The shipped log-in allowance: 5 per username from one address.
    let s = Server::start(&["--logins-per-minute", "20,5,30"]);
    let axe = axe_source();
    let (_driver, b) = chromium().await;
    let account = sign_up_order_and_export(&s, &axe, &b).await;
    let (_driver2, op) = operator_approves_and_deposits(&s, &axe, &b, &account).await;
    the_live_account_and_another_merchants_order(&s, &axe, &b).await;
    every_other_page(&s, &axe, &b, &op).await;
    let (_driver3, v) = a_viewer_and_a_lock_out(&s, &axe, &b).await;
    for browser in [b, op, v] {
        browser.close().await.unwrap();
    }
}

/// Sign-up, a key, an order with it over the API, the pages and the CSV;
/// a tampered form. Returns the staging account.
async fn sign_up_order_and_export(s: &Server, axe: &str, b: &Browser) -> String {
    b.goto(&s.url("/dashboard/login")).await.unwrap();
    click(b, "a[href='/dashboard/signup']").await;
    fill(b, "company", "Kedai Runcit Ali").await;
    fill(b, "email", "ali@example.com").await;
    fill(b, "password", "a long enough password").await;
    check_page(b, axe, "signup").await;
    click(b, "form button[type=submit]").await;
    let home = text_of(b, "live-note").await;
    assert!(home.contains("staging account"), "{home}");
    let source = body(b).await;
    let account = source.split("Account ").nth(1).unwrap().split(' ').next().unwrap().to_owned();

    // Keys need two-factor sign-in: set it up with the secret the page shows.
    follow(b, "API keys").await;
    assert!(text_of(b, "message").await.contains("two-factor"));
    console_errors(b).await;
    follow(b, "Your account").await;
    let secret = text_of(b, "totp-secret").await;
    fill(b, "totp-code", &totp_code(&secret)).await;
    check_page(b, axe, "account").await;
    click(b, "#confirm-totp").await;
    assert!(text_of(b, "notice").await.contains("Two-factor sign-in is on"));
    follow(b, "API keys").await;
    click(b, "#create-key").await;
    let key = (text_of(b, "new-key").await, text_of(b, "new-secret").await);
    check_page(b, axe, "keys").await;
    s.cli(&["deposit", "--account", &account, "--amount", "100", "--remarks", "staging float"]);
    let merchant = Merchant {
        account: account.clone(),
        api_key: key.0.clone(),
        api_secret: key.1.clone(),
        username: "ali@example.com".into(),
        password: String::new(),
    };
    let c = Client::new(s, &merchant);
    let bought = c.topup(json!({"refid": "SIGNUP-1", "product": "D", "account": "0123456789", "amount": "10"})).await;
    assert_eq!(bought.code(), "20", "{:?}", bought.json);

    follow(b, "Transactions").await;
    let csv_href = b.wait().for_element(Locator::Id("csv")).await.unwrap().attr("href").await.unwrap().unwrap();
    assert!(body(b).await.contains("SIGNUP-1"));
    follow(b, "Statement").await;
    b.wait().for_element(Locator::Css("table")).await.unwrap();
    assert!(body(b).await.contains("Transaction SIGNUP-1 (D)"));
    follow(b, "Price list").await;
    b.wait().for_element(Locator::Css("table")).await.unwrap();
    check_page(b, axe, "prices").await;
    follow(b, "Charts").await;
    b.wait().for_element(Locator::Css("svg")).await.unwrap();
    check_page(b, axe, "charts").await;
    follow(b, "Request log").await;
    b.wait().for_element(Locator::Css("h1")).await.unwrap();
    check_page(b, axe, "requests").await;
    // The export, fetched with the browser's own session cookie.
    let cookies = b.get_all_cookies().await.unwrap();
    let jar: Vec<String> = cookies.iter().map(|c| format!("{}={}", c.name(), c.value())).collect();
    let csv = reqwest::Client::new()
        .get(s.url(&csv_href))
        .header("cookie", jar.join("; "))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed = c.signed("GET", "/v2/transactions", None).await.json["data"].as_array().unwrap().clone();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), listed.len(), "{csv}");
    for (row, o) in rows.iter().zip(&listed) {
        assert_eq!(
            (row[0], row[1], row[6]),
            (o["trxid"].as_str().unwrap(), o["refid"].as_str().unwrap(), o["price"].as_str().unwrap())
        );
    }

    // A form whose CSRF token was tampered with is refused.
    b.goto(&s.url("/dashboard/keys")).await.unwrap();
    b.execute("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')", vec![]).await.unwrap();
    click(b, "#create-key").await;
    let refused = body(b).await;
    assert!(refused.contains("the form has expired"), "{refused}");
    let logged = console_errors(b).await;
    assert!(logged.len() == 1 && logged[0].contains("403"), "only the refusal: {logged:?}");

    account
}

/// Live access asked by the merchant, approved by the operator, who deposits.
async fn operator_approves_and_deposits(s: &Server, axe: &str, b: &Browser, account: &str) -> (Driver, Browser) {
    // Live access: asked by the merchant, approved by the operator.
    b.goto(&s.url("/dashboard")).await.unwrap();
    click(b, "#request-live").await;
    let note = text_of(b, "live-note").await;
    assert!(note.contains("Live access requested"), "{note}: {}", body(b).await);
    check_page(b, axe, "overview-staging").await;
    let created: serde_json::Value =
        serde_json::from_str(&s.cli(&["operator", "create", "--email", "ops@example.com", "--json"])).unwrap();
    let (_driver2, op) = chromium().await;
    op.goto(&s.url("/operator")).await.unwrap();
    fill(&op, "email", "ops@example.com").await;
    fill(&op, "password", created["password"].as_str().unwrap()).await;
    fill(&op, "code", &totp_code(created["totp_secret"].as_str().unwrap())).await;
    check_page(&op, axe, "operator-login").await;
    click(&op, "form button[type=submit]").await;
    op.wait().for_element(Locator::Id("requests-h")).await.unwrap();
    check_page(&op, axe, "operator").await;
    follow(&op, account).await;
    click(&op, "#approve").await;
    // The console shows the new live account's page.
    assert!(text_of(&op, "notice").await.contains("Live access approved"));
    let shown = op.current_url().await.unwrap();
    let live = shown.path().rsplit('/').next().unwrap().to_owned();
    assert_ne!(live, account, "the live account is a new one");
    fill(&op, "amount", "250").await;
    fill(&op, "reason", "Float top-up, bank ref 8812").await;
    click(&op, "#deposit").await;
    assert!(text_of(&op, "notice").await.contains("deposit is recorded"));
    assert_eq!(text_of(&op, "balance").await, "RM 250.00");
    // Reloading the page after the deposit does not deposit again.
    op.refresh().await.unwrap();
    assert_eq!(text_of(&op, "balance").await, "RM 250.00");
    check_page(&op, axe, "operator-merchant").await;
    op.goto(&s.url("/operator/audit")).await.unwrap();
    assert!(body(&op).await.contains("approve live access"));
    check_page(&op, axe, "operator-audit").await;

    (_driver2, op)
}

/// The merchant's live account with the deposit; another merchant's order
/// by its URL.
async fn the_live_account_and_another_merchants_order(s: &Server, axe: &str, b: &Browser) {
    // The merchant's live account, with the deposit and its reason.
    b.goto(&s.url("/dashboard")).await.unwrap();
    click(b, "nav form input[value=live] ~ button").await;
    assert_eq!(text_of(b, "balance").await, "RM 250.00");
    check_page(b, axe, "overview-live").await;
    follow(b, "Statement").await;
    b.wait().for_element(Locator::Css("table")).await.unwrap();
    assert!(body(b).await.contains("Float top-up, bank ref 8812"));

    // Another merchant's order, by changing the refid in the URL.
    let other = s.merchant(&[], "50");
    Client::new(s, &other)
        .topup(json!({"refid": "THEIRS-1", "product": "D", "account": "0123456789", "amount": "10"}))
        .await;
    b.goto(&s.url("/dashboard/orders/THEIRS-1")).await.unwrap();
    let page = body(b).await;
    assert!(page.contains("You have no order with refid") && !page.contains("0123456789"));
    let logged = console_errors(b).await;
    assert!(logged.len() == 1 && logged[0].contains("404"), "only the not-found: {logged:?}");
}

/// A viewer invited from the members page; repeated wrong passwords.
async fn a_viewer_and_a_lock_out(s: &Server, axe: &str, b: &Browser) -> (Driver, Browser) {
    // A viewer, invited from the members page.
    b.goto(&s.url("/dashboard")).await.unwrap();
    follow(b, "Members").await;
    fill(b, "email", "viewer@example.com").await;
    b.find(Locator::Css("#role option[value=viewer]")).await.unwrap().click().await.unwrap();
    click(b, "#invite").await;
    let link = text_of(b, "invite-link").await;
    check_page(b, axe, "members").await;
    let (_driver3, v) = chromium().await;
    v.goto(&link).await.unwrap();
    fill(&v, "password", "viewer's password").await;
    check_page(&v, axe, "invite").await;
    click(&v, "form button[type=submit]").await;
    v.wait().for_element(Locator::Id("balance")).await.unwrap();
    assert!(v.find(Locator::LinkText("API keys")).await.is_err(), "no link to keys for a viewer");
    v.goto(&s.url("/dashboard/keys")).await.unwrap();
    assert!(text_of(&v, "message").await.contains("viewer role cannot manage API keys"));
    check_refused_page(&v, axe, "viewer-refused", Some(403)).await;

    // Wrong passwords: after five the log-in is locked, the right one too.
    click(&v, "nav form:last-of-type button").await;
    for attempt in 0..6 {
        v.wait().for_element(Locator::Id("username")).await.unwrap();
        fill(&v, "username", "viewer@example.com").await;
        let password = if attempt < 5 { "not the password" } else { "viewer's password" };
        fill(&v, "password", password).await;
        click(&v, "form button[type=submit]").await;
    }
    let locked = body(&v).await;
    assert!(locked.contains("Too many log-in attempts"), "{locked}");
    let logged: Vec<bool> = console_errors(&v).await.iter().map(|e| e.contains("status of 401")).collect();
    assert_eq!(logged, [true, true, true, true, true, false], "five refusals, then the lock (429)");
    check_page(&v, axe, "locked-out").await;
    (_driver3, v)
}

/// The pages the walk above did not open, each checked like the others.
async fn every_other_page(s: &Server, axe: &str, b: &Browser, op: &Browser) {
    for (path, name, marker) in [
        ("/dashboard/settings", "settings", "h1"),
        ("/dashboard/disputes", "disputes", "h1"),
        ("/dashboard/summary", "summary", "h1"),
        ("/dashboard/transactions?status=SUCCESSFUL", "transactions-live", "h1"),
        ("/dashboard/password/forgot", "forgot", "h1"),
    ] {
        b.goto(&s.url(path)).await.unwrap();
        b.wait().for_element(Locator::Css(marker)).await.unwrap();
        check_page(b, axe, name).await;
    }
    for (path, name) in [
        ("/operator/orders", "operator-orders"),
        ("/operator/disputes", "operator-disputes"),
        ("/operator/system", "operator-system"),
        ("/operator/catalogue", "operator-catalogue"),
    ] {
        op.goto(&s.url(path)).await.unwrap();
        op.wait().for_element(Locator::Css("h1")).await.unwrap();
        check_page(op, axe, name).await;
    }
}
