//! The dashboard, on the API's listener: the merchant portal under
//! `/dashboard` and the operator console under `/operator`. Pages are
//! rendered on the server from compiled templates (`templates/`, askama,
//! escaped by default), no script, one embedded stylesheet. Every action
//! goes through the engine's use cases as the API and the CLI do; the role
//! rules are the engine's.
//!
//! Merchant sessions are rows of their own in the database (never the
//! API's tokens), kept in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! when the public URL is https), so any node serves any session and a
//! password change ends them all; a session records whether its member
//! gave a two-factor code; logging out ends it. Operator sessions are rows of their
//! own, in a cookie scoped to `/operator`. Every form carries a CSRF token:
//! derived from the session token for a signed-in user, and a
//! double-submitted cookie on the forms used before signing in. Log-ins are
//! limited per address and per username like `/v2/token`. Every page sends
//! a strict Content-Security-Policy.

mod account;
mod catalogue;
mod charts;
mod console_catalogue;
mod console_disputes;
mod console_orders;
mod console_system;
mod disputes;
mod login;
mod operator;
mod pages;
mod password;
mod reports;
mod requests;
mod settings;

use std::sync::Arc;

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tambah_domain::Capability;
use tambah_engine::accounts::Member;
use tambah_engine::credentials::{new_token, token_hash};

use crate::AppState;

const SESSION: &str = "tambah_session";
/// Which account a member with a linked live account is looking at.
const ENVIRONMENT: &str = "tambah_env";
/// The double-submitted CSRF cookie of the forms used before signing in.
const FORM_CSRF: &str = "tambah_login_csrf";
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";
const PAGE: u32 = 50;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(pages::home))
        .route("/dashboard/login", get(login::login_page).post(login::login))
        .route("/dashboard/logout", post(login::logout))
        .route("/dashboard/signup", get(login::signup_page).post(login::signup))
        .route("/dashboard/invite", get(login::invite_page).post(login::accept_invite))
        .route("/dashboard/password/forgot", get(password::forgot_page).post(password::forgot))
        .route("/dashboard/password/reset", get(password::reset_page).post(password::reset))
        .route("/dashboard/account", get(password::account))
        .route("/dashboard/requests", get(requests::requests))
        .route("/dashboard/account/password", post(password::change))
        .route("/dashboard/account/totp", post(password::confirm_totp))
        .route("/dashboard/account/totp/remove", post(password::remove_totp))
        .route("/dashboard/transactions", get(pages::transactions))
        .route("/dashboard/transactions.csv", get(pages::transactions_csv))
        .route("/dashboard/orders/{refid}", get(pages::order))
        .route("/dashboard/statement", get(pages::statement))
        .route("/dashboard/statement.csv", get(reports::statement_csv))
        .route("/dashboard/summary", get(reports::summary))
        .route("/dashboard/summary.csv", get(reports::summary_csv))
        .route("/dashboard/summary.pdf", get(reports::summary_pdf))
        .route("/dashboard/statement.pdf", get(reports::statement_pdf))
        .route("/dashboard/disputes", get(disputes::list))
        .route("/dashboard/orders/{refid}/dispute", post(disputes::open))
        .route("/dashboard/prices", get(catalogue::prices))
        .route("/dashboard/charts", get(charts::charts))
        .route("/dashboard/keys", get(account::keys).post(account::create_key))
        .route("/dashboard/keys/revoke", post(account::revoke_key))
        .route("/dashboard/members", get(account::members).post(account::invite))
        .route("/dashboard/members/remove", post(account::remove_member))
        .route("/dashboard/live", post(account::request_live))
        .route("/dashboard/environment", post(account::switch_environment))
        .route("/dashboard/settings", get(settings::page))
        .route("/dashboard/settings/callback", post(settings::callback))
        .route("/dashboard/settings/secret", post(settings::rotate_secret))
        .route("/dashboard/settings/low-balance", post(settings::low_balance))
        .route("/dashboard/settings/api-version", post(settings::api_version))
        .route("/dashboard/settings/ip-allowlist", post(settings::ip_allowlist))
        .route("/dashboard/orders/{refid}/redeliver", post(settings::redeliver))
        .route("/dashboard/app.css", get(stylesheet))
        .route("/dashboard/icon.svg", get(icon))
        // Asked for by browsers on pages without a <link rel=icon> (a
        // refusal in plain text), so it answers too.
        .route("/favicon.ico", get(icon))
        .merge(operator::router())
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
    let css = include_str!("../../assets/dashboard.css");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], css)
        .into_response()
}

