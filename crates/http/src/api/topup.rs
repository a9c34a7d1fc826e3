//! `POST /v2/topup` and `/v1/topup`: buy, or (same refid) read the status.
//! The body is the order body of `wire::order` in the request's shape.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::StatusCode as Http;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use tambah_domain::{Amount, Family, StatusCode};
use tambah_engine::{RejectionKind, TopupError, TopupInput};

use crate::wire::order::Envelope;
use crate::wire::{absolutize, params, ApiVersion, Shape};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/topup", post(v2)).route("/v1/topup", post(v1))
}

/// v2 answers in the merchant's version (or `X-Api-Version`).
/// Buys any product; the same refid again answers that order's status and
/// never charges twice.
#[utoipa::path(post, path = "/v2/topup", tag = "topup", security(("api_key" = []), ("bearer" = [])),
    request_body(content = crate::openapi::schemas::TopupRequest, content_type = "application/json"),
    params(("X-Api-Version" = Option<crate::openapi::schemas::ApiVersion>, Header, nullable = false, description = "The response version; default: the merchant's")),
    responses(
        (status = 200, description = "The order (final, or 0/1: resubmit or wait for the callback)", body = crate::openapi::schemas::TopupAnswer),
        (status = 400, description = "Refused before anything was stored (the refid stays free)", body = crate::openapi::schemas::TopupRefusal),
        (status = 403, description = "The merchant may not order (suspended, read-only)", body = crate::openapi::schemas::TopupAnswer),
        (status = 409, description = "The refid names another order (code 54)", body = crate::openapi::schemas::TopupAnswer),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database refuses writes: nothing was stored (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Response, ApiError> {
    let version = ApiVersion::for_request(&req.headers, &req.caller.merchant.api_version)?;
    topup(state, req, Shape::Version(version)).await
}

/// v1 topup, as IIMMPACT's official v1 SDKs read it.
#[utoipa::path(post, path = "/v1/topup", tag = "topup", security(("api_key" = []), ("bearer" = [])),
    request_body(content = crate::openapi::schemas::TopupRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The order", body = crate::openapi::schemas::TopupV1),
        (status = 400, description = "Refused before anything was stored", body = crate::openapi::schemas::TopupV1),
        (status = 401, description = "Not authenticated", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The merchant may not order (suspended, read-only)", body = crate::openapi::schemas::TopupV1),
        (status = 409, description = "The refid names another order (code 54)", body = crate::openapi::schemas::TopupV1),
        (status = 429, description = "Over the merchant's rate (Retry-After)", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "Overloaded or the database refuses writes: nothing was stored (Retry-After)", body = crate::openapi::schemas::ErrorBody),
    ))]
pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Response, ApiError> {
    topup(state, req, Shape::V1).await
}

async fn topup(state: Shared, req: Authed, shape: Shape) -> Result<Response, ApiError> {
    let input = match params::parse(&req.headers, req.query(), &req.body) {
        Ok(p) => {
            if let (Some(note), Some(refid)) = (&req.access, p.get("refid")) {
                note.refid(&refid);
            }
            TopupInput {
                refid: p.get("refid"),
                product: p.get("product"),
                account: p.get("account"),
                amount: p.get("amount"),
                remarks: p.get("remarks"),
                extras: p.extras,
            }
        }
        // A body that does not parse still gets a topup envelope.
        Err(ApiError::BadRequest { message, .. }) => {
            let balance = state.engine.balance(&req.caller.merchant).await.unwrap_or(Amount::ZERO);
            let (code, http) = (StatusCode::INVALID_FORMAT, Http::BAD_REQUEST);
            let refusal = Refusal { code, reason: &message, balance, http, conflict: None };
            return Ok(refusal.render(shape, &TopupInput::default(), &state));
        }
        Err(e) => return Err(e),
    };
    let mut input = input;
    if shape == Shape::V1 {
        v1_extras(&mut input, &state);
    }
    match state.engine.topup(&req.caller, &input).await {
        Ok(mut view) => {
            // Only then is the order (maybe shared with the cache) copied.
            if view.order.voucherlink.starts_with('/') {
                absolutize(&mut Arc::make_mut(&mut view.order).voucherlink, &state.config.public_url);
            }
            Ok((Http::OK, Json(Envelope::from_view(&view).body(shape))).into_response())
        }
        Err(TopupError::Rejected(r)) => {
            let http = http_status(r.kind);
            let balance = r.balance;
            Ok(Refusal { code: r.code, reason: &r.reason, balance, http, conflict: r.conflict }
                .render(shape, &input, &state))
        }
        Err(TopupError::Unavailable(m)) => Err(ApiError::Unavailable(m)),
        Err(TopupError::Database(e)) => Err(ApiError::Store(e)),
        Err(TopupError::Internal(m)) => Err(ApiError::Internal(m)),
    }
}

/// The extras `remarks` may carry on `/v1/topup`.
const V1_REMARK_EXTRAS: [&str; 5] = ["ic_number", "ref2", "name", "email", "phone"];

/// v1's `TopupRequest` has no `extras`, so IIMMPACT's SDKs cannot send a
/// plan, a biller or a payer. On `/v1/topup`, `product` may name the plan or
/// biller after a slash (`HI/<plan>`, `JOMPAY/<biller code>`,
/// `ZAKAT/SEL-FITRAH`), and `remarks` may carry the other extras as
/// `key=value` pairs separated by `;` (`ic_number`, `ref2`, `name`, `email`,
/// `phone`); `remarks` is still echoed whole. Extras sent as such win.
fn v1_extras(input: &mut TopupInput, state: &Shared) {
    let named = input.product.as_deref().and_then(|p| p.split_once('/'));
    let named = named.map(|(code, sub)| (code.trim().to_owned(), sub.trim().to_owned()));
    if let Some((code, sub)) = named {
        let key = match state.engine.catalog().get(&code).map(|p| p.family) {
            Some(Family::Jompay) => "biller_code",
            _ => "subproduct_code",
        };
        input.extras.entry(key.to_owned()).or_insert(sub);
        input.product = Some(code);
    }
    if let Some(remarks) = &input.remarks {
        for (key, value) in remarks.split(';').filter_map(|pair| pair.split_once('=')) {
            let key = key.trim();
            if V1_REMARK_EXTRAS.contains(&key) {
                input.extras.entry(key.to_owned()).or_insert_with(|| value.trim().to_owned());
            }
        }
    }
}

/// The HTTP status of a refused topup (the body says the rest).
fn http_status(kind: RejectionKind) -> Http {
    match kind {
        RejectionKind::Invalid => Http::BAD_REQUEST,
        RejectionKind::Forbidden => Http::FORBIDDEN,
        RejectionKind::Conflict => Http::CONFLICT,
    }
}

/// A request refused before anything was stored.
struct Refusal<'a> {
    code: StatusCode,
    reason: &'a str,
    balance: Amount,
    http: Http,
    conflict: Option<&'static str>,
}

