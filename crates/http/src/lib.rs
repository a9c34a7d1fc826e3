//! The HTTP edge: the IIMMPACT-compatible JSON API (v1 and v2) on axum. Wire
//! shapes live here and nowhere else; handlers parse, authenticate, call the
//! engine and render.
//!
//! `routes` merges one router per resource (`api/<resource>.rs`), `auth` lets
//! requests in, `wire` holds the shapes shared by resources (versions, money,
//! parameters, the order body), `error` the one error type. `guard` is the
//! SSRF check of callback URLs, used here when a merchant sets the URL and by
//! the delivery crate before each send.

mod api;
mod auth;
mod error;
pub mod guard;
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
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 64 * 1024,
            public_url: "http://127.0.0.1:8080".into(),
            callback_allow_private_networks: false,
            max_in_flight: 4096,
            body_timeout: std::time::Duration::from_secs(15),
        }
    }
}

pub(crate) struct AppState {
    pub engine: Arc<Engine>,
    pub config: HttpConfig,
}

pub(crate) type Shared = State<Arc<AppState>>;

/// Builds the whole API.
pub fn router(engine: Arc<Engine>, config: HttpConfig) -> Router {
    routes::build(Arc::new(AppState { engine, config }))
}
