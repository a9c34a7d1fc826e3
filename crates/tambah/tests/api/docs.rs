//! The examples of `docs/api.md` marked `<!-- example: GET path -->` are
//! checked against a live server: the same keys in the same order with the
//! same JSON types (values differ: they are examples). And the HTML
//! reference (`/reference`) is served.

use serde_json::Value;

use crate::harness::*;
use crate::snapshots::assert_shape;

/// (path, example) pairs from the API reference.
fn examples() -> Vec<(String, Value)> {
    let path = format!("{}/../../docs/api.md", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("<!-- example: GET ") else { continue };
        let request = rest.trim_end_matches("-->").trim().to_owned();
        assert_eq!(lines.next(), Some("```json"), "a json block follows the marker of {request}");
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let example: Value = serde_json::from_str(&block.join("\n")).unwrap_or_else(|e| panic!("{request}: {e}"));
        out.push((request, example));
    }
    out
}

/// Arrays in examples show one item: compare it with the first actual one.
fn first_items(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().take(1).map(first_items).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), first_items(v))).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn api_reference_examples_match_live_answers() {
    let found = examples();
    assert!(found.len() >= 7, "the reference marks its examples: {}", found.len());
    let s = Server::start(&[]);
    let m = s.merchant(&[], "100");
    let c = Client::new(&s, &m);
    for (request, example) in found {
        let r = c.signed("GET", &request, None).await;
        assert_eq!(r.status, 200, "{request}: {:?}", r.json);
        assert_shape(&first_items(&example), &first_items(&r.json), &[], &[], &request);
    }
}

/// Every topup request the docs show as a JSON body (an object with `refid`
/// and `product`) succeeds as written on a staging merchant: a reader who
/// copies one gets 20, not a refusal.
#[tokio::test]
async fn topup_examples_succeed_as_written() {
    let mut bodies = Vec::new();
    for doc in ["docs/api.md", "README.md"] {
        let text = std::fs::read_to_string(format!("{}/../../{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for block in text.split("```json\n").skip(1) {
            let json = block.split("\n```").next().unwrap_or("");
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(json) {
                if v.get("refid").is_some() && v.get("product").is_some() && v.get("statuscode").is_none() {
                    bodies.push((doc, v));
                }
            }
        }
    }
    assert!(bodies.len() >= 2, "the docs show topup bodies: {}", bodies.len());
    let s = Server::start(&[]);
    let m = s.merchant(&[], "500");
    let c = Client::new(&s, &m);
    for (doc, body) in bodies {
        let r = c.topup(body.clone()).await;
        assert_eq!(r.code(), "20", "{doc}: {body} answered {:?}", r.json);
    }
}

/// The HTML reference is served by the binary itself.
#[tokio::test]
async fn the_html_reference_is_served() {
    let s = Server::start(&[]);
    let r = reqwest::get(s.url("/reference")).await.unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(r.text().await.unwrap().contains("/v2/topup"));
}

/// Every image URL the API lists (product list in both versions, v1
/// products, the catalogue's products and groups, a transaction's product)
/// answers 200 with a PNG; a path that could not be a code answers 404.
#[tokio::test]
async fn every_listed_image_url_answers_with_an_image() {
    let s = Server::start(&[]);
    let c = Client::new(&s, &s.merchant(&[], "1"));
    assert_eq!(
        c.topup(serde_json::json!({"refid": "IMG-1", "product": "D", "account": "0123456789", "amount": "10"}))
            .await
            .status,
        200
    );
    let mut urls = std::collections::BTreeSet::new();
    let mut collect = |v: &Value, keys: &[&str]| {
        let mut stack = vec![v.clone()];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        match v.as_str() {
                            Some(u) if keys.contains(&k.as_str()) => drop(urls.insert(u.to_owned())),
                            _ => stack.push(v),
                        }
                    }
                }
                Value::Array(a) => stack.extend(a),
                _ => {}
            }
        }
    };
    let keys = ["product_img", "image_url", "icon_url", "product_image_url"];
    for path in ["/v2/product-list", "/v1/products", "/v2/catalog?include_hidden=true", "/v2/transactions"] {
        collect(&c.signed("GET", path, None).await.json, &keys);
    }
    let v2025 = c.signed_raw("GET", "/v2/product-list", "", b"", &[("X-Api-Version", "2025-05-20")]).await;
    collect(&v2025.json, &keys);
    assert!(urls.len() > 60, "only {} image URLs", urls.len());
    for url in &urls {
        let path = &url[url.find("/img/").unwrap_or_else(|| panic!("{url}"))..];
        let r = reqwest::get(s.url(path)).await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["content-type"], "image/png", "{url}");
        assert_eq!(&r.bytes().await.unwrap()[..4], b"\x89PNG", "{url}");
    }
    for path in ["/img/..%2Fetc.png", "/img/A%20B.png", "/img/D", "/img/groups/Mobile.png"] {
        assert_eq!(reqwest::get(s.url(path)).await.unwrap().status(), 404, "{path}");
    }
}
