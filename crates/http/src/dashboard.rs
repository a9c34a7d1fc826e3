//! The merchant dashboard, on the API's listener: pages rendered on the
//! server from compiled templates (`templates/dashboard/`, askama, escaped
//! by default), no script, one embedded stylesheet. Every action goes
//! through the engine's use cases as the API does.
//!
//! Sessions are the API's own tokens: logging in issues an IdToken kept in
//! an `HttpOnly`, `SameSite=Strict` cookie (`Secure` when the public URL is
//! https), so any node serves any session and a password change ends them
//! all; logging out revokes it. Every form carries a CSRF token: derived
//! from the session token for a signed-in user, and a double-submitted
//! cookie on the log-in form. Log-ins are limited per address and per
//! username like `/v2/token`. Every page sends a strict
//! Content-Security-Policy.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tambah_engine::credentials::{new_token, token_hash};
use tambah_engine::{AuthError, Caller};
use tambah_store::{OrderQuery, OrderRow};

use crate::api::transactions::{base_query, status_word};
use crate::limits::ClientIp;
use crate::wire::query::first_value;
use crate::AppState;

const SESSION: &str = "tambah_session";
const LOGIN_CSRF: &str = "tambah_login_csrf";
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";
const PAGE: u32 = 50;
/// Most orders one CSV export holds: the file is built in memory, so a
/// larger search is refused with the advice to narrow it.
const CSV_MAX_ROWS: u64 = 20_000;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(home))
        .route("/dashboard/login", get(login_page).post(login))
        .route("/dashboard/logout", axum::routing::post(logout))
        .route("/dashboard/transactions", get(transactions))
        .route("/dashboard/transactions.csv", get(transactions_csv))
        .route("/dashboard/orders/{refid}", get(order))
        .route("/dashboard/statement", get(statement))
        .route("/dashboard/app.css", get(stylesheet))
        .layer(axum::middleware::map_response(page_headers))
}

/// The headers of every dashboard answer.
async fn page_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

async fn stylesheet() -> Response {
    let css = include_str!("../assets/dashboard.css");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], css)
        .into_response()
}

/// A signed-in user: the caller and the session token.
struct Session {
    caller: Caller,
    token: String,
}

impl Session {
    /// The CSRF token of this session's forms: not derivable without the
    /// session cookie, which a cross-site page cannot read.
    fn csrf(&self) -> String {
        token_hash(&format!("dashboard-csrf:{}", self.token))
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

async fn session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let token = cookie(headers, SESSION).filter(|t| !t.is_empty())?;
    let caller = state.engine.authenticate_token(&token).await.ok()?;
    Some(Session { caller, token })
}

/// A page that needs a signed-in user takes a `Session`: without one the
/// browser is sent to the log-in page.
impl axum::extract::FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        session(state, &parts.headers).await.ok_or_else(|| Redirect::to("/dashboard/login").into_response())
    }
}

/// A short answer in words (a refused form or export).
fn plain(status: StatusCode, message: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_s: i64) -> (header::HeaderName, String) {
    let secure = if state.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    (header::SET_COOKIE, format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"))
}

fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => crate::ApiError::Internal(format!("a dashboard page did not render: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    error: Option<String>,
}

/// The log-in form, with a fresh double-submit CSRF cookie.
async fn login_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if session(&state, &headers).await.is_some() {
        return Redirect::to("/dashboard").into_response();
    }
    login_form(&state, StatusCode::OK, String::new(), None)
}

fn login_form(state: &AppState, status: StatusCode, username: String, error: Option<String>) -> Response {
    let (csrf, _) = new_token("tbh_lc_");
    let cookie = set_cookie(state, LOGIN_CSRF, &csrf, 3600);
    let mut res = html(status, LoginPage { csrf, username, error });
    res.headers_mut().append(cookie.0, HeaderValue::from_str(&cookie.1).expect("a cookie is ascii"));
    res
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if cookie(&headers, LOGIN_CSRF).is_none_or(|c| c != form.csrf) {
        return forbidden("the form has expired: reload the log-in page");
    }
    if let ClientIp(Some(ip)) = ip {
        if let Err(limited) = state.limits.login(ip, &form.username) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many log-in attempts: try again in {wait} s.");
            return login_form(&state, StatusCode::TOO_MANY_REQUESTS, form.username, Some(message));
        }
    }
    match state.engine.login(&form.username, &form.password).await {
        Ok(issued) => {
            let ttl = issued.expires_in_s;
            let session = set_cookie(&state, SESSION, &issued.id_token, ttl);
            let spent = set_cookie(&state, LOGIN_CSRF, "", 0);
            let mut res = Redirect::to("/dashboard").into_response();
            for (name, value) in [session, spent] {
                res.headers_mut().append(name, HeaderValue::from_str(&value).expect("a cookie is ascii"));
            }
            res
        }
        Err(e) => {
            tracing::warn!(username = ?form.username.chars().take(64).collect::<String>(), reason = e.code(), "dashboard log-in failed");
            let message = match e {
                AuthError::WrongCredentials => "Wrong username or password.".to_owned(),
                other => other.message().to_owned(),
            };
            login_form(&state, StatusCode::UNAUTHORIZED, form.username, Some(message))
        }
    }
}

