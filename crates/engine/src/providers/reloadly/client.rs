//! Reloadly's Airtime API on the wire: the OAuth2 client-credentials token
//! (cached until shortly before it expires, renewed once when a call is
//! refused with a token error), the request and answer bodies, and the calls
//! the connector makes: `POST /topups-async`, `GET /topups/{id}/status`, the
//! transaction report filtered by `customIdentifier`, operator auto-detection
//! and the balance. Answers
//! come back raw (HTTP status and body): what they mean is `transform`'s job.
//! API reference: https://docs.reloadly.com/airtime (and its OpenAPI spec in
//! github.com/Reloadly/reloadly-api-documentation).

pub use crate::providers::transport::Reply;
use crate::providers::transport::{self, Fault};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use tokio::sync::Mutex;

/// The media type of every Airtime call (version 1).
const AIRTIME_V1: &str = "application/com.reloadly.topups-v1+json";
/// Longest connect phase: past it nothing was sent and the call fails over.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A token is renewed this long before Reloadly says it expires (at most a
/// tenth of its life), so that a call does not race its expiry.
const RENEW_MARGIN: Duration = Duration::from_secs(60);
/// The life assumed for a token whose answer does not give `expires_in`; a
/// 401 renews it earlier anyway.
const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(300);
/// Rows asked of the transaction report: a reference has one transaction,
/// and more than one (a race Reloadly does not prevent) is flagged.
const REPORT_PAGE_SIZE: u32 = 20;

/// The codes of a 401 that mean "this token will not do" (the call was
/// refused before anything was executed, so it may be made again).
const TOKEN_CODES: &[&str] = &["INVALID_TOKEN", "TOKEN_EXPIRED", "MISSING_TOKEN"];

/// Where and as whom to call.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The Airtime API, e.g. `https://topups.reloadly.com`; also the token's
    /// audience.
    pub base_url: String,
    /// The token service's host (`https://auth.reloadly.com`) or its full
    /// `/oauth/token` URL.
    pub auth_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub timeout: Duration,
}

/// A call that got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No token could be had: the call itself never left. `code` is the token
    /// service's `errorCode` or HTTP status when it answered.
    Token { reason: String, code: String },
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

/// The top-up request (`POST /topups-async`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopupRequest {
    pub operator_id: Number,
    pub amount: Number,
    pub use_local_amount: bool,
    pub custom_identifier: String,
    pub recipient_phone: Phone,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phone {
    pub country_code: String,
    pub number: String,
}

/// Reloadly's error body (and the token service's). `errorCode` may be null.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /topups-async`'s answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub transaction_id: Value,
}

/// A transaction as the status call and the report show it. Every field is
/// optional: older answers omit `status`, report rows omit `balanceInfo`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    #[serde(default)]
    pub transaction_id: Option<Value>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub operator_transaction_id: Option<Value>,
    #[serde(default)]
    pub custom_identifier: Option<String>,
    #[serde(default)]
    pub recipient_phone: Option<Value>,
    #[serde(default)]
    pub operator_id: Option<Value>,
    #[serde(default)]
    pub delivered_amount: Option<Number>,
    #[serde(default)]
    pub delivered_amount_currency_code: Option<String>,
    #[serde(default)]
    pub pin_detail: Option<PinDetail>,
    /// Null in report rows.
    #[serde(default)]
    pub balance_info: Option<BalanceInfo>,
}

/// Our Reloadly wallet around the top-up, in its own currency.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceInfo {
    #[serde(default)]
    pub cost: Option<Number>,
    #[serde(default)]
    pub currency_code: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PinDetail {
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub info1: Option<Value>,
}

/// The report's page (a Spring page: the rows are `content`).
#[derive(Clone, Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub content: Vec<Transaction>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Clone)]
struct Token {
    access: String,
    renew_at: Instant,
}

/// A JSON string or number as text (Reloadly writes ids either way).
pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub struct Client {
    http: reqwest::Client,
    settings: Settings,
    token_url: String,
    token: Mutex<Option<Token>>,
}

impl Client {
    pub fn new(mut settings: Settings) -> Result<Client, String> {
        settings.base_url = settings.base_url.trim_end_matches('/').to_owned();
        let auth = settings.auth_url.trim_end_matches('/');
        let token_url = if auth.ends_with("/oauth/token") { auth.to_owned() } else { format!("{auth}/oauth/token") };
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
            // A redirect would send the top-up again, somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| transport::chain(&e))?;
        Ok(Client { http, settings, token_url, token: Mutex::new(None) })
    }

