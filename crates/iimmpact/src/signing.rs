//! The HMAC v1 request signature, written from the wire contract
//! (`docs/api.md`, Authentication) and not from the server's code, so that
//! each checks the other: `X-Signature = "v1=" + base64(HMAC-SHA256(key =
//! base64-decode(secret), canonical))` with
//! `canonical = "v1:" ts ":" nonce ":" METHOD ":" sortedQuery ":" bodyHash`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The four headers of a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `X-Api-Key`.
    pub api_key: String,
    /// `X-Timestamp`: Unix seconds (10 digits; milliseconds are refused).
    pub timestamp: String,
    /// `X-Nonce`: 16–128 visible characters, never reused by the key.
    pub nonce: String,
    /// `X-Signature`: `v1=` + base64.
    pub signature: String,
}

/// base64(SHA-256(exact body bytes)); the empty body hashes to
/// `47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`.
pub fn body_hash(body: &[u8]) -> String {
    B64.encode(Sha256::digest(body))
}

/// The query as signed: the decoded `k=v` pairs sorted by key then value,
/// joined by `&`; empty for no query. The pairs are the ones the client puts
/// in the URL (decoded form), so the server's decoding of what it received
/// must give them back for the signature to verify.
pub fn sorted_query(pairs: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = pairs.iter().collect();
    sorted.sort();
    sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The canonical string the signature covers. Path and host are not signed.
pub fn canonical(timestamp: &str, nonce: &str, method: &str, query: &[(&str, &str)], body: &[u8]) -> String {
    format!("v1:{timestamp}:{nonce}:{}:{}:{}", method.to_ascii_uppercase(), sorted_query(query), body_hash(body))
}

/// `v1=` + base64(HMAC-SHA256(secret bytes, canonical)).
pub fn signature(secret: &[u8], canonical: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC-SHA256 takes a key of any length");
    mac.update(canonical.as_bytes());
    format!("v1={}", B64.encode(mac.finalize().into_bytes()))
}

/// A fresh nonce: 32 hex characters from the OS-seeded generator (128 bits,
/// so no two requests of a key share one within the 300 s window).
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The API key and its decoded secret.
#[derive(Clone)]
pub struct Signer {
    key_id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        f.debug_struct("Signer").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl Signer {
    /// `secret` is the base64 text `tambah merchant create` / `key create`
    /// printed; the HMAC key is its decoded bytes.
    pub fn new(key_id: &str, secret_b64: &str) -> Result<Signer, base64::DecodeError> {
        Ok(Signer { key_id: key_id.to_owned(), secret: B64.decode(secret_b64.trim())? })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs one request at `unix_seconds` with `nonce`.
    pub fn sign_at(
        &self,
        unix_seconds: u64,
        nonce: &str,
        method: &str,
        query: &[(&str, &str)],
        body: &[u8],
    ) -> SignedHeaders {
        let timestamp = unix_seconds.to_string();
        let signature = signature(&self.secret, &canonical(&timestamp, nonce, method, query, body));
        SignedHeaders { api_key: self.key_id.clone(), timestamp, nonce: nonce.to_owned(), signature }
    }

    /// Signs one request now with a fresh nonce.
    pub fn sign(&self, method: &str, query: &[(&str, &str)], body: &[u8]) -> SignedHeaders {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.sign_at(now, &nonce(), method, query, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_hash_is_the_documented_one() {
        assert_eq!(body_hash(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn query_pairs_sort_by_key_then_value() {
        assert_eq!(sorted_query(&[]), "");
        assert_eq!(sorted_query(&[("url", "https://x.my/cb"), ("method", "POST")]), "method=POST&url=https://x.my/cb");
        assert_eq!(sorted_query(&[("b", "2"), ("a", "9"), ("a", "1")]), "a=1&a=9&b=2");
    }

    #[test]
    fn canonical_string_has_the_documented_layout() {
        let c = canonical("1700000000", "abcdefghijklmnop", "get", &[("product", "D")], b"");
        assert_eq!(c, "v1:1700000000:abcdefghijklmnop:GET:product=D:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    /// A vector computed independently with the Python snippet of
    /// `docs/api.md` (hmac/hashlib/base64 from Python's standard library).
    #[test]
    fn signature_matches_the_documented_python() {
        let signer = Signer::new("tbh_test_x", "c2VjcmV0LWtleS1ieXRlcw==").unwrap();
        let h = signer.sign_at(1_700_000_000, "0123456789abcdef", "POST", &[], br#"{"refid":"PY-1"}"#);
        assert_eq!(h.timestamp, "1700000000");
        assert_eq!(h.signature, PYTHON_SIGNATURE);
    }

    const PYTHON_SIGNATURE: &str = "v1=HDqw0+xKcMkmO6qz5QS2xJfWTV1JbtZgffxD+Wfj/8Y=";

    #[test]
    fn nonces_fit_the_contract_and_differ() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_graphic()));
        assert_ne!(a, b);
    }
}
