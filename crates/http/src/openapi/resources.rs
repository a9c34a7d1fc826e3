//! The wire shapes of the resources beyond the core calls (bill
//! presentment, the callback log and secret, the catalogue and its options,
//! reports, disputes, e-SIM, passwords, provider callbacks), as types for
//! the OpenAPI description only, like `schemas`.

// Never built: the fields are read by the schema derive, not by code.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

use super::schemas::{ErrorBody, StatusCode};

/// The refusals every authenticated call can answer.
#[derive(IntoResponses)]
pub enum Refusals {
    /// A parameter is invalid.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Not authenticated.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Over the merchant's rate (Retry-After).
    #[response(status = 429)]
    TooMany(ErrorBody),
    /// Overloaded or the database is unavailable (Retry-After).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The account, or the credential used, may not do this (suspended,
/// read-only, or a token where the merchant requires API keys).
#[derive(IntoResponses)]
pub enum Forbidden {
    /// The account or credential may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// No such refid (or resource) for this merchant.
#[derive(IntoResponses)]
pub enum NotFound {
    /// Not found for this merchant.
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// A PNG image, as the body of a response (not JSON).
pub struct Png;

impl utoipa::PartialSchema for Png {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        serde_json::from_value(serde_json::json!({"type": "string", "contentMediaType": "image/png"}))
            .expect("a valid schema")
    }
}

impl ToSchema for Png {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Png")
    }
}

/// Bill presentment fields shared by every version. The empty fields are
/// IIMMPACT's, kept for wire compatibility.
#[derive(Serialize, ToSchema)]
pub struct PresentmentFields {
    /// `Success`, or why there is nothing to show (`Invalid account no`).
    message: String,
    #[serde(rename = "CustomerName")]
    customer_name: String,
    #[serde(rename = "Balance")]
    balance: String,
    #[serde(rename = "Data")]
    data: String,
    #[serde(rename = "Address")]
    address: String,
    #[serde(rename = "E-Bill")]
    e_bill: String,
    #[serde(rename = "CustomField")]
    custom_field: String,
    /// `dd/MM/yyyy`, empty when the biller gives none.
    #[serde(rename = "DueDate")]
    due_date: String,
}

/// `metadata` as the 2023-10-01 format (inside `data`) and the 2025-05-20
/// format (beside it) show it: `status_code` as text.
#[derive(Serialize, ToSchema)]
pub struct PresentmentMetadataText {
    /// `"200"`.
    status_code: String,
    product_code: String,
    /// `dd-MM-yyyy HH:mm:ss`, Malaysia time.
    last_updated: String,
}

/// `metadata` as v1 shows it (beside `data`): `status_code` a number.
#[derive(Serialize, ToSchema)]
pub struct PresentmentMetadataV1 {
    /// 200.
    status_code: i64,
    product_code: String,
    last_updated: String,
}

/// 2023-10-01: `Outstanding` in ringgit as text (`""` when unknown).
#[derive(Serialize, ToSchema)]
pub struct PresentmentData20231001 {
    #[serde(flatten)]
    fields: PresentmentFields,
    #[serde(rename = "Outstanding")]
    outstanding: String,
    metadata: PresentmentMetadataText,
    /// `true` when a payment would be accepted now.
    transaction_validity: String,
    transaction_message: String,
}

/// 2025-05-20: `Outstanding` a number in ringgit, or `""` when unknown.
#[derive(Serialize, ToSchema)]
pub struct PresentmentData20250520 {
    #[serde(flatten)]
    fields: PresentmentFields,
    #[serde(rename = "Outstanding")]
    #[schema(schema_with = number_or_empty)]
    outstanding: serde_json::Value,
    #[serde(rename = "BillerName")]
    biller_name: String,
    transaction_validity: String,
    transaction_message: String,
}

fn number_or_empty() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some([""])))
            .description(Some("A number in ringgit, or \"\" when the biller gives none"))
            .build(),
    )
}

/// The 2023-10-01 answer.
#[derive(Serialize, ToSchema)]
pub struct Presentment20231001 {
    data: PresentmentData20231001,
    /// With `Invalid account no`: what is wrong.
    #[schema(nullable = false)]
    error_message: Option<String>,
}

/// The 2025-05-20 answer.
#[derive(Serialize, ToSchema)]
pub struct Presentment20250520 {
    data: PresentmentData20250520,
    metadata: PresentmentMetadataText,
    #[schema(nullable = false)]
    error_message: Option<String>,
}

