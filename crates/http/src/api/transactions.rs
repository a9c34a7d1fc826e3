//! `GET /v2/transactions` (and v1, which adds `refid`, `sn`, `sort`,
//! `direction`) and `POST /v2/transactions/check` (disputes).

use std::sync::Arc;

use axum::http::StatusCode as Http;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::{Amount, MerchantId, OrderId, StatusCode};
use tambah_engine::disputes::DisputeError;
use tambah_store::{OrderQuery, OrderRow, StatusGroup};

use crate::wire::query::{all_values, any_empty, date_range, first_value, given, limit_offset};
use crate::wire::{self, params};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/transactions", get(v2))
        .route("/v1/transactions", get(v1))
        .route("/v2/transactions/check", post(check))
}

fn status_group(text: &str) -> Result<StatusGroup, ApiError> {
    Ok(match text.to_ascii_uppercase().as_str() {
        "SUCCESSFUL" | "SUCCESS" => StatusGroup::Successful,
        "PENDING" => StatusGroup::Pending,
        "FAILED" => StatusGroup::Failed,
        "REFUND" => StatusGroup::Refund,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_status",
                format!("status {text:?} is not SUCCESSFUL, PENDING, FAILED or REFUND"),
            ))
        }
    })
}

pub(crate) fn status_word(code: StatusCode) -> &'static str {
    match code {
        StatusCode::SUCCESSFUL => "Successful",
        StatusCode::ACCEPTED | StatusCode::PROCESSING => "Pending",
        StatusCode::REFUND => "Refund",
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
        "amount": o.amount.to_cents(),
        "price": o.cost.to_cents(),
        "account": o.account,
        "sn": o.sn,
        "sender": "",
        "member_id": member_id,
        "status": status_word(o.status),
        "status_code": o.status.code().to_string(),
        "remarks": o.remarks,
    })
}

/// The filters both versions take: date, page, status, account, product.
pub(crate) fn base_query(q: &str, merchant_id: MerchantId) -> Result<OrderQuery, ApiError> {
    let (from_ms, to_ms) = date_range(q)?;
    let (limit, offset) = limit_offset(q)?;
    if any_empty(q, "status") {
        return Err(status_group("").expect_err("an empty status is no status"));
    }
    let statuses = all_values(q, "status").iter().map(|s| status_group(s)).collect::<Result<Vec<_>, _>>()?;
    Ok(OrderQuery {
        merchant_id,
        from_ms,
        to_ms,
        statuses,
        account: first_value(q, "account"),
        product: first_value(q, "product"),
        limit,
        offset,
        ..OrderQuery::default()
    })
}

/// The merchant's orders, newest first, with totals over every match.
#[utoipa::path(get, path = "/v2/transactions", tag = "reports", security(("api_key" = []), ("bearer" = [])),
    params(
        ("date" = Option<String>, Query, description = "`yyyy-MM-dd` or `yyyy-MM-dd - yyyy-MM-dd`, Malaysia time"),
        ("limit" = Option<u32>, Query, description = "1-500 (50)", minimum = 1, maximum = 500),
        ("offset" = Option<u64>, Query, description = "From 0"),
        ("status" = Option<String>, Query, description = "SUCCESSFUL, PENDING, FAILED or REFUND (repeatable)"),
        ("account" = Option<String>, Query),
        ("product" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "A page of orders", body = crate::openapi::schemas::Transactions),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let query = base_query(req.query(), req.caller.merchant.id)?;
    list(&state, &req, &query).await
}

