//! The operator console under `/operator`: its own sign-in (password and
//! TOTP code; operators are created with `tambah operator create`), a
//! session cookie scoped to `/operator` that a merchant session never
//! replaces, merchants found and opened, live access approved, deposits
//! with a reason, suspension, and the audit log of it all.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tambah_domain::Amount;
use tambah_engine::credentials::token_hash;
use tambah_engine::merchants::AdminError;
use tambah_engine::operators::OPERATOR_SESSION_TTL_MS;
use tambah_engine::AuthError;
use tambah_store::{MerchantRow, OperatorRow};

use super::{cookie, forbidden, form_csrf, form_csrf_ok, html, set_cookie_at, with_cookies, CsrfForm};
use crate::limits::ClientIp;
use crate::AppState;

const OPERATOR: &str = "tambah_operator";
const PATH: &str = "/operator";

pub(super) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/operator", get(home))
        .route("/operator/login", get(login_page).post(login))
        .route("/operator/logout", post(logout))
        .route("/operator/audit", get(audit))
        .route("/operator/merchants/{account}", get(merchant))
        .route("/operator/merchants/{account}/approve", post(approve))
        .route("/operator/merchants/{account}/deposit", post(deposit))
        .route("/operator/merchants/{account}/suspension", post(suspension))
        .route("/operator/merchants/{account}/level", post(level))
        .merge(super::console_orders::router())
        .merge(super::console_disputes::router())
        .merge(super::console_system::router())
        .merge(super::console_catalogue::router())
}

/// A signed-in operator.
pub(super) struct Operator {
    pub(super) op: OperatorRow,
    token: String,
}

impl Operator {
    pub(super) fn csrf(&self) -> String {
        token_hash(&format!("operator-csrf:{}", self.token))
    }

    pub(super) fn stale(&self, csrf: &str) -> Option<Response> {
        (csrf != self.csrf()).then(|| forbidden("the form has expired: reload the page"))
    }
}

impl axum::extract::FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/operator/login").into_response();
        let token = cookie(&parts.headers, OPERATOR).filter(|t| !t.is_empty()).ok_or_else(to_login)?;
        match state.engine.operator_session(&token).await {
            Ok(Some(op)) => Ok(Operator { op, token }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(crate::ApiError::from(e).into_response()),
        }
    }
}

#[derive(Template)]
#[template(path = "operator/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

fn login_form(state: &AppState, status: StatusCode, email: String, error: Option<String>) -> Response {
    let (csrf, cookie) = form_csrf(state, PATH);
    with_cookies(html(status, LoginPage { csrf, email, error }), [cookie])
}

async fn login_page(State(state): State<Arc<AppState>>) -> Response {
    login_form(&state, StatusCode::OK, String::new(), None)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    code: String,
    csrf: String,
}

/// Password and TOTP code, limited per address and e-mail like every log-in.
async fn login(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !form_csrf_ok(&headers, &form.csrf) {
        return forbidden("the form has expired: reload the log-in page");
    }
    if let ClientIp(Some(ip)) = ip {
        // The engine's own form of the address, so spaces or capitals do
        // not make a fresh allowance.
        let email = form.email.trim().to_ascii_lowercase();
        if let Err(limited) = state.limits.login(ip, &format!("operator:{email}")) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many log-in attempts: try again in {wait} s.");
            return login_form(&state, StatusCode::TOO_MANY_REQUESTS, form.email, Some(message));
        }
    }
    match state.engine.operator_login(&form.email, &form.password, &form.code).await {
        Ok(token) => {
            let session = set_cookie_at(&state, OPERATOR, &token, OPERATOR_SESSION_TTL_MS / 1000, PATH);
            let spent = set_cookie_at(&state, super::FORM_CSRF, "", 0, PATH);
            with_cookies(Redirect::to("/operator").into_response(), [session, spent])
        }
        Err(e) => {
            tracing::warn!(email = ?form.email.chars().take(64).collect::<String>(), reason = e.code(), "operator log-in failed");
            let message = match e {
                AuthError::WrongCredentials => "Wrong e-mail, password or code.".to_owned(),
                other => other.message().to_owned(),
            };
            login_form(&state, StatusCode::UNAUTHORIZED, form.email, Some(message))
        }
    }
}

