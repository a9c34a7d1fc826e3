//! `GET /v2/balance-statement?date=&type=&page=&limit=` (and v1): every
//! movement of the wallet with the balance after it, Laravel-style pages.

use axum::Json;
use serde_json::{json, Value};
use tambah_domain::Amount;
use tambah_store::{StatementEntry, StatementQuery};

use crate::transactions::{date_range, first_value, PAGE_DEFAULT, PAGE_MAX};
use crate::{wire, ApiError, Authed, Shared};

/// The statement type of a ledger kind.
fn statement_type(kind: &str) -> &'static str {
    match kind {
        "DEPOSIT" => "DEPOSIT",
        "HOLD" => "TRANSACTION",
        _ => "REFUND",
    }
}

/// The ledger kinds of a statement type.
fn ledger_kinds(statement_type: &str) -> Result<Vec<String>, ApiError> {
    Ok(match statement_type.to_ascii_uppercase().as_str() {
        "DEPOSIT" => vec!["DEPOSIT".into()],
        "TRANSACTION" => vec!["HOLD".into()],
        "REFUND" => vec!["VOID".into(), "REFUND".into()],
        // No commissions are paid yet: nothing matches.
        "COMMISSION" => vec!["COMMISSION".into()],
        other => {
            return Err(ApiError::BadRequest {
                code: "invalid_type",
                message: format!("type {other:?} is not DEPOSIT, TRANSACTION, REFUND or COMMISSION"),
            })
        }
    })
}

fn remarks(e: &StatementEntry) -> String {
    match (e.kind.as_str(), &e.refid, &e.product) {
        ("HOLD", Some(refid), Some(product)) => format!("Transaction {refid} ({product})"),
        ("VOID", Some(refid), Some(product)) => format!("Refund of failed transaction {refid} ({product})"),
        ("REFUND", Some(refid), Some(product)) => format!("Refund of reversed transaction {refid} ({product})"),
        _ => e.remarks.clone(),
    }
}

pub(crate) async fn get(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri, headers: _, body: _ } = req;
    let q = uri.query().unwrap_or("");
    let (from_ms, to_ms) = date_range(q)?;
    let kinds = match first_value(q, "type") {
        Some(t) => ledger_kinds(&t)?,
        None => Vec::new(),
    };
    let number = |name: &str, default: u64| -> Result<u64, ApiError> {
        match first_value(q, name) {
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_page",
                message: format!("{name} {v:?} must be a positive number"),
            }),
            None => Ok(default),
        }
    };
    let page = number("page", 1)?;
    let per_page = number("limit", u64::from(PAGE_DEFAULT))?;
    if per_page > u64::from(PAGE_MAX) {
        return Err(ApiError::BadRequest {
            code: "invalid_page",
            message: format!("limit must be at most {PAGE_MAX}"),
        });
    }
    let wallet_id = caller.merchant.wallet_id;
    let query = StatementQuery {
        wallet_id,
        from_ms,
        to_ms,
        kinds,
        limit: per_page as u32,
        offset: (page - 1).saturating_mul(per_page),
    };
    let store = state.engine.store();
    let (entries, total) = store.statement(&query).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let sums = store.movements(wallet_id, from_ms, to_ms).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let data: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.transfer_id,
                "date": wire::myt(e.at_ms).millis_text(),
                "amount": wire::money(Amount::from_minor(e.amount_minor)),
                "balance": wire::money(Amount::from_minor(e.balance_after_minor)),
                "remarks": remarks(e),
                "type": statement_type(&e.kind),
            })
        })
        .collect();
    let last_page = total.div_ceil(per_page).max(1);
    let path = format!("{}{}", state.config.public_url, uri.path());
    let link = |n: u64| -> Value {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if k != "page" {
                s.append_pair(&k, &v);
            }
        }
        s.append_pair("page", &n.to_string());
        Value::String(format!("{path}?{}", s.finish()))
    };
    let from = if data.is_empty() { Value::Null } else { json!(query.offset + 1) };
    let to = if data.is_empty() { Value::Null } else { json!(query.offset + data.len() as u64) };
    let magnitude = |minor: i64| wire::money(Amount::from_minor(minor));
    Ok(Json(json!({
        "data": data,
        "links": {
            "first": link(1),
            "last": link(last_page),
            "prev": if page > 1 { link(page - 1) } else { Value::Null },
            "next": if page < last_page { link(page + 1) } else { Value::Null },
        },
        "meta": {"current_page": page, "from": from, "last_page": last_page, "path": path,
                 "per_page": per_page, "to": to, "total": total},
        "summary": {
            "total_transactions": {"amount": magnitude(sums.holds_minor), "count": sums.hold_count},
            "total_deposit": {"amount": magnitude(sums.deposits_minor), "count": sums.deposit_count},
            "total_refund": {"amount": magnitude(sums.voids_minor + sums.refunds_minor),
                             "count": sums.void_count + sums.refund_count},
        },
    })))
}
