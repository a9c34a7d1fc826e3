//! A fake DingConnect API V1 (`SendTransfer`, `ListTransferRecords`,
//! `GetBalance`) for the connector's tests, written from Ding's published
//! reference: the swagger "Ding API V1" (https://www.dingconnect.com/Api/Description,
//! also copied in github.com/voxgig-sdk/dingconnect-sdk), the FAQ with the
//! result codes and the UAT test-number table (https://www.dingconnect.com/Api/Faq),
//! and the live notes of github.com/vlab-research/go-dingconnect. What those
//! sources leave unverified is a switch (`Switches`): DistributorRef
//! de-duplication (off: Ding has been seen paying a replayed reference twice),
//! the HTTP status an error body comes under (InsufficientBalance 500,
//! AuthenticationFailed 401, the rest 200, or at random), Batch transfers that
//! settle later, a provider timing out, proxy pages instead of Ding's bodies.
//! A test number is the SKU's `UatNumber` with its last digit replaced; the
//! digit picks the answer exactly as the FAQ's table does.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Number, Value};

pub const API_KEY: &str = "ding-uat-key-0001";
/// An Instant top-up product (RM 5 to RM 500).
pub const SKU: &str = "MY_DG_TopUp";
/// A Batch product: answered `Submitted`, settled later.
pub const BATCH_SKU: &str = "MY_CL_Batch";
/// The products' `UatNumber`.
pub const UAT_NUMBER: &str = "60100000000";
/// Our float at the fake at start, in sen.
pub const START_BALANCE_SEN: i64 = 100_000;
/// `DistributorFee` on every transfer, in sen.
pub const DISTRIBUTOR_FEE_SEN: i64 = 10;
const MIN_SEN: i64 = 500;
const MAX_SEN: i64 = 50_000;
/// The providers' `ValidationRegex` (`^60[0-9]{9,10}$`), as a check.
fn number_is_valid(n: &str) -> bool {
    n.starts_with("60") && (11..=12).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())
}

/// What the reference leaves unverified, and faults.
#[derive(Clone, Debug)]
pub struct Switches {
    /// Refuse a second SendTransfer under a known DistributorRef with
    /// `DuplicateTransactionPrevented` (ResultCode 5). Off: it is paid again.
    pub dedup: bool,
    /// Answer the UAT test numbers by the FAQ's table.
    pub uat_table: bool,
    /// Serve every error body under 200, 400, 500 or 503 at random (seeded).
    pub random_status: Option<u64>,
    /// A Batch transfer settles this long after it was sent...
    pub batch_settle_ms: u64,
    /// ... into this state (`Complete` or `Failed`).
    pub batch_final: &'static str,
    /// Record the transfer, then wait this long before answering.
    pub answer_delay_ms: u64,
    /// Record the transfer, then answer a proxy's HTML page with a 502.
    pub garbage: bool,
    /// The provider times out after this long: Ding answers
    /// TransientProviderError/ProviderTimedOut (90 s live) and debits nothing.
    pub provider_timeout_ms: Option<u64>,
    /// Deliver RM 1 more than was asked (an answer to check, not accept).
    pub wrong_amount: bool,
    /// Pass the operator's reference on in `ReceiptParams.providerRef`.
    pub provider_ref: bool,
    /// `ListTransferRecords` answers a proxy's page with a 503.
    pub list_garbage: bool,
    /// The account's currency.
    pub currency: &'static str,
    /// `StartedUtc` as `2026-12-02T09:02:11` (its exact text is not
    /// documented); otherwise with a fraction and `Z`.
    pub started_utc_plain: bool,
}

impl Default for Switches {
    fn default() -> Switches {
        Switches {
            dedup: false,
            uat_table: true,
            random_status: None,
            batch_settle_ms: 200,
            batch_final: "Complete",
            answer_delay_ms: 0,
            garbage: false,
            provider_timeout_ms: None,
            wrong_amount: false,
            provider_ref: true,
            list_garbage: false,
            currency: "MYR",
            started_utc_plain: false,
        }
    }
}

#[derive(Clone, Debug)]
struct Transfer {
    transfer_ref: u64,
    distributor_ref: String,
    sku: String,
    account: String,
    send_sen: i64,
    state: String,
    errors: Vec<(String, Option<String>)>,
    sent_at: Instant,
    started_unix_ms: i64,
    batch: bool,
}

