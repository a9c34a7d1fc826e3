//! The merchant's reading pages: the overview, the transaction search and
//! its CSV export, an order's story, and the balance statement.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tambah_store::{OrderQuery, OrderRow};

use super::{html, plain, Nav, Session, PAGE};
use crate::api::transactions::{base_query, status_word};
use crate::wire::query::first_value;
use crate::AppState;

/// Most orders one CSV export holds: the file is built in memory, so a
/// larger search is refused with the advice to narrow it instead.
pub(super) const CSV_MAX_ROWS: u64 = 20_000;

/// One order as the pages show it.
struct OrderLine {
    date: String,
    refid: String,
    product: String,
    account: String,
    amount: String,
    price: String,
    status: &'static str,
    status_code: u8,
}

fn line(o: &OrderRow) -> OrderLine {
    OrderLine {
        date: crate::wire::myt(o.created_at_ms).seconds_text(),
        refid: o.refid.clone(),
        product: o.product.clone(),
        account: o.account.clone(),
        amount: o.amount.to_cents(),
        // A failed order's hold was released: nothing was charged (as its
        // topup answer says).
        price: if o.status.is_failure() { "0.00".to_owned() } else { o.cost.to_cents() },
        status: status_word(o.status),
        status_code: o.status.code(),
    }
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    nav: Nav,
    name: String,
    account: String,
    environment: String,
    level: String,
    balance: String,
    orders: Vec<OrderLine>,
    /// Where the request for live access stands (staging accounts only).
    live_note: Option<String>,
    /// The member may ask for live access now.
    can_request_live: bool,
}

pub(super) async fn home(State(state): State<Arc<AppState>>, s: Session) -> Result<Response, crate::ApiError> {
    let m = &s.member.merchant;
    let balance = state.engine.balance(m).await?;
    let latest = OrderQuery { merchant_id: m.id, limit: 10, ..OrderQuery::default() };
    let (rows, _) = state.engine.reports().transactions(&latest).await?;
    let (live_note, can_request_live) = live_state(&state, &s).await?;
    Ok(html(
        StatusCode::OK,
        HomePage {
            nav: s.nav("home"),
            name: m.name.clone(),
            account: m.account.clone(),
            environment: m.environment.as_str().to_owned(),
            level: m.level.clone(),
            balance: balance.to_cents(),
            orders: rows.iter().map(line).collect(),
            live_note,
            can_request_live,
        },
    ))
}

/// What the overview says about live access, and whether the member may
/// ask for it.
async fn live_state(state: &AppState, s: &Session) -> Result<(Option<String>, bool), crate::ApiError> {
    let m = &s.member;
    if m.home.environment != tambah_domain::Environment::Staging {
        return Ok((None, false));
    }
    let request = state.engine.live_request(m).await?;
    let admin = m.role().may(tambah_domain::Capability::Members);
    Ok(match request {
        None => (Some("This is a staging account: orders are simulated and cost nothing real.".into()), admin),
        Some(r) if r.live_merchant_id.is_none() => {
            let at = crate::wire::myt(r.requested_at_ms).seconds_text();
            (Some(format!("Live access requested on {at}: the operator will review it.")), false)
        }
        Some(_) => (Some("Live access approved: switch accounts with the button at the top.".into()), false),
    })
}

/// The search form's values, shown back in the form.
#[derive(Default)]
struct Filter {
    date: String,
    status: String,
    product: String,
    account: String,
    refid: String,
}

#[derive(Template)]
#[template(path = "dashboard/transactions.html")]
struct TransactionsPage {
    nav: Nav,
    filter: Filter,
    statuses: [(&'static str, &'static str); 5],
    error: Option<String>,
    total: u64,
    successful_amount: String,
    query: String,
    orders: Vec<OrderLine>,
    prev: Option<String>,
    next: Option<String>,
}