fn forbidden(message: &str) -> Response {
    plain(StatusCode::FORBIDDEN, message.to_owned())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// Ends the session: its token is revoked, the cookie cleared.
async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let Some(s) = session(&state, &headers).await else {
        return Redirect::to("/dashboard/login").into_response();
    };
    if form.csrf != s.csrf() {
        return forbidden("the form has expired: reload the page");
    }
    if let Err(e) = state.engine.logout(&s.token).await {
        return crate::ApiError::from(e).into_response();
    }
    let cleared = set_cookie(&state, SESSION, "", 0);
    let mut res = Redirect::to("/dashboard/login").into_response();
    res.headers_mut().append(cleared.0, HeaderValue::from_str(&cleared.1).expect("a cookie is ascii"));
    res
}

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
    page: &'static str,
    csrf: String,
    name: String,
    account: String,
    environment: String,
    level: String,
    balance: String,
    orders: Vec<OrderLine>,
}

async fn home(State(state): State<Arc<AppState>>, s: Session) -> Result<Response, crate::ApiError> {
    let m = &s.caller.merchant;
    let balance = state.engine.balance(m).await?;
    let latest = OrderQuery { merchant_id: m.id, limit: 10, ..OrderQuery::default() };
    let (rows, _) = state.engine.reports().transactions(&latest).await?;
    Ok(html(
        StatusCode::OK,
        HomePage {
            page: "home",
            csrf: s.csrf(),
            name: m.name.clone(),
            account: m.account.clone(),
            environment: m.environment.as_str().to_owned(),
            level: m.level.clone(),
            balance: balance.to_cents(),
            orders: rows.iter().map(line).collect(),
        },
    ))
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
    page: &'static str,
    csrf: String,
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

async fn transactions(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: axum::http::Uri,
) -> Result<Response, crate::ApiError> {
    let statuses =
        [("", "Any"), ("SUCCESSFUL", "Successful"), ("PENDING", "Pending"), ("FAILED", "Failed"), ("REFUND", "Refund")];
    let mut page = TransactionsPage {
        page: "transactions",
        csrf: s.csrf(),
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
    let (query, filter) = match search(uri.query().unwrap_or(""), &s.caller.merchant) {
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
async fn transactions_csv(
    State(state): State<Arc<AppState>>,
    s: Session,
    uri: axum::http::Uri,
) -> Result<Response, crate::ApiError> {
    let (mut query, _) = match search(uri.query().unwrap_or(""), &s.caller.merchant) {
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
fn csv_field(text: &str) -> String {
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
    page: &'static str,
    csrf: String,
    o: OrderLine,
    product_name: String,
    updated: String,
    trxid: String,
    sn: String,
    remarks: String,
    callbacks: Vec<CallbackLine>,
}

#[derive(Template)]
#[template(path = "dashboard/not_found.html")]
struct NotFoundPage {
    page: &'static str,
    csrf: String,
    message: String,
}

/// One order's story: its fields and every callback with its attempts. Only
/// the merchant's own: another merchant's refid is simply not found.
async fn order(
    State(state): State<Arc<AppState>>,
    s: Session,
    Path(refid): Path<String>,
) -> Result<Response, crate::ApiError> {
    let found = state.engine.callback_log(s.caller.merchant.id, &refid).await?;
    let Some((o, log)) = found else {
        let message = format!("You have no order with refid {refid:?}.");
        return Ok(html(StatusCode::NOT_FOUND, NotFoundPage { page: "", csrf: s.csrf(), message }));
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
    let product_name = state.engine.catalog().get(&o.product).map(|p| p.name.clone()).unwrap_or_default();
    let page = OrderPage {
        page: "",
        csrf: s.csrf(),
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
    page: &'static str,
    csrf: String,
    date: String,
    error: Option<String>,
    total: u64,
    deposits: String,
    holds: String,
    refunds: String,
    entries: Vec<EntryLine>,
    prev: Option<String>,
    next: Option<String>,
}

/// The wallet's movements, newest first, each with the balance after it
/// (the API statement's query and words).
async fn statement(
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
        page: "statement",
        csrf: s.csrf(),
        date: date.clone(),
        error: None,
        total: 0,
        deposits: "0.00".into(),
        holds: "0.00".into(),
        refunds: "0.00".into(),
        entries: Vec::new(),
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
        wallet_id: s.caller.merchant.wallet_id,
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
    Ok(html(StatusCode::OK, page))
}
