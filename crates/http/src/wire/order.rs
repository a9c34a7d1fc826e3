//! The topup response body, the one body an order has on the wire: in the
//! seed (`2023-10-01`), current (`2025-05-20`) and v1 shapes. Callbacks carry
//! the same body, rendered in the merchant's version.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Number, Value};
use tambah_domain::{Amount, StatusCode};
use tambah_engine::OrderView;
use tambah_store::OrderRow;

use super::{money_number, myt, ApiVersion};

/// Which of the three bodies to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Version(ApiVersion),
    V1,
}

/// One response, whatever produced it (a stored order or a rejection).
/// Its texts borrow from the order it shows where there is one.
pub(crate) struct Envelope<'a> {
    pub code: StatusCode,
    pub account: Cow<'a, str>,
    pub product: Cow<'a, str>,
    pub product_name: Cow<'a, str>,
    /// Exact text for seed (`"10"`), number for current.
    pub amount: Option<Amount>,
    pub amount_text: Cow<'a, str>,
    pub sn: Cow<'a, str>,
    pub pin: Cow<'a, str>,
    pub expiry: Cow<'a, str>,
    pub cost: Amount,
    pub balance: Amount,
    pub remarks: Cow<'a, str>,
    pub refid: Cow<'a, str>,
    pub timestamp_ms: i64,
    pub note: Cow<'a, str>,
    pub voucherlink: Cow<'a, str>,
    /// A refused reuse of a refid: what differs first. Shown in the current
    /// shape only (the seed's and v1's stay as the SDKs parse them; their
    /// `remarks` start with the same name).
    pub conflict: Option<&'static str>,
}

/// Links the server stores as paths (the e-SIM QR code) are served absolute.
pub fn absolutize(link: &mut String, public_url: &str) {
    if link.starts_with('/') {
        *link = format!("{public_url}{link}");
    }
}

/// An order's topup response body as `status` and `balance` were at an
/// event (a callback announces the status it was queued with).
pub fn order_body(order: &OrderRow, product_name: &str, status: StatusCode, balance: Amount, shape: Shape) -> Value {
    let view = OrderView { order: std::sync::Arc::new(order.clone()), product_name: product_name.to_owned(), balance };
    let mut envelope = Envelope::from_view(&view);
    envelope.code = status;
    envelope.render(shape)
}

