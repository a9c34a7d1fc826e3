//! `GET /v2/balance-statement?date=&type=&page=&limit=` (and v1): every
//! movement of the wallet with the balance after it, Laravel-style pages.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::{chain, time, AccountId};
use tambah_store::{Movements, StatementEntry, StatementQuery, TransferKind};

use crate::wire;
use crate::wire::query::{self, date_range, PAGE_DEFAULT, PAGE_MAX};
use crate::wire::ApiVersion;
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/balance-statement", get(v2)).route("/v1/balance-statement", get(v1))
}

/// Every movement of the wallet, with the balance right after it.
#[utoipa::path(get, path = "/v2/balance-statement", tag = "reports", security(("api_key" = []), ("bearer" = [])),
    params(
        ("date" = Option<String>, Query, description = "`yyyy-MM-dd` or a range, Malaysia time"),
        ("type" = Option<String>, Query, description = "DEPOSIT, TRANSACTION, REFUND or COMMISSION"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 2147483647),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, description = "A page of movements", body = crate::openapi::schemas::Statement),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    statement(state, req, false).await
}

/// v1 rows also carry `time` (IIMMPACT's v1 SDK reads the entry's time
/// there, not in `date`).
#[utoipa::path(get, path = "/v1/balance-statement", tag = "reports", security(("api_key" = []), ("bearer" = [])),
    params(
        ("date" = Option<String>, Query, description = "`yyyy-MM-dd` or a range, Malaysia time"),
        ("type" = Option<String>, Query, description = "DEPOSIT, TRANSACTION, REFUND or COMMISSION"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 2147483647),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, description = "A page of movements (rows also carry `time`)", body = crate::openapi::schemas::Statement),
        (status = 400, description = "A parameter is invalid", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database is unavailable (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    statement(state, req, true).await
}

/// The statement type of a ledger kind.
pub(crate) fn statement_type(kind: TransferKind) -> &'static str {
    match kind {
        TransferKind::Deposit => "DEPOSIT",
        TransferKind::Hold => "TRANSACTION",
        TransferKind::Post | TransferKind::Void | TransferKind::Refund => "REFUND",
    }
}

/// The ledger kinds of a statement type.
/// `None`: a type no ledger movement has (nothing matches).
fn ledger_kinds(statement_type: &str) -> Result<Option<Vec<TransferKind>>, ApiError> {
    Ok(match statement_type.to_ascii_uppercase().as_str() {
        "DEPOSIT" => Some(vec![TransferKind::Deposit]),
        "TRANSACTION" => Some(vec![TransferKind::Hold]),
        "REFUND" => Some(vec![TransferKind::Void, TransferKind::Refund]),
        // No commissions are paid yet: nothing matches.
        "COMMISSION" => None,
        other => {
            return Err(ApiError::bad_request(
                "invalid_type",
                format!("type {other:?} is not DEPOSIT, TRANSACTION, REFUND or COMMISSION"),
            ))
        }
    })
}

pub(crate) fn remarks(e: &StatementEntry) -> String {
    match (e.kind, &e.refid, &e.product) {
        (TransferKind::Hold, Some(refid), Some(product)) => format!("Transaction {refid} ({product})"),
        (TransferKind::Void, Some(refid), Some(product)) => {
            format!("Refund of failed transaction {refid} ({product})")
        }
        (TransferKind::Refund, Some(refid), Some(product)) => {
            format!("Refund of reversed transaction {refid} ({product})")
        }
        _ => e.remarks.clone(),
    }
}

/// The requested page: its number and size.
struct Page {
    number: u64,
    size: u64,
}

fn page(q: &str) -> Result<Page, ApiError> {
    let number = query::number(q, "page", "invalid_page", 1..=query::PAGE_NUMBER_MAX)?.unwrap_or(1);
    let size = query::number(q, "limit", "invalid_page", 1..=u64::from(PAGE_MAX))?.unwrap_or(u64::from(PAGE_DEFAULT));
    Ok(Page { number, size })
}

fn entry(e: &StatementEntry, chained: bool) -> Value {
    let mut row = json!({
        "id": e.transfer_id.get(),
        "date": wire::myt(e.at_ms).millis_text(),
        "amount": wire::money(e.amount),
        "balance": wire::money(e.balance_after),
        "remarks": remarks(e),
        "type": statement_type(e.kind),
    });
    if chained {
        // What the entry's hash covers, exactly, and the hash.
        row["chain"] = match &e.chain {
            Some(head) => json!({
                "seq": head.seq,
                "time_ms": e.at_ms,
                "kind": e.kind.as_str(),
                "amount_minor": e.amount.minor(),
                "balance_minor": e.balance_after.minor(),
                "refid": e.refid.as_deref().unwrap_or(""),
                "hash": chain::to_hex(&head.hash),
            }),
            None => Value::Null,
        };
    }
    row
}

