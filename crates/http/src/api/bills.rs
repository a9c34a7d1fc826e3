//! `GET /v2/bill-presentment?account=&product=&biller_code=&ref2=&amount=`
//! (and v1): what a bill account owes before it is paid.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_engine::bills::Presentment;

use super::product;
use crate::wire::{self, query::first_value, ApiVersion};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/bill-presentment", get(bill_presentment))
        .route("/v1/bill-presentment", get(bill_presentment))
}

async fn bill_presentment(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, headers, .. } = &req;
    let version = ApiVersion::for_request(headers, &caller.merchant.api_version)?;
    let q = req.query();
    let p = product(&state, first_value(q, "product"))?;
    let account =
        first_value(q, "account").ok_or_else(|| ApiError::bad_request("invalid_request", "account is required"))?;
    let biller = first_value(q, "biller_code");
    let pr = state
        .engine
        .present_bill(&caller.merchant, &p, &account, biller.as_deref())
        .await
        .map_err(|m| ApiError::bad_request("invalid_request", m))?;
    let metadata = json!({"status_code": "200", "product_code": p.code,
                          "last_updated": wire::myt(state.engine.now_ms()).metadata_text()});
    let mut answer = match version {
        ApiVersion::Seed => json!({ "data": seed_data(&pr, metadata) }),
        ApiVersion::Current => json!({ "data": current_data(&pr), "metadata": metadata }),
    };
    if let Some(e) = pr.error_message {
        answer["error_message"] = json!(e);
    }
    Ok(Json(answer))
}

/// The fields both versions show, `Outstanding` as given.
fn fields(pr: &Presentment, outstanding: Value) -> Value {
    json!({
        "message": pr.message,
        "CustomerName": pr.customer_name,
        "Outstanding": outstanding,
        "Balance": "",
        "Data": "",
        "Address": "",
        "E-Bill": "",
        "CustomField": "",
        "DueDate": pr.due_date,
    })
}

/// Seed: `Outstanding` in cents, `metadata` inside `data` before the
/// transaction fields, as the seed shows.
fn seed_data(pr: &Presentment, metadata: Value) -> Value {
    let mut data = fields(pr, pr.outstanding.map(|a| json!(a.to_cents())).unwrap_or_else(|| json!("")));
    data["metadata"] = metadata;
    data["transaction_validity"] = json!(pr.transaction_validity.to_string());
    data["transaction_message"] = json!(pr.transaction_message);
    data
}

/// Current: `Outstanding` as a number, and the biller's name.
fn current_data(pr: &Presentment) -> Value {
    let mut data = fields(pr, pr.outstanding.map(wire::money).unwrap_or_else(|| json!("")));
    data["BillerName"] = json!(pr.biller_name);
    data["transaction_validity"] = json!(pr.transaction_validity.to_string());
    data["transaction_message"] = json!(pr.transaction_message);
    data
}
