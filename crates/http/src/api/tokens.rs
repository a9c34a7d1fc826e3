//! `POST /v2/token` (and v1), `/v2/token/refresh` (and v1) in the
//! `AuthenticationResult` shape, and `POST /v1/auth/change-password`.
//! A failed log-in is logged at warn: the username, the client's address and
//! the reason, never the password.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_engine::auth::IssuedTokens;
use tambah_engine::AuthError;

use axum::response::{IntoResponse, Response};

use crate::limits::ClientIp;
use crate::wire::params::{self, Params};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/token", post(token))
        .route("/v1/token", post(token))
        .route("/v2/token/refresh", post(refresh))
        .route("/v1/token/refresh", post(refresh))
        .route("/v1/auth/change-password", post(change_password))
}

fn result(t: IssuedTokens) -> Json<Value> {
    let mut r = serde_json::Map::new();
    r.insert("AccessToken".into(), json!(t.access_token));
    r.insert("ExpiresIn".into(), json!(t.expires_in_s));
    r.insert("TokenType".into(), json!("Bearer"));
    if let Some(refresh) = t.refresh_token {
        r.insert("RefreshToken".into(), json!(refresh));
    }
    r.insert("IdToken".into(), json!(t.id_token));
    Json(json!({ "AuthenticationResult": r }))
}

fn required(p: &Params, names: &[&str]) -> Result<Vec<String>, ApiError> {
    names
        .iter()
        .map(|n| {
            p.get(n).filter(|v| !v.is_empty()).ok_or_else(|| {
                let verb = if names.len() > 1 { " are" } else { " is" };
                ApiError::bad_request("invalid_request", format!("{} required", names.join(" and ") + verb))
            })
        })
        .collect()
}

/// Tokens for the Bearer scheme (JSON or form). Also `POST /v1/token`.
#[utoipa::path(post, path = "/v2/token", tag = "auth",
    request_body(content = crate::openapi::schemas::TokenRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The tokens", body = crate::openapi::schemas::TokenAnswer),
        (status = 400, description = "A field is missing", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Unknown username or wrong password", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The merchant is suspended", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many log-ins (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn token(
    state: Shared,
    ip: ClientIp,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = ip.0.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)
        .inspect_err(|e| failed_login("", &client, &e.to_string()))?;
    let username = p.get("username").unwrap_or_default();
    let v =
        required(&p, &["username", "password"]).inspect_err(|e| failed_login(&username, &client, &e.to_string()))?;
    if let ClientIp(Some(ip)) = ip {
        if let Err(limited) = state.limits.login(ip, &v[0]) {
            failed_login(&username, &client, "rate limited");
            return Ok(limited.into_response());
        }
    }
    match state.engine.login(&v[0], &v[1]).await {
        Ok(issued) => Ok(result(issued).into_response()),
        Err(e) => {
            let reason = match e {
                AuthError::WrongCredentials => "unknown username, wrong password, or another environment's user",
                AuthError::Internal => "the credential store failed",
                other => other.code(),
            };
            failed_login(&username, &client, reason);
            Err(e.into())
        }
    }
}

/// One warn line per failed log-in. The username is the caller's text:
/// escaped and cut short, so it cannot forge or flood log lines.
fn failed_login(username: &str, client: &str, reason: &str) {
    let username: String = username.chars().take(64).collect();
    tracing::warn!(username = ?username, client, reason, "log-in failed");
}

/// New tokens from the RefreshToken (no new RefreshToken). Also `/v1/token/refresh`.
#[utoipa::path(post, path = "/v2/token/refresh", tag = "auth",
    request_body(content = crate::openapi::schemas::RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The tokens", body = crate::openapi::schemas::TokenAnswer),
        (status = 400, description = "The refresh_token is missing", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "Unknown, expired or revoked RefreshToken", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this address (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn refresh(state: Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    let v = required(&p, &["refresh_token"])?;
    Ok(result(state.engine.refresh(&v[0]).await?))
}

/// Changes the caller's password; every token and refresh token issued before is revoked.
#[utoipa::path(post, path = "/v1/auth/change-password", tag = "auth", security(("bearer" = [])),
    request_body(content = crate::openapi::resources::PasswordChange, content_type = "application/json"),
    responses((status = 200, description = "Changed", body = crate::openapi::resources::Message), crate::openapi::resources::Refusals, crate::openapi::resources::Forbidden))]
pub(crate) async fn change_password(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let p = params::parse(&req.headers, req.query(), &req.body)?;
    let v = required(&p, &["old_password", "new_password"])?;
    state.engine.change_password(&req.caller, &v[0], &v[1]).await?;
    Ok(Json(json!({"message": "Password changed; sign in again with the new password"})))
}
