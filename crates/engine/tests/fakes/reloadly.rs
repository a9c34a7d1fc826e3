//! A wire-faithful fake of Reloadly's Airtime API (and its token service) for
//! the connector tests: an axum server on 127.0.0.1:0.
//!
//! Written from Reloadly's published references, nothing called live:
//! - the OpenAPI spec, github.com/Reloadly/reloadly-api-documentation
//!   (`openapi/openapi.yaml`, `openapi/paths/airtime-*.yaml`, `access-token.yaml`):
//!   hosts, the token request and answer, error bodies, top-up request and answers,
//!   the transaction report;
//! - the Java SDK, github.com/Reloadly/reloadly-sdk-java (`ServiceURLs`, `Service`,
//!   `Version`, `APIError`, `Page`, the airtime DTOs and test fixtures): audiences,
//!   the media type, the status wrapper `{code, message, status, transaction}`;
//! - the error-code page https://raphaelugwu.gitbook.io/airtime/airtime-errors/error-codes;
//! - https://www.reloadly.com/blog/how-does-the-get-top-up-status-endpoint-work/ and
//!   https://reloadly.com/blog/how-to-know-asynchronous-top-up-finished (statuses,
//!   finality: FAILED debits nothing, REFUNDED is refunded);
//! - third-party clients for what Reloadly does not document: the
//!   `CUSTOM_IDENTIFIER_ALREADY_USED` refusal (HTTP 400), the non-atomic check of a
//!   reused `customIdentifier`, the HTTP status of most error codes, and
//!   `transaction: null` while PROCESSING. Each such behaviour is a switch.
//!
//! Triggers by recipient number (national form; `+60…`/`60…` work too):
//! `0100000040` INVALID_RECIPIENT_PHONE (400), `0100000047`
//! OPERATOR_UNAVAILABLE_OR_CURRENTLY_INACTIVE (503), `0100000048` taken then FAILED,
//! `0100000053` taken then REFUNDED, `0100000055`
//! TRANSACTION_CANNOT_BE_PROCESSED_AT_THE_MOMENT (500, nothing recorded),
//! `0100000099` PHONE_BANNED_BY_OPERATOR (an undocumented code, 400); any other
//! number is taken and ends SUCCESSFUL. Operator auto-detection
//! (`GET /operators/auto-detect/phone/{phone}/countries/{iso}`, an Operator
//! object) finds the fake's one operator for every number but `0100000044`
//! (COULD_NOT_AUTO_DETECT_OPERATOR, 404); an ISO code that is not two letters is
//! a 404 with Reloadly's message and `errorCode: null`, another country
//! COUNTRY_NOT_SUPPORTED (409). An amount outside the operator's range is
//! INVALID_AMOUNT_FOR_OPERATOR; more than the balance is INSUFFICIENT_BALANCE.

#![allow(dead_code)]
// A refusal is the handler's whole answer: returned as is, not boxed.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "qwcLzefigu34894393jfdwj23";
pub const CLIENT_SECRET: &str = "7kscVxQZ32-fjgvee2842393bfdd383";
/// The audiences Reloadly documents (the spec's and the Java SDK's).
pub const AUDIENCES: [&str; 4] = [
    "https://topups.reloadly.com",
    "https://topups-sandbox.reloadly.com",
    "https://topups-hs256.reloadly.com",
    "https://topups-hs256-sandbox.reloadly.com",
];
pub const MEDIA_TYPE: &str = "application/com.reloadly.topups-v1+json";
/// The operator the fake knows: a RANGE operator in ringgit.
pub const OPERATOR_ID: u64 = 1234;
const OPERATOR_NAME: &str = "Celcom Malaysia";
const OPERATOR_MIN: f64 = 1.0;
const OPERATOR_MAX: f64 = 500.0;

/// A fault for the next top-up request, after the top-up is recorded (the
/// caller cannot know whether it was).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// A proxy's HTML page with HTTP 502.
    Html502,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Answer only after this long.
    Slow(Duration),
}

