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

use crate::wire::query::{self, first_value};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/reports/transaction-summary", get(summary_route))
        .route("/v2/reports/invoice", get(invoice_route))
}

/// The daily summary of successful orders in [from_ms, to_ms), as the API
/// (and the CLI) render it.
pub async fn summary(engine: &Engine, m: &MerchantRow, from_ms: i64, to_ms: i64) -> Result<Value, ApiError> {
    let s = engine.reports().summary(m, from_ms, to_ms).await?;
    let lines: Vec<Value> = s
        .lines
        .iter()
        .map(|l| {
            let s = &l.sales;
            json!({
                "date": time::date_text(l.day),
                "product_code": s.product,
                "product_name": s.product_name,
                "count": s.count,
                "amount": s.amount.to_cents(),
                "cost": s.cost.to_cents(),
                "profit": profit(s.amount, s.cost),
            })
        })
        .collect();
    Ok(json!({
        "account": m.account,
        "from": time::date_text(time::day_of(from_ms)),
        "to": time::date_text(time::day_of(to_ms - 1)),
        "data": lines,
        "total": {"count": s.count, "amount": s.amount.to_cents(), "cost": s.cost.to_cents(),
                  "profit": profit(s.amount, s.cost)},
    }))
}

/// Amount less cost, in cents (negative when sold below cost).
fn profit(amount: Amount, cost: Amount) -> String {
    amount.checked_sub(cost).expect("report sums stay far inside i64").to_cents()
}

/// The invoice statement of one month (`yyyy-MM`): wallet movements and the
/// successful orders of the month per product.
pub async fn invoice(engine: &Engine, m: &MerchantRow, month: &str) -> Result<Value, ApiError> {
    let (from_ms, to_ms) =
        time::parse_month(month).map_err(|message| ApiError::bad_request("invalid_month", message))?;
    let i = engine.reports().invoice(m, from_ms, to_ms).await?;
    Ok(json!({
        "account": m.account,
        "name": m.name,
        "month": month,
        "opening_balance": i.opening.to_cents(),
        "deposits": i.deposits.to_cents(),
        "charges": i.charges.to_cents(),
        "refunds": i.refunds.to_cents(),
        "closing_balance": i.closing.to_cents(),
        "lines": i.lines.iter().map(|l| json!({
            "product_code": l.product,
            "product_name": l.product_name,
            "count": l.count,
            "amount": l.amount.to_cents(),
            "cost": l.cost.to_cents(),
        })).collect::<Vec<_>>(),
    }))
}

/// A CSV field: quoted when it must be; text (not a number) that begins
/// with `=`, `+`, `-` or `@` is prefixed with `'`, so a spreadsheet never
/// runs it as a formula (a negative amount stays a number).
fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let text =
        if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() { format!("'{text}") } else { text };
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
    match query::given(q, "format").as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::bad_request("invalid_format", format!("format {other:?} is not json or csv"))),
    }
}

/// [ours] Successful orders per Malaysia-time day and product: count, amount, cost, profit.
#[utoipa::path(get, path = "/v2/reports/transaction-summary", tag = "reports", security(("api_key" = []), ("bearer" = [])),
    params(
        ("date" = String, Query, description = "`yyyy-MM-dd`, or a range `yyyy-MM-dd - yyyy-MM-dd`"),
        ("format" = Option<String>, Query, nullable = false, description = "`json` (default) or `csv`"),
    ),
    responses((status = 200, description = "The summary (CSV: its `data` rows)", content((crate::openapi::resources::SummaryAnswer = "application/json"), (String = "text/csv"))), crate::openapi::resources::Refusals))]
pub(crate) async fn summary_route(state: Shared, req: Authed) -> Result<Response, ApiError> {
    let q = req.query();
    let as_csv = wants_csv(q)?;
    let date = first_value(q, "date").ok_or_else(|| ApiError::bad_request("invalid_date", "date is required"))?;
    let (from, to) = time::parse_date_range(&date).map_err(|message| ApiError::bad_request("invalid_date", message))?;
    let value = summary(&state.engine, &req.caller.merchant, from, to).await?;
    Ok(respond(value, "data", SUMMARY_COLUMNS, as_csv))
}

/// [ours] A month's wallet movements and successful orders per product.
#[utoipa::path(get, path = "/v2/reports/invoice", tag = "reports", security(("api_key" = []), ("bearer" = [])),
    params(
        ("month" = String, Query, description = "`yyyy-MM`"),
        ("format" = Option<String>, Query, nullable = false, description = "`json` (default) or `csv`"),
    ),
    responses((status = 200, description = "The statement (CSV: its `lines`)", content((crate::openapi::resources::InvoiceAnswer = "application/json"), (String = "text/csv"))), crate::openapi::resources::Refusals))]
pub(crate) async fn invoice_route(state: Shared, req: Authed) -> Result<Response, ApiError> {
    let q = req.query();
    let as_csv = wants_csv(q)?;
    let month =
        first_value(q, "month").ok_or_else(|| ApiError::bad_request("invalid_month", "month is required (yyyy-MM)"))?;
    let value = invoice(&state.engine, &req.caller.merchant, &month).await?;
    Ok(respond(value, "lines", INVOICE_COLUMNS, as_csv))
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn text_that_looks_like_a_formula_is_not_one_and_numbers_stay_numbers() {
        let rows = [json!({"a": "=HYPERLINK(\"x\")", "b": "-1.00", "c": "@SUM(A1)", "d": "Kedai, Ali"})];
        let out = csv(&rows, &["a", "b", "c", "d"]);
        assert_eq!(out.lines().nth(1).unwrap(), "\"'=HYPERLINK(\"\"x\"\")\",-1.00,'@SUM(A1),\"Kedai, Ali\"");
    }
}
