//! `GET /v2/transactions` (and v1, which adds `refid`, `sn`, `sort`,
//! `direction`) and `POST /v2/transactions/check` (disputes).

use axum::http::StatusCode as Http;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tambah_domain::{time, Amount, StatusCode};
use tambah_engine::disputes::DisputeError;
use tambah_store::{OrderQuery, OrderRow, StatusGroup};

use crate::{params, wire, ApiError, Authed, Shared};

/// Rows per page when `limit` is absent, and at most.
pub const PAGE_DEFAULT: u32 = 50;
pub const PAGE_MAX: u32 = 500;

fn bad(code: &'static str, message: String) -> ApiError {
    ApiError::BadRequest { code, message }
}

/// Every value of a repeatable query parameter (`status=A&status=B`,
/// `status[]=A`, or `status=A,B`).
pub(crate) fn all_values(query: &str, name: &str) -> Vec<String> {
    let bracketed = format!("{name}[]");
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name || *k == bracketed)
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect()
}

pub(crate) fn first_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

pub(crate) fn limit_offset(query: &str) -> Result<(u32, u64), ApiError> {
    let limit = match first_value(query, "limit") {
        Some(v) => v.parse::<u32>().map_err(|_| bad("invalid_limit", format!("limit {v:?} is not a number")))?,
        None => PAGE_DEFAULT,
    };
    if limit == 0 || limit > PAGE_MAX {
        return Err(bad("invalid_limit", format!("limit must be 1 to {PAGE_MAX}")));
    }
    let offset = match first_value(query, "offset") {
        Some(v) => v.parse::<u64>().map_err(|_| bad("invalid_offset", format!("offset {v:?} is not a number")))?,
        None => 0,
    };
    Ok((limit, offset))
}

pub(crate) fn date_range(query: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
    match first_value(query, "date") {
        Some(text) => {
            let (from, to) = time::parse_date_range(&text).map_err(|m| bad("invalid_date", m))?;
            Ok((Some(from), Some(to)))
        }
        None => Ok((None, None)),
    }
}

fn status_group(text: &str) -> Result<StatusGroup, ApiError> {
    Ok(match text.to_ascii_uppercase().as_str() {
        "SUCCESSFUL" | "SUCCESS" => StatusGroup::Successful,
        "PENDING" => StatusGroup::Pending,
        "FAILED" => StatusGroup::Failed,
        "REFUND" => StatusGroup::Refund,
        _ => {
            return Err(bad("invalid_status", format!("status {text:?} is not SUCCESSFUL, PENDING, FAILED or REFUND")))
        }
    })
}

fn status_word(code: u8) -> &'static str {
    match code {
        20 => "Successful",
        0 | 1 => "Pending",
        53 => "Refund",
        _ => "Failed",
    }
}

fn item(state: &Shared, o: &OrderRow, member_id: &str) -> Value {
    let catalog = state.engine.catalog();
    let product = catalog.get(&o.product);
    let extras: Value = serde_json::from_str(&o.extras_json).unwrap_or(Value::Null);
    json!({
        "trxid": o.id.to_string(),
        "refid": o.refid,
        "date": wire::myt(o.created_at_ms).millis_text(),
        "response_date": wire::myt(o.updated_at_ms).millis_text(),
        "product_code": o.product,
        "product_name": product.map(|p| p.name.clone()).unwrap_or_default(),
        "biller_code": extras.get("biller_code").and_then(Value::as_str).unwrap_or(""),
        "product_image_url": format!("{}/img/{}.png", state.config.public_url, o.product),
        "category": product.map(|p| p.category.clone()).unwrap_or_default(),
        "amount": Amount::from_minor(o.amount_minor).to_cents(),
        "price": Amount::from_minor(o.cost_minor).to_cents(),
        "account": o.account,
        "sn": o.sn,
        "sender": "",
        "member_id": member_id,
        "status": status_word(o.status),
        "status_code": o.status.to_string(),
        "remarks": o.remarks,
    })
}

