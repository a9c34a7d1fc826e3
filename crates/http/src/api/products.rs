//! `GET /v2/product-list` (alias `/v2/products`) and `GET /v1/products`: the
//! catalogue priced for the caller's level, in the caller's version.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::Product;

use crate::wire::query::first_value;
use crate::wire::{self, ApiVersion};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/product-list", get(v2)).route("/v2/products", get(v2)).route("/v1/products", get(v1))
}

pub(crate) fn status(p: &Product) -> &'static str {
    if p.active {
        "Active"
    } else {
        "Inactive"
    }
}

/// The seed's item (`2023-10-01`).
fn seed_item(p: &Product, level: &str, public_url: &str) -> Value {
    json!({
        "status": status(p),
        "category": p.category,
        "product_code": p.code,
        "operator_code": p.operator_code,
        "product_name": p.name,
        "denomination": p.denomination.text(),
        "unit_price": wire::unit_price_text(p.unit_price_bp),
        "discount": p.discount_text(level),
        "api_parameter": p.api_parameter,
        "update_time": p.update_time,
        "note": p.note,
        "datatype": p.datatype(),
        "display_name": p.display_name,
        "group_type": p.group_type,
        "category_code": p.category_code,
        "has_subproduct": p.has_subproduct.to_string(),
        "should_sync": "true",
        "product_img": format!("{public_url}/img/{}.png", p.code),
    })
}

/// The live API's item (`2025-05-20`), plus the caller's price (additive).
fn current_item(p: &Product, level: &str, public_url: &str) -> Value {
    json!({
        "status": status(p),
        "has_subproduct": p.has_subproduct,
        "product_code": p.code,
        "product_name": p.name,
        "product_remarks": p.note,
        "account_label": p.account_label,
        "keyboard_type": p.keyboard_type,
        "denomination": p.denomination.text(),
        "common_denominations": p.common_denominations,
        "denomination_data_type": p.datatype(),
        "denomination_currency": "MYR",
        "product_group": p.product_group,
        "category": p.category,
        "image_url": format!("{public_url}/img/{}.png", p.code),
        "account_type": p.account_type,
        "is_refundable": p.is_refundable,
        "unit_price": wire::unit_price_text(p.unit_price_bp),
        "discount": p.discount_text(level),
    })
}

/// Every product with the caller's prices. Also `GET /v2/products`.
#[utoipa::path(get, path = "/v2/product-list", tag = "products", security(("api_key" = []), ("bearer" = [])),
    params(("X-Api-Version" = Option<crate::openapi::schemas::ApiVersion>, Header, nullable = false, description = "The response version; default: the merchant's")),
    responses(
        (status = 200, description = "The products in the merchant's version", body = crate::openapi::schemas::ProductList),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, headers, .. } = req;
    let version = ApiVersion::for_request(&headers, &caller.merchant.api_version)?;
    let level = &caller.merchant.level;
    let url = &state.config.public_url;
    let catalog = state.engine.catalog();
    let items: Vec<Value> = catalog
        .products()
        .iter()
        .map(|p| match version {
            ApiVersion::Seed => seed_item(p, level, url),
            ApiVersion::Current => current_item(p, level, url),
        })
        .collect();
    Ok(Json(json!({ "data": items })))
}

/// v1: the products in the 2023-10-01 shape, optionally one `category` (case-insensitive).
#[utoipa::path(get, path = "/v1/products", tag = "products", security(("api_key" = []), ("bearer" = [])),
    params(("category" = Option<String>, Query, description = "One category, case-insensitive")),
    responses(
        (status = 200, description = "The products", body = crate::openapi::schemas::ProductListV1),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let category = first_value(req.query(), "category");
    let level = &req.caller.merchant.level;
    let catalog = state.engine.catalog();
    let items: Vec<Value> = catalog
        .products()
        .iter()
        .filter(|p| category.as_ref().is_none_or(|c| p.category.eq_ignore_ascii_case(c)))
        .map(|p| seed_item(p, level, &state.config.public_url))
        .collect();
    Ok(Json(json!({ "data": items })))
}