/// One of the two versions.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PresentmentAnswer {
    V20231001(Presentment20231001),
    V20250520(Presentment20250520),
}

/// v1: `Outstanding` a number or `null`, as IIMMPACT's v1 SDK reads it.
#[derive(Serialize, ToSchema)]
pub struct PresentmentDataV1 {
    #[serde(flatten)]
    fields: PresentmentFields,
    #[serde(rename = "Outstanding")]
    outstanding: Option<f64>,
}

/// The v1 answer: `metadata` beside `data`.
#[derive(Serialize, ToSchema)]
pub struct PresentmentV1 {
    data: PresentmentDataV1,
    metadata: PresentmentMetadataV1,
    #[schema(nullable = false)]
    error_message: Option<String>,
}

/// The secret that signs callbacks.
#[derive(Serialize, ToSchema)]
pub struct CallbackSecret {
    /// Signs every callback: `X-Signature: t=…,v1=…`.
    secret: String,
    /// After a rotation, the previous secret is also accepted for 24 hours.
    previous_secret_valid: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackSecretAnswer {
    data: CallbackSecret,
}

/// One attempt to deliver a callback.
#[derive(Serialize, ToSchema)]
pub struct DeliveryAttempt {
    /// 1 for the first.
    attempt: i64,
    /// `yyyy-MM-dd HH:mm:ss.SSS`, Malaysia time.
    at: String,
    url: String,
    /// The receiver's HTTP status, `null` when it did not answer.
    http_status: Option<i64>,
    latency_ms: i64,
    /// Empty when the receiver answered.
    error: String,
    /// The start of the receiver's answer.
    response_excerpt: String,
}

/// One callback of an order.
#[derive(Serialize, ToSchema)]
pub struct CallbackDelivery {
    id: i64,
    /// The status the callback reports.
    #[schema(value_type = Option<StatusCode>)]
    status_code: Option<u8>,
    queued_at: String,
    /// `pending`, `delivered` or `failed`.
    state: String,
    attempts: Vec<DeliveryAttempt>,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackLog {
    data: Vec<CallbackDelivery>,
}

#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    refid: String,
    callback_id: i64,
    /// `queued`.
    status: String,
}

#[derive(Serialize, ToSchema)]
pub struct RedeliveryAnswer {
    data: Redelivery,
}

/// A field of a product's purchase form and how it maps onto the topup
/// request (`account`, `amount` or `extras.<id>`).
#[derive(Serialize, ToSchema)]
pub struct FormField {
    id: String,
    label: String,
    /// e.g. `phone`, `amount`, `select`, `nric`, `text`, `email`, `from_option`.
    #[serde(rename = "type")]
    kind: String,
    required: bool,
    /// Where the value goes in the topup request; `null` for a field that only narrows a choice.
    maps_to: Option<String>,
    /// For `select`: where its options are listed.
    #[schema(nullable = false)]
    options_url: Option<String>,
    /// For `select`: the field that must be filled first.
    depends_on: Option<String>,
    /// For `amount`: the product's denominations.
    #[schema(nullable = false)]
    denomination: Option<String>,
    #[schema(nullable = false)]
    datatype: Option<String>,
    /// For `amount`: the field whose choice fixes it.
    fixed_by: Option<String>,
    /// For the account field: keyboard hint.
    #[schema(nullable = false)]
    keyboard: Option<String>,
    /// For `from_option`: the option property that fills it.
    #[schema(nullable = false)]
    from: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Pricing {
    /// `percentage_discount`.
    model: String,
    /// The caller's discount in percent.
    discount_rate: f64,
    unit_price: String,
}

#[derive(Serialize, ToSchema)]
pub struct CatalogProduct {
    code: String,
    name: String,
    /// reload, postpaid, utility, pin, gift, data, ptptn, jompay, zakat, esim or test.
    product_type: String,
    image_url: String,
    processing_time: String,
    /// `Active` or `Inactive`.
    status: String,
    fields: Vec<FormField>,
    pricing: Pricing,
}

#[derive(Serialize, ToSchema)]
pub struct CatalogCategory {
    id: String,
    name: String,
    product_codes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CatalogGroup {
    id: String,
    name: String,
    icon_url: String,
    categories: Vec<CatalogCategory>,
}

#[derive(Serialize, ToSchema)]
pub struct CatalogTree {
    groups: Vec<CatalogGroup>,
}

#[derive(Serialize, ToSchema)]
pub struct Catalog {
    last_updated: String,
    tree: CatalogTree,
    /// Every listed product by its code.
    products: std::collections::BTreeMap<String, CatalogProduct>,
}

/// A plan, account, biller, zakat type or e-SIM plan of a product.
#[derive(Serialize, ToSchema)]
pub struct Subproduct {
    subproduct_code: String,
    display_name: String,
    /// Its fixed price in ringgit, `null` when the amount is free.
    denomination: Option<f64>,
    face_value: Option<f64>,
    validity: String,
    description: String,
    /// For PTPTN: the account the payment goes to.
    account_number: Option<String>,
    additional_description: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct Subproducts {
    /// `success`.
    message: String,
    data: Vec<Subproduct>,
}

#[derive(Serialize, ToSchema)]
pub struct OptionPrice {
    /// Ringgit with two decimals, as text.
    amount: String,
    /// `MYR`.
    currency: String,
}

#[derive(Serialize, ToSchema)]
pub struct OptionItem {
    code: String,
    label: String,
    description: String,
    price: Option<OptionPrice>,
    validity: String,
    account_number: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OptionsMeta {
    current_page: i64,
    last_page: i64,
    per_page: i64,
    total: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Options {
    product_code: String,
    field_id: String,
    items: Vec<OptionItem>,
    meta: OptionsMeta,
}

#[derive(Serialize, ToSchema)]
pub struct EsimCountry {
    /// ISO 3166-1 alpha-2.
    iso: String,
    name: String,
    plan_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct EsimCountries {
    data: Vec<EsimCountry>,
}

/// One day and product of the transaction summary; money in ringgit as text.
#[derive(Serialize, ToSchema)]
pub struct SummaryLine {
    /// `yyyy-MM-dd`, Malaysia time.
    date: String,
    product_code: String,
    product_name: String,
    count: i64,
    amount: String,
    cost: String,
    /// Amount less cost (negative when sold below cost).
    profit: String,
}

#[derive(Serialize, ToSchema)]
pub struct SummaryTotal {
    count: i64,
    amount: String,
    cost: String,
    profit: String,
}

#[derive(Serialize, ToSchema)]
pub struct Summary {
    account: String,
    from: String,
    to: String,
    data: Vec<SummaryLine>,
    total: SummaryTotal,
}

#[derive(Serialize, ToSchema)]
pub struct SummaryAnswer {
    data: Summary,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceLine {
    product_code: String,
    product_name: String,
    count: i64,
    amount: String,
    cost: String,
}

/// A month's wallet movements and successful orders; money in ringgit as text.
#[derive(Serialize, ToSchema)]
pub struct Invoice {
    account: String,
    name: String,
    /// `yyyy-MM`.
    month: String,
    opening_balance: String,
    deposits: String,
    charges: String,
    refunds: String,
    closing_balance: String,
    lines: Vec<InvoiceLine>,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceAnswer {
    data: Invoice,
}

/// A transaction check (dispute) request: `refid` or `trxid`, not empty.
pub struct CheckRequest;

impl utoipa::PartialSchema for CheckRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let properties = serde_json::json!({
            "refid": {"type": "string", "minLength": 1, "description": "The order's refid"},
            "trxid": {"type": "string", "minLength": 1, "description": "The order's trxid"},
            "user_email": {"type": "array", "items": {"type": "string"}, "description": "Who to tell about the outcome"},
        });
        let by = |key: &str| serde_json::json!({"type": "object", "properties": properties, "required": [key]});
        let shape = serde_json::json!({
            "description": "The order to check, by `refid` or `trxid` (at least one), and who to tell.",
            "anyOf": [by("refid"), by("trxid")],
        });
        serde_json::from_value(shape).expect("a valid schema")
    }
}

impl ToSchema for CheckRequest {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("CheckRequest")
    }
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    refid: String,
    /// `Success` (a dispute is open) or `Failed`.
    status: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckAnswer {
    data: Check,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordChange {
    #[schema(min_length = 1)]
    old_password: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

/// What IIMMPACT's v1 SDK sends to answer a new-password challenge.
#[derive(Serialize, ToSchema)]
pub struct PasswordChallenge {
    username: String,
    new_password: String,
    /// The challenge session (tambah never issues one).
    session: String,
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Noted {
    refid: String,
    /// `noted`: the order will be asked about at the provider.
    status: String,
}

#[derive(Serialize, ToSchema)]
pub struct NotedAnswer {
    data: Noted,
}
