//! Request parameters from a JSON or `application/x-www-form-urlencoded` body
//! (and the query string), flattened to strings. Numbers keep their exact
//! text (serde_json's arbitrary precision), so amounts never pass through a float.
//!
//! Every name means one value: a JSON key given twice in one object (at any
//! depth), or a form or query parameter given twice, is refused
//! (`duplicate_field`) rather than resolved by whichever parser reads it
//! last. `extras` is a flat object of names to strings or numbers: nested
//! values, `null` and booleans are refused (`invalid_extras`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use axum::http::HeaderMap;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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

fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    let content_type =
        headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("application/json") || content_type.contains("+json") {
        return true;
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return false;
    }
    opens_an_object(body)
}

/// Whether the first byte past whitespace is `{`.
fn opens_an_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Parses the body (JSON object or form), then fills absent fields from the query.
pub fn parse(headers: &HeaderMap, raw_query: &str, body: &[u8]) -> Result<Params, ApiError> {
    let mut p = Params::default();
    if !body.iter().all(u8::is_ascii_whitespace) {
        if is_json(headers, body) {
            add_json(&mut p, body)?;
        } else {
            add_form(&mut p, body)?;
        }
    }
    let mut from_query = Params::default();
    add_form(&mut from_query, raw_query.as_bytes())?;
    for (k, v) in from_query.fields {
        p.fields.entry(k).or_insert(v);
    }
    for (k, v) in from_query.extras {
        p.extras.entry(k).or_insert(v);
    }
    Ok(p)
}

fn invalid_json(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_json", message)
}

fn not_json(e: serde_json::Error) -> ApiError {
    invalid_json(format!("the body is not valid JSON: {e}"))
}

/// The 400 for a name given more than once.
pub(crate) fn duplicate(name: &str) -> ApiError {
    ApiError::bad_request(
        "duplicate_field",
        format!("the field {name:?} is given more than once; send each field once"),
    )
}

fn invalid_extras(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_extras", message)
}

