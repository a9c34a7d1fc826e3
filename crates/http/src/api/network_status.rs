//! `GET /v2/networkstatus?product=` (and v1): whether a product's provider
//! has answered well lately.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::product;
use crate::wire::metadata;
use crate::wire::query::first_value;
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/networkstatus", get(network_status)).route("/v1/networkstatus", get(network_status))
}

/// Whether a product's network is healthy (advisory). Also `/v1/networkstatus`.
#[utoipa::path(get, path = "/v2/networkstatus", tag = "products", security(("api_key" = []), ("bearer" = [])),
    params(("product" = String, Query, min_length = 1, description = "A product code")),
    responses(
        (status = 200, description = "The product's status", body = crate::openapi::schemas::NetworkStatusAnswer),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn network_status(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let q = req.query();
    let p = product(&state, first_value(q, "product").or_else(|| first_value(q, "product_code")))?;
    let healthy = state.engine.network_healthy(req.caller.merchant.environment, &p);
    Ok(Json(json!({
        "data": {"product_code": p.code, "product_name": p.name,
                 "product_img": format!("{}/img/{}.png", state.config.public_url, p.code),
                 "network_status": if healthy { "Healthy" } else { "Interruption" }},
        "metadata": metadata(state.engine.now_ms()),
    })))
}
