//! The request log: the account's own refused and failed API requests of
//! the last week, newest first, with what the API answered — what an
//! integrator needs when a call does not work (IIMMPACT shows nothing of
//! the kind).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{html, refused, Nav, Session};
use crate::AppState;

struct RequestLine {
    at: String,
    method: String,
    path: String,
    status: u16,
    error: String,
    message: String,
    request_id: String,
    client_ip: String,
}

#[derive(Template)]
#[template(path = "dashboard/requests.html")]
struct RequestsPage {
    nav: Nav,
    shown: u32,
    requests: Vec<RequestLine>,
}

pub(super) async fn requests(State(state): State<Arc<AppState>>, s: Session) -> Response {
    let rows = match state.engine.member_request_log(&s.member).await {
        Ok(rows) => rows,
        Err(e) => return refused(&s, e),
    };
    let requests = rows
        .into_iter()
        .map(|r| RequestLine {
            at: crate::wire::myt(r.at_ms).seconds_text(),
            method: r.method,
            path: r.path,
            status: r.status,
            error: r.error,
            message: r.message,
            request_id: r.request_id,
            client_ip: r.client_ip,
        })
        .collect();
    let page = RequestsPage { nav: s.nav("requests"), shown: tambah_engine::request_log::SHOWN, requests };
    html(StatusCode::OK, page)
}
