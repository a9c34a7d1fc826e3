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
#[schema(example = json!({"refid": "ORDER-1001", "product": "D", "account": "0123456789", "amount": "10"}))]
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
    /// Free text kept with the order (`null`: none).
    remarks: Option<String>,
    /// `subproduct_code`, `ic_number`, `biller_code`, `ref2`, `name`,
    /// `email`, `phone`, as the product needs; each a string or a number.
    extras: Option<std::collections::BTreeMap<String, ExtraValue>>,
}

/// The value of one of a topup's extras.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ExtraValue {
    Text(String),
    Number(f64),
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
    /// `null` when a refused request's amount was not a number.
    amount: Option<f64>,
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
    /// Only on a 409 (code 54, a refid reused with other parameters): what
    /// differs first, `exists_with_different_product`, `_account`, `_amount`
    /// or `_extras`.
    #[schema(nullable = false)]
    conflict: Option<String>,
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

/// A product, version `2023-10-01` (every value a string).
#[derive(Serialize, ToSchema)]
pub struct Product20231001 {
    /// `Active` or `Inactive`.
    status: String,
    category: String,
    product_code: String,
    operator_code: String,
    product_name: String,
    /// A list (`5,10,30`) or a range (`1-1000`).
    denomination: String,
    unit_price: String,
    /// The caller's level's discount, e.g. `3%`.
    discount: String,
    api_parameter: String,
    update_time: String,
    note: String,
    /// `Integer` or `Decimal`.
    datatype: String,
    display_name: String,
    group_type: String,
    category_code: String,
    /// `true` or `false`.
    has_subproduct: String,
    should_sync: String,
    product_img: String,
}

/// A product, version `2025-05-20`.
#[derive(Serialize, ToSchema)]
pub struct Product20250520 {
    status: String,
    has_subproduct: bool,
    product_code: String,
    product_name: String,
    product_remarks: String,
    account_label: String,
    keyboard_type: String,
    denomination: String,
    common_denominations: String,
    denomination_data_type: String,
    denomination_currency: String,
    product_group: String,
    category: String,
    image_url: String,
    account_type: String,
    is_refundable: bool,
    unit_price: String,
    discount: String,
}

/// A product in the merchant's version.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProductItem {
    V20231001(Product20231001),
    V20250520(Product20250520),
}

