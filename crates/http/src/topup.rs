//! `POST /v2/topup` and `/v1/topup`: buy, or (same refid) read the status.
//! Renders the three response shapes: seed (`2023-10-01`), current
//! (`2025-05-20`) and v1.

use axum::http::StatusCode as Http;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tambah_domain::{Amount, StatusCode};
use tambah_engine::{OrderView, TopupError, TopupInput};

use crate::wire::{self, ApiVersion};
use crate::{params, ApiError, Authed, Shared};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Version(ApiVersion),
    V1,
}

/// One response, whatever produced it (a stored order or a rejection).
pub(crate) struct Envelope {
    code: StatusCode,
    account: String,
    product: String,
    product_name: String,
    /// Exact text for seed (`"10"`), number for current.
    amount: Option<Amount>,
    amount_text: String,
    sn: String,
    pin: String,
    expiry: String,
    cost: Amount,
    balance: Amount,
    remarks: String,
    refid: String,
    timestamp_ms: i64,
    note: String,
    voucherlink: String,
}

/// Links the server stores as paths (the e-SIM QR code) are served absolute.
pub(crate) fn absolutize(link: &mut String, public_url: &str) {
    if link.starts_with('/') {
        *link = format!("{public_url}{link}");
    }
}

/// An order's topup response body as `status` and `balance` were at an
/// event (a callback announces the status it was queued with).
pub(crate) fn order_body(
    order: &tambah_store::OrderRow,
    product_name: &str,
    status: StatusCode,
    balance_minor: i64,
    shape: Shape,
) -> Value {
    let view = OrderView { order: order.clone(), product_name: product_name.to_owned(), balance_minor };
    let mut envelope = Envelope::from_view(&view);
    envelope.code = status;
    envelope.render(shape)
}

impl Envelope {
    fn from_view(v: &OrderView) -> Envelope {
        let o = &v.order;
        let amount = Amount::from_minor(o.amount_minor);
        Envelope {
            code: StatusCode::from_u8(o.status).unwrap_or(StatusCode::PROCESSING),
            account: o.account.clone(),
            product: o.product.clone(),
            product_name: v.product_name.clone(),
            amount: Some(amount),
            amount_text: amount.to_plain(),
            sn: o.sn.clone(),
            pin: o.pin.clone(),
            expiry: o.expiry.clone(),
            cost: Amount::from_minor(o.cost_minor),
            balance: Amount::from_minor(v.balance_minor),
            remarks: o.remarks.clone(),
            refid: o.refid.clone(),
            timestamp_ms: o.created_at_ms,
            note: o.note.clone(),
            voucherlink: o.voucherlink.clone(),
        }
    }

    pub(crate) fn render(&self, shape: Shape) -> Value {
        let timestamp = wire::myt(self.timestamp_ms).seconds_text();
        match shape {
            Shape::Version(ApiVersion::Seed) => json!({
                "statuscode": self.code.code().to_string(),
                "status": self.code.status_word(),
                "account": self.account,
                "product": self.product,
                "amount": self.amount_text,
                "sn": self.sn,
                "pin": self.pin,
                "expiry": self.expiry,
                "cost": self.cost.to_cents(),
                "balance": self.balance.to_cents(),
                "remarks": self.remarks,
                "refid": self.refid,
                "timestamp": timestamp,
                "note": self.note,
            }),
            Shape::Version(ApiVersion::Current) => json!({"data": {
                "statusCode": self.code.code(),
                "status": if self.code == StatusCode::SUCCESSFUL { "Succesful" } else { self.code.status_word() },
                "account": self.account,
                "product": self.product,
                "productName": self.product_name,
                "amount": self.amount.map(wire::money).unwrap_or_else(|| json!(self.amount_text)),
                "sn": self.sn,
                "pin": self.pin,
                "expiry": self.expiry,
                "cost": wire::money(self.cost),
                "balance": wire::money(self.balance),
                "remarks": self.remarks,
                "refid": self.refid,
                "timestamp": timestamp,
                "note": self.note,
                "voucherlink": self.voucherlink,
            }}),
            // v1 SDKs loop until Succesful or Failed: every final code other
            // than 20 (53 included) reads Failed there.
            Shape::V1 => json!({"data": {
                "status": match self.code.code() {
                    20 => "Succesful",
                    c if c >= 40 => "Failed",
                    _ => "Processing",
                },
                "account": self.account,
                "product": self.product,
                "amount": self.amount_text,
                "sn": self.sn,
                "cost": self.cost.to_cents(),
                "balance": self.balance.to_cents(),
                "remarks": self.remarks,
                "refid": self.refid,
                "timestamp": timestamp,
            }}),
        }
    }
}

