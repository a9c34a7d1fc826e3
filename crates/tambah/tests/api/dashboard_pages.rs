//! The dashboard's price list and charts against a real server, compared
//! with what the API answers the same merchant.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::browsing::*;
use crate::harness::*;

/// The table row with this id, up to its end.
fn row<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let start = body.find(&format!("<tr id=\"{id}\""))?;
    let len = body[start..].find("</tr>")?;
    Some(&body[start..start + len])
}

/// The product codes of a price list page, in page order.
fn listed_codes(body: &str) -> Vec<String> {
    body.split("<tr id=\"product-").skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_owned()).collect()
}

/// Minor units (RM × 10⁴) as the pages write money: two decimals at least,
/// four at most.
fn cents(minor: i64) -> String {
    let mut text = format!("{}.{:04}", minor / 10_000, minor % 10_000);
    while text.ends_with('0') && text.len() - text.find('.').unwrap() > 3 {
        text.pop();
    }
    text
}

/// What the merchant pays for `amount` of a product the API lists with
/// `unit_price` and `discount` ("1.0", "3.5%"): amount × unit price ×
/// (1 − discount), half up to a minor unit, at least one.
fn expected_price(amount: &str, unit_price: &str, discount: &str) -> String {
    let amount = i128::from(minor_units(amount));
    let unit_bp = i128::from(minor_units(unit_price));
    let discount_bp = i128::from(minor_units(discount.trim_end_matches('%')) / 100);
    let denominator = 100_000_000;
    let minor = (amount * unit_bp * (10_000 - discount_bp) + denominator / 2) / denominator;
    cents(i64::try_from(minor.max(1)).unwrap())
}

#[test]
fn money_is_written_as_the_pages_write_it() {
    assert_eq!(cents(97_000), "9.70");
    assert_eq!(cents(486_333), "48.6333");
    assert_eq!(cents(100_000), "10.00");
    assert_eq!(expected_price("10", "1.0", "3%"), "9.70");
    assert_eq!(expected_price("10", "1.0", "3.5%"), "9.65");
}

