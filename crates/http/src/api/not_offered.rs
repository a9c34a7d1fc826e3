//! The v1 calls IIMMPACT's official SDKs have and tambah does not offer:
//! the JPJ (road transport department) and car-insurance look-ups answer 403
//! `not_offered` in the SDKs' error shape (`{"message"}`, with our `error`
//! code): a refusal a client does not retry, unlike a 5xx. The new-password
//! challenge (a step of IIMMPACT's log-in that tambah never asks for)
//! answers 401 `no_challenge`: no challenge session is ever valid. Never a
//! bare 404 that reads as a wrong URL.

use std::sync::Arc;

use axum::http::StatusCode as Http;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/car-insurance", get(car_insurance))
        .route("/v1/jpj/driving-license", get(jpj))
        .route("/v1/jpj/driving-test-results", get(jpj))
        .route("/v1/jpj/motor-vehicle-expiry", get(jpj))
        .route("/v1/jpj/summons", get(jpj))
        .route("/v1/auth/new-password-challenge", post(new_password_challenge))
}

fn not_offered(what: &str) -> Response {
    let message = format!("{what} look-ups are not offered by this server");
    (Http::FORBIDDEN, Json(json!({"error": "not_offered", "message": message}))).into_response()
}

/// Not offered: answers 403 `not_offered` in the v1 SDKs' error shape.
#[utoipa::path(get, path = "/v1/car-insurance", tag = "not offered",
    responses((status = 403, description = "Not offered by this server (`not_offered`)", body = crate::openapi::schemas::ErrorBody)))]
pub(crate) async fn car_insurance() -> Response {
    not_offered("Car insurance")
}

/// Not offered (also `/v1/jpj/driving-test-results`, `/v1/jpj/motor-vehicle-expiry`, `/v1/jpj/summons`).
#[utoipa::path(get, path = "/v1/jpj/driving-license", tag = "not offered",
    responses((status = 403, description = "Not offered by this server (`not_offered`)", body = crate::openapi::schemas::ErrorBody)))]
pub(crate) async fn jpj() -> Response {
    not_offered("JPJ record")
}

/// tambah never asks for a new password at log-in, so there is never a challenge to answer.
#[utoipa::path(post, path = "/v1/auth/new-password-challenge", tag = "auth",
    request_body(content = crate::openapi::resources::PasswordChallenge, content_type = "application/json"),
    responses((status = 401, description = "No challenge session is valid (`no_challenge`)", body = crate::openapi::schemas::ErrorBody)))]
pub(crate) async fn new_password_challenge() -> Response {
    let message = "no new-password challenge is pending: tambah never asks for one at log-in; \
                   get a token with /v1/token and change the password with /v1/auth/change-password";
    let challenge = [(axum::http::header::WWW_AUTHENTICATE, "Bearer realm=\"tambah\"")];
    (Http::UNAUTHORIZED, challenge, Json(json!({"error": "no_challenge", "message": message}))).into_response()
}
