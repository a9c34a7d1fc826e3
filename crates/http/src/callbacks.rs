//! `GET`/`POST /v2/callback-url` (and v1), and [ours] the signing secret,
//! its rotation, manual redelivery and the delivery log of an order.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Value};

use crate::delivery::check_url;
use crate::{metadata, params, wire, ApiError, Authed, Shared};

fn setting(url: &str, method: &str, now_ms: i64) -> Json<Value> {
    Json(json!({
        "data": {"Status": "Success", "CallbackUrl": url, "Method": method},
        "@metadata": metadata(now_ms),
    }))
}

pub(crate) async fn get(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    let m = &caller.merchant;
    Ok(setting(&m.callback_url, &m.callback_method, state.engine.now_ms()))
}

/// `?url=&method=GET|POST` (query or body); an empty `url` turns callbacks off.
pub(crate) async fn set(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri, headers, body } = req;
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    let url = p.get("url").unwrap_or_default().trim().to_owned();
    let callback_method = p.get("method").unwrap_or_else(|| "POST".into()).to_ascii_uppercase();
    if !matches!(callback_method.as_str(), "GET" | "POST") {
        return Err(ApiError::BadRequest { code: "invalid_method", message: "method must be GET or POST".into() });
    }
    if !url.is_empty() {
        check_url(&url, state.config.callback_allow_private_networks)
            .await
            .map_err(|message| ApiError::BadRequest { code: "invalid_callback_url", message })?;
    }
    state
        .engine
        .set_callback_url(&caller.merchant, &url, &callback_method)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(setting(&url, &callback_method, state.engine.now_ms()))
}

/// [ours] The secret that signs callbacks (`X-Signature: t=…,v1=…`).
pub(crate) async fn secret(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    let secrets =
        state.engine.callback_secrets(caller.merchant.id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({"data": {"secret": secrets[0], "previous_secret_valid": secrets.len() > 1}})))
}

/// [ours] A new secret; the previous one keeps signing for 24 hours.
pub(crate) async fn rotate(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    let secret =
        state.engine.rotate_callback_secret(caller.merchant.id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({"data": {"secret": secret, "previous_secret_valid": true}})))
}

/// [ours] Queues the order's current status for delivery again.
pub(crate) async fn redeliver(state: Shared, Path(refid): Path<String>, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    match state.engine.redeliver(&caller.merchant, &refid).await {
        Ok(id) => Ok(Json(json!({"data": {"refid": refid, "callback_id": id, "status": "queued"}}))),
        Err(tambah_engine::callbacks::CallbackError::NotFound(m)) => Err(ApiError::NotFound(m)),
        Err(tambah_engine::callbacks::CallbackError::Store(m)) => Err(ApiError::Internal(m)),
    }
}

/// [ours] Every callback of an order and every attempt to deliver it.
pub(crate) async fn log(state: Shared, Path(refid): Path<String>, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    Ok(Json(json!({"data": log_json(&state.engine, caller.merchant.id, &refid).await?})))
}

/// The delivery log of a merchant's order, as JSON (also for the CLI).
pub async fn log_json(engine: &tambah_engine::Engine, merchant_id: i64, refid: &str) -> Result<Value, ApiError> {
    let order = engine
        .store()
        .order_by_refid(merchant_id, refid)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("no transaction with refid {refid:?}")))?;
    let log = engine.store().callback_log(order.id).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Value::Array(
        log.into_iter()
            .map(|(cb, attempts)| {
                json!({
                    "id": cb.id,
                    "status_code": cb.status,
                    "queued_at": wire::myt(cb.created_at_ms).millis_text(),
                    "state": cb.state,
                    "attempts": attempts.iter().map(|a| json!({
                        "attempt": a.attempt,
                        "at": wire::myt(a.at_ms).millis_text(),
                        "url": a.url,
                        "http_status": a.http_status,
                        "latency_ms": a.latency_ms,
                        "error": a.error,
                        "response_excerpt": a.response_excerpt,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}