struct Fake {
    switches: Switches,
    balance_sen: i64,
    transfers: Vec<Transfer>,
    sends: Vec<Value>,
    lists: Vec<Value>,
    statuses: Vec<u16>,
    next_ref: u64,
    rng: u64,
}

type Shared = Arc<Mutex<Fake>>;

pub struct FakeDing {
    /// `http://127.0.0.1:PORT/api/V1`, as Ding documents its base.
    pub url: String,
    /// The host alone.
    pub host: String,
    fake: Shared,
}

impl FakeDing {
    pub async fn start(switches: Switches) -> FakeDing {
        let rng = switches.random_status.unwrap_or(1);
        let fake = Arc::new(Mutex::new(Fake {
            switches,
            balance_sen: START_BALANCE_SEN,
            transfers: Vec::new(),
            sends: Vec::new(),
            lists: Vec::new(),
            statuses: Vec::new(),
            next_ref: 863_785_357,
            rng,
        }));
        let app = Router::new()
            .route("/api/V1/SendTransfer", post(send_transfer))
            .route("/api/V1/ListTransferRecords", post(list_transfer_records))
            .route("/api/V1/GetBalance", get(get_balance))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeDing { url: format!("{host}/api/V1"), host, fake }
    }

    pub fn set(&self, change: impl FnOnce(&mut Switches)) {
        change(&mut self.fake.lock().unwrap().switches);
    }

    pub fn set_balance_sen(&self, sen: i64) {
        self.fake.lock().unwrap().balance_sen = sen;
    }

    pub fn balance_sen(&self) -> i64 {
        self.fake.lock().unwrap().balance_sen
    }

    /// Every SendTransfer body received, `ValidateOnly` ones included.
    pub fn sends(&self) -> Vec<Value> {
        self.fake.lock().unwrap().sends.clone()
    }

    /// Every ListTransferRecords body received.
    pub fn lists(&self) -> Vec<Value> {
        self.fake.lock().unwrap().lists.clone()
    }

    /// Transfers recorded (a ValidateOnly one never is).
    pub fn transfers(&self) -> usize {
        self.fake.lock().unwrap().transfers.len()
    }

    /// The HTTP status of every answer, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.fake.lock().unwrap().statuses.clone()
    }
}

fn sen_text(sen: i64) -> Number {
    Number::from_str(&format!("{}.{:02}", sen / 100, sen % 100)).unwrap()
}

/// A JSON number with at most two decimals, in sen.
fn sen_of(value: &Value) -> Option<i64> {
    let text = value.as_number()?.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if frac.len() > 2 || whole.is_empty() || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + format!("{frac:0<2}").parse::<i64>().ok()?)
}

fn error(code: &str, context: Option<&str>) -> Value {
    json!({"Code": code, "Context": context})
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("api_key").and_then(|v| v.to_str().ok()) == Some(API_KEY)
}

impl Fake {
    /// An answer: success bodies under 200; error bodies under their status
    /// (InsufficientBalance 500, AuthenticationFailed 401, else 200), or at
    /// random when the switch is on.
    fn answer(&mut self, body: &Value) -> Response {
        let first = body["ErrorCodes"][0]["Code"].as_str().unwrap_or_default();
        let status = if body["ResultCode"] == 1 {
            200
        } else if self.switches.random_status.is_some() {
            self.rng = self.rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            [200, 400, 500, 503][(self.rng >> 33) as usize % 4]
        } else {
            match first {
                "InsufficientBalance" => 500,
                "AuthenticationFailed" => 401,
                _ => 200,
            }
        };
        self.statuses.push(status);
        (StatusCode::from_u16(status).unwrap(), axum::Json(body.clone())).into_response()
    }

    fn proxy_page(&mut self, status: u16) -> Response {
        self.statuses.push(status);
        let page =
            "<html><head><title>Request unsuccessful</title></head><body>Incapsula incident ID: 0-1</body></html>";
        (StatusCode::from_u16(status).unwrap(), page).into_response()
    }

