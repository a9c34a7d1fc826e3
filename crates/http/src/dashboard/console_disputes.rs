//! The console's disputes: the open cases merchants opened on successful
//! orders (and the latest resolved), closed by rejecting them or by
//! refunding the order through the engine's refund (the ledger's REFUND
//! entry), as `tambah dispute resolve [--refund]` does; the engine records
//! each in the audit log.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tambah_domain::DisputeId;
use tambah_engine::console::DisputeCase;
use tambah_engine::merchants::AdminError;

use super::html;
use super::operator::Operator;
use crate::api::transactions::status_word;
use crate::wire::query::first_value;
use crate::AppState;

/// What an action did (fixed sentences: nothing of the query is echoed).
const DONE: [(&str, &str); 2] = [
    ("rejected", "The dispute is closed without a refund; the audit log has it."),
    (
        "refunded",
        "The order is refunded (53, the cost returned to the wallet) and the dispute closed; the audit log has it.",
    ),
];

pub(super) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/operator/disputes", get(disputes)).route("/operator/disputes/resolve", post(resolve))
}

/// A dispute as the console lists it.
struct DisputeLine {
    id: i64,
    merchant: String,
    refid: String,
    product: String,
    target: String,
    amount: String,
    /// The order's status now (a word and its code).
    status: String,
    emails: String,
    opened: String,
    open: bool,
    resolution: String,
    resolved: String,
}

fn dispute_line(c: &DisputeCase) -> DisputeLine {
    let d = &c.dispute;
    let o = c.order.as_ref();
    DisputeLine {
        id: d.id.get(),
        merchant: c.merchant_account.clone(),
        refid: d.refid.clone(),
        product: o.map(|o| o.product.clone()).unwrap_or_default(),
        target: o.map(|o| o.account.clone()).unwrap_or_default(),
        amount: o.map(|o| o.amount.to_cents()).unwrap_or_default(),
        status: o.map(|o| format!("{} ({})", status_word(o.status), o.status.code())).unwrap_or_default(),
        emails: d.emails.replace(',', ", "),
        opened: crate::wire::myt(d.created_at_ms).seconds_text(),
        open: d.state == "open",
        resolution: d.resolution.clone(),
        resolved: d.resolved_at_ms.map(|at| crate::wire::myt(at).seconds_text()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "operator/disputes.html")]
struct DisputesPage {
    csrf: String,
    email: String,
    open: Vec<DisputeLine>,
    resolved: Vec<DisputeLine>,
    notice: Option<String>,
    error: Option<String>,
}

async fn disputes_page(state: &AppState, o: &Operator, notice: Option<String>, error: Option<AdminError>) -> Response {
    let cases = match state.engine.dispute_cases().await {
        Ok(cases) => cases,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let (status, error) = match error {
        None => (StatusCode::OK, None),
        Some(AdminError::Invalid(m)) => (StatusCode::BAD_REQUEST, Some(m)),
        Some(AdminError::NotFound(m)) => (StatusCode::NOT_FOUND, Some(m)),
        Some(AdminError::Forbidden(m)) => (StatusCode::FORBIDDEN, Some(m)),
        Some(e) => return crate::ApiError::from(e).into_response(),
    };
    let (open, resolved): (Vec<_>, Vec<_>) = cases.iter().map(dispute_line).partition(|d| d.open);
    let page = DisputesPage { csrf: o.csrf(), email: o.op.email.clone(), open, resolved, notice, error };
    html(status, page)
}

async fn disputes(State(state): State<Arc<AppState>>, o: Operator, uri: Uri) -> Response {
    let done = first_value(uri.query().unwrap_or(""), "done").unwrap_or_default();
    let notice = DONE.iter().find(|(code, _)| *code == done).map(|(_, words)| (*words).to_owned());
    disputes_page(&state, &o, notice, None).await
}

#[derive(Deserialize)]
struct ResolveForm {
    csrf: String,
    id: String,
    /// `reject` or `refund`.
    action: String,
    #[serde(default)]
    resolution: String,
}

/// Closes a dispute through the engine (refunding first when asked), then
/// shows the list again by a redirect. A form sent again finds the dispute
/// closed: nothing more is refunded.
async fn resolve(State(state): State<Arc<AppState>>, o: Operator, Form(form): Form<ResolveForm>) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    let refund = match form.action.as_str() {
        "refund" => Ok(true),
        "reject" => Ok(false),
        other => Err(AdminError::Invalid(format!("action {other:?} is neither reject nor refund"))),
    };
    let id = form.id.trim().parse::<i64>().map(DisputeId::new);
    let outcome = match (refund, id) {
        (Ok(refund), Ok(id)) => {
            state.engine.console_resolve_dispute(&o.op, id, refund, &form.resolution).await.map(|_| refund)
        }
        (Err(e), _) => Err(e),
        (_, Err(_)) => Err(AdminError::Invalid(format!("dispute {:?} is not a number", form.id))),
    };
    match outcome {
        Ok(refunded) => {
            let done = if refunded { "refunded" } else { "rejected" };
            Redirect::to(&format!("/operator/disputes?done={done}")).into_response()
        }
        Err(e) => disputes_page(&state, &o, None, Some(e)).await,
    }
}
