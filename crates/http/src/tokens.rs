//! `POST /v2/token` (and v1), `/v2/token/refresh` (and v1) in the
//! `AuthenticationResult` shape, and `POST /v1/auth/change-password`.

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use axum::Json;
use serde_json::{json, Value};
use tambah_engine::auth::{ChangePasswordError, IssuedTokens};

use crate::{params, ApiError, Authed, Shared};

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

fn required(p: &params::Params, names: &[&str]) -> Result<Vec<String>, ApiError> {
    names
        .iter()
        .map(|n| {
            p.get(n).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_request",
                message: format!("{} required", names.join(" and ") + if names.len() > 1 { " are" } else { " is" }),
            })
        })
        .collect()
}

pub(crate) async fn token(state: Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    let v = required(&p, &["username", "password"])?;
    let issued = state.engine.login(&v[0], &v[1]).await?;
    Ok(result(issued))
}

pub(crate) async fn refresh(state: Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    let v = required(&p, &["refresh_token"])?;
    Ok(result(state.engine.refresh(&v[0]).await?))
}

pub(crate) async fn change_password(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri, headers, body } = req;
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    let v = required(&p, &["old_password", "new_password"])?;
    let outcome = state.engine.change_password(&caller, &v[0], &v[1]).await;
    match outcome {
        Ok(()) => Ok(Json(json!({"message": "Password changed; sign in again with the new password"}))),
        Err(ChangePasswordError::NeedsToken) => {
            Err(ApiError::Forbidden("change the password with a token from /v1/token, not an API key".into()))
        }
        Err(ChangePasswordError::Weak(m)) => Err(ApiError::BadRequest { code: "weak_password", message: m }),
        Err(ChangePasswordError::Auth(e)) => Err(e.into()),
    }
}
