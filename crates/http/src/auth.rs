//! Letting a request in: the `Authed` extractor reads the body whole (the
//! signature covers its exact bytes) and authenticates by API key signature
//! or bearer token.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tambah_engine::{AuthError, Caller, SignedRequest};

use crate::{ApiError, AppState};

/// An authenticated request: who is calling, and the parts a handler reads.
/// The body is read whole (within the body limit) because the signature
/// covers its exact bytes.
pub(crate) struct Authed {
    pub caller: Caller,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The access log's note of this request (absent outside the router).
    pub access: Option<crate::routes::AccessNote>,
}

impl Authed {
    /// The raw query string (empty when there is none).
    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }
}

impl FromRequest<Arc<AppState>> for Authed {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let limit = state.config.body_limit_bytes;
        let Ok(body) = axum::body::to_bytes(body, limit).await else {
            return Err(too_large(limit));
        };
        let ip = crate::limits::client_ip(&parts.extensions);
        if let Some(ip) = ip {
            state.limits.check_address(ip).map_err(IntoResponse::into_response)?;
        }
        let caller = match authenticate(state, &parts.method, &parts.uri, &parts.headers, &body).await {
            Ok(caller) => caller,
            Err(e) => {
                if let (Some(ip), ApiError::Auth(_)) = (ip, &e) {
                    state.limits.failed_authentication(ip);
                }
                // A signature that failed under a real key goes to that
                // merchant's request log: it is what an integrator debugs.
                if let (Some(key), Some(note)) =
                    (header(&parts.headers, "x-api-key"), parts.extensions.get::<crate::routes::AccessNote>())
                {
                    if let Some(merchant_id) = state.engine.key_merchant(key).await {
                        note.merchant_id(merchant_id, ip);
                    }
                }
                return Err(e.into_response());
            }
        };
        let m = &caller.merchant;
        if let Some(note) = parts.extensions.get::<crate::routes::AccessNote>() {
            note.merchant_id(m.id, ip);
        }
        if !tambah_engine::auth::ip_allowed(&m.ip_allowlist, ip) {
            let from = ip.map_or("an unknown address".to_owned(), |ip| ip.to_canonical().to_string());
            let message = format!(
                "this account accepts API requests only from its allowed addresses, and this one came from {from} \
                 (members change the list on the dashboard's settings page)"
            );
            return Err(ApiError::Forbidden(message).into_response());
        }
        let access = parts.extensions.get::<crate::routes::AccessNote>().cloned();
        if let Some(note) = &access {
            note.merchant(&m.account);
        }
        let allowance =
            state.limits.merchant(m.id, m.environment, m.rate_limit_per_s).map_err(IntoResponse::into_response)?;
        if let Some(note) = &access {
            note.allowance(allowance);
        }
        Ok(Authed { caller, uri: parts.uri, headers: parts.headers, body, access })
    }
}

/// 413 with a JSON body, like every other error.
fn too_large(limit: usize) -> Response {
    let body = serde_json::json!({
        "error": "payload_too_large",
        "message": format!("request body exceeds {limit} bytes"),
    });
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Authenticates a request by API key signature or bearer token.
async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, ApiError> {
    if let Some(api_key) = header(headers, "x-api-key") {
        let req = SignedRequest {
            api_key,
            timestamp: header(headers, "x-timestamp"),
            nonce: header(headers, "x-nonce"),
            signature: header(headers, "x-signature"),
            method: method.as_str(),
            raw_query: uri.query().unwrap_or(""),
            body,
        };
        return Ok(state.engine.authenticate_signed(&req).await?);
    }
    if let Some(authorization) = header(headers, "authorization") {
        return Ok(state.engine.authenticate_token(authorization).await?);
    }
    Err(ApiError::Auth(AuthError::Missing))
}
