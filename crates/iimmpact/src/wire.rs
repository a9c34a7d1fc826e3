//! The bodies as they travel (`docs/api.md`), as serde structs: the topup
//! request, the topup response in its two v2 shapes (`2023-10-01` flat with
//! strings, `2025-05-20` under `data` with numbers), balance, product list,
//! tokens and the error bodies. Field names are the wire's; turning them into
//! this crate's types happens in `topup.rs` and `answer.rs`.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::money::Amount;

/// `POST /v2/topup` body (JSON).
#[derive(Debug, Serialize)]
pub(crate) struct TopupBody<'a> {
    pub refid: &'a str,
    pub product: &'a str,
    pub account: &'a str,
    pub amount: Amount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remarks: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extras: &'a BTreeMap<String, String>,
}

/// The `2023-10-01` topup response: flat, every value a string.
#[derive(Debug, Deserialize)]
pub(crate) struct SeedTopup {
    #[serde(deserialize_with = "status_code")]
    pub statuscode: u16,
    pub status: String,
    #[serde(flatten)]
    pub order: OrderFields,
}

/// The `2025-05-20` topup response: `{"data": {...}}`, numbers for
/// `statusCode`, `amount`, `cost`, `balance`.
#[derive(Debug, Deserialize)]
pub(crate) struct CurrentTopup {
    pub data: CurrentTopupData,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CurrentTopupData {
    #[serde(deserialize_with = "status_code")]
    pub status_code: u16,
    pub status: String,
    #[serde(default)]
    pub product_name: String,
    #[serde(default)]
    pub voucherlink: String,
    #[serde(flatten)]
    pub order: OrderFields,
}

/// The order's fields, the same in both shapes. The identity and money
/// fields are required; the rest default to empty, as a PIN-less order
/// leaves them.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderFields {
    pub refid: String,
    pub account: String,
    pub product: String,
    pub amount: Amount,
    pub cost: Amount,
    pub balance: Amount,
    #[serde(default)]
    pub sn: String,
    #[serde(default)]
    pub pin: String,
    #[serde(default)]
    pub expiry: String,
    #[serde(default)]
    pub remarks: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub note: String,
}

/// `{"error", "message", "detail"?}`: the 401 bodies and the other errors.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
}

/// `GET /v2/balance`: `{"data": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct BalanceEnvelope {
    pub data: Balance,
}

/// The wallet, pending holds already taken off.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Balance {
    pub account: String,
    pub name: String,
    pub balance: Amount,
    /// The pricing level (`"12"`).
    #[serde(deserialize_with = "text")]
    pub level: String,
    /// 0 full, 50 read-only (may not top up); absent on v1.
    #[serde(default)]
    pub access: Option<u16>,
}

/// `GET /v2/product-list`: `{"data": [item, ...]}`; items are read one by one.
#[derive(Debug, Deserialize)]
pub(crate) struct ProductList {
    pub data: Vec<Value>,
}

/// A product of the listing, in either version's item shape: the fields
/// both share (under either name), and the item itself in `raw`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Product {
    pub product_code: String,
    pub product_name: String,
    /// `Active` or `Inactive`.
    pub status: String,
    #[serde(default)]
    pub category: String,
    /// A list (`"5,10,15"`) or a range (`"1-1000"`).
    #[serde(default)]
    pub denomination: String,
    /// `Integer` (whole ringgit) or `Decimal`.
    #[serde(default, alias = "denomination_data_type")]
    pub datatype: String,
    /// `"1.0"`, `"0.97"`.
    #[serde(default)]
    pub unit_price: Option<String>,
    /// The caller's level's discount: `"3%"`.
    #[serde(default)]
    pub discount: Option<String>,
    /// Needs a subproduct (a plan, a biller) before it can be bought; a
    /// string (`"false"`) in `2023-10-01`, a boolean in `2025-05-20`.
    #[serde(default, deserialize_with = "flag")]
    pub has_subproduct: bool,
    /// The whole item as received.
    #[serde(skip)]
    pub raw: Value,
}

impl Product {
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("Active")
    }

    /// The caller's cost of `amount`: `amount × unit_price × (1 − discount)`,
    /// rounded half-up to RM 0.0001, as `docs/api.md` states it. `None`
    /// when the listing carries no price or one that does not parse.
    pub fn cost_of(&self, amount: Amount) -> Option<Amount> {
        crate::pricing::cost(amount, self.unit_price.as_deref()?, self.discount.as_deref()?)
    }
}

/// `POST /v2/token` body.
#[derive(Debug, Serialize)]
pub(crate) struct LoginBody<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// `POST /v2/token/refresh` body.
#[derive(Debug, Serialize)]
pub(crate) struct RefreshBody<'a> {
    pub refresh_token: &'a str,
}

/// `{"AuthenticationResult": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenEnvelope {
    #[serde(rename = "AuthenticationResult")]
    pub result: Tokens,
}

/// The tokens of a login or a refresh (a refresh has no `RefreshToken`).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds.
    pub expires_in: u64,
    pub token_type: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bearer tokens are credentials: kept out of logs.
        f.debug_struct("Tokens").field("expires_in", &self.expires_in).field("token_type", &self.token_type).finish()
    }
}

/// A status code sent as a number (`20`) or as text (`"20"`).
fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n.to_string().parse().map_err(D::Error::custom),
        Value::String(s) => s.trim().parse().map_err(D::Error::custom),
        other => Err(D::Error::custom(format!("expected a status code, got {other}"))),
    }
}

/// Text that some versions send as a number.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(D::Error::custom(format!("expected text, got {other}"))),
    }
}

/// A boolean sent as `true` or `"true"`.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        other => Err(D::Error::custom(format!("expected a boolean, got {other}"))),
    }
}

/// The topup status code of a body in either shape, if it has one: how a
/// refusal's code is read without requiring the whole envelope to parse.
pub(crate) fn envelope_code(body: &Value) -> Option<u16> {
    let code = body.get("statuscode").or_else(|| body.get("data").and_then(|d| d.get("statusCode")))?;
    match code {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The `remarks` of a topup envelope in either shape (a refusal's reason).
pub(crate) fn envelope_remarks(body: &Value) -> String {
    let remarks = body.get("remarks").or_else(|| body.get("data").and_then(|d| d.get("remarks")));
    remarks.and_then(Value::as_str).unwrap_or_default().to_owned()
}
