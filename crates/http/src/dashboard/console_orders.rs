//! The console's orders: a search across merchants (by refid, merchant
//! account and status), and the queue of orders whose outcome is still
//! unknown after an age, each with its attempts upstream and the actions of
//! `tambah order resolve` (delivered with a serial, or failed with a
//! reason), which the engine records in the audit log.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tambah_engine::console::{FoundOrder, OrderSearch, QueuedOrder};
use tambah_engine::merchants::AdminError;
use tambah_engine::unknowns::{AttemptView, HandResolution};
use tambah_store::{OrderRow, StatusGroup};

use super::html;
use super::operator::Operator;
use crate::api::transactions::status_word;
use crate::wire::query::first_value;
use crate::AppState;

/// The queue's age when the query names none, in minutes.
const DEFAULT_AGE_MIN: i64 = 10;
/// The largest age the queue takes (a year), in minutes.
const MAX_AGE_MIN: i64 = 366 * 24 * 60;

const STATUSES: [(&str, &str); 5] =
    [("", "Any"), ("successful", "Successful"), ("pending", "Pending"), ("failed", "Failed"), ("refund", "Refund")];

/// What an action did (fixed sentences: nothing of the query is echoed).
const DONE: [(&str, &str); 2] = [
    ("delivered", "The order is resolved as delivered (20); the audit log has it."),
    ("failed", "The order is resolved as failed: its hold is released and the audit log has it."),
];

pub(super) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/operator/orders", get(orders)).route("/operator/orders/resolve", post(resolve))
}

/// An order as the console lists it.
struct OrderLine {
    merchant: String,
    refid: String,
    trxid: i64,
    product: String,
    target: String,
    amount: String,
    status: &'static str,
    status_code: u8,
    provider: String,
    sn: String,
    created: String,
}

fn order_line(merchant: &str, o: &OrderRow) -> OrderLine {
    OrderLine {
        merchant: merchant.to_owned(),
        refid: o.refid.clone(),
        trxid: o.id.get(),
        product: o.product.clone(),
        target: o.account.clone(),
        amount: o.amount.to_cents(),
        status: status_word(o.status),
        status_code: o.status.code(),
        provider: o.provider.clone(),
        sn: o.sn.clone(),
        created: crate::wire::myt(o.created_at_ms).seconds_text(),
    }
}

/// One attempt at sending an order upstream.
struct AttemptLine {
    attempt: u32,
    provider: String,
    upstream_ref: String,
    sent: String,
    outcome: &'static str,
    code: String,
    answer: String,
}

fn attempt_line(v: &AttemptView) -> AttemptLine {
    let a = &v.attempt;
    AttemptLine {
        attempt: a.attempt,
        provider: v.provider.clone(),
        upstream_ref: a.upstream_ref.clone(),
        sent: crate::wire::myt(a.sent_at_ms).seconds_text(),
        outcome: a.outcome.as_str(),
        code: a.upstream_code.clone(),
        answer: a.answer_excerpt.clone(),
    }
}

struct QueueLine {
    o: OrderLine,
    attempts: Vec<AttemptLine>,
}

fn queue_line(q: &QueuedOrder) -> QueueLine {
    QueueLine {
        o: order_line(&q.pending.merchant_account, &q.pending.order),
        attempts: q.attempts.iter().map(attempt_line).collect(),
    }
}

/// The page's query: the search and the queue's age.
struct Query {
    refid: String,
    account: String,
    status: String,
    older_than_min: i64,
}