    /// Batch transfers whose time has come.
    fn settle(&mut self) {
        let (after, final_state) = (Duration::from_millis(self.switches.batch_settle_ms), self.switches.batch_final);
        for t in self.transfers.iter_mut().filter(|t| t.batch && t.state == "Submitted") {
            if t.sent_at.elapsed() >= after {
                t.state = final_state.to_owned();
                if final_state == "Failed" {
                    // Batch debits at once and refunds a failure.
                    self.balance_sen += t.send_sen + DISTRIBUTOR_FEE_SEN;
                    t.errors = vec![("ProviderError".into(), Some("ProviderTemporarilyUnavailable".into()))];
                }
            }
        }
    }

    fn record_json(&self, t: &Transfer) -> Value {
        let receive = if t.state == "Failed" { 0 } else { t.send_sen };
        let mut params = BTreeMap::new();
        if t.state == "Complete" && self.switches.provider_ref {
            params.insert("providerRef", format!("DG{}", t.transfer_ref));
        }
        json!({
            "TransferId": {"TransferRef": t.transfer_ref.to_string(), "DistributorRef": t.distributor_ref},
            "SkuCode": t.sku,
            "Price": price(t.send_sen, receive, self.switches.currency),
            "CommissionApplied": 0.03,
            "StartedUtc": utc_text(t.started_unix_ms, self.switches.started_utc_plain),
            "CompletedUtc": if t.state == "Complete" { json!("2026-12-02T09:02:14.08Z") } else { Value::Null },
            "ProcessingState": t.state,
            "ReceiptText": "Top-up successful",
            "ReceiptParams": params,
            "AccountNumber": t.account,
        })
    }
}

pub fn now_unix_ms() -> i64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

fn utc_text(unix_ms: i64, plain: bool) -> String {
    let (day, ms) = (unix_ms.div_euclid(86_400_000), unix_ms.rem_euclid(86_400_000));
    let (h, m, s, cs) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1_000 % 60, ms % 1_000 / 10);
    let date = tambah_domain::time::date_text(day);
    if plain {
        format!("{date}T{h:02}:{m:02}:{s:02}")
    } else {
        format!("{date}T{h:02}:{m:02}:{s:02}.{cs:02}Z")
    }
}

fn price(send_sen: i64, receive_sen: i64, currency: &str) -> Value {
    json!({
        "CustomerFee": 0, "DistributorFee": sen_text(DISTRIBUTOR_FEE_SEN),
        "ReceiveValue": sen_text(receive_sen), "ReceiveCurrencyIso": "MYR", "ReceiveValueExcludingTax": sen_text(receive_sen),
        "TaxRate": 0, "TaxName": null, "TaxCalculation": null,
        "SendValue": sen_text(send_sen), "SendCurrencyIso": currency,
    })
}

fn refused(result_code: i32, errors: &[Value]) -> Value {
    json!({"ResultCode": result_code, "ErrorCodes": errors})
}

/// The FAQ's UAT table: the last digit of a test number picks the answer.
/// Digits 8 and 9 carry no ResultCode in the FAQ; they take the ones their
/// codes carry elsewhere (AccountNumberInvalid 4, ProviderError 5).
fn uat(digit: u8) -> Option<(i32, &'static str, Option<&'static str>)> {
    Some(match digit {
        b'1' => (3, "RateLimited", None),
        b'2' => (3, "TransientProviderError", Some("ProviderTimedOut")),
        b'3' => (3, "TransientProviderError", Some("ProviderRefusedRequest")),
        b'4' => (5, "ProviderError", Some("ProductUnavailable")),
        b'5' => (4, "AccountNumberInvalid", Some("ProviderRefusedRequest")),
        b'6' => (5, "ProviderError", Some("ProviderTemporarilyUnavailable")),
        b'7' => (5, "InsufficientBalance", None),
        b'8' => (4, "AccountNumberInvalid", Some("AccountNumberFailedRegex")),
        b'9' => (5, "ProviderError", Some("RechargeNotAllowed")),
        _ => return None,
    })
}

fn is_test_number(account: &str) -> bool {
    account.len() == UAT_NUMBER.len() && account[..account.len() - 1] == UAT_NUMBER[..UAT_NUMBER.len() - 1]
}

/// A checked SendTransfer request.
struct Asked {
    sku: String,
    account: String,
    reference: String,
    send_sen: i64,
    validate_only: bool,
}

