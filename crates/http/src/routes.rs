//! The whole API as one `Router`: one router per resource merged, the
//! fallback 404, and the layers every request passes (request id, load
//! shedding, body limit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::api;
use crate::{ApiError, AppState};

/// Every resource's routes, v1 and v2 paths together.
fn resources() -> Router<Arc<AppState>> {
    Router::new()
        .merge(api::health::router())
        .merge(api::tokens::router())
        .merge(api::balance::router())
        .merge(api::products::router())
        .merge(api::topup::router())
        .merge(api::callbacks::router())
        .merge(api::low_balance::router())
        .merge(api::transactions::router())
        .merge(api::statement::router())
        .merge(api::reports::router())
        .merge(api::options::router())
        .merge(api::esim::router())
        .merge(api::catalog::router())
        .merge(api::bills::router())
        .merge(api::network_status::router())
        .merge(api::upstream::router())
}

pub(crate) fn build(state: Arc<AppState>) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let permits = Arc::new(tokio::sync::Semaphore::new(state.config.max_in_flight.max(1)));
    resources()
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(permits, shed_load))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

/// Sheds load past `max_in_flight` requests: a fast 503 beats a queue that
/// grows until memory runs out.
async fn shed_load(State(permits): State<Arc<tokio::sync::Semaphore>>, req: Request, next: Next) -> Response {
    match permits.try_acquire() {
        Ok(_permit) => next.run(req).await,
        Err(_) => {
            let mut res = ApiError::Unavailable("too many requests in flight".into()).into_response();
            res.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
            res
        }
    }
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);

/// Every response carries `X-Request-Id`: the caller's (if sane) or a new one.
async fn request_id(req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned();
    let id = given.unwrap_or_else(|| {
        let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n:012x}", std::process::id())).expect("hex is a valid header")
    });
    let mut res = next.run(req).await;
    res.headers_mut().insert("x-request-id", id);
    res
}