async fn topup(state: Shared, req: Authed, v1: bool) -> Result<Response, ApiError> {
    let Authed { caller, uri, headers, body } = req;
    let shape =
        if v1 { Shape::V1 } else { Shape::Version(ApiVersion::for_request(&headers, &caller.merchant.api_version)?) };
    let p = params::parse(&headers, uri.query().unwrap_or(""), &body);
    let input = match p {
        Ok(p) => TopupInput {
            refid: p.get("refid"),
            product: p.get("product"),
            account: p.get("account"),
            amount: p.get("amount"),
            remarks: p.get("remarks"),
            extras: p.extras,
        },
        Err(ApiError::BadRequest { message, .. }) => {
            let balance = state.engine.balance(&caller.merchant).await.unwrap_or(Amount::ZERO);
            return Ok(rejection(
                shape,
                &TopupInput::default(),
                StatusCode::INVALID_FORMAT,
                &message,
                balance,
                Http::BAD_REQUEST,
                &state,
            ));
        }
        Err(e) => return Err(e),
    };
    match state.engine.topup(&caller, &input).await {
        Ok(mut view) => {
            absolutize(&mut view.order.voucherlink, &state.config.public_url);
            Ok((Http::OK, Json(Envelope::from_view(&view).render(shape))).into_response())
        }
        Err(TopupError::Rejected(r)) => {
            let http = Http::from_u16(r.http_status).unwrap_or(Http::BAD_REQUEST);
            Ok(rejection(shape, &input, r.code, &r.reason, Amount::from_minor(r.balance_minor), http, &state))
        }
        Err(TopupError::Unavailable(m)) => Err(ApiError::Unavailable(m)),
        Err(TopupError::Internal(m)) => Err(ApiError::Internal(m)),
    }
}

/// The topup envelope for a request refused before anything was stored:
/// status Failed, the code, cost 0, the reason in `remarks`.
fn rejection(
    shape: Shape,
    input: &TopupInput,
    code: StatusCode,
    reason: &str,
    balance: Amount,
    http: Http,
    state: &Shared,
) -> Response {
    let product = input.product.clone().unwrap_or_default();
    let product_name = state.engine.catalog().get(&product).map(|p| p.name.clone()).unwrap_or_default();
    let amount_text = input.amount.clone().unwrap_or_default();
    let envelope = Envelope {
        code,
        account: input.account.clone().unwrap_or_default(),
        product,
        product_name,
        amount: Amount::parse_rm(&amount_text, 4).ok(),
        amount_text,
        sn: String::new(),
        pin: String::new(),
        expiry: String::new(),
        cost: Amount::ZERO,
        balance,
        remarks: reason.to_owned(),
        refid: input.refid.clone().unwrap_or_default(),
        timestamp_ms: state.engine.now_ms(),
        note: String::new(),
        voucherlink: String::new(),
    };
    (http, Json(envelope.render(shape))).into_response()
}

pub(crate) async fn v2(state: Shared, req: Authed) -> Result<Response, ApiError> {
    topup(state, req, false).await
}

pub(crate) async fn v1(state: Shared, req: Authed) -> Result<Response, ApiError> {
    topup(state, req, true).await
}