fn add_json(p: &mut Params, body: &[u8]) -> Result<(), ApiError> {
    if let Some(path) = duplicate_json_key(body).map_err(not_json)? {
        return Err(duplicate(&path));
    }
    // Valid JSON (the pass above read it whole) is an object when it opens
    // with a brace.
    if !opens_an_object(body) {
        return Err(invalid_json("the body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let fields = TopFields.deserialize(&mut de).and_then(|fields| de.end().map(|()| fields));
    let fields = fields.map_err(not_json)?;
    for (k, v) in fields {
        let k = k.into_owned();
        match v {
            _ if k == "extras" => add_json_extras(p, v)?,
            Value::String(s) => drop(p.fields.insert(k, s)),
            // An amount of any other scalar is handed on as text, for the
            // amount's own check to refuse (a topup's 61).
            Value::Number(_) | Value::Bool(_) if NUMBERS.contains(&k.as_str()) => {
                let text = v.to_string();
                drop(p.fields.insert(k, text));
            }
            // `null` says the field is absent.
            Value::Null => {}
            // Read from the body by the handlers that take them.
            Value::Array(_) if LISTS.contains(&k.as_str()) => {}
            // A field no handler reads is ignored, whatever it holds.
            _ if !FIELDS.contains(&k.as_str()) => {}
            other => {
                let kind = match other {
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "true or false",
                    _ => "an object or a list",
                };
                let what = if NUMBERS.contains(&k.as_str()) { "a string or a number" } else { "a string" };
                return Err(invalid_json(format!("{k} must be {what}, not {kind}")));
            }
        }
    }
    Ok(())
}

/// The top-level object's fields, in order, keys borrowed from the body
/// where they have no escapes, each value a `Value`: a body is read once
/// into these rather than into a `Value` whose map is then taken apart.
struct TopFields;

impl<'de> DeserializeSeed<'de> for TopFields {
    type Value = Vec<(Cow<'de, str>, Value)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopFields {
    type Value = Vec<(Cow<'de, str>, Value)>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            fields.push((key, map.next_value::<Value>()?));
        }
        Ok(fields)
    }
}

/// The fields the handlers read from a JSON body: these must have their
/// type; any other field is ignored.
const FIELDS: &[&str] = &[
    "refid",
    "product",
    "account",
    "amount",
    "remarks",
    "url",
    "method",
    "username",
    "password",
    "refresh_token",
    "old_password",
    "new_password",
    "trxid",
    "user_email",
];
/// The JSON fields that may be numbers (IIMMPACT's SDKs send amounts as numbers).
const NUMBERS: &[&str] = &["amount"];
/// The JSON fields that are lists.
const LISTS: &[&str] = &["user_email"];

fn add_json_extras(p: &mut Params, extras: Value) -> Result<(), ApiError> {
    let extras = match extras {
        Value::Object(extras) => extras,
        Value::Null => return Ok(()),
        _ => return Err(invalid_extras("extras must be an object of names to strings or numbers")),
    };
    for (name, value) in extras {
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => {
                let kind = match other {
                    Value::Null => "null",
                    Value::Bool(_) => "true or false",
                    _ => "an object or a list",
                };
                return Err(invalid_extras(format!("extras.{name} must be a string or a number, not {kind}")));
            }
        };
        p.extras.insert(name, text);
    }
    Ok(())
}

fn add_form(p: &mut Params, bytes: &[u8]) -> Result<(), ApiError> {
    if let Some(name) = duplicated(bytes, &[]) {
        return Err(duplicate(&name));
    }
    for (k, v) in form_urlencoded::parse(bytes) {
        if let Some(rest) = k.strip_prefix("extras[") {
            let name = rest.strip_suffix(']').filter(|n| !n.is_empty() && !n.contains(['[', ']']));
            let name =
                name.ok_or_else(|| invalid_extras(format!("{k:?}: extras are flat, one extras[name]=value per name")))?;
            p.extras.insert(name.to_owned(), v.into_owned());
        } else if k == "extras" {
            return Err(invalid_extras("extras are sent as extras[name]=value"));
        } else {
            p.fields.insert(k.into_owned(), v.into_owned());
        }
    }
    Ok(())
}

/// The first name a form or query string gives more than once, but for
/// the names in `repeatable`.
pub(crate) fn duplicated(form: &[u8], repeatable: &[&str]) -> Option<String> {
    let mut seen = HashSet::new();
    form_urlencoded::parse(form)
        .map(|(k, _)| k)
        .filter(|k| !repeatable.contains(&k.as_ref()))
        .find(|k| !seen.insert(k.clone()))
        .map(|k| k.into_owned())
}

/// The path (`amount`, `extras.ic_number`, `list[2].a`) of the first key a
/// JSON document gives twice in one object, read without building anything:
/// keys are borrowed from the body where they have no escapes, and a path
/// is written out only for the key found twice.
fn duplicate_json_key(body: &[u8]) -> Result<Option<String>, serde_json::Error> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let read = DuplicateKeys { at: None, found: &found, body }.deserialize(&mut de).and_then(|()| de.end());
    match (found.into_inner(), read) {
        (Some(path), _) => Ok(Some(path)),
        (None, Ok(())) => Ok(None),
        (None, Err(e)) => Err(e),
    }
}

/// Where a value sits: a key of an object or an index of a list, below its
/// parent's place (`None` for the document).
enum Place<'a> {
    Key(Option<&'a Place<'a>>, &'a str),
    Index(Option<&'a Place<'a>>, usize),
}

impl Place<'_> {
    fn path(&self) -> String {
        let (parent, own) = match self {
            Place::Key(parent, key) => (parent, key.to_string()),
            Place::Index(parent, i) => (parent, format!("[{i}]")),
        };
        match (parent, self) {
            (None, _) => own,
            (Some(p), Place::Key(..)) => format!("{}.{own}", p.path()),
            (Some(p), Place::Index(..)) => format!("{}{own}", p.path()),
        }
    }
}

/// A visitor over any JSON value that stops at the first key given twice
/// in one object, leaving its path in `found`.
struct DuplicateKeys<'a> {
    at: Option<&'a Place<'a>>,
    found: &'a RefCell<Option<String>>,
    /// The document, to tell its keys from serde_json's own (below).
    body: &'a [u8],
}

