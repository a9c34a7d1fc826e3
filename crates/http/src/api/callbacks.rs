//! `GET`/`POST /v2/callback-url` (and v1), and [ours] the signing secret,
//! its rotation, manual redelivery and the delivery log of an order.

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::{MerchantId, StatusCode};
use tambah_engine::auth::SettingAccess;
use tambah_engine::Engine;

use crate::guard::check_url;
use crate::wire::{self, metadata, params};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/callback-url", get(show).post(set))
        .route("/v1/callback-url", get(show).post(set))
        .route("/v2/callback-secret", get(secret))
        .route("/v2/callback-secret/rotate", post(rotate))
        .route("/v2/callbacks/{refid}", get(log))
        .route("/v2/callbacks/{refid}/redeliver", post(redeliver))
}

/// 403 unless the caller's account and credential allow `access`.
fn allowed(req: &Authed, access: SettingAccess) -> Result<(), ApiError> {
    req.caller.may(access).map_err(|reason| ApiError::Forbidden(reason.into()))
}

fn setting(url: &str, method: &str, now_ms: i64) -> Json<Value> {
    Json(json!({
        "data": {"Status": "Success", "CallbackUrl": url, "Method": method},
        "@metadata": metadata(now_ms),
    }))
}

/// The callback URL and method. Also `GET /v1/callback-url`.
#[utoipa::path(get, path = "/v2/callback-url", tag = "callbacks", security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The setting", body = crate::openapi::schemas::CallbackAnswer),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn show(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let m = &req.caller.merchant;
    Ok(setting(&m.callback_url, &m.callback_method, state.engine.now_ms()))
}

/// `?url=&method=GET|POST` (query or body); an empty `url` turns callbacks off.
/// Sets the callback URL (empty: off) and method. Also `POST /v1/callback-url`.
#[utoipa::path(post, path = "/v2/callback-url", tag = "callbacks", security(("api_key" = []), ("bearer" = [])),
    params(
        ("url" = String, Query, description = "http or https, globally reachable; empty turns callbacks off"),
        ("method" = Option<crate::openapi::schemas::CallbackMethod>, Query, nullable = false, description = "POST (default) or GET"),
    ),
    responses(
        (status = 200, description = "The new setting", body = crate::openapi::schemas::CallbackAnswer),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The account or credential may not change it", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn set(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    allowed(&req, SettingAccess::Change)?;
    let p = params::parse(&req.headers, req.query(), &req.body)?;
    // Required, so that a misspelt parameter cannot turn callbacks off.
    let url = p
        .get("url")
        .ok_or_else(|| ApiError::bad_request("invalid_request", "url is required (an empty url turns callbacks off)"))?
        .trim()
        .to_owned();
    let callback_method = p.get("method").unwrap_or_else(|| "POST".into()).to_ascii_uppercase();
    if !matches!(callback_method.as_str(), "GET" | "POST") {
        return Err(ApiError::bad_request("invalid_method", "method must be GET or POST"));
    }
    if !url.is_empty() {
        check_url(&url, state.config.callback_allow_private_networks)
            .await
            .map_err(|message| ApiError::bad_request("invalid_callback_url", message))?;
    }
    state.engine.set_callback_url(&req.caller.merchant, &url, &callback_method).await?;
    Ok(setting(&url, &callback_method, state.engine.now_ms()))
}

/// [ours] The secret that signs callbacks (`X-Signature: t=…,v1=…`).
#[utoipa::path(get, path = "/v2/callback-secret", tag = "callbacks", security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "The signing secret", body = crate::openapi::resources::CallbackSecretAnswer), crate::openapi::resources::Refusals, crate::openapi::resources::Forbidden))]
pub(crate) async fn secret(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    allowed(&req, SettingAccess::ReadSecret)?;
    let secrets = state.engine.callback_secrets(req.caller.merchant.id).await?;
    Ok(Json(json!({"data": {"secret": secrets[0], "previous_secret_valid": secrets.len() > 1}})))
}

/// [ours] A new secret; the previous one keeps signing for 24 hours.
#[utoipa::path(post, path = "/v2/callback-secret/rotate", tag = "callbacks", security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "The new secret", body = crate::openapi::resources::CallbackSecretAnswer), crate::openapi::resources::Refusals, crate::openapi::resources::Forbidden))]
pub(crate) async fn rotate(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    allowed(&req, SettingAccess::Change)?;
    let secret = state.engine.rotate_callback_secret(req.caller.merchant.id).await?;
    Ok(Json(json!({"data": {"secret": secret, "previous_secret_valid": true}})))
}

/// [ours] Queues the order's current status for delivery again.
#[utoipa::path(post, path = "/v2/callbacks/{refid}/redeliver", tag = "callbacks", security(("api_key" = []), ("bearer" = [])),
    params(("refid" = String, Path, description = "The order's refid")),
    responses(
        (status = 200, description = "Queued", body = crate::openapi::resources::RedeliveryAnswer),
        (status = 409, description = "Its callback is still pending (`callback_pending`: redeliver once it is delivered or has failed), or no callback URL is set (`no_callback_url`)", body = crate::openapi::schemas::ErrorBody),
        crate::openapi::resources::Refusals, crate::openapi::resources::Forbidden, crate::openapi::resources::NotFound))]
pub(crate) async fn redeliver(state: Shared, Path(refid): Path<String>, req: Authed) -> Result<Json<Value>, ApiError> {
    allowed(&req, SettingAccess::Change)?;
    let id = state.engine.redeliver(&req.caller.merchant, &refid).await?;
    Ok(Json(json!({"data": {"refid": refid, "callback_id": id.get(), "status": "queued"}})))
}

/// [ours] Every callback of an order and every attempt to deliver it.
#[utoipa::path(get, path = "/v2/callbacks/{refid}", tag = "callbacks", security(("api_key" = []), ("bearer" = [])),
    params(("refid" = String, Path, description = "The order's refid")),
    responses((status = 200, description = "The order's callbacks, oldest first", body = crate::openapi::resources::CallbackLog), crate::openapi::resources::Refusals, crate::openapi::resources::NotFound))]
pub(crate) async fn log(state: Shared, Path(refid): Path<String>, req: Authed) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"data": log_json(&state.engine, req.caller.merchant.id, &refid).await?})))
}

/// The delivery log of a merchant's order, as JSON (also for the CLI).
pub async fn log_json(engine: &Engine, merchant_id: MerchantId, refid: &str) -> Result<Value, ApiError> {
    let (_order, log) = engine
        .callback_log(merchant_id, refid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no transaction with refid {refid:?}")))?;
    Ok(Value::Array(
        log.into_iter()
            .map(|(cb, attempts)| {
                json!({
                    "id": cb.id.get(),
                    "status_code": cb.status.map(StatusCode::code),
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
