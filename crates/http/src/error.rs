//! The one error type at the HTTP edge. Bodies are `{"error","message"}` with
//! a stable code; 5xx bodies say nothing internal (the cause is logged once).
//! The engine's errors convert with `From`, so handlers use `?`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tambah_engine::auth::ChangePasswordError;
use tambah_engine::callbacks::CallbackError;
use tambah_engine::merchants::AdminError;
use tambah_engine::AuthError;
use tambah_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 with the engine's code, message and detail.
    #[error("not authenticated: {}", .0.code())]
    Auth(AuthError),
    #[error("bad request ({code}): {message}")]
    BadRequest { code: &'static str, message: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// 409 with a stable code: the resource's state does not allow it now.
    #[error("conflict ({code}): {message}")]
    Conflict { code: &'static str, message: String },
    /// 429 with a stable code: a limit was reached.
    #[error("too many ({code}): {message}")]
    TooMany { code: &'static str, message: String },
    /// 503; the reason is logged, not sent.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500; the cause is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// 500 from a store failure; the cause is logged, not sent.
    #[error("store failure")]
    Store(#[from] StoreError),
}

impl ApiError {
    /// A 400 with its stable code.
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest { code, message: message.into() }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Internal => ApiError::Internal("authentication store failure".into()),
            AuthError::Unavailable { nothing_changed } => {
                ApiError::Store(StoreError::Unavailable { reason: "authentication".into(), nothing_changed })
            }
            AuthError::Busy => ApiError::Unavailable("password checks busy".into()),
            AuthError::Suspended => ApiError::Forbidden("merchant account is suspended: no new tokens".into()),
            e => ApiError::Auth(e),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(e: ChangePasswordError) -> Self {
        match e {
            ChangePasswordError::NeedsToken => {
                ApiError::Forbidden("change the password with a token from /v1/token, not an API key".into())
            }
            ChangePasswordError::Weak(message) => ApiError::bad_request("weak_password", message),
            ChangePasswordError::Auth(e) => e.into(),
        }
    }
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::NotFound(m) => ApiError::NotFound(m),
            CallbackError::Pending(message) => ApiError::Conflict { code: "callback_pending", message },
            CallbackError::Limit(message) => ApiError::TooMany { code: "redelivery_limit", message },
            CallbackError::NoUrl(message) => ApiError::Conflict { code: "no_callback_url", message },
            CallbackError::Store(m) => ApiError::Internal(m),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(m) => ApiError::bad_request("invalid_request", m),
            AdminError::NotFound(m) => ApiError::NotFound(m),
            AdminError::Forbidden(m) => ApiError::Forbidden(m),
            AdminError::Busy => ApiError::Unavailable("too many password checks at once: try again".into()),
            AdminError::Store(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Auth(e) => {
                (StatusCode::UNAUTHORIZED, json!({"error": e.code(), "message": e.message(), "detail": e.detail()}))
            }
            ApiError::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, json!({"error": code, "message": message}))
            }
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, json!({"error": "forbidden", "message": message})),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, json!({"error": "not_found", "message": message})),
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, json!({"error": code, "message": message})),
            ApiError::TooMany { code, message } => {
                (StatusCode::TOO_MANY_REQUESTS, json!({"error": code, "message": message}))
            }
            ApiError::Unavailable(message) => {
                tracing::debug!(%message, "503");
                let body = json!({"error": "unavailable", "message": "Service unavailable, try again"});
                let mut res = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
                res.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
                return res;
            }
            ApiError::Internal(cause) => internal(&cause),
            ApiError::Store(StoreError::Unavailable { reason, nothing_changed }) => {
                database_unavailable(&reason, nothing_changed)
            }
            ApiError::Store(e) => internal(&e),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// 503 when the database cannot take the call (read-only, full,
/// unreachable): the cause is logged; the body says whether the request
/// changed nothing (the database said so) or may have (the connection broke
/// at the commit: resend; a topup resent with its refid is never charged
/// twice).
fn database_unavailable(reason: &str, nothing_changed: bool) -> (StatusCode, serde_json::Value) {
    tracing::error!(%reason, "503: database unavailable");
    let message = if nothing_changed {
        "The database is not accepting changes; nothing was changed. Try again later"
    } else {
        "The database could not be reached; the request may or may not have been applied. Resend it: a topup resent with the same refid is never charged twice"
    };
    (StatusCode::SERVICE_UNAVAILABLE, json!({"error": "unavailable", "message": message}))
}

/// The one 500 body; the cause goes to the log only.
fn internal(cause: &dyn std::fmt::Display) -> (StatusCode, serde_json::Value) {
    tracing::error!(%cause, "500");
    (StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "internal_error", "message": "Internal server error"}))
}
