//! The member's settings: where callbacks go (URL and method, checked as the
//! API checks them), the signing secret's rotation (the new secret shown
//! once), the low-balance threshold, and a callback's redelivery from the
//! order page. The API's rules: `Caller::may` with the member as caller.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tambah_domain::{Amount, Capability};
use tambah_engine::auth::SettingAccess;
use tambah_engine::merchants::AdminError;

use super::{html, message, refused, CsrfForm, Nav, Session};
use crate::api::low_balance::MIN_THRESHOLD;
use crate::AppState;

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
struct SettingsPage {
    nav: Nav,
    url: String,
    method: String,
    threshold: String,
    email: String,
    api_version: String,
    versions: [&'static str; 2],
    /// One entry a line, as the form shows it.
    ip_allowlist: String,
    /// A secret just made, shown this once.
    secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

async fn settings_page(
    state: &AppState,
    s: &Session,
    secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    if let Err(e) = s.member.must(Capability::Settings) {
        return refused(s, e);
    }
    // Read again: the form may just have changed it.
    let m = match state.engine.merchant_by_id(s.member.merchant.id).await {
        Ok(m) => m,
        Err(e) => return refused(s, e),
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = SettingsPage {
        nav: s.nav("settings"),
        url: m.callback_url.clone(),
        method: m.callback_method.clone(),
        threshold: if m.low_balance_threshold == Amount::ZERO {
            String::new()
        } else {
            m.low_balance_threshold.to_cents()
        },
        email: m.email.clone(),
        api_version: m.api_version.clone(),
        versions: tambah_engine::merchants::API_VERSIONS,
        ip_allowlist: m.ip_allowlist.replace(',', "\n"),
        secret,
        notice,
        error,
    };
    html(status, page)
}

pub(super) async fn page(State(state): State<Arc<AppState>>, s: Session) -> Response {
    settings_page(&state, &s, None, None, None).await
}

/// The refusal when the member may not change settings on this account
/// (role, suspension, read-only, require-API-key: as over the API).
fn may_not(s: &Session, access: SettingAccess) -> Option<Response> {
    s.member.caller().may(access).err().map(|reason| message(s, StatusCode::FORBIDDEN, "Not allowed", reason.into()))
}

#[derive(Deserialize)]
pub(super) struct CallbackForm {
    csrf: String,
    url: String,
    method: String,
}

pub(super) async fn callback(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<CallbackForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    if let Some(refused) = may_not(&s, SettingAccess::Change) {
        return refused;
    }
    let url = form.url.trim();
    let method = form.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "POST") {
        return settings_page(&state, &s, None, None, Some("The method is GET or POST.".into())).await;
    }
    if !url.is_empty() {
        if let Err(e) = crate::guard::check_url(url, state.config.callback_allow_private_networks).await {
            return settings_page(&state, &s, None, None, Some(e)).await;
        }
    }
    if let Err(e) = state.engine.set_callback_url(&s.member.merchant, url, &method).await {
        return crate::ApiError::from(e).into_response();
    }
    let notice = if url.is_empty() { "Callbacks are off." } else { "The callback URL is saved." };
    settings_page(&state, &s, None, Some(notice.into()), None).await
}

pub(super) async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    if let Some(refused) = may_not(&s, SettingAccess::Change) {
        return refused;
    }
    match state.engine.rotate_callback_secret(s.member.merchant.id).await {
        Ok(secret) => settings_page(&state, &s, Some(secret), None, None).await,
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct ThresholdForm {
    csrf: String,
    amount: String,
    /// Where the alert is e-mailed (empty: nowhere).
    #[serde(default)]
    email: String,
}

pub(super) async fn low_balance(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<ThresholdForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    if let Err(e) = s.member.must(Capability::Settings) {
        return refused(&s, e);
    }
    let text = form.amount.trim();
    let amount = if text.is_empty() {
        Ok(Amount::ZERO)
    } else {
        match Amount::parse_positive(text, 2) {
            Ok(a) if a < MIN_THRESHOLD => Err("The threshold is at least RM 1.00 (or empty: no alerts).".to_owned()),
            Ok(a) => Ok(a),
            Err(e) => Err(format!("{text:?}: {e} (write it as 100 or 100.50)")),
        }
    };
    let amount = match amount {
        Ok(a) => a,
        Err(e) => return settings_page(&state, &s, None, None, Some(e)).await,
    };
    match state.engine.member_set_alert_email(&s.member, &form.email).await {
        Ok(_) => {}
        Err(AdminError::Invalid(e)) => return settings_page(&state, &s, None, None, Some(e)).await,
        Err(e) => return refused(&s, e),
    }
    if let Err(e) = state.engine.set_low_balance_threshold(&s.member.merchant, amount).await {
        return refused(&s, e);
    }
    let notice = if amount == Amount::ZERO { "Low-balance alerts are off." } else { "The threshold is saved." };
    settings_page(&state, &s, None, Some(notice.into()), None).await
}

#[derive(Deserialize)]
pub(super) struct VersionForm {
    csrf: String,
    api_version: String,
}

pub(super) async fn api_version(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<VersionForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    let outcome = state.engine.member_set_api_version(&s.member, &form.api_version).await;
    let notice = outcome.map(|m| format!("Answers and callbacks now use API version {}.", m.api_version));
    saved(&state, &s, notice).await
}

/// The settings page after a change: its notice, or the engine's refusal
/// (a bad value on the page, anything else as a refusal page).
async fn saved(state: &AppState, s: &Session, notice: Result<String, AdminError>) -> Response {
    match notice {
        Ok(notice) => settings_page(state, s, None, Some(notice), None).await,
        Err(AdminError::Invalid(e)) => settings_page(state, s, None, None, Some(e)).await,
        Err(e) => refused(s, e),
    }
}

#[derive(Deserialize)]
pub(super) struct AllowlistForm {
    csrf: String,
    ip_allowlist: String,
}

pub(super) async fn ip_allowlist(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<AllowlistForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    let outcome = state.engine.member_set_ip_allowlist(&s.member, &form.ip_allowlist).await;
    let notice = outcome.map(|list| {
        if list.is_empty() {
            "API requests are accepted from any address.".to_owned()
        } else {
            format!("API requests are accepted only from {}.", list.replace(',', ", "))
        }
    });
    saved(&state, &s, notice).await
}

/// Queues an order's status for delivery again, then shows the order.
pub(super) async fn redeliver(
    State(state): State<Arc<AppState>>,
    s: Session,
    Path(refid): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    if let Some(refused) = may_not(&s, SettingAccess::Change) {
        return refused;
    }
    match state.engine.redeliver(&s.member.merchant, &refid).await {
        Ok(_) => {
            let path =
                format!("/dashboard/orders/{}", form_urlencoded::byte_serialize(refid.as_bytes()).collect::<String>());
            Redirect::to(&path).into_response()
        }
        Err(e) => {
            let words = e.to_string();
            match crate::ApiError::from(e) {
                crate::ApiError::NotFound(_) => message(&s, StatusCode::NOT_FOUND, "Not found", words),
                crate::ApiError::Internal(_) => refused(&s, AdminError::Store(words)),
                _ => message(&s, StatusCode::CONFLICT, "Not queued", words),
            }
        }
    }
}