    /// `POST /topups-async`.
    pub async fn topup_async(&self, request: &TopupRequest) -> Result<Reply, CallError> {
        let body = serde_json::to_value(request).expect("the top-up request serializes");
        self.call(Method::POST, "/topups-async", Some(&body)).await
    }

    /// `GET /topups/{transactionId}/status`.
    pub async fn status(&self, transaction_id: &str) -> Result<Reply, CallError> {
        let path = format!("/topups/{}/status", encode(transaction_id));
        self.call(Method::GET, &path, None).await
    }

    /// The transaction report filtered by our reference: the documented way
    /// to find a top-up whose answer was lost.
    pub async fn find_by_identifier(&self, custom_identifier: &str) -> Result<Reply, CallError> {
        let path = format!(
            "/topups/reports/transactions?page=1&size={REPORT_PAGE_SIZE}&customIdentifier={}",
            encode(custom_identifier)
        );
        self.call(Method::GET, &path, None).await
    }

    /// `GET /operators/auto-detect/phone/{phone}/countries/{iso}`: the
    /// operator Reloadly finds for a number (a read: it buys nothing).
    pub async fn auto_detect(&self, phone: &str, country_iso: &str) -> Result<Reply, CallError> {
        let path = format!("/operators/auto-detect/phone/{}/countries/{}", encode(phone), encode(country_iso));
        self.call(Method::GET, &path, None).await
    }

    /// `GET /accounts/balance`.
    pub async fn balance(&self) -> Result<Reply, CallError> {
        self.call(Method::GET, "/accounts/balance", None).await
    }

    /// One call with a bearer token; a 401 with a token error drops the token
    /// and tries once more with a new one (the refused call did nothing).
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, CallError> {
        let url = format!("{}{path}", self.settings.base_url);
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, AIRTIME_V1)
                .header(AUTHORIZATION, format!("Bearer {token}"));
            if let Some(body) = body {
                request = request.header(CONTENT_TYPE, "application/json").json(body);
            }
            let reply = transport::send(request).await.map_err(CallError::from)?;
            if renewed || !token_refused(&reply) {
                return Ok(reply);
            }
            tracing::info!(path, "Reloadly refused our token: renewing it once");
            self.drop_token(&token).await;
            renewed = true;
        }
    }

    /// The cached token, or a new one.
    async fn token(&self) -> Result<String, CallError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.access.clone());
        }
        let fresh = self.fetch_token().await?;
        let access = fresh.access.clone();
        *slot = Some(fresh);
        Ok(access)
    }

    async fn drop_token(&self, stale: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.access == stale) {
            *slot = None;
        }
    }

    async fn fetch_token(&self) -> Result<Token, CallError> {
        let s = &self.settings;
        let body = serde_json::json!({
            "client_id": s.client_id,
            "client_secret": s.client_secret,
            "grant_type": "client_credentials",
            "audience": s.base_url,
        });
        let request = self.http.post(&self.token_url).header(ACCEPT, "application/json").json(&body);
        let reply = transport::send(request).await.map_err(CallError::from).map_err(|e| match e {
            CallError::NotSent(reason) | CallError::Unknown(reason) => {
                CallError::Token { reason: format!("token request: {reason}"), code: String::new() }
            }
            token @ CallError::Token { .. } => token,
        })?;
        if !reply.is_success() {
            let refusal: ErrorBody = serde_json::from_str(&reply.body).unwrap_or_default();
            let code = refusal.error_code.unwrap_or_else(|| reply.http_status.to_string());
            let reason =
                format!("token refused: HTTP {} {code}: {}", reply.http_status, refusal.message.unwrap_or_default());
            return Err(CallError::Token { reason, code });
        }
        let answer: TokenAnswer = serde_json::from_str(&reply.body)
            .map_err(|e| CallError::Token { reason: format!("token answer unreadable: {e}"), code: String::new() })?;
        let life = answer.expires_in.map_or(DEFAULT_TOKEN_LIFE, Duration::from_secs);
        let margin = RENEW_MARGIN.min(life / 10);
        Ok(Token { access: answer.access_token, renew_at: Instant::now() + life - margin })
    }
}

/// Whether a reply is Reloadly refusing the bearer token itself.
fn token_refused(reply: &Reply) -> bool {
    if reply.http_status != 401 {
        return false;
    }
    let refusal: ErrorBody = serde_json::from_str(&reply.body).unwrap_or_default();
    refusal.error_code.is_some_and(|code| TOKEN_CODES.contains(&code.as_str()))
}

/// A path segment or query value, percent-encoded.
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
