//! The operator console's catalogue and a merchant's pricing level against
//! a real server, as a browser without script would use them: the page
//! lists every product the API lists; a catalogue imported from the page
//! is what the API lists next, a refused one changes nothing; stock set
//! from the page is what the CLI shows; a level set on the merchant's page
//! changes the discount it is listed and charged at; each action is in the
//! audit log; a forged form is refused; a merchant session opens none of it.

use serde_json::{json, Value};

use crate::browsing::*;
use crate::harness::*;

/// The products `/v2/product-list` lists to the merchant.
async fn listed(c: &Client) -> Vec<Value> {
    let r = c.signed("GET", "/v2/product-list", None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.json["data"].as_array().expect("a product list").clone()
}

/// One listed product's field.
async fn listed_field(c: &Client, code: &str, field: &str) -> String {
    let products = listed(c).await;
    let p = products.iter().find(|p| p["product_code"] == code).unwrap_or_else(|| panic!("{code} listed"));
    p[field].as_str().unwrap().to_owned()
}

/// A product's row of the catalogue page.
fn row<'a>(body: &'a str, code: &str) -> &'a str {
    let start = body.split(&format!("<tr id=\"product-{code}\">")).nth(1).unwrap_or_else(|| panic!("{code} in {body}"));
    start.split("</tr>").next().unwrap()
}

/// Every product the API lists is on the page, with its discount by level
/// and, for a PIN product, its stock; the search narrows by code or name.
#[tokio::test]
async fn the_catalogue_page_lists_every_product_the_api_lists() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let mut op = signed_in_operator(&s, "ops@example.com").await;
    let page = op.get("/operator/catalogue").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/operator/catalogue\""), "the console's nav links it");
    let products = listed(&c).await;
    assert!(products.len() >= 50, "{products:?}");
    for p in &products {
        let code = p["product_code"].as_str().unwrap();
        assert!(row(&page.body, code).contains(p["product_name"].as_str().unwrap()), "{code}");
    }
    assert!(page.body.contains(&format!("{0} of {0} products", products.len())), "{}", page.body);
    let d = row(&page.body, "D");
    for text in
        ["reload", "Active", "5, 10, 15", "default: <span class=\"discount\">3%", "15: <span class=\"discount\">4%"]
    {
        assert!(d.contains(text), "{text} in {d}");
    }
    assert!(row(&page.body, "CP").contains("unlimited"), "a PIN product's stock");
    assert!(row(&page.body, "D").contains("—"), "a reload counts no stock");
    assert!(page.body.contains("64 KiB"), "the form states the body limit");

    let found = op.get("/operator/catalogue?q=digi").await;
    assert!(found.body.contains("id=\"product-D\"") && found.body.contains("id=\"product-DP\""), "{}", found.body);
    assert!(!found.body.contains("id=\"product-C\"") && !found.body.contains("of 1 products"), "{}", found.body);
    let none = op.get("/operator/catalogue?q=nothing-such").await;
    assert!(none.body.contains("id=\"none-found\""), "{}", none.body);
}

/// The catalogue the server uses, as `tambah catalog show --json` prints it.
fn active_catalogue(s: &Server) -> Value {
    serde_json::from_str(&s.cli(&["catalog", "show", "--json"])).unwrap()
}

