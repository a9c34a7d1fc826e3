//! The whole API as one `Router`: one router per resource merged, the
//! fallback 404, and the front door every request passes, in order: request
//! id and access log; panics contained; every error answered as JSON; the
//! client's address and block mode; shedding on lag and on work in flight;
//! the body read whole within its size limit and timeout; a known API
//! version; a query string naming a parameter twice refused; then an
//! in-flight permit and a place among the requests the node works on (load
//! shedding), so that a request only holds them once it is complete.

// A front-door step answers a request it refuses as `Err(Response)`: rare,
// and `?` reads better than boxing every refusal.
#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::api;
use crate::wire::params;
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
        .merge(api::not_offered::router())
        .merge(crate::openapi::router())
        .merge(crate::openapi::reference::router())
        .merge(crate::img::router())
        .merge(crate::dashboard::router())
}

pub(crate) fn build(state: Arc<AppState>) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let reading = BodyRead { limit: body_limit, timeout: state.config.body_timeout };
    let permits = Arc::new(tokio::sync::Semaphore::new(state.config.max_in_flight.max(1)));
    let shedding = Shedding {
        permits,
        lag: crate::lag::Lag::start(),
        target: state.config.shed_lag,
        admission: crate::admission::Admission::start(state.config.shed_in_flight),
    };
    // The front's steps are plain functions called in order by one
    // middleware: a layer per step costs a boxed service cloned and a boxed
    // future per request each (a tenth of a status check's CPU with nine).
    let front = Arc::new(Front { state: state.clone(), reading, shedding });
    resources()
        .fallback(not_found)
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(front, front_door))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}

/// What the front door needs.
struct Front {
    state: Arc<AppState>,
    reading: BodyRead,
    shedding: Shedding,
}

/// Every request, outermost first: an id and the access log line; a panic
/// in what follows contained; every error answered as JSON; the client's
/// address (and IIMMPACT's block mode); shedding on the runtime's lag and on
/// the work in flight; the body read whole; a known `X-Api-Version`; a
/// single-valued query string; an in-flight permit and a place among the
/// requests worked on (given up if the handler parks); then the route.
async fn front_door(State(front): State<Arc<Front>>, mut req: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    let started = std::time::Instant::now();
    let note = AccessNote::default();
    req.extensions_mut().insert(note.clone());
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let id = request_id(req.headers());
    let res = match std::panic::AssertUnwindSafe(guarded(&front, &method, &path, req, next)).catch_unwind().await {
        Ok(res) => res,
        Err(panic) => panic_answer(&path, panic),
    };
    log_answer(&front.state, &note, (&method, &path, id), started, res).await
}

/// The steps inside the panic guard, then every error made JSON.
async fn guarded(front: &Front, method: &Method, path: &str, req: Request, next: Next) -> Response {
    let res = steps(front, req, next).await.unwrap_or_else(|refused| refused);
    json_errors(method, path, res).await
}

/// Each step passes the request on or answers it (`Err`): the client's
/// address, the node's lag and its work in flight before the body is read;
/// the body; the version header and the query string; an in-flight permit
/// and a place among the requests worked on; then the route.
async fn steps(front: &Front, mut req: Request, next: Next) -> Result<Response, Response> {
    client_address(&front.state, &mut req)?;
    let exempt = req.uri().path() == "/health";
    shed_before_reading(&front.shedding, exempt)?;
    let req = read_body(front.reading, req).await?;
    known_api_version(&req)?;
    single_valued_query(&req)?;
    let _permit = front.shedding.permits.try_acquire().map_err(|_| too_many_in_flight())?;
    if exempt {
        return Ok(next.run(req).await);
    }
    let working = front.shedding.admission.enter().ok_or_else(overloaded)?;
    Ok(tambah_engine::parking::scope(Box::new(working), next.run(req)).await)
}

/// Resolves the client's address once (through the operator's trusted
/// proxies) for every limit keyed by address, then applies IIMMPACT's block
/// mode when the operator turned it on: every request but `/health` counts
/// against its address, before anything is read.
fn client_address(state: &AppState, req: &mut Request) -> Result<(), Response> {
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    if let Some(peer) = peer {
        let ip = crate::limits::resolve_client(peer, req.headers(), &state.config.trusted_proxies);
        req.extensions_mut().insert(crate::limits::ClientAddr(ip));
        if req.uri().path() != "/health" {
            state.limits.every_request(ip).map_err(IntoResponse::into_response)?;
        }
    }
    Ok(())
}

/// How a request body is read.
#[derive(Clone, Copy)]
struct BodyRead {
    limit: usize,
    timeout: std::time::Duration,
}

