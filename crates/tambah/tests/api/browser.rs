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
    assert_eq!(accessibility_violations(&b, &axe).await, Vec::<String>::new(), "log-in page");
    screenshot(&b, "login").await;
    b.find(Locator::Id("username")).await.unwrap().send_keys(&m.username).await.unwrap();
    b.find(Locator::Id("password")).await.unwrap().send_keys(&m.password).await.unwrap();
    b.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    let balance = b.wait().for_element(Locator::Id("balance")).await.unwrap().text().await.unwrap();
    let api = c.signed("GET", "/v2/balance", None).await.json["data"]["balance"].clone();
    assert_eq!(balance, format!("RM {:.2}", api.as_f64().unwrap()), "the balance the API reports");
    assert!(b.source().await.unwrap().contains("WEB-1"));
    assert_eq!(accessibility_violations(&b, &axe).await, Vec::<String>::new(), "overview");
    screenshot(&b, "overview").await;
    b.find(Locator::LinkText("Transactions")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Id("csv")).await.unwrap();
    b.find(Locator::Css("#status option[value=FAILED]")).await.unwrap().click().await.unwrap();
    b.find(Locator::Css("form.filters button")).await.unwrap().click().await.unwrap();
    // The results page shows the search it ran.
    b.wait().for_element(Locator::Css("#status option[value=FAILED][selected]")).await.unwrap();
    let page = b.source().await.unwrap();
    assert!(page.contains("WEB-2") && !page.contains("WEB-1"), "only the failed order");
    assert_eq!(accessibility_violations(&b, &axe).await, Vec::<String>::new(), "transactions");
    screenshot(&b, "transactions").await;
    b.find(Locator::LinkText("WEB-2")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css("dl.facts")).await.unwrap();
    assert!(b.source().await.unwrap().contains("60123450048"));
    assert_eq!(accessibility_violations(&b, &axe).await, Vec::<String>::new(), "an order");
    screenshot(&b, "order").await;
    b.find(Locator::LinkText("Statement")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Css("table")).await.unwrap();
    assert!(b.source().await.unwrap().contains("Transaction WEB-1 (D)"));
    assert_eq!(accessibility_violations(&b, &axe).await, Vec::<String>::new(), "statement");
    screenshot(&b, "statement").await;
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
