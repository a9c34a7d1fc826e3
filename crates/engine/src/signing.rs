//! The HMAC v1 request signature of the wire contract:
//! `v1=` + base64(HMAC-SHA256(base64-decode(secret), canonical)), where
//! `canonical = "v1:" ts ":" nonce ":" METHOD ":" sortedQuery ":" bodyHash`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// base64(SHA-256(body)); for an empty body `47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`.
pub fn body_hash(body: &[u8]) -> String {
    B64.encode(Sha256::digest(body))
}

/// The query's `k=v` pairs with decoded values, sorted by key then value,
/// joined by `&`; the empty string for no query.
pub fn sorted_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw_query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

pub fn canonical(timestamp: &str, nonce: &str, method: &str, raw_query: &str, body: &[u8]) -> String {
    format!("v1:{timestamp}:{nonce}:{}:{}:{}", method.to_ascii_uppercase(), sorted_query(raw_query), body_hash(body))
}

/// The `X-Signature` value for `canonical` under the raw secret bytes.
pub fn sign(secret: &[u8], canonical: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(canonical.as_bytes());
    format!("v1={}", B64.encode(mac.finalize().into_bytes()))
}

/// Constant-time check of an `X-Signature` value.
pub fn verify(secret: &[u8], canonical: &str, signature: &str) -> bool {
    let Some(encoded) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(given) = B64.decode(encoded) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(canonical.as_bytes());
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_hash_matches_the_contract() {
        assert_eq!(body_hash(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn query_is_decoded_and_sorted() {
        assert_eq!(sorted_query(""), "");
        assert_eq!(sorted_query("url=https%3A%2F%2Fx.my%2Fcb&method=POST"), "method=POST&url=https://x.my/cb");
        assert_eq!(sorted_query("b=2&a=9&a=1"), "a=1&a=9&b=2");
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let c = canonical("1700000000", "abcdefghijklmnop", "post", "", b"{}");
        assert!(c.starts_with("v1:1700000000:abcdefghijklmnop:POST::"));
        let sig = sign(b"secret", &c);
        assert!(verify(b"secret", &c, &sig));
        assert!(!verify(b"other", &c, &sig));
        assert!(!verify(b"secret", &c, "v2=abc"));
        assert!(!verify(b"secret", &c, "v1=!!!"));
    }
}