/// The request's checks, in Ding's words; `Err` is the refusal body.
fn check(body: &Value, currency: &str) -> Result<Asked, Value> {
    let invalid = |field: &str| refused(4, &[error("ParameterInvalid", Some(field))]);
    for field in ["AccountNumber", "DistributorRef", "SendValue", "SkuCode", "ValidateOnly"] {
        if body.get(field).is_none_or(Value::is_null) {
            return Err(invalid(field));
        }
    }
    let validate_only = body["ValidateOnly"].as_bool().ok_or_else(|| invalid("ValidateOnly"))?;
    let sku = body["SkuCode"].as_str().filter(|s| [SKU, BATCH_SKU].contains(s)).ok_or_else(|| invalid("SkuCode"))?;
    let account = body["AccountNumber"].as_str().ok_or_else(|| invalid("AccountNumber"))?;
    if !number_is_valid(account) {
        return Err(refused(4, &[error("AccountNumberInvalid", Some("AccountNumberFailedRegex"))]));
    }
    let send_sen = sen_of(&body["SendValue"]).ok_or_else(|| invalid("SendValue"))?;
    if !(MIN_SEN..=MAX_SEN).contains(&send_sen) {
        return Err(refused(4, &[error("ParameterOutOfRange", Some("SendValue"))]));
    }
    if body.get("SendCurrencyIso").and_then(Value::as_str).is_some_and(|c| c != currency) {
        return Err(invalid("SendCurrencyIso"));
    }
    let reference = body["DistributorRef"].as_str().filter(|r| !r.is_empty() && r.len() <= 64);
    let reference = reference.ok_or_else(|| invalid("DistributorRef"))?;
    Ok(Asked { sku: sku.into(), account: account.into(), reference: reference.into(), send_sen, validate_only })
}

