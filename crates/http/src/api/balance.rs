//! `GET /v2/balance` and `/v1/balance`: the wallet, pending holds taken off.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::{wire, ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/balance", get(v2)).route("/v1/balance", get(v1))
}

/// The fields both versions show.
async fn wallet(state: &Shared, req: &Authed) -> Result<Value, ApiError> {
    let m = &req.caller.merchant;
    let balance = state.engine.balance(m).await?;
    Ok(json!({"account": m.account, "name": m.name, "balance": wire::money(balance), "level": m.level}))
}

/// v2 adds the merchant's access.
/// The wallet (v2): pending holds are already taken off.
#[utoipa::path(get, path = "/v2/balance", tag = "wallet", security(("api_key" = []), ("bearer" = [])), responses(
    (status = 200, description = "The wallet", body = crate::openapi::schemas::BalanceAnswer),
    (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
    (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
))]
pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let mut data = wallet(&state, &req).await?;
    data["access"] = json!(req.caller.merchant.access);
    Ok(Json(json!({ "data": data })))
}

/// The wallet (v1, as IIMMPACT's v1 SDKs read it).
#[utoipa::path(get, path = "/v1/balance", tag = "wallet", security(("api_key" = []), ("bearer" = [])), responses(
    (status = 200, description = "The wallet", body = crate::openapi::schemas::BalanceAnswerV1),
    (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
    (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
))]
pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "data": wallet(&state, &req).await? })))
}