#[tokio::test]
async fn the_price_list_shows_every_product_at_the_api_s_price_and_searches() {
    let s = Server::start(&[]);
    // Level 12 has discounts of its own (3.5% on D, not the default 3%).
    let m = s.merchant(&["--level", "12"], "100");
    let c = Client::new(&s, &m);
    let listed = c.signed("GET", "/v2/product-list", None).await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    let products = listed.json["data"].as_array().unwrap().clone();
    assert!(products.len() > 10, "the built-in catalogue: {}", listed.json);
    let mut b = Browser::new(&s);
    b.log_in_ok(&m).await;
    let page = b.get("/dashboard/prices").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("href=\"/dashboard/prices\" aria-current=\"page\""), "the nav marks the page");
    let api_codes: Vec<String> = products.iter().map(|p| p["product_code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed_codes(&page.body), api_codes, "every product the API lists, in its order");
    for p in &products {
        let code = p["product_code"].as_str().unwrap();
        let line = row(&page.body, &format!("product-{code}")).unwrap();
        let text = |field: &str| p[field].as_str().unwrap_or_else(|| panic!("{field} of {p}")).to_owned();
        let (unit_price, discount) = (text("unit_price"), text("discount"));
        assert!(line.contains(&format!("class=\"num discount\">{discount}<")), "{code}: discount {discount}: {line}");
        assert!(line.contains(&format!("<img src=\"/img/{code}.png\"")), "{code}: its image: {line}");
        let denomination = text("denomination");
        let amounts: Vec<&str> = match denomination.split_once('-') {
            Some((min, max)) => vec![min, max],
            None => denomination.split(',').collect(),
        };
        for amount in amounts {
            let pays = expected_price(amount, &unit_price, &discount);
            let shown = format!("RM <span class=\"amount\">{amount}</span> for RM <span class=\"pays\">{pays}</span>");
            assert!(line.contains(&shown), "{code}: RM {amount} costs RM {pays}: {line}");
        }
    }
    let digi = row(&page.body, "product-D").expect("Digi Prepaid is listed");
    assert!(digi.contains("alt=\"Digi Prepaid\"") && digi.contains(">9.65<"), "RM 10 of D at 3.5% off: {digi}");

    // The search is on code or name, whatever the case.
    let found = b.get("/dashboard/prices?q=dIgI&family=").await;
    assert_eq!(found.status, 200);
    let expected: Vec<String> = products
        .iter()
        .filter(|p| {
            let field = |f: &str| p[f].as_str().unwrap().to_lowercase();
            field("product_code").contains("digi") || field("product_name").contains("digi")
        })
        .map(|p| p["product_code"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected.contains(&"D".to_owned()) && expected.len() < products.len());
    assert_eq!(listed_codes(&found.body), expected, "a search narrows the list");
    assert!(found.body.contains("value=\"dIgI\""), "the search is shown back");

    // The family filter keeps that family only, and offers the families present.
    let pins = b.get("/dashboard/prices?family=pin").await;
    let pin_codes = listed_codes(&pins.body);
    assert!(!pin_codes.is_empty() && !pin_codes.contains(&"D".to_owned()), "{pin_codes:?}");
    assert!(pin_codes.iter().all(|code| row(&pins.body, &format!("product-{code}")).unwrap().contains("<td>pin</td>")));
    assert!(pins.body.contains("<option value=\"pin\" selected>"), "the family is selected");
    assert!(pins.body.contains("<option value=\"reload\">"), "the other families are offered");
    let none = b.get("/dashboard/prices?q=no-such-product").await;
    assert!(listed_codes(&none.body).is_empty() && none.body.contains("No product matches"), "{}", none.body);
}

/// Buys three D reloads that succeed and one that fails (a staging account
/// that always fails), and waits until none is pending.
async fn three_successes_and_a_failure(c: &Client) -> Value {
    for (refid, account) in
        [("CH-1", "0123456789"), ("CH-2", "0123456789"), ("CH-3", "0123456789"), ("CH-4", "60123450048")]
    {
        let bought = c.topup(json!({"refid": refid, "product": "D", "account": account, "amount": "10"})).await;
        assert_eq!(bought.status, 200, "{refid}: {}", bought.json);
    }
    for _ in 0..100 {
        let listed = c.signed("GET", "/v2/transactions", None).await.json;
        if listed["meta"]["pending_count"] == "0" {
            return listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("orders still pending after 10 s");
}

#[tokio::test]
async fn the_charts_count_the_days_orders_and_each_products_success_rate() {
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    let listed = three_successes_and_a_failure(&c).await;
    let meta = &listed["meta"];
    assert_eq!((&meta["transaction_count"], &meta["successful_count"]), (&json!("4"), &json!("3")), "{listed}");
    let (count, amount) = (meta["transaction_count"].as_str().unwrap(), meta["total_amount"].as_str().unwrap());
    assert_eq!(amount, "30.00", "{listed}");
    let dates: BTreeSet<&str> =
        listed["data"].as_array().unwrap().iter().map(|o| &o["date"].as_str().unwrap()[..10]).collect();
    assert_eq!(dates.len(), 1, "bought on one day: {dates:?}");
    let today = *dates.first().unwrap();

    let mut b = Browser::new(&s);
    b.log_in_ok(&m).await;
    for path in ["/dashboard/charts".to_owned(), format!("/dashboard/charts?from={today}&to={today}")] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let day = row(&page.body, &format!("day-{today}")).unwrap_or_else(|| panic!("{path}: no row for {today}"));
        assert!(day.contains(&format!(">{count}<")) && day.contains(&format!(">{amount}<")), "{path}: {day}");
        let rate = row(&page.body, "rate-D").unwrap_or_else(|| panic!("{path}: no rate for D"));
        assert!(rate.contains(">75%<") && rate.contains(">3<") && rate.contains(">4<"), "{path}: {rate}");
        assert!(rate.contains("role=\"img\" aria-label=\"D: 75% successful, 3 of 4 orders\""), "{rate}");
        assert!(rate.contains("class=\"rate-fill\" x=\"0\" y=\"0\" width=\"75.0\""), "{rate}");
        // Each chart is named by its numbers in words.
        assert!(page.body.contains(&format!("{count} in all; {count} on {today}")), "{path}: {}", page.body);
        assert!(page.body.contains(&format!("RM {amount} in all; RM {amount} on {today}")), "{path}");
        assert_eq!(page.body.matches("<svg class=\"chart\"").count(), 2, "two daily charts");
        assert!(!page.body.contains("style="), "no inline style: the CSP refuses it");
    }
    let default = b.get("/dashboard/charts").await;
    assert_eq!(default.body.matches("<tr id=\"day-").count(), 30, "the last 30 days by default");
    assert!(default.body.contains("href=\"/dashboard/charts\" aria-current=\"page\""), "the nav marks the page");
    let one_day = b.get(&format!("/dashboard/charts?from={today}&to={today}")).await;
    assert_eq!(one_day.body.matches("<tr id=\"day-").count(), 1);

    // A range before any order: every day, all zero, and no product.
    let quiet = b.get("/dashboard/charts?from=2020-01-01&to=2020-01-31").await;
    assert_eq!(quiet.status, 200);
    assert_eq!(quiet.body.matches("<tr id=\"day-").count(), 31);
    assert!(quiet.body.contains("No orders in this range") && !quiet.body.contains("rate-D"), "{}", quiet.body);

    for (query, words) in [
        ("from=yesterday", "not a date"),
        ("to=2026-02-30", "not a date"),
        ("from=2026-03-02&to=2026-03-01", "after the end date"),
        ("from=2024-01-01&to=2025-01-01", "at most 366 days"),
    ] {
        let bad = b.get(&format!("/dashboard/charts?{query}")).await;
        assert_eq!(bad.status, 400, "{query}");
        assert!(bad.body.contains(words) && bad.body.contains("name=\"from\""), "{query}: {}", bad.body);
    }
    // 366 days, a leap year's, is allowed.
    assert_eq!(b.get("/dashboard/charts?from=2024-01-01&to=2024-12-31").await.status, 200);
}
