//! Passwords: a member changes its own (every session then ends), and one
//! forgotten is reset through a link e-mailed to the member's address (one
//! hour, used once). The answer to a reset request is the same whether the
//! address has an account or not, and the e-mail leaves in the background,
//! so neither the words nor the time tell.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tambah_engine::auth::ChangePasswordError;
use tambah_engine::merchants::AdminError;
use tambah_engine::AuthError;

use super::{forbidden, form_csrf, form_csrf_ok, html, set_cookie, with_cookies, Nav, Session, SESSION};
use crate::limits::ClientIp;
use crate::AppState;

#[derive(Template)]
#[template(path = "dashboard/forgot.html")]
struct ForgotPage {
    csrf: String,
    /// The server can send e-mail at all.
    mail: bool,
    sent: bool,
    error: Option<String>,
}

fn forgot_form(state: &AppState, status: StatusCode, sent: bool, error: Option<String>) -> Response {
    let (csrf, cookie) = form_csrf(state, "/dashboard");
    let mail = state.config.mail.is_some();
    with_cookies(html(status, ForgotPage { csrf, mail, sent, error }), [cookie])
}

pub(super) async fn forgot_page(State(state): State<Arc<AppState>>) -> Response {
    forgot_form(&state, StatusCode::OK, false, None)
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    csrf: String,
    email: String,
}

/// Sends a reset link when the address has an account; answers the same
/// either way. Limited per address and e-mail like a log-in.
pub(super) async fn forgot(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> Response {
    if !form_csrf_ok(&headers, &form.csrf) {
        return forbidden("the form has expired: reload the page");
    }
    let Some(mail) = state.config.mail.clone() else {
        return forgot_form(&state, StatusCode::OK, false, None);
    };
    if let ClientIp(Some(ip)) = ip {
        if let Err(limited) = state.limits.login(ip, &form.email.trim().to_ascii_lowercase()) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many attempts: try again in {wait} s.");
            return forgot_form(&state, StatusCode::TOO_MANY_REQUESTS, false, Some(message));
        }
    }
    match state.engine.request_password_reset(&form.email).await {
        Ok(Some((token, to))) => {
            let base = state.config.public_url.trim_end_matches('/');
            let body = format!(
                "Someone asked to reset the password of {to} on tambah.\r\n\r\n\
                 Choose a new one here (the link works once, for one hour):\r\n{base}/dashboard/password/reset?token={token}\r\n\r\n\
                 If it was not you, ignore this e-mail: your password stays as it is.\r\n"
            );
            tokio::spawn(async move {
                if let Err(e) = mail.0.send(to, "Reset your tambah password".into(), body).await {
                    tracing::warn!(error = %e, "a password reset e-mail was not sent");
                }
            });
        }
        Ok(None) => {}
        Err(e) => return crate::ApiError::from(e).into_response(),
    }
    forgot_form(&state, StatusCode::OK, true, None)
}

#[derive(Template)]
#[template(path = "dashboard/reset.html")]
struct ResetPage {
    csrf: String,
    token: String,
    error: Option<String>,
}

fn reset_form(state: &AppState, status: StatusCode, token: String, error: Option<String>) -> Response {
    let (csrf, cookie) = form_csrf(state, "/dashboard");
    with_cookies(html(status, ResetPage { csrf, token, error }), [cookie])
}

pub(super) async fn reset_page(State(state): State<Arc<AppState>>, uri: axum::http::Uri) -> Response {
    let token = crate::wire::query::first_value(uri.query().unwrap_or(""), "token").unwrap_or_default();
    reset_form(&state, StatusCode::OK, token, None)
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    csrf: String,
    token: String,
    password: String,
}

pub(super) async fn reset(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Response {
    if !form_csrf_ok(&headers, &form.csrf) {
        return forbidden("the form has expired: reload the page");
    }
    if let ClientIp(Some(ip)) = ip {
        // Keyed by the link: one client's junk locks no one else's out.
        let key = format!("password-reset:{}", form.token.chars().take(24).collect::<String>());
        if let Err(limited) = state.limits.login(ip, &key) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many attempts: try again in {wait} s.");
            return reset_form(&state, StatusCode::TOO_MANY_REQUESTS, form.token, Some(message));
        }
    }
    match state.engine.reset_password(&form.token, &form.password).await {
        // Log in again: a link alone opens no session (two-factor applies).
        Ok(()) => Redirect::to("/dashboard/login?changed=1").into_response(),
        Err(AdminError::Invalid(m)) => reset_form(&state, StatusCode::BAD_REQUEST, form.token, Some(m)),
        Err(AdminError::NotFound(m)) => reset_form(&state, StatusCode::NOT_FOUND, form.token, Some(m)),
        Err(AdminError::Forbidden(m)) => forbidden(&m),
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "dashboard/account.html")]
struct AccountPage {
    nav: Nav,
    username: String,
    role: &'static str,
    account: String,
    error: Option<String>,
    notice: Option<String>,
    two_factor: bool,
    /// Roles that see keys and secrets keep two-factor sign-in.
    two_factor_required: bool,
    /// A fresh secret to set up (or replace) two-factor sign-in: base32
    /// and its otpauth URI.
    setup: (String, String),
}