impl<'de> DeserializeSeed<'de> for DuplicateKeys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let place = Place::Index(self.at, i);
            if seq.next_element_seed(DuplicateKeys { at: Some(&place), found: self.found, body: self.body })?.is_none()
            {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Bodies have a handful of keys: a list beats hashing them.
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            // serde_json's `Value` reads an object whose first key is one of
            // its private markers as something else (`RawValue` parses the
            // string that follows as JSON, past this pass): never a field.
            // serde_json hands every number over as such a one-key map too,
            // its key a constant of its own rather than text of the body.
            let borrowed = match &key {
                Cow::Borrowed(key) => Some(*key),
                Cow::Owned(_) => None,
            };
            if key.starts_with(SERDE_JSON_PRIVATE) && in_document(borrowed, self.body) {
                return Err(de::Error::custom(format_args!(
                    "keys starting with {SERDE_JSON_PRIVATE:?} are not accepted"
                )));
            }
            if seen.contains(&key) {
                *self.found.borrow_mut() = Some(Place::Key(self.at, &key).path());
                return Err(de::Error::custom("a key is given twice"));
            }
            let place = Place::Key(self.at, &key);
            map.next_value_seed(DuplicateKeys { at: Some(&place), found: self.found, body: self.body })?;
            seen.push(key);
        }
        Ok(())
    }
}

/// Whether a key was read from `body` (an owned key was unescaped from it;
/// a borrowed one points into it) rather than given by serde_json itself.
fn in_document(key: Option<&str>, body: &[u8]) -> bool {
    key.is_none_or(|borrowed| body.as_ptr_range().contains(&borrowed.as_ptr()))
}

/// The prefix of serde_json's private marker keys (`…Number`, `…RawValue`).
const SERDE_JSON_PRIVATE: &str = "$serde_json::private::";

