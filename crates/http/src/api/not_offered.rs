//! The v1 calls IIMMPACT's official SDKs have and tambah does not offer:
//! the JPJ (road transport department) and car-insurance look-ups answer 501
//! in the SDKs' error shape (`{"message"}`, with our `error` code), and the
//! new-password challenge (a step of IIMMPACT's log-in that tambah never
//! asks for) says so with 400 — never a bare 404 that reads as a wrong URL.

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
    (Http::NOT_IMPLEMENTED, Json(json!({"error": "not_offered", "message": message}))).into_response()
}

async fn car_insurance() -> Response {
    not_offered("Car insurance")
}

async fn jpj() -> Response {
    not_offered("JPJ record")
}

async fn new_password_challenge() -> Response {
    let message = "no new-password challenge is pending: tambah never asks for one at log-in; \
                   get a token with /v1/token and change the password with /v1/auth/change-password";
    (Http::BAD_REQUEST, Json(json!({"error": "no_challenge", "message": message}))).into_response()
}
