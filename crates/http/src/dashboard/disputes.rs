//! Disputes from the dashboard: the form on an order's page opens a case
//! through the engine use case of `POST /v2/transactions/check`, with its
//! role rule (an order's business: finance and viewer are refused) and its
//! answers in words; the order page lists the order's cases, and
//! `/dashboard/disputes` the merchant's, newest first. Every look-up is the
//! merchant's own: another merchant's refid is not found.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tambah_domain::Capability;
use tambah_engine::disputes::DisputeError;
use tambah_store::{DisputeRow, OrderRow};

use super::{html, message, Nav, Session};
use crate::AppState;

/// One dispute case as the pages show it.
pub(super) struct DisputeLine {
    pub(super) id: i64,
    pub(super) refid: String,
    pub(super) opened: String,
    /// `open` or `resolved`.
    pub(super) state: String,
    pub(super) emails: String,
    pub(super) resolution: String,
    pub(super) resolved: String,
}

fn line(d: &DisputeRow) -> DisputeLine {
    DisputeLine {
        id: d.id.get(),
        refid: d.refid.clone(),
        opened: crate::wire::myt(d.created_at_ms).seconds_text(),
        state: d.state.clone(),
        emails: d.emails.split(',').map(str::trim).filter(|e| !e.is_empty()).collect::<Vec<_>>().join(", "),
        resolution: d.resolution.clone(),
        resolved: d.resolved_at_ms.map(|ms| crate::wire::myt(ms).seconds_text()).unwrap_or_default(),
    }
}

/// The disputes section of an order's page.
pub(super) struct OrderDisputes {
    pub(super) cases: Vec<DisputeLine>,
    /// The member may open a case on this order now (its role may order,
    /// the order is successful, and no case of it is open).
    pub(super) form: bool,
    /// Why a member who may open cases sees no form, if it is the status.
    pub(super) note: Option<&'static str>,
}

/// The cases of one of the member's orders and whether the form is shown.
pub(super) async fn of_order(state: &AppState, s: &Session, o: &OrderRow) -> Result<OrderDisputes, crate::ApiError> {
    let rows = state.engine.order_disputes(s.member.merchant.id, o.id).await?;
    let may = s.member.caller().can(Capability::Order);
    let successful = o.status == tambah_domain::StatusCode::SUCCESSFUL;
    let open = rows.iter().any(|d| d.state == "open");
    Ok(OrderDisputes {
        cases: rows.iter().map(line).collect(),
        form: may && successful && !open,
        note: (may && !successful && rows.is_empty()).then_some("Only successful orders can be disputed."),
    })
}

/// The API's words for a role that may not open disputes.
const ROLE_REFUSED: &str = "this member's role (finance or viewer) cannot open disputes";

#[derive(Deserialize)]
pub(super) struct DisputeForm {
    csrf: String,
    /// Addresses to notify, comma-separated (may be empty).
    #[serde(default)]
    emails: String,
}

/// Opens a case on one of the member's orders, then shows the order. The
/// same rule and answers as `POST /v2/transactions/check`: only a
/// successful order, one open case per order (asking again names it).
pub(super) async fn open(
    State(state): State<Arc<AppState>>,
    s: Session,
    Path(refid): Path<String>,
    Form(form): Form<DisputeForm>,
) -> Response {
    if let Some(refused) = s.stale(&form.csrf) {
        return refused;
    }
    if !s.member.caller().can(Capability::Order) {
        return message(&s, StatusCode::FORBIDDEN, "Not allowed", ROLE_REFUSED.into());
    }
    let order = match state.engine.order_by_refid(s.member.merchant.id, &refid).await {
        Ok(Some(o)) => o,
        Ok(None) => return not_found(&s, &refid),
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    // The store answers an open case with that case: known before, it is
    // "already open".
    let before = match state.engine.order_disputes(s.member.merchant.id, order.id).await {
        Ok(rows) => rows,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let emails: Vec<&str> = form.emails.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    match state.engine.open_dispute(&order, &emails.join(",")).await {
        Ok(d) if before.iter().any(|b| b.id == d.id && b.state == "open") => {
            let words = format!("Dispute case {} is open; we will check with the provider and reply", d.id);
            message(&s, StatusCode::CONFLICT, "Already open", words)
        }
        Ok(_) => {
            let path =
                format!("/dashboard/orders/{}", form_urlencoded::byte_serialize(refid.as_bytes()).collect::<String>());
            Redirect::to(&path).into_response()
        }
        Err(DisputeError::NotRefundable(o) | DisputeError::NotPending(o)) => {
            let words = format!(
                "Only successful transactions can be disputed; this one is {} ({})",
                o.status.status_word(),
                o.status.code()
            );
            message(&s, StatusCode::CONFLICT, "Not opened", words)
        }
        Err(DisputeError::NotFound(m)) => message(&s, StatusCode::NOT_FOUND, "Not found", m),
        Err(DisputeError::Failed(m)) => crate::ApiError::Internal(m).into_response(),
    }
}

fn not_found(s: &Session, refid: &str) -> Response {
    message(
        s,
        StatusCode::NOT_FOUND,
        "Not found",
        format!("Transaction not found: you have no order with refid {refid:?}."),
    )
}

#[derive(Template)]
#[template(path = "dashboard/disputes.html")]
struct DisputesPage {
    nav: Nav,
    disputes: Vec<DisputeLine>,
    open: usize,
}

/// The merchant's dispute cases, newest first, each linked to its order.
pub(super) async fn list(State(state): State<Arc<AppState>>, s: Session) -> Result<Response, crate::ApiError> {
    let rows = state.engine.merchant_disputes(s.member.merchant.id).await?;
    let page = DisputesPage {
        nav: s.nav("disputes"),
        open: rows.iter().filter(|d| d.state == "open").count(),
        disputes: rows.iter().map(line).collect(),
    };
    Ok(html(StatusCode::OK, page))
}
