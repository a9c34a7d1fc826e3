//! What a product offers to choose from: `GET /v2/subproducts` (plans,
//! accounts, billers, zakat types, e-SIM plans, as the seed lists them) and
//! `GET /v2/options` (the same choices as pages of a form field's options).

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::{Amount, Family, Product};
use tambah_engine::families::Subproduct;

use super::product;
use crate::wire;
use crate::wire::query::{first_value, number, PAGE_NUMBER_MAX};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/subproducts", get(subproducts_route)).route("/v2/options", get(options))
}

/// The field whose choices `/v2/options` lists for a product.
pub(crate) fn option_field(p: &Product) -> &'static str {
    if p.family == Family::Jompay {
        "biller_code"
    } else {
        "subproduct_code"
    }
}

fn subproducts(state: &Shared, p: &Product, account_number: Option<&str>) -> Result<Vec<Subproduct>, ApiError> {
    state
        .engine
        .families()
        .subproducts(p, account_number)
        .map_err(|r| ApiError::bad_request("invalid_request", r.reason))
}

fn amount_or_null(a: Option<Amount>) -> Value {
    a.map(wire::money).unwrap_or(Value::Null)
}

/// The plans, accounts, billers, zakat types or e-SIM plans of a product.
#[utoipa::path(get, path = "/v2/subproducts", tag = "products", security(("api_key" = []), ("bearer" = [])),
    params(
        ("product_code" = String, Query, min_length = 1, description = "A product with choices (data, PTPTN, JomPAY, zakat, e-SIM)"),
        ("account_number" = Option<String>, Query, nullable = false, description = "PTPTN: the payer's NRIC; data: the phone number; e-SIM: the country"),
        ("limit" = Option<u32>, Query, nullable = false, maximum = 2147483647, description = "At most this many"),
    ),
    responses((status = 200, description = "The choices", body = crate::openapi::resources::Subproducts), crate::openapi::resources::Refusals))]
pub(crate) async fn subproducts_route(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let q = req.query();
    let p = product(&state, first_value(q, "product_code"))?;
    let mut list = subproducts(&state, &p, first_value(q, "account_number").as_deref())?;
    if let Some(n) = number(q, "limit", "invalid_limit", 0..=PAGE_NUMBER_MAX)? {
        list.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let data: Vec<Value> = list
        .iter()
        .map(|s| {
            json!({
                "subproduct_code": s.code,
                "display_name": s.display_name,
                "denomination": amount_or_null(s.denomination),
                "face_value": amount_or_null(s.denomination),
                "validity": s.validity,
                "description": s.description,
                "account_number": s.account_number,
                "additional_description": null,
                "min": amount_or_null(s.min),
                "max": amount_or_null(s.max),
            })
        })
        .collect();
    Ok(Json(json!({"message": "success", "data": data})))
}

/// [ours] The choices of a purchase form's `select` field, in pages.
#[utoipa::path(get, path = "/v2/options", tag = "products", security(("api_key" = []), ("bearer" = [])),
    params(
        ("product_code" = String, Query, min_length = 1, description = "The product"),
        ("field_id" = Option<String>, Query, nullable = false, description = "`subproduct_code`, or `biller_code` for JomPAY (the default)"),
        ("account_number" = Option<String>, Query, nullable = false, description = "What the choices depend on, as for /v2/subproducts"),
        ("page" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 2147483647, description = "From 1"),
        ("limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 100, description = "Per page, default 20"),
    ),
    responses((status = 200, description = "A page of choices", body = crate::openapi::resources::Options), crate::openapi::resources::Refusals))]
pub(crate) async fn options(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let q = req.query();
    let p = product(&state, first_value(q, "product_code"))?;
    let field = first_value(q, "field_id").unwrap_or_else(|| option_field(&p).to_owned());
    if field != option_field(&p) {
        let message = format!("product {} has no options for field {field:?}", p.code);
        return Err(ApiError::bad_request("invalid_field", message));
    }
    let list = subproducts(&state, &p, first_value(q, "account_number").as_deref())?;
    let page = number(q, "page", "invalid_page", 1..=PAGE_NUMBER_MAX)?.unwrap_or(1) as usize;
    let per_page = number(q, "limit", "invalid_page", 1..=100)?.unwrap_or(20) as usize;
    let total = list.len();
    let items: Vec<Value> = list
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|s| {
            json!({
                "code": s.code,
                "label": s.display_name,
                "description": s.description,
                "price": s.denomination.map(|d| json!({"amount": d.to_cents(), "currency": "MYR"})),
                "validity": s.validity,
                "account_number": s.account_number,
            })
        })
        .collect();
    Ok(Json(json!({
        "product_code": p.code,
        "field_id": field,
        "items": items,
        "meta": {"current_page": page, "last_page": total.div_ceil(per_page).max(1), "per_page": per_page, "total": total},
    })))
}