impl Refusal<'_> {
    /// The topup envelope of a refusal: status Failed, the code, cost 0, the
    /// reason in `remarks`.
    fn render(&self, shape: Shape, input: &TopupInput, state: &Shared) -> Response {
        let product = input.product.as_deref().unwrap_or_default();
        let product_name = state.engine.catalog().get(product).map(|p| p.name.clone()).unwrap_or_default();
        let amount_text = input.amount.as_deref().unwrap_or_default();
        let envelope = Envelope {
            code: self.code,
            account: Cow::Borrowed(input.account.as_deref().unwrap_or_default()),
            product: Cow::Borrowed(product),
            product_name: Cow::Owned(product_name),
            amount: Amount::parse_canonical(amount_text, 2).ok(),
            amount_text: Cow::Borrowed(amount_text),
            sn: Cow::Borrowed(""),
            pin: Cow::Borrowed(""),
            expiry: Cow::Borrowed(""),
            cost: Amount::ZERO,
            balance: self.balance,
            remarks: Cow::Borrowed(self.reason),
            refid: Cow::Borrowed(input.refid.as_deref().unwrap_or_default()),
            timestamp_ms: state.engine.now_ms(),
            note: Cow::Borrowed(""),
            voucherlink: Cow::Borrowed(""),
            conflict: self.conflict,
        };
        (self.http, Json(envelope.body(shape))).into_response()
    }
}