/// v1 also filters by `refid` and `sn`, sorts by date either way, and
/// answers in the shape IIMMPACT's v1 SDK declares.
#[utoipa::path(get, path = "/v1/transactions", tag = "reports", security(("api_key" = []), ("bearer" = [])),
    params(
        ("date" = Option<String>, Query, description = "`yyyy-MM-dd` or `yyyy-MM-dd - yyyy-MM-dd`, Malaysia time"),
        ("limit" = Option<u32>, Query, description = "1-500 (50)", minimum = 1, maximum = 500),
        ("offset" = Option<u64>, Query, description = "From 0"),
        ("status" = Option<String>, Query, description = "SUCCESSFUL, PENDING, FAILED or REFUND (repeatable)"),
        ("account" = Option<String>, Query),
        ("product" = Option<String>, Query),
        ("refid" = Option<String>, Query),
        ("sn" = Option<String>, Query, description = "A serial, or a voucher's packed sn"),
        ("sort" = Option<String>, Query, description = "`date` (the only order)"),
        ("direction" = Option<String>, Query, description = "`asc` or `desc` (default)"),
    ),
    responses(
        (status = 200, description = "A page of orders, as IIMMPACT's v1 SDK reads them", body = crate::openapi::schemas::TransactionsV1),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let q = req.query();
    let mut query = base_query(q, req.caller.merchant.id)?;
    query.refid = first_value(q, "refid");
    // A voucher's v1 sn is packed (`PIN=…;SN=…;EXPIRY=…`): its serial is the
    // stored one. A v1 product may name a plan after a slash.
    query.sn = first_value(q, "sn").map(|sn| packed_serial(&sn).unwrap_or(sn));
    query.product = query.product.map(|p| p.split_once('/').map_or(p.clone(), |(code, _)| code.to_owned()));
    if let Some(sort) = given(q, "sort") {
        if !matches!(sort.as_str(), "date" | "created_at" | "id") {
            return Err(ApiError::bad_request("invalid_sort", format!("sort {sort:?}: only date is supported")));
        }
    }
    query.ascending = match given(q, "direction").as_deref() {
        None | Some("desc") | Some("DESC") => false,
        Some("asc") | Some("ASC") => true,
        Some(other) => {
            return Err(ApiError::bad_request("invalid_direction", format!("direction {other:?} is not asc or desc")))
        }
    };
    let (rows, t) = state.engine.reports().transactions(&query).await?;
    let ids: Vec<OrderId> = rows.iter().map(|o| o.id).collect();
    let held = state.engine.reports().hold_balances(&ids).await?;
    let member_id: Value = req.caller.merchant.account.parse::<i64>().map_or(Value::Null, Value::from);
    let data: Vec<Value> = rows.iter().map(|o| v1_item(&state, o, &member_id, held.get(&o.id).copied())).collect();
    Ok(Json(json!({
        "data": data,
        "meta": {
            "transaction_count": t.count.to_string(),
            "total_amount": wire::money(t.successful_amount),
            "total_price": wire::money(t.successful_cost),
        }
    })))
}

/// The serial of a packed v1 `sn` (`PIN=…;SN=…;EXPIRY=…`), if it is one.
fn packed_serial(sn: &str) -> Option<String> {
    sn.split(';').find_map(|part| part.strip_prefix("SN=")).map(str::to_owned)
}

/// A row as IIMMPACT's v1 SDK reads it (`TransactionsResponseData`): the
/// product and status as objects, the wallet's balance before and after the
/// order's hold (`null` for an order refused before anything was held).
fn v1_item(state: &Shared, o: &OrderRow, member_id: &Value, after_hold: Option<Amount>) -> Value {
    let name = state.engine.catalog().get(&o.product).map(|p| p.name.clone()).unwrap_or_default();
    let balance = match after_hold.and_then(|after| after.checked_add(o.cost).map(|before| (before, after))) {
        Some((before, after)) => json!({"prev": wire::money(before), "new": wire::money(after)}),
        None => json!({"prev": null, "new": null}),
    };
    json!({
        "id": o.id.get(),
        "entry_date": wire::myt(o.created_at_ms).millis_text(),
        "product": {"code": o.product, "name": name},
        "amount": wire::money(o.amount),
        "topup_number": o.account,
        "sender": "",
        "member_id": member_id,
        "status": {"code": o.status.code(), "text": status_word(o.status),
                   "date": wire::myt(o.updated_at_ms).millis_text()},
        "balance": balance,
        "price": wire::money(o.cost),
        "sn": wire::order::v1_sn(&o.sn, &o.pin, &o.expiry),
        "remarks": o.remarks,
        "ref_id": o.refid,
    })
}

