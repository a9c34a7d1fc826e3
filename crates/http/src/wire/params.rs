//! Request parameters from a JSON or `application/x-www-form-urlencoded` body
//! (and the query string), flattened to strings. Numbers keep their exact
//! text (serde_json's arbitrary precision), so amounts never pass through a float.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use serde_json::Value;

use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct Params {
    pub fields: BTreeMap<String, String>,
    pub extras: BTreeMap<String, String>,
}

impl Params {
    pub fn get(&self, name: &str) -> Option<String> {
        self.fields.get(name).cloned()
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        _ => None,
    }
}

fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    let content_type =
        headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("application/json") || content_type.contains("+json") {
        return true;
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return false;
    }
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Parses the body (JSON object or form), then fills absent fields from the query.
pub fn parse(headers: &HeaderMap, raw_query: &str, body: &[u8]) -> Result<Params, ApiError> {
    let mut p = Params::default();
    if !body.iter().all(u8::is_ascii_whitespace) {
        if is_json(headers, body) {
            let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
                code: "invalid_json",
                message: format!("the body is not valid JSON: {e}"),
            })?;
            let Value::Object(map) = value else {
                return Err(ApiError::BadRequest {
                    code: "invalid_json",
                    message: "the body must be a JSON object".into(),
                });
            };
            for (k, v) in map {
                if k == "extras" {
                    if let Value::Object(extras) = &v {
                        for (ek, ev) in extras {
                            if let Some(s) = scalar(ev) {
                                p.extras.insert(ek.clone(), s);
                            }
                        }
                    }
                } else if let Some(s) = scalar(&v) {
                    p.fields.insert(k, s);
                }
            }
        } else {
            add_form(&mut p, body);
        }
    }
    let mut from_query = Params::default();
    add_form(&mut from_query, raw_query.as_bytes());
    for (k, v) in from_query.fields {
        p.fields.entry(k).or_insert(v);
    }
    for (k, v) in from_query.extras {
        p.extras.entry(k).or_insert(v);
    }
    Ok(p)
}

fn add_form(p: &mut Params, bytes: &[u8]) {
    for (k, v) in form_urlencoded::parse(bytes) {
        if let Some(inner) = k.strip_prefix("extras[").and_then(|r| r.strip_suffix(']')) {
            p.extras.insert(inner.to_owned(), v.into_owned());
        } else {
            p.fields.insert(k.into_owned(), v.into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_keep_their_exact_text() {
        let p = parse(&HeaderMap::new(), "", br#"{"amount": 10.10, "refid": "a", "extras": {"subproduct_code": "K"}}"#)
            .unwrap();
        assert_eq!(p.get("amount").unwrap(), "10.10");
        assert_eq!(p.extras["subproduct_code"], "K");
    }

    #[test]
    fn forms_and_query() {
        let p = parse(
            &HeaderMap::new(),
            "remarks=q&refid=ignored",
            b"refid=R1&amount=5&extras%5Bic_number%5D=900101145678",
        )
        .unwrap();
        assert_eq!(p.get("refid").unwrap(), "R1");
        assert_eq!(p.get("remarks").unwrap(), "q");
        assert_eq!(p.extras["ic_number"], "900101145678");
    }

    #[test]
    fn bad_json_is_a_400() {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(matches!(parse(&h, "", b"{nope"), Err(ApiError::BadRequest { .. })));
        assert!(matches!(parse(&h, "", b"[1]"), Err(ApiError::BadRequest { .. })));
    }
}
