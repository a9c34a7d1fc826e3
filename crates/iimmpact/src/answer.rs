//! What an HTTP exchange means for the caller's money: a transport failure
//! is `NotSent` only when the connection was never made; an answer is
//! accepted (2xx), a refusal with a reason (`Rejected`, `Auth`), or of
//! unknown effect (everything else).

use serde_json::Value;

use crate::error::{Error, RejectionCode};
use crate::wire::{envelope_code, envelope_remarks, ErrorBody};

/// A 2xx answer, read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub http_status: u16,
    /// The body as received (lossy only for bytes that are not UTF-8).
    pub body: String,
}

impl Reply {
    /// The body as JSON; an answer that is not JSON has an unknown meaning.
    pub fn json(&self) -> Result<Value, Error> {
        serde_json::from_str(&self.body).map_err(|e| self.unparsable(format!("the answer is not JSON: {e}")))
    }

    /// `Unknown` for a 2xx whose body does not say what it should.
    pub(crate) fn unparsable(&self, reason: impl Into<String>) -> Error {
        Error::unknown(reason, Some(self.http_status), Some(self.body.clone()))
    }
}

/// A failure before any answer arrived. Only a failed connection (refused,
/// DNS, TLS, connect timeout) proves the request never left; a timeout or
/// reset after connecting may have come after the request was written.
pub(crate) fn transport(e: &reqwest::Error) -> Error {
    let reason = chain(e);
    if e.is_builder() {
        Error::Config(reason)
    } else if e.is_connect() {
        Error::NotSent { reason }
    } else if e.is_timeout() {
        Error::unknown(format!("timed out: {reason}"), None, None)
    } else {
        Error::unknown(reason, None, None)
    }
}

/// An error with its causes, `a: b: c` (reqwest's own text omits them).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Sorts an answer: 2xx is the caller's; 401 and non-topup 403 are `Auth`;
/// another 4xx whose body says why is `Rejected`; the rest (1xx, 3xx, 408,
/// 5xx, a 4xx that is not the API's) is `Unknown`.
pub(crate) fn classify(http_status: u16, body: String) -> Result<Reply, Error> {
    if (200..300).contains(&http_status) {
        return Ok(Reply { http_status, body });
    }
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    match (http_status, parsed) {
        // 408: the server gave up on the request mid-way: not a refusal.
        (408, _) => Err(Error::unknown("HTTP 408", Some(http_status), Some(body))),
        (400..=499, Some(value)) if envelope_code(&value).is_some() => Err(rejected_topup(http_status, value)),
        (401 | 403, value) => Err(auth(http_status, value, body)),
        (400..=499, Some(value)) => match serde_json::from_value::<ErrorBody>(value.clone()) {
            Ok(e) => Err(Error::Rejected {
                http_status,
                code: RejectionCode::Error(e.error),
                message: e.message,
                body: value,
            }),
            Err(_) => Err(Error::unknown(
                format!("HTTP {http_status} with an unexpected body"),
                Some(http_status),
                Some(body),
            )),
        },
        (_, _) => Err(Error::unknown(format!("HTTP {http_status}"), Some(http_status), Some(body))),
    }
}

/// A topup refused in the topup envelope (400, 403 with 41, 409 with 54):
/// the code, and the reason the envelope carries in `remarks`.
fn rejected_topup(http_status: u16, value: Value) -> Error {
    let code = envelope_code(&value).unwrap_or_default();
    Error::Rejected { http_status, code: RejectionCode::Status(code), message: envelope_remarks(&value), body: value }
}

/// 401 `{"error", "message", "detail"}`, or a 403 that is not a topup: the
/// credentials were refused before anything was done.
fn auth(http_status: u16, value: Option<Value>, text: String) -> Error {
    let parsed = value.as_ref().and_then(|v| serde_json::from_value::<ErrorBody>(v.clone()).ok());
    let (code, message) = match parsed {
        Some(e) => (e.error, e.message),
        None => (if http_status == 401 { "unauthorized" } else { "forbidden" }.to_owned(), text.clone()),
    };
    Error::Auth { http_status, code, message, body: value.unwrap_or(Value::String(text)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(status: u16, body: &str) -> Result<Reply, Error> {
        classify(status, body.to_owned())
    }

    #[test]
    fn topup_envelopes_are_rejections_with_their_code() {
        let body = r#"{"statuscode": "54", "status": "Failed", "remarks": "refid reused", "refid": "R"}"#;
        let e = sort(409, body).unwrap_err();
        assert_eq!(e.rejection_status(), Some(54));
        assert!(matches!(e, Error::Rejected { http_status: 409, ref message, .. } if message == "refid reused"));
        let current = r#"{"data": {"statusCode": 41, "status": "Failed", "remarks": "suspended"}}"#;
        assert_eq!(sort(403, current).unwrap_err().rejection_status(), Some(41));
    }

    #[test]
    fn credential_refusals_are_auth() {
        let body = r#"{"error": "invalid_signature", "message": "Signature mismatch", "detail": "…"}"#;
        assert!(matches!(sort(401, body).unwrap_err(), Error::Auth { ref code, .. } if code == "invalid_signature"));
        assert!(matches!(sort(403, r#"{"error": "forbidden", "message": "no"}"#).unwrap_err(), Error::Auth { .. }));
        assert!(matches!(sort(401, "<html/>").unwrap_err(), Error::Auth { .. }));
    }

    #[test]
    fn other_error_bodies_are_rejections_with_their_word() {
        let e = sort(400, r#"{"error": "invalid_api_version", "message": "unknown"}"#).unwrap_err();
        assert!(matches!(e, Error::Rejected { code: RejectionCode::Error(ref w), .. } if w == "invalid_api_version"));
    }

    #[test]
    fn anything_else_is_unknown() {
        for (status, body) in [
            (500, r#"{"error": "internal_error", "message": "x"}"#),
            (502, "<html>bad gateway</html>"),
            (503, r#"{"error": "unavailable"}"#),
            (408, r#"{"error": "timeout", "message": "x"}"#),
            (404, "<html/>"),
            (302, ""),
        ] {
            assert!(sort(status, body).unwrap_err().is_unknown(), "{status}");
        }
        assert_eq!(sort(200, "{}").unwrap().http_status, 200);
    }
}