/// One page of orders and the totals of every order the filters match.
async fn list(state: &Shared, req: &Authed, query: &OrderQuery) -> Result<Json<Value>, ApiError> {
    let (rows, t) = state.engine.reports().transactions(query).await?;
    let data: Vec<Value> = rows.iter().map(|o| item(state, o, &req.caller.merchant.account)).collect();
    let amount = t.successful_amount;
    let price = t.successful_cost;
    let profit = amount.checked_sub(price).ok_or_else(|| ApiError::Internal("profit overflows".into()))?;
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

/// The `user_email` of a check request: a JSON list, one JSON string, or
/// the form field.
fn emails(body: &[u8], p: &params::Params) -> Vec<String> {
    match serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("user_email").cloned()) {
        Some(Value::Array(list)) => list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(one)) => vec![one],
        _ => p.get("user_email").into_iter().collect(),
    }
}

/// The caller's order named by `refid` or else `trxid`.
async fn order(state: &Shared, merchant_id: MerchantId, p: &params::Params) -> Result<Option<OrderRow>, ApiError> {
    let engine = &state.engine;
    let order = match (p.get("refid"), p.get("trxid")) {
        (Some(refid), _) => engine.order_by_refid(merchant_id, &refid).await?,
        (None, Some(trxid)) => match trxid.parse::<i64>() {
            Ok(id) => engine.order_of(merchant_id, OrderId::new(id)).await?,
            Err(_) => None,
        },
        (None, None) => return Err(ApiError::bad_request("invalid_request", "refid or trxid is required")),
    };
    Ok(order)
}

/// `POST /v2/transactions/check {"refid"?, "trxid"?, "user_email"?: [...]}`:
/// opens a dispute for a successful transaction the customer says did not
/// arrive.
#[utoipa::path(post, path = "/v2/transactions/check", tag = "reports", security(("api_key" = []), ("bearer" = [])),
    request_body(content = crate::openapi::resources::CheckRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A dispute is open (`Success`), or why not (`Failed`)", body = crate::openapi::resources::CheckAnswer),
        (status = 404, description = "No such transaction", body = crate::openapi::resources::CheckAnswer),
        crate::openapi::resources::Refusals, crate::openapi::resources::Forbidden))]
pub(crate) async fn check(state: Shared, req: Authed) -> Result<Response, ApiError> {
    // A dispute may end in a refund: it is an order's business.
    if !req.caller.can(tambah_domain::Capability::Order) {
        return Err(ApiError::Forbidden("this member's role (finance or viewer) cannot open disputes".into()));
    }
    let p = params::parse(&req.headers, req.query(), &req.body)?;
    let emails = emails(&req.body, &p);
    let Some(order) = order(&state, req.caller.merchant.id, &p).await? else {
        let refid = p.get("refid").unwrap_or_default();
        let body = json!({"data": {"refid": refid, "status": "Failed", "message": "Transaction not found"}});
        return Ok((Http::NOT_FOUND, Json(body)).into_response());
    };
    let answer = match state.engine.open_dispute(&order, &emails.join(",")).await {
        Ok(d) => json!({"data": {"refid": order.refid, "status": "Success",
            "message": format!("Dispute case {} is open; we will check with the provider and reply", d.id)}}),
        Err(DisputeError::NotRefundable(o) | DisputeError::NotPending(o)) => {
            json!({"data": {"refid": order.refid, "status": "Failed",
            "message": format!("Only successful transactions can be disputed; this one is {} ({})",
                o.status.status_word(), o.status.code())}})
        }
        Err(DisputeError::NotFound(m)) => return Err(ApiError::NotFound(m)),
        Err(DisputeError::Failed(m)) => return Err(ApiError::Internal(m)),
    };
    Ok((Http::OK, Json(answer)).into_response())
}