async fn logout(State(state): State<Arc<AppState>>, o: Operator, Form(form): Form<CsrfForm>) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    if let Err(e) = state.engine.operator_logout(&o.token).await {
        return crate::ApiError::from(e).into_response();
    }
    let cleared = set_cookie_at(&state, OPERATOR, "", 0, PATH);
    with_cookies(Redirect::to("/operator/login").into_response(), [cleared])
}

/// A merchant as the console's lists show it.
struct MerchantLine {
    account: String,
    name: String,
    environment: &'static str,
    suspended: bool,
    created: String,
}

fn merchant_line(m: &MerchantRow) -> MerchantLine {
    MerchantLine {
        account: m.account.clone(),
        name: m.name.clone(),
        environment: m.environment.as_str(),
        suspended: m.suspended,
        created: crate::wire::myt(m.created_at_ms).seconds_text(),
    }
}

#[derive(Template)]
#[template(path = "operator/home.html")]
struct HomePage {
    csrf: String,
    email: String,
    q: String,
    requests: Vec<(MerchantLine, String)>,
    merchants: Vec<MerchantLine>,
}

async fn home(State(state): State<Arc<AppState>>, o: Operator, uri: axum::http::Uri) -> Result<Response, Response> {
    let q = crate::wire::query::first_value(uri.query().unwrap_or(""), "q").unwrap_or_default();
    let fail = |e: AdminError| crate::ApiError::from(e).into_response();
    let requests = state.engine.live_requests().await.map_err(fail)?;
    let merchants = state.engine.find_merchants(&q).await.map_err(fail)?;
    let page = HomePage {
        csrf: o.csrf(),
        email: o.op.email.clone(),
        q,
        requests: requests
            .iter()
            .map(|(r, m)| (merchant_line(m), crate::wire::myt(r.requested_at_ms).seconds_text()))
            .collect(),
        merchants: merchants.iter().map(merchant_line).collect(),
    };
    Ok(html(StatusCode::OK, page))
}

#[derive(Template)]
#[template(path = "operator/merchant.html")]
struct MerchantPage {
    csrf: String,
    email: String,
    m: MerchantLine,
    level: String,
    balance: String,
    /// Where live access stands (staging accounts).
    live: Option<String>,
    can_approve: bool,
    notice: Option<String>,
    error: Option<String>,
}

