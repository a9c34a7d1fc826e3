//! `POST|GET /upstream/{provider}/callback`: an upstream provider's callback
//! about one of our orders. It is only a prompt: the order is then asked
//! about at the provider when it may be (its current attempt, which the
//! provider may hold), and only that answer moves it. Nothing in the
//! callback is trusted, so it needs no credentials; an unknown provider or
//! reference is answered 404 and changes nothing. A provider configured with
//! a callback secret must sign (`X-Signature`), or the callback is refused
//! (403).

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use tambah_engine::unknowns::Prompt;

use crate::wire::params;
use crate::{ApiError, AppState, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/upstream/{provider}/callback", post(callback).get(callback))
}

/// For upstream providers: a prompt to ask the provider about one of our
/// orders (never proof). Signed with `X-Signature` when the provider has a
/// callback secret. Also `GET` with the same fields in the query.
#[utoipa::path(post, path = "/upstream/{provider}/callback", tag = "providers",
    params(
        ("provider" = String, Path, description = "The provider's name, as the operator configured it"),
        ("refid" = String, Query, min_length = 1, description = "Our reference (the provider's copy of our refid); in the query or the body"),
    ),
    responses(
        (status = 200, description = "Noted", body = crate::openapi::resources::NotedAnswer),
        (status = 400, description = "`refid` is missing", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The signature does not check out", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No such provider or order", body = crate::openapi::schemas::ErrorBody)))]
pub(crate) async fn callback(
    state: Shared,
    Path(provider): Path<String>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body)?;
    // IIMMPACT-compatible callbacks carry the topup body: our reference is its refid.
    let reference = p.get("refid").ok_or_else(|| ApiError::bad_request("invalid_request", "refid is required"))?;
    // What the provider signed: the body of a POST, the query of a GET.
    let payload = if body.is_empty() { uri.query().unwrap_or("").as_bytes().to_vec() } else { body.to_vec() };
    let signature = headers.get("x-signature").and_then(|v| v.to_str().ok());
    match state.engine.upstream_callback(&provider, &reference, signature, &payload).await {
        Prompt::Noted => Ok(Json(json!({"data": {"refid": reference, "status": "noted"}}))),
        Prompt::BadSignature => Err(ApiError::Forbidden("the callback's X-Signature does not check out".into())),
        Prompt::Unknown => {
            Err(ApiError::NotFound(format!("no order of provider {provider:?} with reference {reference:?}")))
        }
    }
}