/// Behaviours the references leave unverified, and test levers.
#[derive(Clone, Debug)]
pub struct Switches {
    /// `expires_in` of issued tokens, in seconds (docs show 5184000 and 86400).
    pub token_ttl_s: u64,
    /// A `customIdentifier` used by an accepted top-up is refused afterwards.
    pub dedupe_after_accept: bool,
    /// The reuse check is not atomic: a second request arriving within this
    /// window of the first is executed too (`None`: atomic).
    pub race_window: Option<Duration>,
    /// Status calls that answer PROCESSING before the final state.
    pub processing_polls: u32,
    /// While PROCESSING, `transaction` is null (otherwise the object).
    pub processing_transaction_null: bool,
    /// The status answer is the wrapper (otherwise the bare transaction).
    pub status_wrapper: bool,
    /// HTTP status per error code (defaults per the third-party observations).
    pub http_status: HashMap<&'static str, u16>,
    /// The fake's own URL is accepted as an audience (as Reloadly's are).
    pub accept_own_audience: bool,
    /// Report deliveries of this amount instead of the one asked.
    pub delivered_amount_override: Option<f64>,
    /// Our wallet there, in its currency.
    pub balance: f64,
    pub currency: &'static str,
    pub fault: Option<Fault>,
}

impl Default for Switches {
    fn default() -> Switches {
        let http_status = HashMap::from([
            ("INVALID_RECIPIENT_PHONE", 400),
            ("INVALID_AMOUNT_FOR_OPERATOR", 400),
            ("INSUFFICIENT_BALANCE", 400),
            ("OPERATOR_UNAVAILABLE_OR_CURRENTLY_INACTIVE", 503),
            ("TRANSACTION_CANNOT_BE_PROCESSED_AT_THE_MOMENT", 500),
            ("CUSTOM_IDENTIFIER_ALREADY_USED", 400),
            ("INVALID_INPUT_PROVIDED", 400),
            ("PHONE_BANNED_BY_OPERATOR", 400),
        ]);
        Switches {
            token_ttl_s: 5_184_000,
            dedupe_after_accept: true,
            race_window: Some(Duration::from_millis(200)),
            processing_polls: 0,
            processing_transaction_null: true,
            status_wrapper: true,
            http_status,
            accept_own_audience: true,
            delivered_amount_override: None,
            balance: 10_000.0,
            currency: "MYR",
            fault: None,
        }
    }
}

/// A top-up the fake took.
#[derive(Clone, Debug)]
pub struct Transaction {
    pub id: u64,
    pub custom_identifier: Option<String>,
    pub phone: String,
    pub operator_id: u64,
    pub amount: f64,
    /// The state it ends in.
    pub last: &'static str,
    pub polls_left: u32,
}

#[derive(Default)]
struct Fake {
    switches: Switches,
    own_url: String,
    /// token → when it expires
    tokens: HashMap<String, Instant>,
    used: HashSet<String>,
    transactions: Vec<Transaction>,
    token_requests: u32,
    topup_requests: u32,
    auto_detect_requests: u32,
    /// Bodies of the top-up requests, as sent.
    topup_bodies: Vec<Value>,
    accept_headers: Vec<String>,
}

type Shared = Arc<Mutex<Fake>>;

pub struct FakeReloadly {
    pub url: String,
    state: Shared,
}

impl FakeReloadly {
    pub async fn start(switches: Switches) -> FakeReloadly {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Shared = Arc::new(Mutex::new(Fake { switches, own_url: url.clone(), ..Fake::default() }));
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/topups-async", post(topup_async))
            .route("/topups/{id}/status", get(status))
            .route("/topups/reports/transactions", get(report))
            .route("/accounts/balance", get(balance))
            .route("/operators/auto-detect/phone/{phone}/countries/{iso}", get(auto_detect))
            .fallback(not_found)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeReloadly { url, state }
    }

    pub fn set(&self, change: impl FnOnce(&mut Switches)) {
        change(&mut self.state.lock().unwrap().switches);
    }

