//! The console's system page: the nodes sharing the database with their
//! last heartbeat, this node's health (its database accepts writes, as
//! `/health` asks), and the ledger verification of `tambah verify`, run by
//! the engine, which keeps its result in the audit log where this page
//! reads the latest.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tambah_engine::console::VerifyRun;

use super::operator::Operator;
use super::{html, CsrfForm};
use crate::wire::query::first_value;
use crate::AppState;

/// A heartbeat older than this is shown as stale (a node writes one each
/// time its `/health` is asked, commonly every few seconds).
const STALE_MS: i64 = 60_000;

pub(super) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/operator/system", get(system)).route("/operator/system/verify", post(verify))
}

struct NodeLine {
    node: String,
    at: String,
    age_s: i64,
    stale: bool,
    this: bool,
}

/// The last verification as the page shows it.
struct VerifyLine {
    at: String,
    operator: String,
    checks: usize,
    violations: usize,
    lines: Vec<String>,
}

fn verify_line(r: VerifyRun) -> VerifyLine {
    VerifyLine {
        at: crate::wire::myt(r.at_ms).seconds_text(),
        operator: r.operator_email,
        checks: r.checks,
        violations: r.violations,
        lines: r.lines,
    }
}

#[derive(Template)]
#[template(path = "operator/system.html")]
struct SystemPage {
    csrf: String,
    email: String,
    node_id: String,
    version: &'static str,
    /// The environment the node is bound to, if any.
    environment: Option<&'static str>,
    /// Whether the database accepted this node's heartbeat just now.
    database_ok: bool,
    nodes: Vec<NodeLine>,
    last_verify: Option<VerifyLine>,
    notice: bool,
}

async fn system(State(state): State<Arc<AppState>>, o: Operator, uri: Uri) -> Response {
    let engine = &state.engine;
    // Written first, so this node's own row is as fresh as the check.
    let database_ok = match engine.health().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "console: the database does not accept writes");
            false
        }
    };
    let heartbeats = match engine.node_heartbeats().await {
        Ok(h) => h,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let last_verify = match engine.last_ledger_verify().await {
        Ok(v) => v.map(verify_line),
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let node_id = engine.config().node_id.clone();
    let now = engine.now_ms();
    let nodes = heartbeats
        .into_iter()
        .map(|(node, at_ms)| NodeLine {
            at: crate::wire::myt(at_ms).seconds_text(),
            age_s: (now - at_ms).max(0) / 1000,
            stale: now - at_ms > STALE_MS,
            this: node == node_id,
            node,
        })
        .collect();
    let done = first_value(uri.query().unwrap_or(""), "done").unwrap_or_default();
    let page = SystemPage {
        csrf: o.csrf(),
        email: o.op.email.clone(),
        node_id,
        version: env!("CARGO_PKG_VERSION"),
        environment: engine.config().environment.map(|e| e.as_str()),
        database_ok,
        nodes,
        last_verify,
        notice: done == "verified",
    };
    let status = if database_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    html(status, page)
}

/// Runs every ledger check through the engine (recorded in the audit log
/// with its result), then shows the page with it by a redirect.
async fn verify(State(state): State<Arc<AppState>>, o: Operator, Form(form): Form<CsrfForm>) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    match state.engine.console_verify(&o.op).await {
        Ok(_) => Redirect::to("/operator/system?done=verified").into_response(),
        Err(e) => crate::ApiError::from(e).into_response(),
    }
}
