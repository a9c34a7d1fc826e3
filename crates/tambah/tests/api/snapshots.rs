//! Wire shapes pinned to the examples of `spec/API.md` (copied verbatim into
//! `snapshots/`): the same keys in the same order with the same JSON types,
//! and the same values wherever the value is determined by the request.

use serde_json::{json, Value};

use crate::harness::*;

fn snapshot(name: &str) -> Value {
    let path = format!("{}/tests/api/snapshots/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys in the same order and the same types, recursively; values equal
/// for every key in `exact`. `extra` keys may follow (additive superset).
pub(crate) fn assert_shape(expected: &Value, actual: &Value, exact: &[&str], extra: &[&str], at: &str) {
    assert_eq!(kind(expected), kind(actual), "{at}: type of {actual}");
    if let (Value::Object(e), Value::Object(a)) = (expected, actual) {
        let ekeys: Vec<&String> = e.keys().collect();
        let akeys: Vec<&String> = a.keys().filter(|k| !extra.contains(&k.as_str())).collect();
        assert_eq!(ekeys, akeys, "{at}: keys");
        for (k, ev) in e {
            let av = &a[k];
            assert_shape(ev, av, exact, extra, &format!("{at}.{k}"));
            if exact.contains(&k.as_str()) {
                assert_eq!(ev, av, "{at}.{k}");
            }
        }
    }
}

const TOPUP_EXACT: &[&str] = &[
    "statuscode",
    "statusCode",
    "status",
    "account",
    "product",
    "productName",
    "amount",
    "pin",
    "expiry",
    "cost",
    "remarks",
    "refid",
    "note",
    "voucherlink",
];

#[tokio::test]
async fn topup_responses_match_the_spec_examples() {
    let s = Server::start(&[]);
    let seed = s.merchant(&[], "160.80");
    let current = s.merchant(&["--api-version", "2025-05-20"], "160.80");
    let body = json!({"refid": "UID-123", "product": "C", "account": "0113242124", "amount": "10"});

    let r = Client::new(&s, &seed).topup(body.clone()).await;
    assert_shape(&snapshot("topup-2023-10-01.json"), &r.json, TOPUP_EXACT, &[], "2023-10-01");
    // 160.80 - 9.70 = 151.10, as in the example.
    assert_eq!(r.json["balance"], "151.10");

    let r = Client::new(&s, &current).topup(body.clone()).await;
    assert_shape(&snapshot("topup-2025-05-20.json"), &r.json, TOPUP_EXACT, &[], "2025-05-20");
    assert_eq!(r.json["data"]["balance"], json!(151.1));

    let v1 = s.merchant(&[], "160.80");
    let r = Client::new(&s, &v1).signed("POST", "/v1/topup", Some(&body)).await;
    assert_shape(&snapshot("topup-v1.json"), &r.json, TOPUP_EXACT, &[], "v1");

    // Timestamps are Malaysia time, yyyy-MM-dd HH:mm:ss.
    let ts = r.json["data"]["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 19, "{ts}");
    assert_eq!((&ts[4..5], &ts[10..11], &ts[13..14]), ("-", " ", ":"));
}

#[tokio::test]
async fn balance_products_and_token_match_the_spec_examples() {
    let s = Server::start(&[]);
    let m = s.merchant(&["--name", "Demo Sdn Bhd", "--level", "12"], "151.10");
    let c = Client::new(&s, &m);
    let r = c.signed("GET", "/v2/balance", None).await;
    assert_shape(&snapshot("balance.json"), &r.json, &["name", "balance", "level", "access"], &[], "balance");

    let r = c.signed("GET", "/v2/product-list", None).await;
    let cb = r.json["data"].as_array().unwrap().iter().find(|p| p["product_code"] == "CB").unwrap();
    let exact = [
        "status",
        "category",
        "product_code",
        "operator_code",
        "product_name",
        "denomination",
        "unit_price",
        "discount",
        "update_time",
        "note",
        "datatype",
        "display_name",
        "group_type",
        "category_code",
        "has_subproduct",
        "should_sync",
    ];
    assert_shape(&snapshot("product-2023-10-01.json"), cb, &exact, &[], "product 2023-10-01");

    let r = c.signed_raw("GET", "/v2/product-list", "", b"", &[("X-Api-Version", "2025-05-20")]).await;
    let d = r.json["data"].as_array().unwrap().iter().find(|p| p["product_code"] == "D").unwrap();
    let exact = [
        "status",
        "has_subproduct",
        "product_code",
        "product_name",
        "account_label",
        "keyboard_type",
        "denomination",
        "common_denominations",
        "denomination_data_type",
        "denomination_currency",
        "product_group",
        "category",
        "account_type",
        "is_refundable",
    ];
    assert_shape(&snapshot("product-2025-05-20.json"), d, &exact, &["unit_price", "discount"], "product 2025-05-20");

    let r = read(
        reqwest::Client::new()
            .post(s.url("/v2/token"))
            .json(&json!({"username": m.username, "password": m.password}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_shape(&snapshot("token.json"), &r.json, &["ExpiresIn", "TokenType"], &[], "token");
}