/// A refused catalogue (not JSON, or a product at fault) is shown with its
/// reason and changes nothing; a forged form is refused; an imported one
/// is what the API lists next, and the audit log has it.
#[tokio::test]
async fn a_catalogue_imported_from_the_page_is_what_the_api_lists() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let mut op = signed_in_operator(&s, "ops@example.com").await;
    let page = op.get("/operator/catalogue").await;
    let csrf = Browser::csrf(&page);
    let before = listed_field(&c, "D", "product_name").await;
    assert_eq!(before, "Digi Prepaid");

    let refused = op.post("/operator/catalogue/import", &[("csrf", &csrf), ("json", "{not json")]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("id=\"error\"") && refused.body.contains("catalogue: key must be a string"));
    assert!(refused.body.contains(">{not json</textarea>"), "the refused text is kept: {}", refused.body);
    let mut bad = active_catalogue(&s);
    bad["products"][2]["datatype"] = json!("Float");
    let bad = serde_json::to_string(&bad).unwrap();
    let refused = op.post("/operator/catalogue/import", &[("csrf", &csrf), ("json", &bad)]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("catalogue product D: datatype &#34;Float&#34; is not Integer"), "{}", refused.body);
    let empty = op.post("/operator/catalogue/import", &[("csrf", &csrf), ("json", " ")]).await;
    assert_eq!(empty.status, 400, "{}", empty.body);

    let mut renamed = active_catalogue(&s);
    assert_eq!(renamed["products"][2]["code"], "D");
    renamed["products"][2]["name"] = json!("Digi Prepaid Renamed");
    let renamed = serde_json::to_string(&renamed).unwrap();
    let forged = op.post("/operator/catalogue/import", &[("csrf", "x"), ("json", &renamed)]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(listed_field(&c, "D", "product_name").await, before, "nothing refused changes the catalogue");
    assert!(!op.get("/operator/audit").await.body.contains("import catalogue"));

    let done = op.post("/operator/catalogue/import", &[("csrf", &csrf), ("json", &renamed)]).await;
    assert_eq!((done.status, done.location.as_str()), (303, "/operator/catalogue?done=imported"), "{}", done.body);
    assert_eq!(listed_field(&c, "D", "product_name").await, "Digi Prepaid Renamed", "this node uses it at once");
    let page = op.get(&done.location).await;
    assert!(page.body.contains("id=\"notice\"") && row(&page.body, "D").contains("Digi Prepaid Renamed"));
    let shown = active_catalogue(&s);
    assert_eq!(shown["products"][2]["name"], "Digi Prepaid Renamed", "the CLI shows the imported one");
    let products = shown["products"].as_array().unwrap().len();
    let audit = op.get("/operator/audit").await;
    assert!(audit.body.contains("import catalogue"), "{}", audit.body);
    assert!(audit.body.contains(&format!(": {products} products")), "{}", audit.body);
}