/// The search as the API's listing reads it (the same parser: the same
/// orders), plus `refid`; empty fields are no filter.
fn search(q: &str, merchant: &tambah_store::MerchantRow) -> Result<(OrderQuery, Filter), String> {
    let kept: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
        .filter(|(k, v)| !v.is_empty() && ["date", "status", "product", "account", "refid", "offset"].contains(&&**k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let clean = form_urlencoded::Serializer::new(String::new()).extend_pairs(&kept).finish();
    let mut query = base_query(&clean, merchant.id).map_err(|e| e.to_string())?;
    query.limit = PAGE;
    query.refid = first_value(&clean, "refid");
    let get = |name: &str| first_value(&clean, name).unwrap_or_default();
    let filter = Filter {
        date: get("date"),
        status: get("status"),
        product: get("product"),
        account: get("account"),
        refid: get("refid"),
    };
    Ok((query, filter))
}

/// The query string of the same search at another offset.
fn at_offset(f: &Filter, offset: u64) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("date", &f.date),
        ("status", &f.status),
        ("product", &f.product),
        ("account", &f.account),
        ("refid", &f.refid),
    ] {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    if offset > 0 {
        s.append_pair("offset", &offset.to_string());
    }
    s.finish()
}

pub(super) async fn transactions(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: axum::http::Uri,
) -> Result<Response, crate::ApiError> {
    let statuses =
        [("", "Any"), ("SUCCESSFUL", "Successful"), ("PENDING", "Pending"), ("FAILED", "Failed"), ("REFUND", "Refund")];
    let mut page = TransactionsPage {
        nav: s.nav("transactions"),
        filter: Filter::default(),
        statuses,
        error: None,
        total: 0,
        successful_amount: "0.00".into(),
        query: String::new(),
        orders: Vec::new(),
        prev: None,
        next: None,
    };
    let (query, filter) = match search(uri.query().unwrap_or(""), &s.member.merchant) {
        Ok(found) => found,
        Err(e) => {
            page.error = Some(e);
            return Ok(html(StatusCode::BAD_REQUEST, page));
        }
    };
    let (rows, totals) = state.engine.reports().transactions(&query).await?;
    page.total = totals.count;
    page.successful_amount = totals.successful_amount.to_cents();
    page.query = at_offset(&filter, 0);
    page.prev = (query.offset > 0).then(|| at_offset(&filter, query.offset.saturating_sub(u64::from(PAGE))));
    page.next =
        (query.offset + (rows.len() as u64) < totals.count).then(|| at_offset(&filter, query.offset + u64::from(PAGE)));
    page.orders = rows.iter().map(line).collect();
    page.filter = filter;
    Ok(html(StatusCode::OK, page))
}

/// The whole search (every page) as CSV, with the API listing's fields.
pub(super) async fn transactions_csv(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: axum::http::Uri,
) -> Result<Response, crate::ApiError> {
    let (mut query, _) = match search(uri.query().unwrap_or(""), &s.member.merchant) {
        Ok(found) => found,
        Err(e) => return Ok(plain(StatusCode::BAD_REQUEST, e)),
    };
    let mut out = String::from("trxid,refid,date,product_code,account,amount,price,status,status_code,sn,remarks\n");
    query.offset = 0;
    query.limit = 500;
    loop {
        let (rows, totals) = state.engine.reports().transactions(&query).await?;
        if totals.count > CSV_MAX_ROWS {
            let message = format!(
                "This search has {} orders; an export holds at most {CSV_MAX_ROWS}: narrow the dates or add a filter.",
                totals.count
            );
            return Ok(plain(StatusCode::BAD_REQUEST, message));
        }
        for o in &rows {
            let fields = [
                o.id.to_string(),
                o.refid.clone(),
                crate::wire::myt(o.created_at_ms).millis_text(),
                o.product.clone(),
                o.account.clone(),
                o.amount.to_cents(),
                o.cost.to_cents(),
                status_word(o.status).to_owned(),
                o.status.code().to_string(),
                o.sn.clone(),
                o.remarks.clone(),
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        query.offset += rows.len() as u64;
        if rows.is_empty() || query.offset >= totals.count {
            break;
        }
    }
    let disposition = "attachment; filename=\"transactions.csv\"";
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, disposition)], out)
        .into_response())
}

/// A CSV field, quoted when it must be; a leading `=`, `+`, `-` or `@` is
/// prefixed with `'` so a spreadsheet never runs it as a formula.
pub(super) fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// One delivery attempt as the order page shows it.
struct AttemptLine {
    attempt: u32,
    at: String,
    url: String,
    http: String,
    latency_ms: i64,
    error: String,
}

/// One callback of an order, with its attempts.
struct CallbackLine {
    id: i64,
    status: String,
    state: String,
    queued_at: String,
    attempts: Vec<AttemptLine>,
}

#[derive(Template)]
#[template(path = "dashboard/order.html")]
struct OrderPage {
    nav: Nav,
    o: OrderLine,
    product_name: String,
    updated: String,
    trxid: String,
    sn: String,
    remarks: String,
    callbacks: Vec<CallbackLine>,
    disputes: super::disputes::OrderDisputes,
}

#[derive(Template)]
#[template(path = "dashboard/not_found.html")]
struct NotFoundPage {
    nav: Nav,
    message: String,
}

