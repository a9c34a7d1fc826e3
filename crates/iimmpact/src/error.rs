//! What can go wrong with a call, in the classes money depends on: whether
//! the request can have reached the upstream (`NotSent` vs `Unknown`), and
//! whether the upstream answered "refused, nothing stored" (`Rejected`,
//! `Auth`). These are never merged: a caller that retries an `Unknown`
//! topup under a new refid can pay twice.

use serde_json::Value;

/// The code a 4xx carried: a topup status code from the topup envelope
/// (`statuscode` / `statusCode`), or the `error` word of the other bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectionCode {
    /// A topup refusal: 44, 40, 47, 61, 58, 41 (403), 54 (409), …
    Status(u16),
    /// `{"error": "invalid_request", …}` and the like.
    Error(String),
}

impl std::fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectionCode::Status(code) => write!(f, "{code}"),
            RejectionCode::Error(word) => f.write_str(word),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing left this machine: connection refused, DNS failure, TLS or
    /// connect timeout, or a token could not be obtained before the call.
    /// Safe to fail over or to send again.
    #[error("not sent: {reason}")]
    NotSent { reason: String },

    /// The request may have reached the upstream and its effect is not
    /// known: a timeout, a reset, a 5xx, a 3xx or 408, or an answer that does
    /// not parse. A topup in this state must be resolved by a status check
    /// (the same refid), never by a new refid.
    #[error("outcome unknown: {reason}")]
    Unknown {
        reason: String,
        /// The HTTP status when an answer arrived.
        http_status: Option<u16>,
        /// The answer's text when one arrived (may be cut by the caller's logs).
        body: Option<String>,
    },

    /// A 4xx with a body that says why: nothing was stored upstream (a
    /// refused topup leaves its refid free; a 409 leaves the original order
    /// untouched).
    #[error("rejected with HTTP {http_status}, code {code}: {message}")]
    Rejected { http_status: u16, code: RejectionCode, message: String, body: Value },

    /// 401, or a 403 that is not a topup envelope: the credentials were
    /// refused (unknown key, signature mismatch, clock out of the window,
    /// wrong password, token invalid). Nothing was done.
    #[error("authentication failed with HTTP {http_status}, {code}: {message}")]
    Auth { http_status: u16, code: String, message: String, body: Value },

    /// The client's own configuration or arguments are unusable (a base URL
    /// that does not parse, a secret that is not base64). Nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// True when the request provably never left this machine.
    pub fn is_not_sent(&self) -> bool {
        matches!(self, Error::NotSent { .. } | Error::Config(_))
    }

    /// True when the request may have been acted on: resolve by a status check.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Error::Unknown { .. })
    }

    /// The topup status code of a `Rejected` topup envelope.
    pub fn rejection_status(&self) -> Option<u16> {
        match self {
            Error::Rejected { code: RejectionCode::Status(code), .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn unknown(reason: impl Into<String>, http_status: Option<u16>, body: Option<String>) -> Error {
        Error::Unknown { reason: reason.into(), http_status, body }
    }
}
