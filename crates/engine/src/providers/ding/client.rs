//! DingConnect on the wire: the `api_key` header, the request and answer
//! bodies (PascalCase, every answer with `ResultCode` and `ErrorCodes`), and
//! the calls the connector makes: `POST SendTransfer` (also with
//! `ValidateOnly`), `POST ListTransferRecords` and `GET GetBalance`. Answers
//! come back raw (HTTP status and body) whatever their status, because Ding
//! sends its error bodies with 4xx and 5xx statuses too: what they mean is
//! `transform`'s job.
//! API reference: https://www.dingconnect.com/Api/Description (swagger "Ding
//! API V1") and https://www.dingconnect.com/Api/Faq.

pub use crate::providers::transport::Reply;
use crate::providers::transport::{self, Fault};
use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// The header Ding reads the key from (swagger `APIKeyHeader`).
const API_KEY_HEADER: &str = "api_key";
/// Where the methods live under the host.
const API_PATH: &str = "/api/V1";
/// Longest connect phase: past it nothing was sent and the call fails over.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and as whom to call.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `https://api.dingconnect.com/api/V1`, or the host alone.
    pub base_url: String,
    pub api_key: String,
    pub timeout: Duration,
}

/// A call that got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Nothing left this machine (connection refused, DNS, connect timeout).
    NotSent(String),
    /// Bytes may have left and no answer came (timeout, reset, unreadable).
    Unknown(String),
}

impl From<Fault> for CallError {
    fn from(f: Fault) -> CallError {
        match f {
            Fault::NotSent(reason) => CallError::NotSent(reason),
            Fault::Unknown(reason) => CallError::Unknown(reason),
        }
    }
}

/// `POST SendTransfer`'s body. Every field is sent, `ValidateOnly` even when
/// false (Ding refuses a body without it).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransferRequest {
    pub sku_code: String,
    pub send_value: Number,
    pub send_currency_iso: String,
    /// International format, no leading `+`.
    pub account_number: String,
    pub distributor_ref: String,
    pub settings: Vec<Setting>,
    pub validate_only: bool,
    pub bill_ref: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// `POST ListTransferRecords`'s body: the filters are single values.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRequest {
    pub transfer_ref: Option<String>,
    pub distributor_ref: Option<String>,
    pub account_number: Option<String>,
    pub skip: u32,
    pub take: u32,
}

/// One entry of `ErrorCodes`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorCode {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub context: Option<String>,
}

/// `SendTransfer`'s answer (the same shape under 200, 400, 500 and 503).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransferAnswer {
    pub result_code: i32,
    #[serde(default)]
    pub error_codes: Vec<ErrorCode>,
    #[serde(default)]
    pub transfer_record: Option<TransferRecord>,
}

/// A transfer as Ding records it. Lenient: a failed send may carry a record
/// with only some fields, and `ValidateOnly` one without a `TransferId`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransferRecord {
    #[serde(default)]
    pub transfer_id: Option<TransferId>,
    #[serde(default)]
    pub sku_code: Option<String>,
    #[serde(default)]
    pub price: Option<Price>,
    #[serde(default)]
    pub processing_state: Option<String>,
    #[serde(default)]
    pub receipt_params: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub account_number: Option<String>,
    /// ISO 8601 in UTC (the fraction and the `Z` are not documented).
    #[serde(default)]
    pub started_utc: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransferId {
    #[serde(default)]
    pub transfer_ref: Option<String>,
    #[serde(default)]
    pub distributor_ref: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Price {
    #[serde(default)]
    pub send_value: Option<Number>,
    #[serde(default)]
    pub send_currency_iso: Option<String>,
    /// Added to `SendValue` in what our balance is debited.
    #[serde(default)]
    pub distributor_fee: Option<Number>,
    #[serde(default)]
    pub receive_value: Option<Number>,
    #[serde(default)]
    pub receive_currency_iso: Option<String>,
}

/// `ListTransferRecords`' answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAnswer {
    pub result_code: i32,
    #[serde(default)]
    pub error_codes: Vec<ErrorCode>,
    #[serde(default)]
    pub items: Vec<ListedTransfer>,
    #[serde(default)]
    pub there_are_more_items: bool,
}

/// One listed transfer, with its own result: its error codes can include
/// errors from processing after the send.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedTransfer {
    #[serde(default)]
    pub transfer_record: Option<TransferRecord>,
    #[serde(default)]
    pub result_code: Option<i32>,
    #[serde(default)]
    pub error_codes: Vec<ErrorCode>,
}

/// `GetBalance`'s answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BalanceAnswer {
    pub result_code: i32,
    #[serde(default)]
    pub error_codes: Vec<ErrorCode>,
    #[serde(default)]
    pub balance: Option<Number>,
    #[serde(default)]
    pub currency_iso: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    /// Up to and including `/api/V1`.
    api_url: String,
    api_key: String,
}

impl Client {
    pub fn new(settings: Settings) -> Result<Client, String> {
        let base = settings.base_url.trim_end_matches('/');
        if base.is_empty() {
            return Err("no base URL".into());
        }
        let api_url = if base.to_ascii_lowercase().ends_with(&API_PATH.to_ascii_lowercase()) {
            base.to_owned()
        } else {
            format!("{base}{API_PATH}")
        };
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
            // A redirect would send the transfer again, somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| transport::chain(&e))?;
        Ok(Client { http, api_url, api_key: settings.api_key })
    }

    /// `POST SendTransfer` (a real one, or `ValidateOnly`).
    pub async fn send_transfer(&self, request: &TransferRequest) -> Result<Reply, CallError> {
        let body = serde_json::to_value(request).expect("the transfer request serializes");
        self.call(Method::POST, "SendTransfer", Some(&body)).await
    }

    /// `POST ListTransferRecords`.
    pub async fn list_transfer_records(&self, request: &ListRequest) -> Result<Reply, CallError> {
        let body = serde_json::to_value(request).expect("the list request serializes");
        self.call(Method::POST, "ListTransferRecords", Some(&body)).await
    }

    /// `GET GetBalance`.
    pub async fn get_balance(&self) -> Result<Reply, CallError> {
        self.call(Method::GET, "GetBalance", None).await
    }

    async fn call(&self, method: Method, name: &str, body: Option<&Value>) -> Result<Reply, CallError> {
        let url = format!("{}/{name}", self.api_url);
        let mut request =
            self.http.request(method, &url).header(ACCEPT, "application/json").header(API_KEY_HEADER, &self.api_key);
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").json(body);
        }
        transport::send(request).await.map_err(CallError::from)
    }
}