fn query(uri: &Uri) -> Query {
    let q = uri.query().unwrap_or("");
    let get = |name: &str| first_value(q, name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let status = get("status").to_ascii_lowercase();
    Query {
        refid: get("refid"),
        account: get("account"),
        status: if STATUSES.iter().any(|(v, _)| *v == status) { status } else { String::new() },
        older_than_min: age(&get("older_than_min")),
    }
}

/// The queue's age in minutes from a form or query (the default when not a number).
fn age(text: &str) -> i64 {
    text.parse::<i64>().map_or(DEFAULT_AGE_MIN, |m| m.clamp(0, MAX_AGE_MIN))
}

fn status_group(word: &str) -> Option<StatusGroup> {
    match word {
        "successful" => Some(StatusGroup::Successful),
        "pending" => Some(StatusGroup::Pending),
        "failed" => Some(StatusGroup::Failed),
        "refund" => Some(StatusGroup::Refund),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "operator/orders.html")]
struct OrdersPage {
    csrf: String,
    email: String,
    q: Query,
    statuses: [(&'static str, &'static str); 5],
    /// A search was made (a refid or an account was given).
    searched: bool,
    found: Vec<OrderLine>,
    queue: Vec<QueueLine>,
    notice: Option<String>,
    error: Option<String>,
}

/// The page with a search's results and the queue; an error of the search
/// or of an action is shown on it with its status.
async fn orders_page(
    state: &AppState,
    o: &Operator,
    q: Query,
    notice: Option<String>,
    error: Option<AdminError>,
) -> Response {
    let searched = !q.refid.is_empty() || !q.account.is_empty();
    let mut error = error;
    let mut found: Vec<FoundOrder> = Vec::new();
    if searched {
        let search =
            OrderSearch { refid: q.refid.clone(), account: q.account.clone(), status: status_group(&q.status) };
        match state.engine.search_orders(&search).await {
            Ok(f) => found = f,
            Err(e) => error = error.or(Some(e)),
        }
    }
    let queue = match state.engine.order_queue(q.older_than_min * 60_000).await {
        Ok(queue) => queue,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let (status, error) = match error {
        None => (StatusCode::OK, None),
        Some(AdminError::Invalid(m)) => (StatusCode::BAD_REQUEST, Some(m)),
        Some(AdminError::NotFound(m)) => (StatusCode::NOT_FOUND, Some(m)),
        Some(AdminError::Forbidden(m)) => (StatusCode::FORBIDDEN, Some(m)),
        Some(e) => return crate::ApiError::from(e).into_response(),
    };
    let page = OrdersPage {
        csrf: o.csrf(),
        email: o.op.email.clone(),
        q,
        statuses: STATUSES,
        searched,
        found: found.iter().map(|f| order_line(&f.merchant_account, &f.order)).collect(),
        queue: queue.iter().map(queue_line).collect(),
        notice,
        error,
    };
    html(status, page)
}

async fn orders(State(state): State<Arc<AppState>>, o: Operator, uri: Uri) -> Response {
    let done = first_value(uri.query().unwrap_or(""), "done").unwrap_or_default();
    let notice = DONE.iter().find(|(code, _)| *code == done).map(|(_, words)| (*words).to_owned());
    orders_page(&state, &o, query(&uri), notice, None).await
}

#[derive(Deserialize)]
struct ResolveForm {
    csrf: String,
    account: String,
    refid: String,
    /// `delivered` or `failed`.
    outcome: String,
    #[serde(default)]
    sn: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    older_than_min: String,
}

/// Settles a queued order through the engine (as `tambah order resolve`),
/// then shows the queue again by a redirect.
async fn resolve(State(state): State<Arc<AppState>>, o: Operator, Form(form): Form<ResolveForm>) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    let minutes = age(form.older_than_min.trim());
    let resolution = match form.outcome.as_str() {
        "delivered" => Ok(HandResolution::Delivered { sn: form.sn }),
        "failed" => Ok(HandResolution::Failed { reason: form.reason }),
        other => Err(AdminError::Invalid(format!("outcome {other:?} is neither delivered nor failed"))),
    };
    let outcome = match resolution {
        Ok(r) => state.engine.console_resolve_order(&o.op, &form.account, &form.refid, &r).await.map(|_| r),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(r) => {
            let done = if matches!(r, HandResolution::Delivered { .. }) { "delivered" } else { "failed" };
            Redirect::to(&format!("/operator/orders?older_than_min={minutes}&done={done}")).into_response()
        }
        Err(e) => {
            let q =
                Query { refid: String::new(), account: String::new(), status: String::new(), older_than_min: minutes };
            orders_page(&state, &o, q, None, Some(e)).await
        }
    }
}
