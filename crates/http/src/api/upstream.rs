//! `POST|GET /upstream/{provider}/callback`: an upstream provider's callback
//! about one of our orders. It is only a prompt: the order is then asked
//! about at the provider when it may be (its current attempt, which the
//! provider may hold), and only that answer moves it. Nothing in the
//! callback is trusted, so it needs no credentials; an unknown provider or
//! reference is answered 404 and changes nothing.

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::wire::params;
use crate::{ApiError, AppState, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/upstream/{provider}/callback", post(callback).get(callback))
}

async fn callback(
    state: Shared,
    Path(provider): Path<String>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    // IIMMPACT-compatible callbacks carry the topup body: our reference is its refid.
    let reference = p.get("refid").ok_or_else(|| ApiError::bad_request("invalid_request", "refid is required"))?;
    if !state.engine.upstream_callback(&provider, &reference).await {
        return Err(ApiError::NotFound(format!("no order of provider {provider:?} with reference {reference:?}")));
    }
    Ok(Json(json!({"data": {"refid": reference, "status": "noted"}})))
}
