//! `GET /health`: the node answers and its database does.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::{ApiError, AppState, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/health", get(health))
}

async fn health(state: Shared) -> Response {
    match state.engine.ping().await {
        Ok(_) => Json(json!({"status": "ok", "database": "ok"})).into_response(),
        Err(e) => ApiError::Unavailable(format!("database: {e}")).into_response(),
    }
}