/// Reads the body whole before anything else: more than the limit is 413
/// (at once when `Content-Length` says so), a body not received within the
/// timeout is 408 and the connection is closed.
async fn read_body(reading: BodyRead, req: Request) -> Result<Request, Response> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > reading.limit as u64) {
        return Err(too_large(reading.limit));
    }
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(reading.timeout, axum::body::to_bytes(body, reading.limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => return Err(too_large(reading.limit)),
        // The client went away mid-body: nobody reads this answer.
        Ok(Err(_)) => {
            return Err(ApiError::bad_request("bad_request", "the request body could not be read").into_response())
        }
        Err(_) => {
            let body = serde_json::json!({"error": "request_timeout",
                "message": format!("the request body was not received within {} s", reading.timeout.as_secs())});
            let mut res = (StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response();
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Err(res);
        }
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn too_large(limit: usize) -> Response {
    let body = serde_json::json!({"error": "payload_too_large",
        "message": format!("the request body is larger than {limit} bytes")});
    let mut res = (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

/// Query parameters that may be given more than once (`status=A&status=B`
/// on the transaction listing).
const REPEATABLE: &[&str] = &["status", "status[]"];

/// A query string that names a parameter twice is refused: which value
/// counts would otherwise depend on the parser that reads it.
fn single_valued_query(req: &Request) -> Result<(), Response> {
    match req.uri().query().and_then(|q| params::duplicated(q.as_bytes(), REPEATABLE)) {
        Some(name) => Err(params::duplicate(&name).into_response()),
        None => Ok(()),
    }
}

/// A handler that panics (a bug) answers 500 in the API's shape, logged at
/// error with its message, instead of the connection closing with no answer
/// at all; the node goes on serving.
fn panic_answer(path: &str, panic: Box<dyn std::any::Any + Send>) -> Response {
    let what =
        panic.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| panic.downcast_ref::<String>().cloned());
    tracing::error!(path, panic = what.unwrap_or_default(), "a handler panicked");
    ApiError::Internal("a handler panicked".into()).into_response()
}

/// Every error is JSON in the API's shape: axum answers some itself (405
/// with `Allow`, an extractor's 400, 415 or 422) in plain text or with no
/// body at all. Headers are kept; 5xx bodies say nothing internal.
async fn json_errors(method: &Method, path: &str, res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    // The dashboard's pages answer errors as pages.
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 1024).await.ok().and_then(|b| String::from_utf8(b.to_vec()).ok());
    let text = text.filter(|t| !t.trim().is_empty());
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            ("method_not_allowed", format!("{method} is not allowed on {path}; allowed: {allow}"))
        }
        StatusCode::NOT_FOUND => ("not_found", format!("no route for {method} {path}")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", text.unwrap_or_else(|| "unsupported content type".into()))
        }
        StatusCode::UNPROCESSABLE_ENTITY => {
            ("invalid_request", text.unwrap_or_else(|| "the request could not be read".into()))
        }
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "Service unavailable, try again".to_owned()),
        s if s.is_server_error() => {
            tracing::error!(status = s.as_u16(), body = text.as_deref().unwrap_or(""), "a non-JSON error answered");
            ("internal_error", "Internal server error".to_owned())
        }
        _ => ("invalid_request", text.unwrap_or_else(|| status.canonical_reason().unwrap_or("bad request").to_owned())),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let body = serde_json::json!({"error": code, "message": message});
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// What sheds load: the in-flight cap, the runtime's standing lag and the
/// work in flight (`admission`).
#[derive(Clone)]
struct Shedding {
    permits: Arc<tokio::sync::Semaphore>,
    lag: Arc<crate::lag::Lag>,
    target: std::time::Duration,
    admission: Arc<crate::admission::Admission>,
}

/// Before the body is read: while the runtime's lag stands above its
/// target the node is past what its cores can do, and while the work in
/// flight stands past what it drains within its target the node is past
/// what it can do in time; either way a new request is answered 503 at once
/// (`/health` excepted: a busy node is not a dead one).
fn shed_before_reading(shedding: &Shedding, exempt: bool) -> Result<(), Response> {
    if exempt {
        return Ok(());
    }
    if !shedding.target.is_zero() && shedding.lag.standing() > shedding.target {
        return Err(ApiError::Unavailable("overloaded: the runtime lags".into()).into_response());
    }
    if shedding.admission.full() {
        return Err(overloaded());
    }
    Ok(())
}

/// Past what the node drains within its target: come back shortly.
fn overloaded() -> Response {
    come_back_shortly("overloaded: too much work in flight")
}

/// Past `max_in_flight` requests: a fast 503 beats a queue that grows until
/// memory runs out.
fn too_many_in_flight() -> Response {
    come_back_shortly("too many requests in flight")
}

/// 503 with `Retry-After: 1`.
fn come_back_shortly(why: &str) -> Response {
    let mut res = ApiError::Unavailable(why.into()).into_response();
    res.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
    res
}

// Header names set on every answer, made once rather than parsed from text
// each time.
const RATELIMIT: header::HeaderName = header::HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: header::HeaderName = header::HeaderName::from_static("ratelimit-policy");
const X_REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);

/// What the access log line says about a request beyond its method, path,
/// status and latency: filled in by the handlers that learn it (the
/// authenticated merchant, a topup's refid). Never a secret.
#[derive(Clone, Default)]
pub(crate) struct AccessNote(Arc<std::sync::Mutex<AccessFields>>);

#[derive(Default)]
struct AccessFields {
    merchant: Option<String>,
    /// The merchant the request is from, for its request log (known once
    /// authenticated, or from the API key of a failed signature).
    merchant_id: Option<tambah_domain::MerchantId>,
    client_ip: Option<std::net::IpAddr>,
    refid: Option<String>,
    /// What the merchant's request left of its rate (for the answer's
    /// `RateLimit-Policy` and `RateLimit` headers).
    allowance: Option<crate::limits::Allowance>,
}

impl AccessNote {
    pub(crate) fn merchant(&self, account: &str) {
        self.0.lock().expect("access note").merchant = Some(account.to_owned());
    }

    pub(crate) fn merchant_id(&self, id: tambah_domain::MerchantId, client_ip: Option<std::net::IpAddr>) {
        let mut fields = self.0.lock().expect("access note");
        fields.merchant_id = Some(id);
        fields.client_ip = client_ip;
    }

    pub(crate) fn allowance(&self, allowance: crate::limits::Allowance) {
        self.0.lock().expect("access note").allowance = Some(allowance);
    }

    pub(crate) fn refid(&self, refid: &str) {
        // The caller's text: cut short (and logged quoted and escaped), so
        // it can neither flood a log line nor forge a field of one.
        self.0.lock().expect("access note").refid = Some(refid.chars().take(32).collect());
    }
}

/// Every response carries `X-Request-Id`: the caller's (if sane) or a new one.
fn request_id(headers: &axum::http::HeaderMap) -> HeaderValue {
    let given = headers
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned();
    given.unwrap_or_else(|| {
        // `{pid:08x}-{n:012x}`, written by hand: this runs on every request,
        // and `process::id` is a system call each time.
        static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let pid = *PID.get_or_init(std::process::id);
        let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
        let mut id = [b'-'; 21];
        hex_into(&mut id[..8], u64::from(pid));
        hex_into(&mut id[9..], n);
        HeaderValue::from_bytes(&id).expect("hex is a valid header")
    })
}

/// `value`'s lowest hex digits, as many as `out` holds, zero-padded.
fn hex_into(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 15) as usize];
        value >>= 4;
    }
}

