//! [ours] Reconciliation reports: the daily transaction summary (per
//! Malaysia-time day and product: count, amount, cost, profit) and the monthly
//! invoice statement, as JSON or CSV (`format=csv`). The CLI renders the same.

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::{time, Amount};
use tambah_engine::Engine;
use tambah_store::MerchantRow;

use crate::wire::query::first_value;
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/reports/transaction-summary", get(summary_route))
        .route("/v2/reports/invoice", get(invoice_route))
}

/// The daily summary of successful orders in [from_ms, to_ms).
pub async fn summary(engine: &Engine, m: &MerchantRow, from_ms: i64, to_ms: i64) -> Result<Value, ApiError> {
    let rows = engine.store().daily_summary(m.id, from_ms, to_ms).await?;
    let catalog = engine.catalog();
    let (mut count, mut amount, mut cost) = (0u64, 0i64, 0i64);
    let lines: Vec<Value> = rows
        .iter()
        .map(|r| {
            count += r.count;
            amount += r.amount_minor;
            cost += r.cost_minor;
            json!({
                "date": time::date_text(r.day),
                "product_code": r.product,
                "product_name": catalog.get(&r.product).map(|p| p.name.clone()).unwrap_or_default(),
                "count": r.count,
                "amount": Amount::from_minor(r.amount_minor).to_cents(),
                "cost": Amount::from_minor(r.cost_minor).to_cents(),
                "profit": Amount::from_minor(r.amount_minor - r.cost_minor).to_cents(),
            })
        })
        .collect();
    Ok(json!({
        "account": m.account,
        "from": time::date_text(time::day_of(from_ms)),
        "to": time::date_text(time::day_of(to_ms - 1)),
        "data": lines,
        "total": {"count": count, "amount": Amount::from_minor(amount).to_cents(),
                  "cost": Amount::from_minor(cost).to_cents(), "profit": Amount::from_minor(amount - cost).to_cents()},
    }))
}

/// The invoice statement of one month: wallet movements and the successful
/// orders of the month per product.
pub async fn invoice(engine: &Engine, m: &MerchantRow, month: &str) -> Result<Value, ApiError> {
    let (from_ms, to_ms) =
        time::parse_month(month).map_err(|message| ApiError::bad_request("invalid_month", message))?;
    let mv = engine.store().movements(m.wallet_id, Some(from_ms), Some(to_ms)).await?;
    let rows = engine.store().daily_summary(m.id, from_ms, to_ms).await?;
    let catalog = engine.catalog();
    let mut by_product: Vec<(String, u64, i64, i64)> = Vec::new();
    for r in rows {
        match by_product.iter_mut().find(|(p, ..)| *p == r.product) {
            Some(line) => {
                line.1 += r.count;
                line.2 += r.amount_minor;
                line.3 += r.cost_minor;
            }
            None => by_product.push((r.product, r.count, r.amount_minor, r.cost_minor)),
        }
    }
    by_product.sort();
    let charges = mv.holds_minor - mv.voids_minor;
    let closing = mv.opening_minor + mv.deposits_minor - charges + mv.refunds_minor;
    let cents = |minor: i64| Amount::from_minor(minor).to_cents();
    Ok(json!({
        "account": m.account,
        "name": m.name,
        "month": month,
        "opening_balance": cents(mv.opening_minor),
        "deposits": cents(mv.deposits_minor),
        "charges": cents(charges),
        "refunds": cents(mv.refunds_minor),
        "closing_balance": cents(closing),
        "lines": by_product.iter().map(|(p, count, amount, cost)| json!({
            "product_code": p,
            "product_name": catalog.get(p).map(|x| x.name.clone()).unwrap_or_default(),
            "count": count,
            "amount": cents(*amount),
            "cost": cents(*cost),
        })).collect::<Vec<_>>(),
    }))
}

fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A list of flat objects as CSV with the keys of the first as header.
pub fn csv(rows: &[Value], columns: &[&str]) -> String {
    let mut out = columns.join(",");
    out.push('\n');
    for row in rows {
        let line: Vec<String> = columns.iter().map(|c| csv_field(&row[*c])).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

pub const SUMMARY_COLUMNS: &[&str] = &["date", "product_code", "product_name", "count", "amount", "cost", "profit"];
pub const INVOICE_COLUMNS: &[&str] = &["product_code", "product_name", "count", "amount", "cost"];

fn respond(value: Value, rows_key: &str, columns: &[&str], as_csv: bool) -> Response {
    if as_csv {
        let rows = value[rows_key].as_array().cloned().unwrap_or_default();
        ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv(&rows, columns)).into_response()
    } else {
        Json(json!({ "data": value })).into_response()
    }
}

fn wants_csv(q: &str) -> Result<bool, ApiError> {
    match first_value(q, "format").as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::bad_request("invalid_format", format!("format {other:?} is not json or csv"))),
    }
}

/// `GET /v2/reports/transaction-summary?date=yyyy-MM-dd[ - yyyy-MM-dd]&format=`
async fn summary_route(state: Shared, req: Authed) -> Result<Response, ApiError> {
    let q = req.query();
    let as_csv = wants_csv(q)?;
    let date = first_value(q, "date").ok_or_else(|| ApiError::bad_request("invalid_date", "date is required"))?;
    let (from, to) = time::parse_date_range(&date).map_err(|message| ApiError::bad_request("invalid_date", message))?;
    let value = summary(&state.engine, &req.caller.merchant, from, to).await?;
    Ok(respond(value, "data", SUMMARY_COLUMNS, as_csv))
}

/// `GET /v2/reports/invoice?month=yyyy-MM&format=`
async fn invoice_route(state: Shared, req: Authed) -> Result<Response, ApiError> {
    let q = req.query();
    let as_csv = wants_csv(q)?;
    let month =
        first_value(q, "month").ok_or_else(|| ApiError::bad_request("invalid_month", "month is required (yyyy-MM)"))?;
    let value = invoice(&state.engine, &req.caller.merchant, &month).await?;
    Ok(respond(value, "lines", INVOICE_COLUMNS, as_csv))
}