#[derive(Serialize, ToSchema)]
pub struct ProductList {
    data: Vec<ProductItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductListV1 {
    data: Vec<Product20231001>,
}

/// One order in the v2 listing.
#[derive(Serialize, ToSchema)]
pub struct Transaction {
    trxid: String,
    refid: String,
    /// Malaysia time, `yyyy-MM-dd HH:mm:ss.fff`.
    date: String,
    response_date: String,
    product_code: String,
    product_name: String,
    biller_code: String,
    product_image_url: String,
    category: String,
    amount: String,
    price: String,
    account: String,
    sn: String,
    sender: String,
    member_id: String,
    /// `Successful`, `Pending`, `Failed` or `Refund`.
    status: String,
    status_code: String,
    remarks: String,
}

/// Over every order the filters match, not only the page; amounts and
/// prices of the successful ones.
#[derive(Serialize, ToSchema)]
pub struct TransactionsMeta {
    transaction_count: String,
    total_amount: String,
    total_price: String,
    profit: String,
    successful_count: String,
    pending_count: String,
    failed_count: String,
    refund_count: String,
}

#[derive(Serialize, ToSchema)]
pub struct Transactions {
    data: Vec<Transaction>,
    meta: TransactionsMeta,
}

#[derive(Serialize, ToSchema)]
pub struct NamedProduct {
    code: String,
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TransactionStatusV1 {
    #[schema(value_type = StatusCode)]
    code: u8,
    text: String,
    /// When it last changed.
    date: String,
}

/// The wallet around the order's hold; `null` for an order refused before
/// anything was held.
#[derive(Serialize, ToSchema)]
pub struct BalanceMoveV1 {
    prev: Option<f64>,
    new: Option<f64>,
}

/// One order as IIMMPACT's v1 SDK reads it.
#[derive(Serialize, ToSchema)]
pub struct TransactionV1 {
    id: i64,
    entry_date: String,
    product: NamedProduct,
    amount: f64,
    topup_number: String,
    sender: String,
    member_id: Option<i64>,
    status: TransactionStatusV1,
    balance: BalanceMoveV1,
    price: f64,
    sn: String,
    remarks: String,
    ref_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct TransactionsMetaV1 {
    transaction_count: String,
    total_amount: f64,
    total_price: f64,
}

#[derive(Serialize, ToSchema)]
pub struct TransactionsV1 {
    data: Vec<TransactionV1>,
    meta: TransactionsMetaV1,
}

/// One movement of the wallet, with the balance right after it.
#[derive(Serialize, ToSchema)]
pub struct StatementEntry {
    id: i64,
    date: String,
    /// Signed: what the wallet gained (+) or lost (−).
    amount: f64,
    balance: f64,
    remarks: String,
    /// `DEPOSIT`, `TRANSACTION` or `REFUND`.
    #[serde(rename = "type")]
    kind: String,
    /// v1 only: the same moment as `date`.
    #[schema(nullable = false)]
    time: Option<String>,
    /// Current version (`2025-05-20`) only: the entry in the wallet's
    /// statement chain (docs/ledger.md).
    #[schema(nullable = false)]
    chain: Option<ChainEntry>,
}

/// What one statement entry's hash covers, and the hash.
#[derive(Serialize, ToSchema)]
pub struct ChainEntry {
    /// The entry's number in the wallet's statement, from 1.
    seq: u64,
    /// Milliseconds since the Unix epoch.
    time_ms: i64,
    /// `DEPOSIT`, `HOLD`, `VOID` or `REFUND`.
    kind: String,
    /// The wallet's signed change in minor units (1 RM = 10,000).
    amount_minor: i64,
    /// The balance right after, in minor units.
    balance_minor: i64,
    /// The order's refid; empty for a deposit.
    refid: String,
    /// SHA-256 of the previous hash and `seq|time_ms|kind|amount_minor|balance_minor|refid`, hex.
    hash: String,
}

/// Where the wallet's chain stood at the end of one Malaysia-time day.
#[derive(Serialize, ToSchema)]
pub struct ChainDay {
    /// `yyyy-MM-dd`.
    date: String,
    /// How many entries the wallet's statement had.
    entries: u64,
    /// The last entry's hash, hex.
    head: String,
}

#[derive(Serialize, ToSchema)]
pub struct ChainDays {
    /// One per day of the page's rows.
    days: Vec<ChainDay>,
}

#[derive(Serialize, ToSchema)]
pub struct PageLinks {
    first: String,
    last: String,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PageMeta {
    current_page: i64,
    /// `null` on an empty page.
    from: Option<i64>,
    last_page: i64,
    path: String,
    per_page: i64,
    to: Option<i64>,
    total: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Tally {
    amount: f64,
    count: i64,
}

/// Over the date range, not only the page or type.
#[derive(Serialize, ToSchema)]
pub struct StatementSummary {
    total_transactions: Tally,
    total_deposit: Tally,
    total_refund: Tally,
}

#[derive(Serialize, ToSchema)]
pub struct Statement {
    data: Vec<StatementEntry>,
    links: PageLinks,
    meta: PageMeta,
    summary: StatementSummary,
    /// Current version (`2025-05-20`) only: each day's chain head.
    #[schema(nullable = false)]
    chain: Option<ChainDays>,
}

#[derive(Serialize, ToSchema)]
pub struct Metadata {
    status_code: i64,
    /// `dd-MM-yyyy HH:mm:ss`, Malaysia time.
    last_updated: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CallbackSetting {
    status: String,
    /// Empty: callbacks are off.
    callback_url: String,
    /// `POST` or `GET`.
    method: String,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackAnswer {
    data: CallbackSetting,
    #[serde(rename = "@metadata")]
    metadata: Metadata,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct LowBalanceSetting {
    status: String,
    email: String,
    /// Ringgit; 0 when none is set.
    balance_threshold: f64,
    note: String,
}

#[derive(Serialize, ToSchema)]
pub struct LowBalanceAnswer {
    data: LowBalanceSetting,
    #[serde(rename = "@metadata")]
    metadata: Metadata,
}

#[derive(Serialize, ToSchema)]
pub struct NetworkStatus {
    product_code: String,
    product_name: String,
    product_img: String,
    /// `Healthy` or `Interruption` (advisory).
    network_status: String,
}

#[derive(Serialize, ToSchema)]
pub struct NetworkStatusAnswer {
    data: NetworkStatus,
    metadata: Metadata,
}

/// How callbacks are sent.
#[derive(Serialize, ToSchema)]
pub enum CallbackMethod {
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "GET")]
    Get,
}