async fn send_transfer(State(fake): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let (reply, delay) = {
        let mut f = fake.lock().unwrap();
        if !authorized(&headers) {
            let body = refused(4, &[error("AuthenticationFailed", None)]);
            return f.answer(&body);
        }
        let Ok(request) = serde_json::from_str::<Value>(&body) else {
            return f.answer(&refused(4, &[error("RequestInvalid", None)]));
        };
        f.sends.push(request.clone());
        transfer(&mut f, &request)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match reply {
        Reply::Body(body) => fake.lock().unwrap().answer(&body),
        Reply::Garbage => fake.lock().unwrap().proxy_page(502),
    }
}

enum Reply {
    Body(Value),
    Garbage,
}

/// One SendTransfer: the answer and how long to wait before giving it.
fn transfer(f: &mut Fake, request: &Value) -> (Reply, u64) {
    let asked = match check(request, f.switches.currency) {
        Ok(asked) => asked,
        Err(refusal) => return (Reply::Body(refusal), 0),
    };
    if f.switches.uat_table && is_test_number(&asked.account) {
        if let Some((result_code, code, context)) = uat(*asked.account.as_bytes().last().unwrap()) {
            let failed = json!({"SkuCode": asked.sku, "ProcessingState": "Failed", "AccountNumber": asked.account,
                "CommissionApplied": 0, "Price": price(asked.send_sen, 0, f.switches.currency)});
            let mut body = refused(result_code, &[error(code, context)]);
            if result_code != 4 {
                body["TransferRecord"] = failed;
            }
            return (Reply::Body(body), 0);
        }
    }
    // A test number's success debits nothing.
    let debit =
        if is_test_number(&asked.account) && f.switches.uat_table { 0 } else { asked.send_sen + DISTRIBUTOR_FEE_SEN };
    if debit > f.balance_sen {
        let failed = json!({"SkuCode": asked.sku, "ProcessingState": "Failed", "AccountNumber": asked.account,
            "CommissionApplied": 0, "Price": price(asked.send_sen, 0, f.switches.currency)});
        let mut body = refused(5, &[error("InsufficientBalance", None)]);
        body["TransferRecord"] = failed;
        return (Reply::Body(body), 0);
    }
    if asked.validate_only {
        // Checked, balance included; nothing debited and no TransferId. The
        // state of such a record is not documented: `Complete` here.
        let record = json!({"SkuCode": asked.sku, "Price": price(asked.send_sen, asked.send_sen, f.switches.currency),
            "CommissionApplied": 0.03, "ProcessingState": "Complete", "AccountNumber": asked.account});
        return (Reply::Body(json!({"TransferRecord": record, "ResultCode": 1, "ErrorCodes": []})), 0);
    }
    if f.switches.dedup && f.transfers.iter().any(|t| t.distributor_ref == asked.reference) {
        return (Reply::Body(refused(5, &[error("DuplicateTransactionPrevented", None)])), 0);
    }
    record(f, &asked, debit)
}

/// Records the transfer and answers it (or not, by the fault switches).
fn record(f: &mut Fake, asked: &Asked, debit: i64) -> (Reply, u64) {
    let batch = asked.sku == BATCH_SKU;
    let timed_out = f.switches.provider_timeout_ms;
    let mut t = Transfer {
        transfer_ref: f.next_ref,
        distributor_ref: asked.reference.clone(),
        sku: asked.sku.clone(),
        account: asked.account.clone(),
        send_sen: asked.send_sen + if f.switches.wrong_amount { 100 } else { 0 },
        state: if batch { "Submitted".into() } else { "Complete".into() },
        errors: Vec::new(),
        sent_at: Instant::now(),
        started_unix_ms: now_unix_ms(),
        batch,
    };
    f.next_ref += 1;
    if timed_out.is_some() {
        // "Treated as a failed transaction and the balance will not be deducted."
        t.state = "Failed".into();
        t.errors = vec![("TransientProviderError".into(), Some("ProviderTimedOut".into()))];
    } else {
        f.balance_sen -= debit;
    }
    let mut body = json!({"TransferRecord": f.record_json(&t), "ResultCode": 1, "ErrorCodes": []});
    if timed_out.is_some() {
        body["ResultCode"] = json!(3);
        body["ErrorCodes"] = json!([error("TransientProviderError", Some("ProviderTimedOut"))]);
    }
    f.transfers.push(t);
    let delay = timed_out.unwrap_or(f.switches.answer_delay_ms);
    if f.switches.garbage {
        return (Reply::Garbage, delay);
    }
    (Reply::Body(body), delay)
}

async fn list_transfer_records(State(fake): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut f = fake.lock().unwrap();
    if !authorized(&headers) {
        return f.answer(&refused(4, &[error("AuthenticationFailed", None)]));
    }
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return f.answer(&refused(4, &[error("RequestInvalid", None)]));
    };
    f.lists.push(request.clone());
    if f.switches.list_garbage {
        return f.proxy_page(503);
    }
    // Only `Take` is required; its range is not documented (1 to 100 here).
    let Some(take) = request["Take"].as_u64() else {
        return f.answer(&refused(4, &[error("ParameterMissing", Some("Take"))]));
    };
    if !(1..=100).contains(&take) {
        return f.answer(&refused(4, &[error("ParameterOutOfRange", Some("Take"))]));
    }
    f.settle();
    let filter = |field: &str, value: &str| request[field].as_str().is_none_or(|wanted| wanted == value);
    let matching: Vec<&Transfer> = f
        .transfers
        .iter()
        .filter(|t| filter("DistributorRef", &t.distributor_ref) && filter("AccountNumber", &t.account))
        .filter(|t| filter("TransferRef", &t.transfer_ref.to_string()))
        .collect();
    let skip = usize::try_from(request["Skip"].as_u64().unwrap_or(0)).unwrap();
    let items: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(usize::try_from(take).unwrap())
        .map(|t| {
            let errors: Vec<Value> = t.errors.iter().map(|(c, x)| error(c, x.as_deref())).collect();
            let result_code = if errors.is_empty() { 1 } else { 5 };
            json!({"TransferRecord": f.record_json(t), "ResultCode": result_code, "ErrorCodes": errors})
        })
        .collect();
    let more = matching.len() > skip + items.len();
    let body = json!({"ResultCode": 1, "ErrorCodes": [], "ThereAreMoreItems": more, "Items": items});
    f.answer(&body)
}

async fn get_balance(State(fake): State<Shared>, headers: HeaderMap) -> Response {
    let mut f = fake.lock().unwrap();
    if !authorized(&headers) {
        return f.answer(&refused(4, &[error("AuthenticationFailed", None)]));
    }
    let body = json!({"Balance": sen_text(f.balance_sen), "CurrencyIso": f.switches.currency, "ResultCode": 1, "ErrorCodes": []});
    f.answer(&body)
}