/// Stock set from the page is what `tambah catalog show` lists; a product
/// that counts none is refused; unlimited clears it; each is audited.
#[tokio::test]
async fn stock_set_from_the_page_is_what_the_cli_shows() {
    let s = Server::start(&[]);
    let mut op = signed_in_operator(&s, "ops@example.com").await;
    let page = op.get("/operator/catalogue").await;
    let csrf = Browser::csrf(&page);
    let cli_stock = |s: &Server| {
        let out = s.cli(&["catalog", "show"]);
        let line = out.lines().find(|l| l.starts_with("CP ")).unwrap().to_owned();
        line.split_whitespace().last().unwrap().to_owned()
    };
    assert_eq!(cli_stock(&s), "-");

    let forged = op.post("/operator/catalogue/stock", &[("csrf", "x"), ("product", "CP"), ("units", "5")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(cli_stock(&s), "-", "a forged form changes nothing");
    let set = op.post("/operator/catalogue/stock", &[("csrf", &csrf), ("product", "CP"), ("units", "5")]).await;
    assert_eq!((set.status, set.location.as_str()), (303, "/operator/catalogue?done=stock"), "{}", set.body);
    assert_eq!(cli_stock(&s), "5");
    let page = op.get(&set.location).await;
    assert!(page.body.contains("id=\"notice\"") && row(&page.body, "CP").contains(">5<"), "{}", page.body);

    let reload = op.post("/operator/catalogue/stock", &[("csrf", &csrf), ("product", "D"), ("units", "5")]).await;
    assert_eq!(reload.status, 400, "{}", reload.body);
    assert!(reload.body.contains("product D counts no stock"), "{}", reload.body);
    let words = op.post("/operator/catalogue/stock", &[("csrf", &csrf), ("product", "CP"), ("units", "many")]).await;
    assert_eq!(words.status, 400, "{}", words.body);
    assert_eq!(cli_stock(&s), "5", "a refused form changes nothing");

    let fields = [("csrf", csrf.as_str()), ("product", "CP"), ("units", ""), ("unlimited", "1")];
    let unlimited = op.post("/operator/catalogue/stock", &fields).await;
    assert_eq!(unlimited.status, 303, "{}", unlimited.body);
    assert_eq!(cli_stock(&s), "-");
    let audit = op.get("/operator/audit").await;
    assert!(audit.body.contains("set stock") && audit.body.contains("product CP: 5 units left"), "{}", audit.body);
    assert!(audit.body.contains("product CP: unlimited"), "{}", audit.body);
}

/// A level with its own discount in the catalogue changes what the
/// merchant is listed and charged; a malformed one is refused; both forms
/// are audited or refused.
#[tokio::test]
async fn a_level_set_on_the_merchant_page_changes_its_prices() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let mut op = signed_in_operator(&s, "ops@example.com").await;
    let path = format!("/operator/merchants/{}", m.account);
    let page = op.get(&path).await;
    assert!(page.body.contains("id=\"level\" name=\"level\" value=\"1\""), "{}", page.body);
    let csrf = Browser::csrf(&page);
    let level_path = format!("{path}/level");
    assert_eq!(listed_field(&c, "D", "discount").await, "3%", "the default discount");

    assert_eq!(op.post(&level_path, &[("csrf", "x"), ("level", "15")]).await.status, 403);
    let bad = op.post(&level_path, &[("csrf", &csrf), ("level", "fifteen percent")]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("must be 1-16 letters or digits"), "{}", bad.body);
    assert_eq!(listed_field(&c, "D", "discount").await, "3%", "nothing refused changes the level");

    let set = op.post(&level_path, &[("csrf", &csrf), ("level", "15")]).await;
    assert_eq!((set.status, set.location.clone()), (303, format!("{path}?done=level")), "{}", set.body);
    let page = op.get(&set.location).await;
    assert!(page.body.contains("The pricing level is saved.") && page.body.contains("<dd>15</dd>"), "{}", page.body);
    assert_eq!(listed_field(&c, "D", "discount").await, "4%", "level 15's discount");
    assert_eq!(listed_field(&c, "C", "discount").await, "3%", "no discount for 15: the default");
    let order = json!({"refid": "LVL-1", "product": "D", "account": "0123456789", "amount": "10"});
    assert_eq!(c.topup(order).await.code(), "20");
    assert_eq!(c.balance().await, "90.4", "charged 9.60 at 4%");

    let audit = op.get("/operator/audit").await;
    assert!(audit.body.contains("set level") && audit.body.contains("from 1 to 15"), "{}", audit.body);
    assert!(audit.body.contains(&m.account), "{}", audit.body);
    assert_verified(&s.db);
}

/// A merchant's session opens neither the catalogue nor its actions, nor
/// sets a level.
#[tokio::test]
async fn a_merchant_session_opens_no_catalogue_page() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let mut b = Browser::new(&s);
    assert_eq!(b.log_in(&m).await.location, "/dashboard");
    for path in ["/operator/catalogue", "/operator/catalogue?q=D"] {
        assert_eq!(b.get(path).await.location, "/operator/login", "{path}");
    }
    let level = format!("/operator/merchants/{}/level", m.account);
    for path in ["/operator/catalogue/import", "/operator/catalogue/stock", level.as_str()] {
        let page = b.post(path, &[("csrf", "x"), ("json", "{}"), ("product", "CP"), ("level", "15")]).await;
        assert_eq!((page.status, page.location.as_str()), (303, "/operator/login"), "{path}");
    }
}