async fn list(state: Shared, req: Authed, v1: bool) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri, headers: _, body: _ } = req;
    let q = uri.query().unwrap_or("");
    let (from_ms, to_ms) = date_range(q)?;
    let (limit, offset) = limit_offset(q)?;
    let statuses = all_values(q, "status").iter().map(|s| status_group(s)).collect::<Result<Vec<_>, _>>()?;
    let mut query = OrderQuery {
        merchant_id: caller.merchant.id,
        from_ms,
        to_ms,
        statuses,
        account: first_value(q, "account"),
        product: first_value(q, "product"),
        limit,
        offset,
        ..OrderQuery::default()
    };
    if v1 {
        query.refid = first_value(q, "refid");
        query.sn = first_value(q, "sn");
        if let Some(sort) = first_value(q, "sort") {
            if !matches!(sort.as_str(), "date" | "created_at" | "id") {
                return Err(bad("invalid_sort", format!("sort {sort:?}: only date is supported")));
            }
        }
        query.ascending = match first_value(q, "direction").as_deref() {
            None | Some("desc") | Some("DESC") => false,
            Some("asc") | Some("ASC") => true,
            Some(other) => return Err(bad("invalid_direction", format!("direction {other:?} is not asc or desc"))),
        };
    }
    let (rows, t) = state.engine.store().list_orders(&query).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let data: Vec<Value> = rows.iter().map(|o| item(&state, o, &caller.merchant.account)).collect();
    let amount = Amount::from_minor(t.successful_amount_minor);
    let price = Amount::from_minor(t.successful_cost_minor);
    let profit = Amount::from_minor(t.successful_amount_minor - t.successful_cost_minor);
    Ok(Json(json!({
        "data": data,
        "meta": {
            "transaction_count": t.count.to_string(),
            "total_amount": amount.to_cents(),
            "total_price": price.to_cents(),
            "profit": profit.to_cents(),
            "successful_count": t.successful.to_string(),
            "pending_count": t.pending.to_string(),
            "failed_count": t.failed.to_string(),
            "refund_count": t.refund.to_string(),
        }
    })))
}

pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    list(state, req, false).await
}

pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    list(state, req, true).await
}

/// `POST /v2/transactions/check {"refid"?, "trxid"?, "user_email"?: [...]}`:
/// opens a dispute for a successful transaction the customer says did not
/// arrive.
pub(crate) async fn check(state: Shared, req: Authed) -> Result<Response, ApiError> {
    let Authed { caller, uri, headers, body } = req;
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    let emails: Vec<String> =
        match serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("user_email").cloned()) {
            Some(Value::Array(list)) => list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            Some(Value::String(one)) => vec![one],
            _ => p.get("user_email").into_iter().collect(),
        };
    let store = state.engine.store();
    let order = match (p.get("refid"), p.get("trxid")) {
        (Some(refid), _) => store.order_by_refid(caller.merchant.id, &refid).await,
        (None, Some(trxid)) => match trxid.parse::<i64>() {
            Ok(id) => store.order(id).await.map(|o| o.filter(|o| o.merchant_id == caller.merchant.id)),
            Err(_) => Ok(None),
        },
        (None, None) => return Err(bad("invalid_request", "refid or trxid is required".into())),
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(order) = order else {
        let refid = p.get("refid").unwrap_or_default();
        let body = json!({"data": {"refid": refid, "status": "Failed", "message": "Transaction not found"}});
        return Ok((Http::NOT_FOUND, Json(body)).into_response());
    };
    let answer = match state.engine.open_dispute(&order, &emails.join(",")).await {
        Ok(d) => json!({"data": {"refid": order.refid, "status": "Success",
            "message": format!("Dispute case {} is open; we will check with the provider and reply", d.id)}}),
        Err(DisputeError::NotRefundable(o)) => json!({"data": {"refid": order.refid, "status": "Failed",
            "message": format!("Only successful transactions can be disputed; this one is {} ({})",
                StatusCode::from_u8(o.status).map(|c| c.status_word()).unwrap_or("unknown"), o.status)}}),
        Err(DisputeError::NotFound(m)) => return Err(ApiError::NotFound(m)),
        Err(DisputeError::Failed(m)) => return Err(ApiError::Internal(m)),
    };
    Ok((Http::OK, Json(answer)).into_response())
}