impl Envelope<'_> {
    /// A failed order shows cost 0 (its hold was released: nothing was
    /// charged) and, when it has no remarks of its own, why it failed.
    pub(crate) fn from_view(v: &OrderView) -> Envelope<'_> {
        let o = &v.order;
        let amount = o.amount;
        let failed = o.status.is_failure();
        let remarks = if failed && o.remarks.is_empty() {
            Cow::Owned(format!("{}; nothing was charged", o.status.meaning()))
        } else {
            Cow::Borrowed(o.remarks.as_str())
        };
        Envelope {
            code: o.status,
            account: Cow::Borrowed(&o.account),
            product: Cow::Borrowed(&o.product),
            product_name: Cow::Borrowed(&v.product_name),
            amount: Some(amount),
            amount_text: Cow::Owned(amount.to_plain()),
            sn: Cow::Borrowed(&o.sn),
            pin: Cow::Borrowed(&o.pin),
            expiry: Cow::Borrowed(&o.expiry),
            cost: if failed { Amount::ZERO } else { o.cost },
            balance: v.balance,
            remarks,
            refid: Cow::Borrowed(&o.refid),
            timestamp_ms: o.created_at_ms,
            note: Cow::Borrowed(&o.note),
            voucherlink: Cow::Borrowed(&o.voucherlink),
            conflict: None,
        }
    }

    /// The body as a JSON value (callbacks, stored answers).
    pub(crate) fn render(&self, shape: Shape) -> Value {
        serde_json::to_value(self.body(shape)).expect("an envelope is JSON")
    }

    /// The body, serialized straight to bytes by `Json` (no map built).
    pub(crate) fn body(&self, shape: Shape) -> Body<'_> {
        match shape {
            Shape::Version(ApiVersion::Seed) => Body::Seed(self.seed()),
            Shape::Version(ApiVersion::Current) => Body::Current { data: self.current() },
            Shape::V1 => Body::V1 { data: self.v1() },
        }
    }

    fn timestamp(&self) -> String {
        myt(self.timestamp_ms).seconds_text()
    }

    /// Flat, every value a string but cost and balance (cents).
    fn seed(&self) -> Seed<'_> {
        Seed {
            statuscode: self.code.code().to_string(),
            status: self.code.status_word(),
            account: &self.account,
            product: &self.product,
            amount: &self.amount_text,
            sn: &self.sn,
            pin: &self.pin,
            expiry: &self.expiry,
            cost: self.cost.to_cents(),
            balance: self.balance.to_cents(),
            remarks: &self.remarks,
            refid: &self.refid,
            timestamp: self.timestamp(),
            note: &self.note,
        }
    }

    /// Under `data`, amounts as numbers, the live API's spelling of 20.
    fn current(&self) -> Current<'_> {
        Current {
            status_code: self.code.code(),
            status: if self.code == StatusCode::SUCCESSFUL { "Succesful" } else { self.code.status_word() },
            account: &self.account,
            product: &self.product,
            product_name: &self.product_name,
            // A number, or null for a refused request whose amount is not one.
            amount: self.amount.map(money_number),
            sn: &self.sn,
            pin: &self.pin,
            expiry: &self.expiry,
            cost: money_number(self.cost),
            balance: money_number(self.balance),
            remarks: &self.remarks,
            refid: &self.refid,
            timestamp: self.timestamp(),
            note: &self.note,
            voucherlink: &self.voucherlink,
            conflict: self.conflict,
        }
    }

    /// v1 SDKs loop until Succesful or Failed: every final code other than 20
    /// (53 included) reads Failed there. IIMMPACT's v1 SDK declares `amount`
    /// an integer and parses a string with `int()`, which raises on
    /// `"132.33"` after the wallet was charged: the amount is a JSON number
    /// (the SDK keeps its whole ringgit, 132; the exact amount is in the
    /// transaction listing), and `null` when it is not a number at all.
    /// v1 has no `pin` or `expiry`: a voucher's are in `sn` (see [`v1_sn`]).
    fn v1(&self) -> V1<'_> {
        V1 {
            status: match self.code.code() {
                20 => "Succesful",
                c if c >= 40 => "Failed",
                _ => "Processing",
            },
            account: &self.account,
            product: &self.product,
            amount: self.amount.map(money_number),
            sn: v1_sn(&self.sn, &self.pin, &self.expiry),
            cost: self.cost.to_cents(),
            balance: self.balance.to_cents(),
            remarks: &self.remarks,
            refid: &self.refid,
            timestamp: self.timestamp(),
        }
    }
}

/// An order's body in one of its shapes; fields serialize in the order
/// written here, the order the wire shows them in.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Body<'a> {
    Seed(Seed<'a>),
    Current { data: Current<'a> },
    V1 { data: V1<'a> },
}

#[derive(Serialize)]
pub(crate) struct Seed<'a> {
    statuscode: String,
    status: &'a str,
    account: &'a str,
    product: &'a str,
    amount: &'a str,
    sn: &'a str,
    pin: &'a str,
    expiry: &'a str,
    cost: String,
    balance: String,
    remarks: &'a str,
    refid: &'a str,
    timestamp: String,
    note: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Current<'a> {
    status_code: u8,
    status: &'a str,
    account: &'a str,
    product: &'a str,
    product_name: &'a str,
    amount: Option<Number>,
    sn: &'a str,
    pin: &'a str,
    expiry: &'a str,
    cost: Number,
    balance: Number,
    remarks: &'a str,
    refid: &'a str,
    timestamp: String,
    note: &'a str,
    voucherlink: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    conflict: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct V1<'a> {
    status: &'a str,
    account: &'a str,
    product: &'a str,
    amount: Option<Number>,
    sn: String,
    cost: String,
    balance: String,
    remarks: &'a str,
    refid: &'a str,
    timestamp: String,
}

/// v1's `sn`: the serial alone, or for a voucher every part the product
/// delivered as `PIN=…;SN=…;EXPIRY=yyyymmdd` (the parts it has), since the
/// v1 body has no other field the SDKs keep.
pub(crate) fn v1_sn(sn: &str, pin: &str, expiry: &str) -> String {
    if pin.is_empty() {
        return sn.to_owned();
    }
    let parts = [("PIN", pin), ("SN", sn), ("EXPIRY", expiry)];
    parts.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";")
}
