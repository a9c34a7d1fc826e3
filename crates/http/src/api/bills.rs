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
    Router::new().route("/v2/bill-presentment", get(v2)).route("/v1/bill-presentment", get(v1))
}

/// What a bill account owes before it is paid, in the merchant's version (or `X-Api-Version`).
#[utoipa::path(get, path = "/v2/bill-presentment", tag = "bills", security(("api_key" = []), ("bearer" = [])),
    params(
        ("product" = String, Query, min_length = 1, description = "A product with presentment (postpaid, utility, JomPAY)"),
        ("account" = String, Query, min_length = 1, description = "The bill account (Ref-1 for JomPAY)"),
        ("biller_code" = Option<String>, Query, nullable = false, description = "JomPAY: the biller"),
        ("X-Api-Version" = Option<crate::openapi::schemas::ApiVersion>, Header, nullable = false, description = "The response version for this request (default: the merchant's)"),
    ),
    responses((status = 200, description = "What is owed; `message` says when the account is invalid", body = crate::openapi::resources::PresentmentAnswer), crate::openapi::resources::Refusals))]
pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let version = ApiVersion::for_request(&req.headers, &req.caller.merchant.api_version)?;
    bill_presentment(state, req, Some(version)).await
}

/// v1 answers as IIMMPACT's v1 SDK reads it: `metadata` beside `data`,
/// `Outstanding` a number or `null` (its `float()` raises on `""`).
#[utoipa::path(get, path = "/v1/bill-presentment", tag = "bills", security(("api_key" = []), ("bearer" = [])),
    params(
        ("product" = String, Query, min_length = 1, description = "A product with presentment (postpaid, utility, JomPAY)"),
        ("account" = String, Query, min_length = 1, description = "The bill account (Ref-1 for JomPAY)"),
        ("biller_code" = Option<String>, Query, nullable = false, description = "JomPAY: the biller"),
    ),
    responses((status = 200, description = "What is owed, as the v1 SDK reads it", body = crate::openapi::resources::PresentmentV1), crate::openapi::resources::Refusals))]
pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    ApiVersion::for_request(&req.headers, &req.caller.merchant.api_version)?;
    bill_presentment(state, req, None).await
}

async fn bill_presentment(state: Shared, req: Authed, version: Option<ApiVersion>) -> Result<Json<Value>, ApiError> {
    let Authed { caller, .. } = &req;
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
        Some(ApiVersion::Seed) => json!({ "data": seed_data(&pr, metadata) }),
        Some(ApiVersion::Current) => json!({ "data": current_data(&pr), "metadata": metadata }),
        None => {
            let metadata = json!({"status_code": 200, "product_code": p.code,
                                  "last_updated": wire::myt(state.engine.now_ms()).metadata_text()});
            json!({ "data": fields(&pr, pr.outstanding.map(wire::money).unwrap_or(Value::Null)), "metadata": metadata })
        }
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
