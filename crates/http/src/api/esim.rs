//! e-SIM: `GET /v2/esim/countries` (where plans are sold) and
//! `GET /v2/esim/qr/{refid}` (the activation QR code, to its buyer only).

use std::sync::Arc;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::StatusCode;

use crate::{qr, ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/esim/countries", get(countries)).route("/v2/esim/qr/{refid}", get(qr_code))
}

/// [ours] The countries where e-SIM plans are sold.
#[utoipa::path(get, path = "/v2/esim/countries", tag = "products", security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "The countries", body = crate::openapi::resources::EsimCountries), crate::openapi::resources::Refusals))]
pub(crate) async fn countries(state: Shared, _req: Authed) -> Result<Json<Value>, ApiError> {
    let families = state.engine.families();
    let data: Vec<Value> = families
        .countries()
        .iter()
        .map(|c| json!({"iso": c.iso, "name": c.name, "plan_count": families.esim_plan_count(c)}))
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// [ours] The activation QR code of a delivered e-SIM, to its buyer only.
#[utoipa::path(get, path = "/v2/esim/qr/{refid}", tag = "topup", security(("api_key" = []), ("bearer" = [])),
    params(("refid" = String, Path, description = "The order's refid")),
    responses((status = 200, description = "The QR code", content_type = "image/png", body = crate::openapi::resources::Png), crate::openapi::resources::Refusals, crate::openapi::resources::NotFound))]
pub(crate) async fn qr_code(state: Shared, Path(refid): Path<String>, req: Authed) -> Result<Response, ApiError> {
    let order = state
        .engine
        .order_by_refid(req.caller.merchant.id, &refid)
        .await?
        .filter(|o| o.pin.starts_with("LPA:") && o.status == StatusCode::SUCCESSFUL)
        .ok_or_else(|| ApiError::NotFound(format!("no delivered e-SIM with refid {refid:?}")))?;
    let png = qr::png(&order.pin, 8).map_err(ApiError::Internal)?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "private, no-store")], png).into_response())
}
