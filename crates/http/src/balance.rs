//! `GET /v2/balance` and `/v1/balance`: the wallet, pending holds taken off.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::Json;
use serde_json::{json, Value};

use crate::{authenticate, wire, ApiError, Shared};

async fn balance(
    state: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    with_access: bool,
) -> Result<Json<Value>, ApiError> {
    let caller = authenticate(&state, &method, &uri, &headers, &body).await?;
    let m = &caller.merchant;
    let balance = state.engine.balance(m).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut data = json!({"account": m.account, "name": m.name, "balance": wire::money(balance), "level": m.level});
    if with_access {
        data["access"] = json!(m.access);
    }
    Ok(Json(json!({ "data": data })))
}

pub(crate) async fn v2(
    state: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    balance(state, method, uri, headers, body, true).await
}

pub(crate) async fn v1(
    state: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    balance(state, method, uri, headers, body, false).await
}
