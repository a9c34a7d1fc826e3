//! `GET /health`: the node answers and its database accepts writes (a
//! heartbeat row written at most once a second).

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::{AppState, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/health", get(health))
}

#[utoipa::path(get, path = "/health", tag = "health", responses(
    (status = 200, description = "The node answers and its database accepts writes", body = crate::openapi::schemas::Health),
    (status = 503, description = "The database does not accept writes", body = crate::openapi::schemas::Health),
))]
pub(crate) async fn health(state: Shared) -> Response {
    match state.engine.health().await {
        Ok(_) => Json(json!({"status": "ok", "database": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health: the database does not accept writes");
            let body = json!({"status": "unavailable", "database": "not accepting writes"});
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