fn account_page(state: &AppState, s: &Session, status: StatusCode, error: Option<String>) -> Response {
    account_page_with(state, s, status, error, None, s.member.two_factor)
}

fn account_page_with(
    state: &AppState,
    s: &Session,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    two_factor: bool,
) -> Response {
    let setup = match state.engine.new_totp_secret(&s.member) {
        Ok(setup) => setup,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let page = AccountPage {
        nav: s.nav("account"),
        username: s.member.user.username.clone(),
        role: s.member.role().as_str(),
        account: s.member.home.account.clone(),
        error,
        notice,
        two_factor,
        two_factor_required: s.member.role().may(tambah_domain::Capability::Settings),
        setup,
    };
    html(status, page)
}

/// The member's own account: who it is, its password, two-factor sign-in.
pub(super) async fn account(State(state): State<Arc<AppState>>, s: Session) -> Response {
    account_page(&state, &s, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub(super) struct TotpForm {
    csrf: String,
    secret: String,
    code: String,
    /// A code of the secret being replaced (when there is one).
    #[serde(default)]
    current_code: String,
}

/// Turns two-factor sign-in on once a code from the app proves it has the
/// secret.
pub(super) async fn confirm_totp(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<TotpForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    match state.engine.confirm_totp(&s.member, &form.secret, &form.code, &form.current_code).await {
        Ok(()) => {
            let notice = "Two-factor sign-in is on: log-ins now ask for the app's code.".to_owned();
            account_page_with(&state, &s, StatusCode::OK, None, Some(notice), true)
        }
        Err(AdminError::Invalid(m)) => account_page(&state, &s, StatusCode::BAD_REQUEST, Some(m)),
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

pub(super) async fn remove_totp(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<super::CsrfForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    match state.engine.remove_totp(&s.member).await {
        Ok(()) => {
            let notice = "Two-factor sign-in is off.".to_owned();
            account_page_with(&state, &s, StatusCode::OK, None, Some(notice), false)
        }
        Err(AdminError::Forbidden(m)) => account_page(&state, &s, StatusCode::FORBIDDEN, Some(m)),
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct ChangeForm {
    csrf: String,
    old_password: String,
    new_password: String,
}

/// A new password (the old one asked again): every session of the member
/// ends, this one too, and the log-in page says so.
pub(super) async fn change(
    State(state): State<Arc<AppState>>,
    ip: ClientIp,
    s: Session,
    Form(form): Form<ChangeForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    if let ClientIp(Some(ip)) = ip {
        if let Err(limited) = state.limits.login(ip, &s.member.user.username) {
            let wait = limited.retry_after.as_secs().max(1);
            let message = format!("Too many attempts: try again in {wait} s.");
            return account_page(&state, &s, StatusCode::TOO_MANY_REQUESTS, Some(message));
        }
    }
    let caller = s.member.caller();
    match state.engine.change_password(&caller, &form.old_password, &form.new_password).await {
        Ok(()) => {
            let cleared = set_cookie(&state, SESSION, "", 0);
            with_cookies(Redirect::to("/dashboard/login?changed=1").into_response(), [cleared])
        }
        Err(ChangePasswordError::Weak(m)) => account_page(&state, &s, StatusCode::BAD_REQUEST, Some(m)),
        Err(ChangePasswordError::Auth(AuthError::WrongCredentials)) => {
            account_page(&state, &s, StatusCode::BAD_REQUEST, Some("The current password is not right.".into()))
        }
        Err(ChangePasswordError::Auth(e)) => crate::ApiError::from(e).into_response(),
        Err(ChangePasswordError::NeedsToken) => forbidden("sign in with a password to change it"),
    }
}