/// The tab's icon (a plus, for "tambah": to add).
async fn icon() -> Response {
    let svg = include_str!("../../assets/icon.svg");
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg).into_response()
}

/// A signed-in member and the session token.
struct Session {
    member: Member,
    token: String,
}

/// What the navigation bar of a signed-in page shows.
struct Nav {
    page: &'static str,
    csrf: String,
    /// The member may manage API keys.
    keys: bool,
    /// The member may manage members.
    members: bool,
    /// The account shown: `staging` or `live`.
    environment: &'static str,
    /// The other account the member may switch to, if any.
    switch_to: Option<&'static str>,
}

impl Session {
    /// The CSRF token of this session's forms: not derivable without the
    /// session cookie, which a cross-site page cannot read.
    fn csrf(&self) -> String {
        token_hash(&format!("dashboard-csrf:{}", self.token))
    }

    fn nav(&self, page: &'static str) -> Nav {
        let m = &self.member;
        let environment = m.merchant.environment.as_str();
        let switch_to = match (m.live_available, environment) {
            (true, "live") => Some("staging"),
            (true, _) => Some("live"),
            _ => None,
        };
        Nav {
            page,
            csrf: self.csrf(),
            keys: m.role().may(Capability::Settings),
            members: m.role().may(Capability::Members),
            environment,
            switch_to,
        }
    }

    /// The refusal of a form whose CSRF token is not this session's.
    fn stale(&self, csrf: &str) -> Option<Response> {
        (csrf != self.csrf()).then(|| forbidden("the form has expired: reload the page"))
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
    let live = cookie(headers, ENVIRONMENT).as_deref() == Some("live");
    // A dashboard session only: an API token opens no page.
    let member = state.engine.member(&token, live).await.ok()?;
    Some(Session { member, token })
}

/// A page that needs a signed-in member takes a `Session`: without one the
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

fn forbidden(message: &str) -> Response {
    plain(StatusCode::FORBIDDEN, message.to_owned())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_s: i64) -> (header::HeaderName, String) {
    set_cookie_at(state, name, value, max_age_s, "/")
}

fn set_cookie_at(
    state: &AppState,
    name: &str,
    value: &str,
    max_age_s: i64,
    path: &str,
) -> (header::HeaderName, String) {
    let secure = if state.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    (header::SET_COOKIE, format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"))
}

/// Adds `Set-Cookie` headers to an answer.
fn with_cookies(mut res: Response, cookies: impl IntoIterator<Item = (header::HeaderName, String)>) -> Response {
    for (name, value) in cookies {
        res.headers_mut().append(name, HeaderValue::from_str(&value).expect("a cookie is ascii"));
    }
    res
}

/// A fresh token for a form used before signing in, and its cookie.
fn form_csrf(state: &AppState, path: &str) -> (String, (header::HeaderName, String)) {
    let (csrf, _) = new_token("tbh_lc_");
    let cookie = set_cookie_at(state, FORM_CSRF, &csrf, 3600, path);
    (csrf, cookie)
}

/// Whether a form used before signing in carries its cookie's token.
fn form_csrf_ok(headers: &HeaderMap, csrf: &str) -> bool {
    cookie(headers, FORM_CSRF).is_some_and(|c| !c.is_empty() && c == csrf)
}

fn html(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => crate::ApiError::Internal(format!("a dashboard page did not render: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[derive(Template)]
#[template(path = "dashboard/message.html")]
struct MessagePage {
    nav: Nav,
    title: &'static str,
    message: String,
}

/// A page that says why something was refused or not found, in the
/// navigation of the signed-in member.
fn message(s: &Session, status: StatusCode, title: &'static str, message: String) -> Response {
    html(status, MessagePage { nav: s.nav(""), title, message })
}

/// An engine refusal as a page: 403 and 404 in words, the rest as the
/// API's error.
fn refused(s: &Session, e: tambah_engine::merchants::AdminError) -> Response {
    use tambah_engine::merchants::AdminError;
    match e {
        AdminError::Forbidden(m) => message(s, StatusCode::FORBIDDEN, "Not allowed", m),
        AdminError::NotFound(m) => message(s, StatusCode::NOT_FOUND, "Not found", m),
        AdminError::Invalid(m) => message(s, StatusCode::BAD_REQUEST, "Not done", m),
        other => crate::ApiError::from(other).into_response(),
    }
}
