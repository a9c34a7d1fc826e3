//! The member's account pages: API keys (a secret shown once), members and
//! invitations, the request for live access, and the switch between a
//! staging account and its live one. The engine checks each role.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tambah_domain::{Capability, Role, UserId};

use super::{html, refused, set_cookie, with_cookies, CsrfForm, Nav, Session, ENVIRONMENT};
use crate::AppState;

struct KeyLine {
    key_id: String,
    created: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "dashboard/keys.html")]
struct KeysPage {
    nav: Nav,
    account: String,
    keys: Vec<KeyLine>,
    /// A key just created: its id and secret, shown this once.
    created: Option<(String, String)>,
    notice: Option<String>,
}

async fn keys_page(
    state: &AppState,
    s: &Session,
    created: Option<(String, String)>,
    notice: Option<String>,
) -> Response {
    if let Err(e) = s.member.must(Capability::Settings) {
        return refused(s, e);
    }
    let keys = match state.engine.member_keys(&s.member).await {
        Ok(keys) => keys,
        Err(e) => return refused(s, e),
    };
    let keys = keys
        .into_iter()
        .map(|k| KeyLine {
            key_id: k.key_id,
            created: crate::wire::myt(k.created_at_ms).seconds_text(),
            revoked: k.revoked,
        })
        .collect();
    let account = s.member.merchant.account.clone();
    html(StatusCode::OK, KeysPage { nav: s.nav("keys"), account, keys, created, notice })
}

pub(super) async fn keys(State(state): State<Arc<AppState>>, s: Session) -> Response {
    keys_page(&state, &s, None, None).await
}

pub(super) async fn create_key(State(state): State<Arc<AppState>>, s: Session, Form(form): Form<CsrfForm>) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    match state.engine.member_create_key(&s.member).await {
        Ok(created) => keys_page(&state, &s, Some(created), None).await,
        Err(e) => refused(&s, e),
    }
}

#[derive(Deserialize)]
pub(super) struct KeyForm {
    csrf: String,
    key: String,
}

pub(super) async fn revoke_key(State(state): State<Arc<AppState>>, s: Session, Form(form): Form<KeyForm>) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    match state.engine.member_revoke_key(&s.member, &form.key).await {
        Ok(_) => keys_page(&state, &s, None, Some(format!("API key {} is revoked.", form.key))).await,
        Err(e) => refused(&s, e),
    }
}

struct MemberLine {
    id: i64,
    username: String,
    role: &'static str,
    invited: bool,
    me: bool,
}

#[derive(Template)]
#[template(path = "dashboard/members.html")]
struct MembersPage {
    nav: Nav,
    members: Vec<MemberLine>,
    roles: [&'static str; 4],
    /// The link of an invitation just made, shown this once.
    invite_link: Option<String>,
    notice: Option<String>,
}

async fn members_page(state: &AppState, s: &Session, invite_link: Option<String>, notice: Option<String>) -> Response {
    if let Err(e) = s.member.must(Capability::Members) {
        return refused(s, e);
    }
    let members = match state.engine.members(&s.member).await {
        Ok(m) => m,
        Err(e) => return refused(s, e),
    };
    let members = members
        .into_iter()
        .map(|u| MemberLine {
            id: u.id.get(),
            me: u.id == s.member.user.id,
            invited: u.password_hash == "!",
            username: u.username,
            role: u.role.as_str(),
        })
        .collect();
    let roles = Role::ALL.map(Role::as_str);
    html(StatusCode::OK, MembersPage { nav: s.nav("members"), members, roles, invite_link, notice })
}

pub(super) async fn members(State(state): State<Arc<AppState>>, s: Session) -> Response {
    members_page(&state, &s, None, None).await
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    csrf: String,
    email: String,
    role: String,
}

/// Invites a member: the link is shown to the admin once, to send on.
pub(super) async fn invite(State(state): State<Arc<AppState>>, s: Session, Form(form): Form<InviteForm>) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    let Some(role) = Role::parse(&form.role) else {
        return refused(&s, tambah_engine::merchants::AdminError::Invalid(format!("no role {:?}", form.role)));
    };
    match state.engine.invite(&s.member, &form.email, role).await {
        Ok(token) => {
            let base = state.config.public_url.trim_end_matches('/');
            let link = format!("{base}/dashboard/invite?token={token}");
            members_page(&state, &s, Some(link), None).await
        }
        Err(e) => refused(&s, e),
    }
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    csrf: String,
    user: i64,
}

pub(super) async fn remove_member(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<RemoveForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    match state.engine.remove_member(&s.member, UserId::new(form.user)).await {
        Ok(()) => members_page(&state, &s, None, Some("The member is removed and signed out.".into())).await,
        Err(e) => refused(&s, e),
    }
}

pub(super) async fn request_live(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    match state.engine.request_live(&s.member).await {
        Ok(()) => Redirect::to("/dashboard").into_response(),
        Err(e) => refused(&s, e),
    }
}

#[derive(Deserialize)]
pub(super) struct EnvironmentForm {
    csrf: String,
    environment: String,
}

/// Shows the live account linked to the member's staging one, or back.
pub(super) async fn switch_environment(
    State(state): State<Arc<AppState>>,
    s: Session,
    Form(form): Form<EnvironmentForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    let value = if form.environment == "live" && s.member.live_available { "live" } else { "" };
    let max_age = if value.is_empty() { 0 } else { 86_400 };
    let cookie = set_cookie(&state, ENVIRONMENT, value, max_age);
    with_cookies(Redirect::to("/dashboard").into_response(), [cookie])
}
