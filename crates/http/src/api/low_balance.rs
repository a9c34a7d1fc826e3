//! `GET`/`POST /v2/low-balance-threshold` (and v1): the merchant is notified
//! once each time the balance crosses below it (a signed webhook event to the
//! callback URL, and an e-mail when the operator has set up SMTP).

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::Amount;

use crate::wire::{self, metadata, params};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/low-balance-threshold", get(show).post(set))
        .route("/v1/low-balance-threshold", get(show).post(set))
}

/// Smallest threshold accepted: RM 1.
pub(crate) const MIN_THRESHOLD: Amount = Amount::from_rm(1);

fn shape(email: &str, threshold: Amount, now_ms: i64) -> Json<Value> {
    let note = if threshold == Amount::ZERO {
        "No low balance threshold is set".to_owned()
    } else {
        format!("You will receive email notification when your balance drop below {}", threshold.to_plain())
    };
    Json(json!({
        "data": {"Status": "Success", "Email": email, "BalanceThreshold": wire::money(threshold), "Note": note},
        "@metadata": metadata(now_ms),
    }))
}

/// The low-balance threshold. Also `GET /v1/low-balance-threshold`.
#[utoipa::path(get, path = "/v2/low-balance-threshold", tag = "wallet", security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The setting", body = crate::openapi::schemas::LowBalanceAnswer),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn show(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let m = &req.caller.merchant;
    Ok(shape(&m.email, m.low_balance_threshold, state.engine.now_ms()))
}

/// `?amount=` (query or body), at least 1.
/// Sets the threshold (at least RM 1). Also `POST /v1/low-balance-threshold`.
#[utoipa::path(post, path = "/v2/low-balance-threshold", tag = "wallet", security(("api_key" = []), ("bearer" = [])),
    params(("amount" = String, Query, pattern = "^(?:[1-9][0-9]{0,7}(?:\\.[0-9]{1,2})?|100000000(?:\\.00?)?)$", description = "Ringgit, from 1 to 100,000,000, at most two decimals")),
    responses(
        (status = 200, description = "The new setting", body = crate::openapi::schemas::LowBalanceAnswer),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The member's role (finance, viewer) cannot change settings", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn set(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    if !req.caller.can(tambah_domain::Capability::Settings) {
        return Err(ApiError::Forbidden("this member's role cannot change alert settings".into()));
    }
    let p = params::parse(&req.headers, req.query(), &req.body)?;
    let text = p.get("amount").unwrap_or_default();
    let amount = Amount::parse_positive(&text, 2)
        .map_err(|e| ApiError::bad_request("invalid_amount", format!("amount {text:?}: {e}")))?;
    if amount < MIN_THRESHOLD {
        return Err(ApiError::bad_request("invalid_amount", "amount must be at least 1"));
    }
    state.engine.set_low_balance_threshold(&req.caller.merchant, amount).await?;
    Ok(shape(&req.caller.merchant.email, amount, state.engine.now_ms()))
}
