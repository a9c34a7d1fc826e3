//! The one error type at the HTTP edge. Bodies are `{"error","message"}` with
//! a stable code; 5xx bodies say nothing internal (the cause is logged once).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tambah_engine::AuthError;

#[derive(Debug)]
pub enum ApiError {
    Auth(AuthError),
    BadRequest { code: &'static str, message: String },
    Forbidden(String),
    NotFound(String),
    Unavailable(String),
    Internal(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Internal => ApiError::Internal("authentication store failure".into()),
            e => ApiError::Auth(e),
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
            ApiError::Unavailable(message) => {
                tracing::warn!(%message, "503");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "unavailable", "message": "Service unavailable, try again"}),
                )
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "500");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "internal_error", "message": "Internal server error"}),
                )
            }
        };
        (status, axum::Json(body)).into_response()
    }
}
