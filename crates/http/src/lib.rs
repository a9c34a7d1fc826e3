//! The HTTP edge: the IIMMPACT-compatible JSON API (v1 and v2) on axum. Wire
//! shapes live here and nowhere else; handlers parse, authenticate, call the
//! engine and render.
//!
//! `routes` merges one router per resource (`api/<resource>.rs`), `auth` lets
//! requests in, `wire` holds the shapes shared by resources (versions, money,
//! parameters, the order body), `error` the one error type. `guard` is the
//! SSRF check of callback URLs, used here when a merchant sets the URL and by
//! the delivery crate before each send.

mod admission;
mod api;
mod auth;
mod dashboard;
mod error;
pub mod guard;
mod img;
mod lag;
pub mod limits;
pub mod openapi;
mod pdf;
mod png;
pub mod qr;
mod routes;
pub mod serve;
pub mod wire;

use std::sync::Arc;

use axum::extract::State;
use axum::Router;
use tambah_engine::Engine;

// The CLI renders the delivery log and the reports through these until the
// engine owns them.
pub use api::{callbacks, reports};
pub use error::ApiError;

pub(crate) use auth::Authed;

/// Sends an e-mail for the dashboard (a password reset link). The binary
/// gives one when SMTP is configured; `http` knows no SMTP itself.
pub trait Mailer: Send + Sync {
    fn send(
        &self,
        to: String,
        subject: String,
        body: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;
}

/// A shared [`Mailer`].
#[derive(Clone)]
pub struct Mail(pub Arc<dyn Mailer>);

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mail")
    }
}

/// Limits and settings of the HTTP edge.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Largest request body accepted (413 beyond).
    pub body_limit_bytes: usize,
    /// Base URL for links in responses (product images, pages).
    pub public_url: String,
    /// Accept callback URLs whose host is not globally reachable (loopback,
    /// private and every other range `guard` refuses): labs and tests.
    pub callback_allow_private_networks: bool,
    /// Requests handled at once at most; beyond it the node answers 503 with
    /// `Retry-After` instead of queueing without bound.
    pub max_in_flight: usize,
    /// Time a client has to send a request's body (408 beyond).
    pub body_timeout: std::time::Duration,
    /// Rate limits (`limits`).
    pub rates: limits::RateConfig,
    /// New requests are answered 503 at once while the runtime's lag has
    /// stood above this for 100 ms (`lag`); zero: never.
    pub shed_lag: std::time::Duration,
    /// New requests past what the node's measured throughput drains within
    /// this are answered 503 at once while such a queue stands 100 ms
    /// (`admission`); zero: never.
    pub shed_in_flight: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` names the client (limits by address
    /// key on the client, not on the proxy).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where the dashboard's e-mails go out (none: no reset by e-mail).
    pub mail: Option<Mail>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 64 * 1024,
            public_url: "http://127.0.0.1:8080".into(),
            callback_allow_private_networks: false,
            max_in_flight: 4096,
            body_timeout: std::time::Duration::from_secs(15),
            rates: limits::RateConfig::default(),
            trusted_proxies: Vec::new(),
            shed_lag: std::time::Duration::from_millis(10),
            shed_in_flight: std::time::Duration::from_millis(20),
            mail: None,
        }
    }
}

pub(crate) struct AppState {
    pub engine: Arc<Engine>,
    pub config: HttpConfig,
    pub limits: limits::RateLimits,
}

pub(crate) type Shared = State<Arc<AppState>>;

/// Builds the whole API.
pub fn router(engine: Arc<Engine>, config: HttpConfig) -> Router {
    let limits = limits::RateLimits::new(config.rates.clone());
    let state = Arc::new(AppState { engine, config, limits });
    sweep_limits(Arc::downgrade(&state));
    routes::build(state)
}

/// Forgets rate-limit keys that have nothing to remember, every minute, for
/// as long as the router lives.
fn sweep_limits(state: std::sync::Weak<AppState>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            let Some(state) = state.upgrade() else { return };
            state.limits.sweep();
        }
    });
}
