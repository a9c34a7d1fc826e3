//! `GET`/`POST /v2/low-balance-threshold` (and v1): the merchant is notified
//! once each time the balance crosses below it (a signed webhook event to the
//! callback URL, and an e-mail when the operator has set up SMTP).

use axum::Json;
use serde_json::{json, Value};
use tambah_domain::Amount;

use crate::{metadata, params, wire, ApiError, Authed, Shared};

/// Smallest threshold accepted: RM 1.
const MIN_THRESHOLD: Amount = Amount::from_rm(1);

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

pub(crate) async fn get(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    let m = &caller.merchant;
    Ok(shape(&m.email, Amount::from_minor(m.low_balance_threshold_minor), state.engine.now_ms()))
}

/// `?amount=` (query or body), at least 1.
pub(crate) async fn set(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri, headers, body } = req;
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    let text = p.get("amount").unwrap_or_default();
    let amount = Amount::parse_rm(&text, 2)
        .map_err(|e| ApiError::BadRequest { code: "invalid_amount", message: format!("amount {text:?}: {e}") })?;
    if amount < MIN_THRESHOLD {
        return Err(ApiError::BadRequest { code: "invalid_amount", message: "amount must be at least 1".into() });
    }
    state
        .engine
        .set_low_balance_threshold(&caller.merchant, amount)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(shape(&caller.merchant.email, amount, state.engine.now_ms()))
}