    /// Every token issued so far expires now.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        self.state.lock().unwrap().tokens.values_mut().for_each(|t| *t = now);
    }

    pub fn token_requests(&self) -> u32 {
        self.state.lock().unwrap().token_requests
    }

    pub fn auto_detect_requests(&self) -> u32 {
        self.state.lock().unwrap().auto_detect_requests
    }

    pub fn topup_requests(&self) -> u32 {
        self.state.lock().unwrap().topup_requests
    }

    pub fn topup_bodies(&self) -> Vec<Value> {
        self.state.lock().unwrap().topup_bodies.clone()
    }

    pub fn accept_headers(&self) -> Vec<String> {
        self.state.lock().unwrap().accept_headers.clone()
    }

    /// The top-ups taken under a reference.
    pub fn taken(&self, custom_identifier: &str) -> Vec<Transaction> {
        let fake = self.state.lock().unwrap();
        fake.transactions
            .iter()
            .filter(|t| t.custom_identifier.as_deref() == Some(custom_identifier))
            .cloned()
            .collect()
    }

    /// A top-up taken earlier under this reference (a send whose answer was lost).
    pub fn seed(&self, custom_identifier: &str, phone: &str, amount: f64) {
        let mut fake = self.state.lock().unwrap();
        let id = 4_602_843 + fake.transactions.len() as u64;
        fake.used.insert(custom_identifier.to_owned());
        fake.transactions.push(Transaction {
            id,
            custom_identifier: Some(custom_identifier.to_owned()),
            phone: phone.to_owned(),
            operator_id: OPERATOR_ID,
            amount,
            last: "SUCCESSFUL",
            polls_left: 0,
        });
    }
}

fn error(fake: &Fake, code: Option<&'static str>, message: &str, path: &str) -> Response {
    let status = code.and_then(|c| fake.switches.http_status.get(c).copied()).unwrap_or(400);
    let body = json!({"timeStamp": "2026-12-02 10:57:50", "message": message, "path": path,
        "errorCode": code, "infoLink": null, "details": []});
    (StatusCode::from_u16(status).unwrap(), [("content-type", MEDIA_TYPE)], body.to_string()).into_response()
}

fn unauthorized(code: &'static str, message: &str, path: &str) -> Response {
    let body = json!({"timeStamp": "2026-12-02 10:57:50", "message": message, "path": path,
        "errorCode": code, "infoLink": null, "details": []});
    (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], body.to_string()).into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, [("content-type", MEDIA_TYPE)], body.to_string()).into_response()
}

