//! `GET /v2/balance` and `/v1/balance`: the wallet, pending holds taken off.

use axum::Json;
use serde_json::{json, Value};

use crate::{wire, ApiError, Authed, Shared};

async fn balance(state: Shared, req: Authed, with_access: bool) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    let m = &caller.merchant;
    let balance = state.engine.balance(m).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut data = json!({"account": m.account, "name": m.name, "balance": wire::money(balance), "level": m.level});
    if with_access {
        data["access"] = json!(m.access);
    }
    Ok(Json(json!({ "data": data })))
}

pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    balance(state, req, true).await
}

pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    balance(state, req, false).await
}