async fn merchant_page(
    state: &AppState,
    o: &Operator,
    account: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let found = match state.engine.merchant_by_account(account).await {
        Ok(m) => m,
        Err(AdminError::NotFound(m)) => return (StatusCode::NOT_FOUND, m).into_response(),
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let balance = match state.engine.balance(&found).await {
        Ok(b) => b.to_cents(),
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let access = match state.engine.live_access_of(&found).await {
        Ok(a) => a,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let can_approve = access.as_ref().is_some_and(|a| a.live_merchant_id.is_none());
    let live = match (&access, found.environment) {
        (_, tambah_domain::Environment::Live) => None,
        (None, _) => Some("not requested".to_owned()),
        (Some(a), _) if a.live_merchant_id.is_none() => {
            Some(format!("requested on {}", crate::wire::myt(a.requested_at_ms).seconds_text()))
        }
        (Some(a), _) => {
            let live = match a.live_merchant_id {
                Some(id) => state.engine.merchant_by_id(id).await.map(|m| m.account).unwrap_or_default(),
                None => String::new(),
            };
            Some(format!("approved: live account {live}"))
        }
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = MerchantPage {
        csrf: o.csrf(),
        email: o.op.email.clone(),
        m: merchant_line(&found),
        level: found.level.clone(),
        balance,
        live,
        can_approve,
        notice,
        error,
    };
    html(status, page)
}

/// What an action did, named in the query of the page shown after it (one
/// of a few fixed sentences: nothing from the query is echoed).
const DONE: [(&str, &str); 5] = [
    ("approved", "Live access approved: the live account is below (balance 0.00; deposit into it to start)."),
    ("deposited", "The deposit is recorded; the balance above includes it."),
    ("suspended", "The account is suspended."),
    ("restored", "The account is restored."),
    ("level", "The pricing level is saved."),
];

async fn merchant(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(account): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let done = crate::wire::query::first_value(uri.query().unwrap_or(""), "done").unwrap_or_default();
    let notice = DONE.iter().find(|(code, _)| *code == done).map(|(_, words)| (*words).to_owned());
    merchant_page(&state, &o, &account, notice, None).await
}

/// After an action, the merchant's page by a redirect (a reload of it does
/// not send the form again), or the form's error on the page at once.
async fn after(state: &AppState, o: &Operator, account: &str, outcome: Result<(String, &str), AdminError>) -> Response {
    match outcome {
        Ok((shown, done)) => {
            let path = format!(
                "/operator/merchants/{}?done={done}",
                form_urlencoded::byte_serialize(shown.as_bytes()).collect::<String>()
            );
            Redirect::to(&path).into_response()
        }
        Err(AdminError::Invalid(m) | AdminError::NotFound(m) | AdminError::Forbidden(m)) => {
            merchant_page(state, o, account, None, Some(m)).await
        }
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

async fn approve(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(account): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    let outcome = state.engine.approve_live(&o.op, &account).await.map(|live| (live.account, "approved"));
    after(&state, &o, &account, outcome).await
}

#[derive(Deserialize)]
struct DepositForm {
    csrf: String,
    amount: String,
    reason: String,
}

async fn deposit(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(account): Path<String>,
    Form(form): Form<DepositForm>,
) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    let outcome = match Amount::parse_positive(form.amount.trim(), 2) {
        Ok(amount) => state
            .engine
            .operator_deposit(&o.op, &account, amount, &form.reason)
            .await
            .map(|_| (account.clone(), "deposited")),
        Err(e) => Err(AdminError::Invalid(format!("amount {:?}: {e} (write it as 100 or 100.50)", form.amount))),
    };
    after(&state, &o, &account, outcome).await
}

#[derive(Deserialize)]
struct SuspensionForm {
    csrf: String,
    suspended: String,
}

async fn suspension(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(account): Path<String>,
    Form(form): Form<SuspensionForm>,
) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    let suspend = form.suspended == "1";
    let done = if suspend { "suspended" } else { "restored" };
    let outcome = state.engine.operator_suspend(&o.op, &account, suspend).await.map(|_| (account.clone(), done));
    after(&state, &o, &account, outcome).await
}

#[derive(Deserialize)]
struct LevelForm {
    csrf: String,
    level: String,
}

/// Sets the pricing level the merchant's prices are read at.
async fn level(
    State(state): State<Arc<AppState>>,
    o: Operator,
    Path(account): Path<String>,
    Form(form): Form<LevelForm>,
) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    let outcome =
        state.engine.console_set_level(&o.op, &account, &form.level).await.map(|_| (account.clone(), "level"));
    after(&state, &o, &account, outcome).await
}

struct AuditLine {
    at: String,
    operator: String,
    action: String,
    account: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "operator/audit.html")]
struct AuditPage {
    csrf: String,
    email: String,
    entries: Vec<AuditLine>,
}

async fn audit(State(state): State<Arc<AppState>>, o: Operator) -> Response {
    let entries = match state.engine.audit_log(500).await {
        Ok(e) => e,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let entries = entries
        .into_iter()
        .map(|a| AuditLine {
            at: crate::wire::myt(a.created_at_ms).seconds_text(),
            operator: a.operator_email,
            action: a.action,
            account: a.merchant_account.unwrap_or_default(),
            detail: a.detail,
        })
        .collect();
    html(StatusCode::OK, AuditPage { csrf: o.csrf(), email: o.op.email.clone(), entries })
}