/// The answer's rate and id headers, the merchant's request log for a
/// failure, and one access log line per answer at `info` under the target
/// `tambah::access`: method, path (never the query, which may carry a
/// callback URL's secrets), status, latency, and the merchant and refid
/// where known.
async fn log_answer(
    state: &AppState,
    note: &AccessNote,
    (method, path, id): (&Method, &str, HeaderValue),
    started: std::time::Instant,
    mut res: Response,
) -> Response {
    rate_headers(note, &mut res);
    if res.status().as_u16() >= 400 {
        res = log_failed_request(state, note, (method, path, &id), res).await;
    }
    if tracing::enabled!(target: "tambah::access", tracing::Level::INFO) {
        let fields = note.0.lock().expect("access note");
        tracing::info!(
            target: "tambah::access",
            id = %String::from_utf8_lossy(id.as_bytes()),
            %method,
            path = %path.chars().take(128).collect::<String>(),
            status = res.status().as_u16(),
            latency_ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
            merchant = %fields.merchant.as_deref().unwrap_or("-"),
            refid = ?fields.refid.as_deref().unwrap_or("-"),
        );
    }
    res.headers_mut().insert(X_REQUEST_ID, id);
    res
}

/// Notes a refused or failed request of a known merchant in its request
/// log, with the answer's error code and message (read from its JSON body,
/// which is small: an error's).
async fn log_failed_request(
    state: &AppState,
    note: &AccessNote,
    (method, path, id): (&Method, &str, &HeaderValue),
    res: Response,
) -> Response {
    let (merchant_id, client_ip) = {
        let fields = note.0.lock().expect("access note");
        (fields.merchant_id, fields.client_ip)
    };
    let Some(merchant_id) = merchant_id else { return res };
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.chars().take(500).collect(),
        serde_json::Value::Null => String::new(),
        other => other.to_string().chars().take(500).collect(),
    };
    // An error body says `error` and `message`; a refused topup `code` (in
    // `data` or at the top) and `message`.
    let data = json.get("data").unwrap_or(&json);
    let error = [&json["error"], &data["code"], &json["code"]].into_iter().map(text).find(|t| !t.is_empty());
    let message = [&json["message"], &data["message"], &data["remarks"]].into_iter().map(text).find(|t| !t.is_empty());
    state.engine.note_failed_request(tambah_store::RequestLogRow {
        merchant_id,
        at_ms: state.engine.now_ms(),
        method: method.to_string(),
        path: path.chars().take(128).collect(),
        status: parts.status.as_u16(),
        error: error.unwrap_or_default(),
        message: message.unwrap_or_default(),
        request_id: String::from_utf8_lossy(id.as_bytes()).into_owned(),
        client_ip: client_ip.map(|ip| ip.to_canonical().to_string()).unwrap_or_default(),
    });
    Response::from_parts(parts, Body::from(bytes))
}

