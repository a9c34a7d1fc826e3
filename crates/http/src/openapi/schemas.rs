//! The wire shapes of the described endpoints, as types for the OpenAPI
//! description only: the handlers build their answers in `wire`, and the
//! black-box tests hold both to the same examples.

// Never built: the fields are read by the schema derive, not by code.
#![allow(dead_code, clippy::large_enum_variant)]

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// A transaction status code. 0 Accepted and 1 Processing are not final
/// (resubmit the same refid, or wait for the callback); every other code is
/// final: 20 Successful; 40/52 invalid, barred or terminated number; 41
/// merchant suspended or unauthorised; 43 insufficient credit; 44 incorrect
/// format or invalid product; 45 out of stock; 47 service unavailable; 48
/// rejected by the provider; 53 Refund (reversed after success, the cost
/// returned — it follows a 20); 54 duplicate or daily limit reached; 55
/// timeout; 56 blacklisted; 57 number activated; 58/61 invalid denomination
/// or amount.
pub struct StatusCode;

impl utoipa::PartialSchema for StatusCode {
    fn schema() -> RefOr<Schema> {
        let codes = [0, 1, 20, 40, 41, 43, 44, 45, 47, 48, 52, 53, 54, 55, 56, 57, 58, 61];
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .enum_values(Some(codes))
            .description(Some(
                "0 Accepted and 1 Processing are not final; every other code is final. 20 Successful, \
                 53 Refund (after a 20); 40-61 Failed (see docs/api.md, Status codes).",
            ))
            .into()
    }
}

impl ToSchema for StatusCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StatusCode")
    }
}

/// Every error that is not a topup envelope.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code, e.g. `invalid_request`, `unauthorized`, `rate_limited`.
    error: String,
    /// What was wrong, for a person.
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` (HTTP 503).
    status: String,
    /// `ok`, or `not accepting writes`.
    database: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenRequest {
    #[schema(min_length = 1)]
    username: String,
    #[schema(min_length = 1)]
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(min_length = 1)]
    refresh_token: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Tokens {
    access_token: String,
    /// Seconds.
    expires_in: i64,
    /// `Bearer`.
    token_type: String,
    /// Only when logging in, not when refreshing.
    #[schema(nullable = false)]
    refresh_token: Option<String>,
    id_token: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TokenAnswer {
    authentication_result: Tokens,
}

/// The wallet, with pending holds taken off.
#[derive(Serialize, ToSchema)]
pub struct Wallet {
    account: String,
    name: String,
    /// Ringgit.
    balance: f64,
    /// The pricing level.
    level: String,
    /// 0 full access, 50 read-only (may not top up).
    access: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BalanceAnswer {
    data: Wallet,
}

#[derive(Serialize, ToSchema)]
pub struct WalletV1 {
    account: String,
    name: String,
    balance: f64,
    level: String,
}

#[derive(Serialize, ToSchema)]
pub struct BalanceAnswerV1 {
    data: WalletV1,
}

/// JSON or form fields. `extras` is a flat object of strings (JSON), or
/// `extras[key]=value` (form).
#[derive(Serialize, ToSchema)]
pub struct TopupRequest {
    /// The merchant's id for the order: at most 25 of `A-Za-z0-9-_.`, unique
    /// per merchant. Sent again, the request is the status check.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,25}$")]
    refid: String,
    #[schema(min_length = 1)]
    product: String,
    /// Phone or bill account number.
    #[schema(min_length = 1)]
    account: String,
    /// Ringgit, in one canonical form (`10`, `10.5`, `132.33`): text or a
    /// JSON number.
    #[schema(pattern = "^(0|[1-9][0-9]*)(\\.[0-9]+)?$")]
    amount: String,
    #[schema(nullable = false)]
    remarks: Option<String>,
    /// `subproduct_code`, `ic_number`, `biller_code`, `ref2`, `name`,
    /// `email`, `phone`, as the product needs.
    #[schema(nullable = false)]
    extras: Option<std::collections::BTreeMap<String, String>>,
}

/// Version `2023-10-01`: flat, every value a string.
#[derive(Serialize, ToSchema)]
pub struct Topup20231001 {
    /// The status code as text (see `StatusCode`).
    statuscode: String,
    /// `Accepted`, `Processing`, `Successful`, `Failed` or `Refund`.
    status: String,
    account: String,
    product: String,
    amount: String,
    sn: String,
    pin: String,
    /// `yyyymmdd` for vouchers.
    expiry: String,
    /// What was charged: 0 for a failed order.
    cost: String,
    balance: String,
    /// The merchant's remarks, or why the order failed.
    remarks: String,
    refid: String,
    /// Malaysia time, `yyyy-MM-dd HH:mm:ss`.
    timestamp: String,
    note: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopupData20250520 {
    #[schema(value_type = StatusCode)]
    status_code: u8,
    /// As the live API spells it: `Succesful` for 20.
    status: String,
    account: String,
    product: String,
    product_name: String,
    amount: f64,
    sn: String,
    pin: String,
    expiry: String,
    cost: f64,
    balance: f64,
    remarks: String,
    refid: String,
    timestamp: String,
    note: String,
    voucherlink: String,
}

/// Version `2025-05-20`: under `data`, amounts as numbers.
#[derive(Serialize, ToSchema)]
pub struct Topup20250520 {
    data: TopupData20250520,
}

/// A topup answer in the merchant's version (or `X-Api-Version`'s). Refused
/// requests (HTTP 400, 403, 409) answer the same envelope with a failure code
/// and the reason in `remarks`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum TopupAnswer {
    V20231001(Topup20231001),
    V20250520(Topup20250520),
}

#[derive(Serialize, ToSchema)]
pub struct TopupDataV1 {
    /// `Succesful`, `Processing` (0 and 1) or `Failed` (every other final
    /// code, 53 included).
    status: String,
    account: String,
    product: String,
    /// A JSON number (IIMMPACT's v1 SDKs declare an integer); `null` when
    /// the request's amount was not a number.
    amount: Option<f64>,
    /// The serial; for a voucher `PIN=…;SN=…;EXPIRY=yyyymmdd`.
    sn: String,
    cost: String,
    balance: String,
    remarks: String,
    refid: String,
    timestamp: String,
}

#[derive(Serialize, ToSchema)]
pub struct TopupV1 {
    data: TopupDataV1,
}

/// A refusal of a topup: the topup envelope with a failure code, or an
/// error body when the request could not be read as a topup at all (e.g. an
/// unknown `X-Api-Version`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum TopupRefusal {
    Envelope(TopupAnswer),
    Error(ErrorBody),
}

/// A response version.
#[derive(Serialize, ToSchema)]
pub enum ApiVersion {
    #[serde(rename = "2023-10-01")]
    V20231001,
    #[serde(rename = "2025-05-20")]
    V20250520,
}
