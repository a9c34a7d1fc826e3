//! The HTTP edge: the IIMMPACT-compatible JSON API (v1 and v2) on axum. Wire
//! shapes live here and nowhere else; handlers parse, authenticate, call the
//! engine and render.

mod balance;
pub mod callbacks;
pub mod delivery;
mod discovery;
mod error;
mod low_balance;
pub mod mail;
mod params;
mod products;
pub mod qr;
pub mod reports;
mod statement;
mod tokens;
mod topup;
mod transactions;
pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tambah_engine::{Caller, Engine, SignedRequest};

pub use error::ApiError;

/// Limits and settings of the HTTP edge.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Largest request body accepted (413 beyond).
    pub body_limit_bytes: usize,
    /// Base URL for links in responses (product images, pages).
    pub public_url: String,
    /// Accept callback URLs on loopback, private and link-local addresses.
    pub callback_allow_private_networks: bool,
    /// Requests handled at once at most; beyond it the node answers 503 with
    /// `Retry-After` instead of queueing without bound.
    pub max_in_flight: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 64 * 1024,
            public_url: "http://127.0.0.1:8080".into(),
            callback_allow_private_networks: false,
            max_in_flight: 4096,
        }
    }
}

pub(crate) struct AppState {
    pub engine: Arc<Engine>,
    pub config: HttpConfig,
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

pub(crate) type Shared = State<Arc<AppState>>;

/// Builds the whole API.
pub fn router(engine: Arc<Engine>, config: HttpConfig) -> Router {
    let body_limit = config.body_limit_bytes;
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1)));
    let state = Arc::new(AppState { engine, config });
    Router::new()
        .route("/health", get(health))
        .route("/v2/token", post(tokens::token))
        .route("/v1/token", post(tokens::token))
        .route("/v2/token/refresh", post(tokens::refresh))
        .route("/v1/token/refresh", post(tokens::refresh))
        .route("/v1/auth/change-password", post(tokens::change_password))
        .route("/v2/balance", get(balance::v2))
        .route("/v1/balance", get(balance::v1))
        .route("/v2/product-list", get(products::v2))
        .route("/v2/products", get(products::v2))
        .route("/v1/products", get(products::v1))
        .route("/v2/topup", post(topup::v2))
        .route("/v1/topup", post(topup::v1))
        .route("/v2/callback-url", get(callbacks::get).post(callbacks::set))
        .route("/v1/callback-url", get(callbacks::get).post(callbacks::set))
        .route("/v2/callback-secret", get(callbacks::secret))
        .route("/v2/callback-secret/rotate", post(callbacks::rotate))
        .route("/v2/callbacks/{refid}", get(callbacks::log))
        .route("/v2/callbacks/{refid}/redeliver", post(callbacks::redeliver))
        .route("/v2/low-balance-threshold", get(low_balance::get).post(low_balance::set))
        .route("/v1/low-balance-threshold", get(low_balance::get).post(low_balance::set))
        .route("/v2/transactions", get(transactions::v2))
        .route("/v1/transactions", get(transactions::v1))
        .route("/v2/transactions/check", post(transactions::check))
        .route("/v2/balance-statement", get(statement::get))
        .route("/v1/balance-statement", get(statement::get))
        .route("/v2/reports/transaction-summary", get(reports::summary_route))
        .route("/v2/reports/invoice", get(reports::invoice_route))
        .route("/v2/subproducts", get(discovery::subproducts_route))
        .route("/v2/options", get(discovery::options))
        .route("/v2/esim/countries", get(discovery::esim_countries))
        .route("/v2/esim/qr/{refid}", get(discovery::esim_qr))
        .route("/v2/catalog", get(discovery::catalog))
        .route("/v2/bill-presentment", get(discovery::bill_presentment))
        .route("/v1/bill-presentment", get(discovery::bill_presentment))
        .route("/v2/networkstatus", get(discovery::network_status))
        .route("/v1/networkstatus", get(discovery::network_status))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(permits, shed_load))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

async fn health(State(state): Shared) -> Response {
    match state.engine.store().ping().await {
        Ok(_) => axum::Json(serde_json::json!({"status": "ok", "database": "ok"})).into_response(),
        Err(e) => ApiError::Unavailable(format!("database: {e}")).into_response(),
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

/// The `@metadata` block of settings responses.
pub(crate) fn metadata(now_ms: i64) -> serde_json::Value {
    serde_json::json!({"status_code": 200, "last_updated": wire::myt(now_ms).metadata_text()})
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An authenticated request: who is calling, and the parts a handler reads.
/// The body is read whole (within the body limit) because the signature
/// covers its exact bytes.
pub(crate) struct Authed {
    pub caller: Caller,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl axum::extract::FromRequest<Arc<AppState>> for Authed {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let body = match axum::body::to_bytes(body, state.config.body_limit_bytes).await {
            Ok(b) => b,
            Err(_) => {
                let limit = state.config.body_limit_bytes;
                let body = serde_json::json!({
                    "error": "payload_too_large",
                    "message": format!("request body exceeds {limit} bytes"),
                });
                return Err((axum::http::StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response());
            }
        };
        let caller = authenticate(state, &parts.method, &parts.uri, &parts.headers, &body)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Authed { caller, uri: parts.uri, headers: parts.headers, body })
    }
}

/// Authenticates a request by API key signature or bearer token.
pub(crate) async fn authenticate(
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
    Err(ApiError::Auth(tambah_engine::AuthError::Missing))
}