/// One order's story: its fields and every callback with its attempts. Only
/// the merchant's own: another merchant's refid is simply not found.
pub(super) async fn order(
    State(state): State<Arc<AppState>>,
    s: Session,
    Path(refid): Path<String>,
) -> Result<Response, crate::ApiError> {
    let found = state.engine.callback_log(s.member.merchant.id, &refid).await?;
    let Some((o, log)) = found else {
        let message = format!("You have no order with refid {refid:?}.");
        return Ok(html(StatusCode::NOT_FOUND, NotFoundPage { nav: s.nav(""), message }));
    };
    let callbacks = log
        .into_iter()
        .map(|(cb, attempts)| CallbackLine {
            id: cb.id.get(),
            status: cb.status.map(|c| c.code().to_string()).unwrap_or_else(|| "—".into()),
            state: cb.state,
            queued_at: crate::wire::myt(cb.created_at_ms).seconds_text(),
            attempts: attempts
                .into_iter()
                .map(|a| AttemptLine {
                    attempt: a.attempt,
                    at: crate::wire::myt(a.at_ms).seconds_text(),
                    url: a.url,
                    http: a.http_status.map(|h| h.to_string()).unwrap_or_else(|| "—".into()),
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
        })
        .collect();
    let disputes = super::disputes::of_order(&state, &s, &o).await?;
    let product_name = state.engine.catalog().get(&o.product).map(|p| p.name.clone()).unwrap_or_default();
    let page = OrderPage {
        nav: s.nav(""),
        product_name,
        updated: crate::wire::myt(o.updated_at_ms).seconds_text(),
        trxid: o.id.to_string(),
        sn: o.sn.clone(),
        remarks: if o.status.is_failure() && o.remarks.is_empty() {
            format!("{}; nothing was charged", o.status.meaning())
        } else {
            o.remarks.clone()
        },
        o: line(&o),
        callbacks,
        disputes,
    };
    Ok(html(StatusCode::OK, page))
}

/// One wallet movement as the statement shows it.
struct EntryLine {
    date: String,
    kind: &'static str,
    remarks: String,
    amount: String,
    balance: String,
}

#[derive(Template)]
#[template(path = "dashboard/statement.html")]
struct StatementPage {
    nav: Nav,
    date: String,
    error: Option<String>,
    total: u64,
    deposits: String,
    holds: String,
    refunds: String,
    entries: Vec<EntryLine>,
    /// Where the statement chain stood at the end of each day shown.
    heads: Vec<crate::api::statement::DayHead>,
    prev: Option<String>,
    next: Option<String>,
}

/// The wallet's movements, newest first, each with the balance after it
/// (the API statement's query and words).
pub(super) async fn statement(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: axum::http::Uri,
) -> Result<Response, crate::ApiError> {
    use crate::api::statement::{remarks, statement_type};
    let q = uri.query().unwrap_or("");
    let date = first_value(q, "date").unwrap_or_default();
    let offset = crate::wire::query::number(q, "offset", "invalid_offset", 0..=crate::wire::query::OFFSET_MAX)
        .ok()
        .flatten()
        .unwrap_or(0);
    let mut page = StatementPage {
        nav: s.nav("statement"),
        date: date.clone(),
        error: None,
        total: 0,
        deposits: "0.00".into(),
        holds: "0.00".into(),
        refunds: "0.00".into(),
        entries: Vec::new(),
        heads: Vec::new(),
        prev: None,
        next: None,
    };
    let (from_ms, to_ms) = match crate::wire::query::date_range(&format!(
        "date={}",
        form_urlencoded::byte_serialize(date.as_bytes()).collect::<String>()
    )) {
        Ok(range) => range,
        Err(e) => {
            page.error = Some(e.to_string());
            return Ok(html(StatusCode::BAD_REQUEST, page));
        }
    };
    let query = tambah_store::StatementQuery {
        wallet_id: s.member.merchant.wallet_id,
        from_ms,
        to_ms,
        kinds: Vec::new(),
        limit: PAGE,
        offset,
    };
    let st = state.engine.reports().statement(&query).await?;
    let at = |offset: u64| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if !date.is_empty() {
            q.append_pair("date", &date);
        }
        if offset > 0 {
            q.append_pair("offset", &offset.to_string());
        }
        q.finish()
    };
    page.total = st.total;
    page.deposits = st.sums.deposits.to_cents();
    page.holds = st.sums.holds.to_cents();
    page.refunds = st.sums.voids.checked_add(st.sums.refunds).unwrap_or(st.sums.voids).to_cents();
    page.prev = (offset > 0).then(|| at(offset.saturating_sub(u64::from(PAGE))));
    page.next = (offset + (st.entries.len() as u64) < st.total).then(|| at(offset + u64::from(PAGE)));
    page.entries = st
        .entries
        .iter()
        .map(|e| EntryLine {
            date: crate::wire::myt(e.at_ms).seconds_text(),
            kind: statement_type(e.kind),
            remarks: remarks(e),
            amount: e.amount.to_cents(),
            balance: e.balance_after.to_cents(),
        })
        .collect();
    page.heads = crate::api::statement::day_heads(&state, s.member.merchant.wallet_id, &st.entries).await?;
    Ok(html(StatusCode::OK, page))
}