/// Every authenticated answer says the merchant's rate and what is left of
/// it (IETF draft `RateLimit-Policy` / `RateLimit`: quota `q` per `w`
/// seconds, `r` left, whole again in `t` seconds), so a client can pace
/// itself before it meets a 429 (which says the same with `r=0`).
fn rate_headers(note: &AccessNote, res: &mut Response) {
    let Some(a) = note.0.lock().expect("access note").allowance else { return };
    if res.headers().contains_key(RATELIMIT) {
        return; // a 429 already says it
    }
    // On every authenticated answer: put together without the formatting
    // machinery.
    let full_again_s = if a.remaining < a.quota { ";t=1" } else { ";t=0" };
    let mut numbers = (itoa::Buffer::new(), itoa::Buffer::new());
    let policy = [r#""merchant";q="#, numbers.0.format(a.quota), ";w=1"].concat();
    let left = [r#""merchant";r="#, numbers.1.format(a.remaining), full_again_s].concat();
    let header = |text: String| HeaderValue::from_maybe_shared(axum::body::Bytes::from(text));
    if let (Ok(policy), Ok(left)) = (header(policy), header(left)) {
        res.headers_mut().insert(RATELIMIT_POLICY, policy);
        res.headers_mut().insert(RATELIMIT, left);
    }
}

/// An `X-Api-Version` the server does not know is refused on every route
/// (400), not only on those whose answer has versions: a client that asks
/// for a version it will not get should hear so at once.
fn known_api_version(req: &Request) -> Result<(), Response> {
    if let Some(v) = req.headers().get("x-api-version") {
        let text = v.to_str().unwrap_or("");
        if crate::wire::ApiVersion::parse(text.trim()).is_none() {
            return Err(ApiError::BadRequest {
                code: "invalid_api_version",
                message: format!("X-Api-Version {text:?} is not one of 2023-10-01, 2025-05-20"),
            }
            .into_response());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// A panicking handler answers 500 with a JSON body; the next request is served.
    #[tokio::test]
    async fn a_panicking_handler_answers_500() {
        use futures_util::FutureExt;
        async fn boom() -> &'static str {
            panic!("deliberate")
        }
        let app = axum::Router::new().route("/boom", get(boom)).route("/ok", get(|| async { "ok" }));
        let call = |path: &'static str| {
            let app = app.clone();
            async move {
                let req = axum::http::Request::get(path).body(Body::empty()).unwrap();
                match std::panic::AssertUnwindSafe(app.oneshot(req)).catch_unwind().await {
                    Ok(res) => super::json_errors(&axum::http::Method::GET, path, res.unwrap()).await,
                    Err(panic) => super::panic_answer(path, panic),
                }
            }
        };
        let res = call("/boom").await;
        assert_eq!(res.status(), 500);
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "internal_error", "{json}");
        assert_eq!(call("/ok").await.status(), 200);
    }

    #[test]
    fn a_request_id_is_the_process_and_a_sequence_number_in_hex() {
        let empty = axum::http::HeaderMap::new();
        let (a, b) = (super::request_id(&empty), super::request_id(&empty));
        let pid = format!("{:08x}-", std::process::id());
        for id in [&a, &b] {
            let text = id.to_str().unwrap();
            assert!(text.starts_with(&pid) && text.len() == 21, "{text}");
            assert!(text[9..].bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{text}");
        }
        let seq = |id: &axum::http::HeaderValue| u64::from_str_radix(&id.to_str().unwrap()[9..], 16).unwrap();
        assert!(seq(&b) > seq(&a));
        let mut given = axum::http::HeaderMap::new();
        given.insert("x-request-id", "trace-abc".parse().unwrap());
        assert_eq!(super::request_id(&given), "trace-abc");
    }
}
