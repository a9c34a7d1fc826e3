//! Signing in and out, self-serve sign-up, and an invited member's first
//! password: the forms used before a session exists (double-submitted CSRF
//! cookie, log-ins limited like `/v2/token`).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tambah_engine::accounts::DashboardSession;
use tambah_engine::accounts::SignUp;
use tambah_engine::merchants::AdminError;
use tambah_engine::AuthError;

use super::{
    forbidden, form_csrf, form_csrf_ok, html, session, set_cookie, with_cookies, CsrfForm, ENVIRONMENT, FORM_CSRF,
    SESSION,
};
use crate::limits::ClientIp;
use crate::AppState;

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    error: Option<String>,
    signup: bool,
    /// Just after a password change.
    changed: bool,
    /// The password was right and the member's authenticator code is asked.
    needs_code: bool,
}

/// The log-in form, with a fresh double-submit CSRF cookie.
pub(super) async fn login_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if session(&state, &headers).await.is_some() {
        return Redirect::to("/dashboard").into_response();
    }
    // Just after a password change, the page says so.
    let changed = uri.query() == Some("changed=1");
    let (csrf, cookie) = form_csrf(&state, "/dashboard");
    let signup = state.engine.config().signup;
    let page = LoginPage { csrf, username: String::new(), error: None, signup, changed, needs_code: false };
    with_cookies(html(StatusCode::OK, page), [cookie])
}

fn login_form(state: &AppState, status: StatusCode, username: String, error: Option<String>) -> Response {
    code_form(state, status, username, error, false)
}

fn code_form(
    state: &AppState,
    status: StatusCode,
    username: String,
    error: Option<String>,
    needs_code: bool,
) -> Response {
    let (csrf, cookie) = form_csrf(state, "/dashboard");
    let signup = state.engine.config().signup;
    let page = LoginPage { csrf, username, error, signup, changed: false, needs_code };
    with_cookies(html(status, page), [cookie])
}

/// Signed in: the session cookie set, the form's cookie spent.
pub(super) fn signed_in(state: &AppState, issued: &DashboardSession) -> Response {
    let session = set_cookie(state, SESSION, &issued.token, issued.expires_in_s);
    let spent = super::set_cookie_at(state, FORM_CSRF, "", 0, "/dashboard");
    let staging = set_cookie(state, ENVIRONMENT, "", 0);
    with_cookies(Redirect::to("/dashboard").into_response(), [session, spent, staging])
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    /// The authenticator code, for members with two-factor sign-in.
    #[serde(default)]
    code: String,
    csrf: String,
}

pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !form_csrf_ok(&headers, &form.csrf) {
        return forbidden("the form has expired: reload the log-in page");
    }
    if let ClientIp(Some(ip)) = ip {
        if let Err(limited) = state.limits.login(ip, &form.username) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many log-in attempts: try again in {wait} s.");
            return login_form(&state, StatusCode::TOO_MANY_REQUESTS, form.username, Some(message));
        }
    }
    match state.engine.dashboard_login(&form.username, &form.password, &form.code).await {
        Ok(Some(issued)) => signed_in(&state, &issued),
        Ok(None) => {
            let message = "Enter your password again with the 6-digit code from your authenticator app.".to_owned();
            code_form(&state, StatusCode::UNAUTHORIZED, form.username, Some(message), true)
        }
        Err(e) => {
            tracing::warn!(username = ?form.username.chars().take(64).collect::<String>(), reason = e.code(), "dashboard log-in failed");
            let message = match e {
                AuthError::WrongCredentials if !form.code.is_empty() => "Wrong username, password or code.".to_owned(),
                AuthError::WrongCredentials => "Wrong username or password.".to_owned(),
                other => other.message().to_owned(),
            };
            let needs_code = !form.code.is_empty();
            code_form(&state, StatusCode::UNAUTHORIZED, form.username, Some(message), needs_code)
        }
    }
}

/// Ends the session: its token is revoked, the cookie cleared.
pub(super) async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(s) = session(&state, &headers).await else {
        return Redirect::to("/dashboard/login").into_response();
    };
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    if let Err(e) = state.engine.dashboard_logout(&s.token).await {
        return crate::ApiError::from(e).into_response();
    }
    let cleared = set_cookie(&state, SESSION, "", 0);
    with_cookies(Redirect::to("/dashboard/login").into_response(), [cleared])
}

