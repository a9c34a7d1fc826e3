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