async fn token(State(state): State<Shared>, body: String) -> Response {
    let mut fake = state.lock().unwrap();
    fake.token_requests += 1;
    let asked: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let field = |name: &str| asked.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    if field("client_id") != CLIENT_ID
        || field("client_secret") != CLIENT_SECRET
        || field("grant_type") != "client_credentials"
    {
        return unauthorized("INVALID_CREDENTIALS", "Access Denied", "/oauth/token");
    }
    let audience = field("audience");
    let own = fake.switches.accept_own_audience && audience == fake.own_url;
    if !own && !AUDIENCES.contains(&audience.as_str()) {
        return unauthorized("INVALID_AUDIENCE", "The provided audience is not valid", "/oauth/token");
    }
    let access = format!("eyJfake.{}.{}", fake.token_requests, rand_part(fake.token_requests));
    let ttl = fake.switches.token_ttl_s;
    fake.tokens.insert(access.clone(), Instant::now() + Duration::from_secs(ttl));
    let body = json!({"access_token": access, "scope": "developer", "expires_in": ttl, "token_type": "Bearer"});
    (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response()
}

fn rand_part(n: u32) -> String {
    format!("{:x}", u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The bearer check every Airtime call makes.
fn authorize(fake: &mut Fake, headers: &HeaderMap, path: &str) -> Result<(), Response> {
    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    fake.accept_headers.push(accept);
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(bearer) = bearer else {
        return Err(unauthorized("INVALID_TOKEN", "Full authentication is required to access this resource", path));
    };
    match fake.tokens.get(bearer) {
        None => Err(unauthorized(
            "INVALID_TOKEN",
            "Invalid token, make sure token is valid for the given environment",
            path,
        )),
        Some(expires) if Instant::now() >= *expires => Err(unauthorized("TOKEN_EXPIRED", "Token expired", path)),
        Some(_) => Ok(()),
    }
}

/// A number or a numeric string (the spec quotes them, the SDK does not).
fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn national(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let rest = digits.strip_prefix("60").unwrap_or(&digits);
    format!("0{}", rest.strip_prefix('0').unwrap_or(rest))
}

/// What the request asks, or the refusal of a malformed one.
struct Asked {
    operator_id: u64,
    amount: f64,
    custom_identifier: Option<String>,
    phone: String,
}

fn parse_topup(fake: &Fake, body: &Value) -> Result<Asked, Response> {
    let invalid = |why: &str| error(fake, Some("INVALID_INPUT_PROVIDED"), why, "/topups-async");
    let operator_id = number(body.get("operatorId")).ok_or_else(|| invalid("operatorId is required"))?;
    let amount = number(body.get("amount")).ok_or_else(|| invalid("amount is required"))?;
    let phone = body.get("recipientPhone").ok_or_else(|| invalid("recipientPhone is required"))?;
    let country = phone.get("countryCode").and_then(Value::as_str).unwrap_or("");
    let phone = phone.get("number").and_then(Value::as_str).unwrap_or("");
    if country != "MY" || phone.is_empty() {
        return Err(error(
            fake,
            Some("INVALID_RECIPIENT_PHONE"),
            "Recipient phone number is not valid",
            "/topups-async",
        ));
    }
    let custom_identifier = body.get("customIdentifier").and_then(Value::as_str).map(str::to_owned);
    if custom_identifier.as_ref().is_some_and(|c| c.len() > 150) {
        return Err(invalid("customIdentifier must be at most 150 characters"));
    }
    Ok(Asked { operator_id: operator_id as u64, amount, custom_identifier, phone: national(phone) })
}

/// The refusals made before anything is attempted, and the state it ends in.
fn judge(fake: &Fake, asked: &Asked) -> Result<&'static str, Response> {
    let refuse = |code: &'static str, message: &str| Err(error(fake, Some(code), message, "/topups-async"));
    if asked.operator_id != OPERATOR_ID {
        return Err(error(fake, None, "Operator not found for given id", "/topups-async"));
    }
    match asked.phone.as_str() {
        "0100000040" => return refuse("INVALID_RECIPIENT_PHONE", "Recipient phone number is not valid"),
        "0100000047" => {
            return refuse(
                "OPERATOR_UNAVAILABLE_OR_CURRENTLY_INACTIVE",
                "Operator is unavailable or currently inactive",
            )
        }
        "0100000055" => {
            return refuse(
                "TRANSACTION_CANNOT_BE_PROCESSED_AT_THE_MOMENT",
                "Transaction cannot be processed at the moment",
            )
        }
        "0100000099" => return refuse("PHONE_BANNED_BY_OPERATOR", "Phone banned by operator"),
        _ => {}
    }
    if !(OPERATOR_MIN..=OPERATOR_MAX).contains(&asked.amount) {
        return refuse("INVALID_AMOUNT_FOR_OPERATOR", "The amount is not valid for the operator");
    }
    if asked.amount > fake.switches.balance {
        return refuse("INSUFFICIENT_BALANCE", "Insufficient balance");
    }
    Ok(match asked.phone.as_str() {
        "0100000048" => "FAILED",
        "0100000053" => "REFUNDED",
        _ => "SUCCESSFUL",
    })
}

async fn topup_async(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let (asked, last, window) = {
        let mut fake = state.lock().unwrap();
        fake.topup_requests += 1;
        if let Err(refused) = authorize(&mut fake, &headers, "/topups-async") {
            return refused;
        }
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        fake.topup_bodies.push(value.clone());
        let asked = match parse_topup(&fake, &value) {
            Ok(asked) => asked,
            Err(refused) => return refused,
        };
        let reused = asked.custom_identifier.as_ref().is_some_and(|c| fake.used.contains(c));
        if reused && fake.switches.dedupe_after_accept {
            return error(
                &fake,
                Some("CUSTOM_IDENTIFIER_ALREADY_USED"),
                "Custom identifier already used",
                "/topups-async",
            );
        }
        let last = match judge(&fake, &asked) {
            Ok(last) => last,
            Err(refused) => return refused,
        };
        if fake.switches.race_window.is_none() {
            mark_used(&mut fake, &asked);
        }
        (asked, last, fake.switches.race_window)
    };
    // The non-atomic check: the reference is marked used only once the
    // top-up is under way, so a request inside the window gets through too.
    if let Some(window) = window {
        tokio::time::sleep(window).await;
    }
    let (id, fault) = {
        let mut fake = state.lock().unwrap();
        mark_used(&mut fake, &asked);
        (take(&mut fake, &asked, last), fake.switches.fault.take())
    };
    match fault {
        None => ok(json!({"transactionId": id})),
        Some(Fault::Html502) => (StatusCode::BAD_GATEWAY, "<html><body>502 Bad Gateway</body></html>").into_response(),
        Some(Fault::Garbage) => (StatusCode::OK, "{\"transactionId\": 46028").into_response(),
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            ok(json!({"transactionId": id}))
        }
    }
}

fn mark_used(fake: &mut Fake, asked: &Asked) {
    if let Some(c) = &asked.custom_identifier {
        fake.used.insert(c.clone());
    }
}

fn take(fake: &mut Fake, asked: &Asked, last: &'static str) -> u64 {
    let id = 4_602_843 + fake.transactions.len() as u64;
    if last != "FAILED" {
        // FAILED debits nothing; REFUNDED is debited and refunded.
        fake.switches.balance -= asked.amount;
        if last == "REFUNDED" {
            fake.switches.balance += asked.amount;
        }
    }
    let polls_left = fake.switches.processing_polls;
    fake.transactions.push(Transaction {
        id,
        custom_identifier: asked.custom_identifier.clone(),
        phone: asked.phone.clone(),
        operator_id: asked.operator_id,
        amount: asked.amount,
        last,
        polls_left,
    });
    id
}

/// A transaction object as §"top-up responses" shows it.
fn transaction_json(fake: &Fake, t: &Transaction, status: &str, with_balance: bool) -> Value {
    let delivered = fake.switches.delivered_amount_override.unwrap_or(t.amount);
    let balance_info = with_balance.then(|| {
        json!({"oldBalance": fake.switches.balance + t.amount, "newBalance": fake.switches.balance, "cost": t.amount,
            "currencyCode": fake.switches.currency, "currencyName": "Malaysian Ringgit", "updatedAt": "2026-12-02 13:13:39"})
    });
    json!({
        "transactionId": t.id, "status": status, "operatorTransactionId": format!("{}:OrderConfirmed", t.id + 7_297_000_000),
        "customIdentifier": t.custom_identifier, "recipientPhone": format!("6{}", t.phone), "recipientEmail": null,
        "senderPhone": null, "countryCode": "MY", "operatorId": t.operator_id, "operatorName": OPERATOR_NAME,
        "discount": 0.0, "discountCurrencyCode": fake.switches.currency, "requestedAmount": t.amount,
        "requestedAmountCurrencyCode": fake.switches.currency, "deliveredAmount": delivered,
        "deliveredAmountCurrencyCode": "MYR", "transactionDate": "2026-12-02 08:13:39", "pinDetail": null,
        "balanceInfo": balance_info,
    })
}

async fn status(State(state): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut fake = state.lock().unwrap();
    let path = format!("/topups/{id}/status");
    if let Err(refused) = authorize(&mut fake, &headers, &path) {
        return refused;
    }
    let Some(i) = fake.transactions.iter().position(|t| t.id.to_string() == id) else {
        return error(&fake, None, "Transaction not found", &path);
    };
    let processing = fake.transactions[i].polls_left > 0;
    if processing {
        fake.transactions[i].polls_left -= 1;
    }
    let t = fake.transactions[i].clone();
    let status = if processing { "PROCESSING" } else { t.last };
    let tx = transaction_json(&fake, &t, status, true);
    if !fake.switches.status_wrapper {
        return ok(tx);
    }
    let tx = if processing && fake.switches.processing_transaction_null { Value::Null } else { tx };
    ok(json!({"code": null, "message": null, "status": status, "transaction": tx}))
}

async fn report(State(state): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut fake = state.lock().unwrap();
    if let Err(refused) = authorize(&mut fake, &headers, "/topups/reports/transactions") {
        return refused;
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let size: usize = q.get("size").and_then(|s| s.parse().ok()).unwrap_or(200).max(1);
    let rows: Vec<Value> = fake
        .transactions
        .iter()
        .filter(|t| q.get("customIdentifier").is_none_or(|c| t.custom_identifier.as_ref() == Some(c)))
        .map(|t| {
            let status = if t.polls_left > 0 { "PROCESSING" } else { t.last };
            transaction_json(&fake, t, status, false)
        })
        .collect();
    let total = rows.len();
    let content: Vec<Value> = rows.into_iter().skip((page - 1) * size).take(size).collect();
    let pages = total.div_ceil(size);
    ok(json!({
        "content": content, "pageable": {"pageNumber": page - 1, "pageSize": size}, "last": page >= pages,
        "totalElements": total, "totalPages": pages, "size": size, "number": page - 1,
        "numberOfElements": content.len(), "sort": {"sorted": false}, "first": page == 1, "empty": content.is_empty(),
    }))
}

async fn balance(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut fake = state.lock().unwrap();
    if let Err(refused) = authorize(&mut fake, &headers, "/accounts/balance") {
        return refused;
    }
    ok(json!({"balance": fake.switches.balance, "currencyCode": fake.switches.currency,
        "currencyName": "Malaysian Ringgit", "updatedAt": "2026-12-02 08:45:51"}))
}

/// Spring's default body for an unknown path.
/// Operator auto-detection: the Operator object (the fields the connector
/// reads, and enough of the rest to be recognisable).
async fn auto_detect(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((phone, iso)): Path<(String, String)>,
) -> Response {
    let mut fake = state.lock().unwrap();
    let path = format!("/operators/auto-detect/phone/{phone}/countries/{iso}");
    if let Err(refused) = authorize(&mut fake, &headers, &path) {
        return refused;
    }
    fake.auto_detect_requests += 1;
    if iso.len() != 2 || !iso.bytes().all(|b| b.is_ascii_alphabetic()) {
        let message =
            "Country code must be 2 characters ISO-Alpha-2 country code. See https://www.iban.com/country-codes";
        let body = json!({"timeStamp": "2026-12-02 10:57:50", "message": message, "path": path,
            "errorCode": null, "infoLink": null, "details": []});
        return (StatusCode::NOT_FOUND, [("content-type", MEDIA_TYPE)], body.to_string()).into_response();
    }
    if iso != "MY" {
        let body = json!({"timeStamp": "2026-12-02 10:57:50", "message": "Country not supported", "path": path,
            "errorCode": "COUNTRY_NOT_SUPPORTED", "infoLink": null, "details": []});
        return (StatusCode::CONFLICT, [("content-type", MEDIA_TYPE)], body.to_string()).into_response();
    }
    if national(&phone) == "0100000044" {
        let body = json!({"timeStamp": "2026-12-02 10:57:50", "message": "Could not auto detect operator", "path": path,
            "errorCode": "COULD_NOT_AUTO_DETECT_OPERATOR", "infoLink": null, "details": []});
        return (StatusCode::NOT_FOUND, [("content-type", MEDIA_TYPE)], body.to_string()).into_response();
    }
    ok(json!({"id": OPERATOR_ID, "operatorId": OPERATOR_ID, "name": OPERATOR_NAME, "bundle": false, "data": false,
        "pin": false, "supportsLocalAmounts": true, "denominationType": "RANGE", "senderCurrencyCode": "MYR",
        "destinationCurrencyCode": "MYR", "minAmount": OPERATOR_MIN, "maxAmount": OPERATOR_MAX,
        "localMinAmount": OPERATOR_MIN, "localMaxAmount": OPERATOR_MAX,
        "country": {"isoName": "MY", "name": "Malaysia"}, "fx": {"rate": 1.0, "currencyCode": "MYR"},
        "logoUrls": [], "fixedAmounts": [], "fixedAmountsDescriptions": {}, "localFixedAmounts": [],
        "localFixedAmountsDescriptions": {}, "suggestedAmounts": [], "suggestedAmountsMap": {}, "promotions": []}))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let body = json!({"timeStamp": "2026-12-02 10:57:50", "status": 404, "error": "Not Found",
        "message": "No message available", "path": uri.path()});
    (StatusCode::NOT_FOUND, [("content-type", "application/json")], body.to_string()).into_response()
}