#[derive(Template)]
#[template(path = "dashboard/signup.html")]
struct SignUpPage {
    csrf: String,
    company: String,
    email: String,
    error: Option<String>,
}

fn signup_form(
    state: &AppState,
    status: StatusCode,
    company: String,
    email: String,
    error: Option<String>,
) -> Response {
    let (csrf, cookie) = form_csrf(state, "/dashboard");
    with_cookies(html(status, SignUpPage { csrf, company, email, error }), [cookie])
}

pub(super) async fn signup_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if session(&state, &headers).await.is_some() {
        return Redirect::to("/dashboard").into_response();
    }
    if !state.engine.config().signup {
        return forbidden("sign-up is closed on this server: ask the operator for an account");
    }
    signup_form(&state, StatusCode::OK, String::new(), String::new(), None)
}

#[derive(Deserialize)]
pub(super) struct SignUpForm {
    company: String,
    email: String,
    password: String,
    csrf: String,
}

/// Creates a staging account and signs its first member in. Limited like a
/// log-in (each sign-up hashes a password).
pub(super) async fn signup(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<SignUpForm>,
) -> Response {
    if !form_csrf_ok(&headers, &form.csrf) {
        return forbidden("the form has expired: reload the sign-up page");
    }
    if let ClientIp(Some(ip)) = ip {
        // The engine's own form of the address, so spaces or capitals do
        // not make a fresh allowance.
        if let Err(limited) = state.limits.login(ip, &form.email.trim().to_ascii_lowercase()) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many attempts: try again in {wait} s.");
            return signup_form(&state, StatusCode::TOO_MANY_REQUESTS, form.company, form.email, Some(message));
        }
    }
    let request = SignUp { company: form.company.clone(), email: form.email.clone(), password: form.password };
    match state.engine.sign_up(&request).await {
        Ok(issued) => signed_in(&state, &issued),
        Err(AdminError::Invalid(m)) => signup_form(&state, StatusCode::BAD_REQUEST, form.company, form.email, Some(m)),
        Err(AdminError::Forbidden(m)) => forbidden(&m),
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "dashboard/invite.html")]
struct InvitePage {
    csrf: String,
    token: String,
    /// Who is invited, and to which account (while the link is good).
    invited: Option<(String, String)>,
    error: Option<String>,
}

async fn invite_form(state: &AppState, status: StatusCode, token: String, error: Option<String>) -> Response {
    let (csrf, cookie) = form_csrf(state, "/dashboard");
    let (invited, error, status) = match state.engine.invitation(&token).await {
        Ok(found) => (Some(found), error, status),
        Err(AdminError::NotFound(m)) => (None, Some(m), StatusCode::NOT_FOUND),
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    with_cookies(html(status, InvitePage { csrf, token, invited, error }), [cookie])
}

/// The invited member's page: who is invited to which account, and a
/// password to choose. The link's token rides in the query (`?token=`).
pub(super) async fn invite_page(State(state): State<Arc<AppState>>, uri: axum::http::Uri) -> Response {
    let token = crate::wire::query::first_value(uri.query().unwrap_or(""), "token").unwrap_or_default();
    invite_form(&state, StatusCode::OK, token, None).await
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    token: String,
    password: String,
    csrf: String,
}

/// Limited per address like a log-in (it hashes a password).
pub(super) async fn accept_invite(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    if !form_csrf_ok(&headers, &form.csrf) {
        return forbidden("the form has expired: reload the invitation page");
    }
    if let ClientIp(Some(ip)) = ip {
        // Keyed by the link: one client's junk locks no one else's out.
        let key = format!("invitation:{}", form.token.chars().take(24).collect::<String>());
        if let Err(limited) = state.limits.login(ip, &key) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many attempts: try again in {wait} s.");
            return invite_form(&state, StatusCode::TOO_MANY_REQUESTS, form.token, Some(message)).await;
        }
    }
    match state.engine.accept_invite(&form.token, &form.password).await {
        Ok(issued) => signed_in(&state, &issued),
        Err(AdminError::Invalid(m) | AdminError::NotFound(m)) => {
            invite_form(&state, StatusCode::BAD_REQUEST, form.token, Some(m)).await
        }
        Err(AdminError::Forbidden(m)) => forbidden(&m),
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}