/// Where a wallet's chain stood at the end of one Malaysia-time day.
pub(crate) struct DayHead {
    /// `yyyy-MM-dd`.
    pub date: String,
    pub entries: u64,
    /// Hex.
    pub head: String,
}

/// For each Malaysia-time day of these entries, where the wallet's chain
/// stood at the day's end: how many entries, and the last one's hash.
pub(crate) async fn day_heads(
    state: &AppState,
    wallet_id: AccountId,
    entries: &[StatementEntry],
) -> Result<Vec<DayHead>, ApiError> {
    let mut days: Vec<i64> = entries.iter().map(|e| time::day_of(e.at_ms)).collect();
    days.sort_unstable();
    days.dedup();
    let ends: Vec<i64> = days.iter().map(|&d| time::day_start_ms(d + 1)).collect();
    let heads = state.engine.reports().chain_heads(wallet_id, &ends).await?;
    Ok(days
        .iter()
        .zip(heads)
        .filter_map(|(&day, head)| {
            let head = head?;
            Some(DayHead { date: time::date_text(day), entries: head.seq, head: chain::to_hex(&head.hash) })
        })
        .collect())
}

fn summary(sums: &Movements) -> Value {
    let magnitude = wire::money;
    json!({
        "total_transactions": {"amount": magnitude(sums.holds), "count": sums.hold_count},
        "total_deposit": {"amount": magnitude(sums.deposits), "count": sums.deposit_count},
        "total_refund": {"amount": magnitude(sums.voids.checked_add(sums.refunds).expect("ledger sums stay far inside i64")),
                         "count": sums.void_count + sums.refund_count},
    })
}

async fn statement(state: Shared, req: Authed, v1: bool) -> Result<Json<Value>, ApiError> {
    let q = req.query();
    let (from_ms, to_ms) = date_range(q)?;
    let kinds = match query::given(q, "type") {
        Some(t) => ledger_kinds(&t)?,
        None => Some(Vec::new()),
    };
    let page = page(q)?;
    let wallet_id = req.caller.merchant.wallet_id;
    let query = StatementQuery {
        wallet_id,
        from_ms,
        to_ms,
        kinds: kinds.clone().unwrap_or_default(),
        limit: page.size as u32,
        offset: (page.number - 1).saturating_mul(page.size),
    };
    let statement = match kinds {
        Some(_) => state.engine.reports().statement(&query).await?,
        None => state.engine.reports().empty_statement(&query).await?,
    };
    let (entries, total, sums) = (statement.entries, statement.total, statement.sums);
    // The chain is shown in the current version only (the seed's format
    // stays as it was).
    let chained =
        !v1 && ApiVersion::for_request(&req.headers, &req.caller.merchant.api_version)? == ApiVersion::Current;
    let mut data: Vec<Value> = entries.iter().map(|e| entry(e, chained)).collect();
    if v1 {
        for (row, e) in data.iter_mut().zip(&entries) {
            row["time"] = json!(wire::myt(e.at_ms).millis_text());
        }
    }
    let path = format!("{}{}", state.config.public_url, req.uri.path());
    let (links, meta) = pages(q, &path, &page, total, query.offset, data.len() as u64);
    let mut body = json!({"data": data, "links": links, "meta": meta, "summary": summary(&sums)});
    if chained {
        let days: Vec<Value> = day_heads(&state, wallet_id, &entries)
            .await?
            .into_iter()
            .map(|d| json!({"date": d.date, "entries": d.entries, "head": d.head}))
            .collect();
        body["chain"] = json!({ "days": days });
    }
    Ok(Json(body))
}

/// The `links` and `meta` blocks of a page of `shown` rows from `offset`.
fn pages(q: &str, path: &str, page: &Page, total: u64, offset: u64, shown: u64) -> (Value, Value) {
    let last_page = total.div_ceil(page.size).max(1);
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
    let from = if shown == 0 { Value::Null } else { json!(offset + 1) };
    let to = if shown == 0 { Value::Null } else { json!(offset + shown) };
    let links = json!({
        "first": link(1),
        "last": link(last_page),
        "prev": if page.number > 1 { link(page.number - 1) } else { Value::Null },
        "next": if page.number < last_page { link(page.number + 1) } else { Value::Null },
    });
    let meta = json!({"current_page": page.number, "from": from, "last_page": last_page, "path": path,
                      "per_page": page.size, "to": to, "total": total});
    (links, meta)
}