/// An object's key, borrowed from the body unless it has escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
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
        let huge = br#" {"amount": 123456789012345678901234567890.50, "re\u0066id": "a\"b", "n": -1e400} "#;
        let p = parse(&HeaderMap::new(), "", huge).unwrap();
        assert_eq!(p.get("amount").unwrap(), "123456789012345678901234567890.50");
        assert_eq!(p.get("refid").unwrap(), "a\"b");
        assert_eq!(parse(&HeaderMap::new(), "", br#"{"amount": true}"#).unwrap().get("amount").unwrap(), "true");
    }

    /// Found by review: serde_json's `Value` reads `{"$serde_json::private::RawValue": "…"}`
    /// by parsing the string as JSON, which the duplicate-key pass never saw; its number
    /// marker turned an object into a number.
    #[test]
    fn serde_json_private_markers_are_refused_at_any_depth() {
        for body in [
            &br#"{"$serde_json::private::RawValue":"{\"refid\":\"a\",\"refid\":\"b\"}"}"#[..],
            br#"{"extras":{"$serde_json::private::RawValue":"{\"a\":\"1\",\"a\":\"2\"}"}}"#,
            br#"{"amount":{"$serde_json::private::Number":"10.10"}}"#,
            br#"{"refid":"A","other":[{"$serde_json::private::Number":"1"}]}"#,
            br#"{"\u0024serde_json::private::Number":"5"}"#,
        ] {
            let (code, message) = refusal("", body);
            assert_eq!(code, "invalid_json", "{message}");
            assert!(message.contains("are not accepted"), "{message}");
        }
    }

    #[test]
    fn a_json_body_is_an_object() {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::CONTENT_TYPE, "application/json".parse().unwrap());
        for body in [&b"123"[..], b"\"refid\"", b"null", b"true", b" [ ] ", b"1.5e3"] {
            match parse(&h, "", body) {
                Err(ApiError::BadRequest { code: "invalid_json", message }) => {
                    assert!(message.contains("must be a JSON object"), "{message}")
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        for body in [&b"{} x"[..], b"{\"a\": 1,}", b"{\"a\" 1}"] {
            assert!(matches!(parse(&h, "", body), Err(ApiError::BadRequest { code: "invalid_json", .. })));
        }
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

    fn refusal(query: &str, body: &[u8]) -> (&'static str, String) {
        match parse(&HeaderMap::new(), query, body) {
            Err(ApiError::BadRequest { code, message }) => (code, message),
            other => panic!("{query} {:?}: {other:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn a_name_given_twice_is_refused_and_named() {
        for (query, body, name) in [
            ("", &br#"{"amount":"1","amount":"100"}"#[..], "\"amount\""),
            ("", br#"{"amount":"1","am\u006funt":"100"}"#, "\"amount\""),
            ("", br#"{"amount":1,"extras":{"ref2":"a","ref2":"b"}}"#, "\"extras.ref2\""),
            ("", br#"{"user_email":[{"a":1,"a":2}]}"#, "\"user_email[0].a\""),
            ("", b"amount=1&amount=100", "\"amount\""),
            ("", b"extras%5Bref2%5D=a&extras[ref2]=b", "\"extras[ref2]\""),
            ("refid=a&refid=b", b"", "\"refid\""),
        ] {
            let (code, message) = refusal(query, body);
            assert_eq!(code, "duplicate_field", "{message}");
            assert!(message.contains(name), "{message}");
        }
        // Numbers (arbitrary precision) and nesting are no duplicates.
        assert_eq!(duplicate_json_key(br#"{"amount": 10.50, "a": {"amount": 1}, "b": [1, 2.5e3]}"#).unwrap(), None);
        let p = parse(&HeaderMap::new(), "", br#"{"amount": 10.50, "extras": {"amount": 1}}"#).unwrap();
        assert_eq!(p.get("amount").unwrap(), "10.50");
        assert_eq!(duplicated(b"status=A&status=B&limit=1", &["status"]), None);
        assert_eq!(duplicated(b"status=A&limit=1&limit=2", &["status"]).as_deref(), Some("limit"));
    }

    /// Found by Schemathesis: `"remarks": {}` was read as no remarks. A field
    /// a handler reads is a string (`amount` may be a number, `user_email` a
    /// list); `null` is absent; anything else is refused. Other fields are
    /// ignored, whatever they hold.
    #[test]
    fn json_fields_are_strings() {
        for body in [
            &br#"{"refid": "A", "remarks": {}}"#[..],
            br#"{"refid": "A", "remarks": []}"#,
            br#"{"refid": 123}"#,
            br#"{"refid": true}"#,
            br#"{"amount": {"value": 10}}"#,
        ] {
            assert_eq!(refusal("", body).0, "invalid_json", "{}", String::from_utf8_lossy(body));
        }
        assert!(parse(&HeaderMap::new(), "", br#"{"refid": "A", "other": {"x": [1, true]}, "n": 1}"#).is_ok());
        let p = parse(
            &HeaderMap::new(),
            "",
            br#"{"refid": "A", "amount": 10.5, "remarks": null, "user_email": ["a@b.my"]}"#,
        )
        .unwrap();
        assert_eq!(
            (p.get("refid").as_deref(), p.get("amount").as_deref(), p.get("remarks")),
            (Some("A"), Some("10.5"), None)
        );
    }

    #[test]
    fn extras_are_flat() {
        for body in [
            &br#"{"extras": {"ref2": {"a": 1}}}"#[..],
            br#"{"extras": {"ref2": ["a"]}}"#,
            br#"{"extras": "ref2"}"#,
            br#"{"extras": ["ref2"]}"#,
            b"extras[ref2][a]=1",
            b"extras[]=1",
            b"extras=1",
            // Found by Schemathesis: a null was dropped and a boolean read as text.
            br#"{"extras": {"": null}}"#,
            br#"{"extras": {"ref2": true}}"#,
        ] {
            assert_eq!(refusal("", body).0, "invalid_extras", "{}", String::from_utf8_lossy(body));
        }
        let p = parse(&HeaderMap::new(), "", br#"{"extras": {"a": 1, "b": "x"}}"#).unwrap();
        assert_eq!((p.extras["a"].as_str(), p.extras["b"].as_str()), ("1", "x"));
        // No extras at all, said with null, is no extras.
        assert!(parse(&HeaderMap::new(), "", br#"{"extras": null}"#).unwrap().extras.is_empty());
    }
}
