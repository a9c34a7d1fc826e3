//! DingConnect's answers mapped into our outcomes. The rule that keeps money
//! exact: only an answer that settles the order settles it. Ding's bodies say
//! what happened (`ResultCode`, `ErrorCodes`, the transfer's
//! `ProcessingState`) and its HTTP status does not (an insufficient balance
//! comes as a 500), so nothing here reads the status except to log it. A
//! send that provably never left, or that Ding refused before debiting
//! anything, may go elsewhere; anything after bytes left (timeouts, 5xx
//! without a Ding body, unparsable answers, unknown codes, a delivery that is
//! not what was ordered, a reference Ding already has) waits for a query by
//! the same reference.

use tambah_domain::{time, Amount};
use tambah_store::AttemptOutcome;

use super::client::{BalanceAnswer, CallError, ErrorCode, ListAnswer, Reply, TransferAnswer, TransferRecord};
use super::codes::{Meaning, Table};
use crate::providers::{Answer, Delivery, Outcome, UpstreamTransaction};

/// How long the start of an answer kept for the attempt log is, in bytes.
const EXCERPT_MAX: usize = 512;
/// Ding's `ResultCode` for success.
const SUCCESS: i32 = 1;

/// What was asked of Ding: a transfer must be of exactly this to count as
/// the order's delivery.
#[derive(Clone, Debug)]
pub struct Ordered {
    /// Our upstream reference, sent as `DistributorRef`.
    pub reference: String,
    pub sku: String,
    /// As sent: international format.
    pub account: String,
    pub amount: Amount,
    pub currency: &'static str,
}

/// What a `ValidateOnly` transfer would cost and deliver (Ding's estimate).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validated {
    pub send_value: String,
    pub send_currency: String,
    pub receive_value: String,
    pub receive_currency: String,
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(EXCERPT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn pairs(codes: &[ErrorCode]) -> impl Iterator<Item = (&str, Option<&str>)> {
    codes.iter().map(|e| (e.code.as_str(), e.context.as_deref()))
}

/// Ding's own code for the attempt log: the first error (`Code/Context`),
/// else the transfer's state, else the result code.
fn upstream_code(result_code: Option<i32>, errors: &[ErrorCode], record: Option<&TransferRecord>) -> String {
    if let Some(e) = errors.first() {
        return match &e.context {
            Some(context) => format!("{}/{context}", e.code),
            None => e.code.clone(),
        };
    }
    if let Some(state) = record.and_then(|r| r.processing_state.clone()) {
        return state;
    }
    result_code.map(|c| format!("ResultCode {c}")).unwrap_or_default()
}

/// A call that got no answer: not sent (a send may go elsewhere; a query
/// learned nothing) or unknown.
fn unanswered(e: &CallError, first_send: bool, recheck_at_ms: i64) -> Answer {
    let (outcome, text) = match e {
        CallError::NotSent(reason) if first_send => {
            (Outcome::Unavailable { reason: format!("not sent: {reason}") }, reason.clone())
        }
        CallError::NotSent(reason) | CallError::Unknown(reason) => (Outcome::Pending { recheck_at_ms }, reason.clone()),
    };
    Answer { outcome, upstream_code: String::new(), excerpt: excerpt(&text), cost: None }
}

/// An answer that is not a Ding body (a proxy's page, a truncated body): it
/// says nothing, whatever its HTTP status.
fn unreadable(reply: &Reply, what: &str, e: &serde_json::Error, recheck_at_ms: i64) -> Answer {
    tracing::warn!(http_status = reply.http_status, error = %e, "Ding's {what} answer is unreadable: the order waits");
    Answer {
        outcome: Outcome::Pending { recheck_at_ms },
        upstream_code: format!("HTTP {}", reply.http_status),
        excerpt: excerpt(&reply.body),
        cost: None,
    }
}

/// The answer to `SendTransfer`.
pub fn sent(table: &Table, ordered: &Ordered, result: Result<Reply, CallError>, recheck_at_ms: i64) -> Answer {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => return unanswered(&e, true, recheck_at_ms),
    };
    let answer: TransferAnswer = match serde_json::from_str(&reply.body) {
        Ok(answer) => answer,
        Err(e) => return unreadable(&reply, "SendTransfer", &e, recheck_at_ms),
    };
    let outcome = transfer_outcome(table, ordered, &answer, recheck_at_ms);
    let record = answer.transfer_record.as_ref();
    let code = upstream_code(Some(answer.result_code), &answer.error_codes, record);
    let cost = record.filter(|_| matches!(outcome, Outcome::Delivered(_))).and_then(|r| cost(r, ordered.currency));
    Answer { outcome, upstream_code: code, excerpt: excerpt(&reply.body), cost }
}

fn transfer_outcome(table: &Table, ordered: &Ordered, a: &TransferAnswer, recheck_at_ms: i64) -> Outcome {
    let pending = Outcome::Pending { recheck_at_ms };
    let errors = table.errors_meaning(pairs(&a.error_codes));
    if errors == Meaning::Duplicate {
        tracing::info!(upstream_ref = %ordered.reference, "Ding already has a transfer under our reference: it is looked up");
        return pending;
    }
    let record = a.transfer_record.as_ref();
    if a.result_code == SUCCESS {
        let Some(record) = record else {
            tracing::warn!(upstream_ref = %ordered.reference, "Ding answered success without a transfer: the order waits");
            return pending;
        };
        return record_outcome(table, ordered, record, &a.error_codes, recheck_at_ms);
    }
    // A refusal. The record that may come with it must say the transfer
    // took nothing; one that says otherwise contradicts the refusal.
    let state = record.and_then(|r| r.processing_state.as_deref());
    if let Some(state) = state.filter(|s| table.state_meaning(s) != Meaning::Unavailable) {
        tracing::warn!(upstream_ref = %ordered.reference, result_code = a.result_code, state,
            "Ding refused the transfer and shows it in progress or done: the order waits");
        return pending;
    }
    refusal(errors, &a.error_codes, recheck_at_ms)
}

/// What refusing error codes mean (the transfer, if any, took nothing).
fn refusal(meaning: Meaning, codes: &[ErrorCode], recheck_at_ms: i64) -> Outcome {
    let named = upstream_code(None, codes, None);
    match meaning {
        Meaning::Declined(code) => Outcome::Declined { code, reason: format!("Ding refused it: {named}") },
        Meaning::Unavailable => Outcome::Unavailable { reason: format!("Ding could not take it: {named}") },
        Meaning::Auth => Outcome::Unavailable { reason: format!("Ding refused our API key: {named}") },
        Meaning::Pending | Meaning::Delivered | Meaning::Duplicate | Meaning::Reversed | Meaning::Unknown => {
            tracing::warn!(code = %named, "a Ding error code that does not settle the order: it waits");
            Outcome::Pending { recheck_at_ms }
        }
    }
}

/// A transfer record, with the error codes that came with it.
fn record_outcome(
    table: &Table,
    ordered: &Ordered,
    record: &TransferRecord,
    codes: &[ErrorCode],
    recheck_at_ms: i64,
) -> Outcome {
    let pending = Outcome::Pending { recheck_at_ms };
    let state = record.processing_state.as_deref().unwrap_or_default();
    let meaning = table.state_meaning(state);
    if let Err(why) = integrity(ordered, record, meaning == Meaning::Delivered) {
        tracing::error!(upstream_ref = %ordered.reference, %why,
            "Ding answered about something else than what was ordered: flagged, not accepted");
        return pending;
    }
    match meaning {
        Meaning::Delivered if codes.is_empty() => Outcome::Delivered(delivery(record)),
        Meaning::Delivered => {
            tracing::warn!(upstream_ref = %ordered.reference, code = %upstream_code(None, codes, None),
                "Ding shows the transfer complete with errors: the order waits");
            pending
        }
        Meaning::Unavailable if codes.is_empty() => {
            Outcome::Unavailable { reason: format!("the transfer is {state} at Ding, nothing debited") }
        }
        Meaning::Unavailable => refusal(table.errors_meaning(pairs(codes)), codes, recheck_at_ms),
        _ => pending,
    }
}

/// A transfer must be the one we asked for: our reference, SKU and number,
/// and when it is complete, the amount in our currency.
fn integrity(ordered: &Ordered, record: &TransferRecord, complete: bool) -> Result<(), String> {
    let reference = record.transfer_id.as_ref().and_then(|t| t.distributor_ref.as_deref());
    let same = |seen: Option<&str>, sent: &str| seen.map_or(!complete, |s| s == sent);
    if !same(reference, &ordered.reference) {
        return Err(format!("DistributorRef {reference:?}, sent {:?}", ordered.reference));
    }
    let (sku, account) = (record.sku_code.as_deref(), record.account_number.as_deref());
    if !same(sku, &ordered.sku) || !same(account, &ordered.account) {
        return Err(format!("SKU/number {sku:?}/{account:?}, sent {}/{}", ordered.sku, ordered.account));
    }
    if !complete {
        return Ok(());
    }
    let price = record.price.as_ref();
    let value = price.and_then(|p| p.send_value.as_ref()).map(ToString::to_string).unwrap_or_default();
    let amount = Amount::parse_rm(&value, 4).ok();
    let currency = price.and_then(|p| p.send_currency_iso.as_deref());
    if amount != Some(ordered.amount) || currency.is_some_and(|c| c != ordered.currency) {
        return Err(format!("SendValue {value} {currency:?}, sent {} {}", ordered.amount.to_cents(), ordered.currency));
    }
    Ok(())
}

/// What Ding debited us for a transfer: `SendValue + DistributorFee`, when
/// in our currency.
fn cost(record: &TransferRecord, currency: &str) -> Option<Amount> {
    let price = record.price.as_ref().filter(|p| p.send_currency_iso.as_deref() == Some(currency))?;
    let amount = |n: Option<&serde_json::Number>| Amount::parse_rm(&n?.to_string(), 4).ok();
    let fee = match &price.distributor_fee {
        Some(fee) => amount(Some(fee))?,
        None => Amount::ZERO,
    };
    amount(price.send_value.as_ref())?.checked_add(fee)
}

/// The serial is the operator's reference when Ding passes one on, else
/// Ding's own transfer id (kept in the note either way).
fn delivery(record: &TransferRecord) -> Delivery {
    let receipt = |key: &str| {
        record.receipt_params.as_ref().and_then(|p| p.get(key)).and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let transfer_ref = record.transfer_id.as_ref().and_then(|t| t.transfer_ref.clone()).unwrap_or_default();
    Delivery {
        sn: receipt("providerRef").filter(|s| !s.is_empty()).unwrap_or_else(|| transfer_ref.clone()),
        pin: receipt("pin").unwrap_or_default(),
        note: format!("Ding TransferRef {transfer_ref}"),
        ..Delivery::default()
    }
}

/// The answer to `ListTransferRecords` filtered by our reference.
pub fn found(table: &Table, ordered: &Ordered, result: Result<Reply, CallError>, recheck_at_ms: i64) -> Answer {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => return unanswered(&e, false, recheck_at_ms),
    };
    let list: ListAnswer = match serde_json::from_str(&reply.body) {
        Ok(list) => list,
        Err(e) => return unreadable(&reply, "ListTransferRecords", &e, recheck_at_ms),
    };
    let pending = Outcome::Pending { recheck_at_ms };
    let text = excerpt(&reply.body);
    if list.result_code != SUCCESS {
        let code = upstream_code(Some(list.result_code), &list.error_codes, None);
        tracing::warn!(upstream_ref = %ordered.reference, %code, "Ding refused our look-up: the order waits");
        return Answer { outcome: pending, upstream_code: code, excerpt: text, cost: None };
    }
    if list.items.is_empty() {
        // Ding lists two months and promises nothing about a reference it
        // never saw: not proof the transfer was never made.
        tracing::warn!(upstream_ref = %ordered.reference, "Ding lists no transfer under our reference: the order waits");
        return Answer { outcome: pending, upstream_code: "not listed".into(), excerpt: text, cost: None };
    }
    if list.items.len() > 1 {
        tracing::error!(upstream_ref = %ordered.reference, transfers = list.items.len(),
            "Ding holds several transfers under one reference: it may have paid more than once");
    }
    let answers = list.items.iter().map(|item| {
        let record = item.transfer_record.as_ref();
        let outcome = match record {
            Some(record) => record_outcome(table, ordered, record, &item.error_codes, recheck_at_ms),
            None => pending.clone(),
        };
        let cost = record.filter(|_| matches!(outcome, Outcome::Delivered(_))).and_then(|r| cost(r, ordered.currency));
        let upstream_code = upstream_code(item.result_code, &item.error_codes, record);
        Answer { outcome, upstream_code, excerpt: text.clone(), cost }
    });
    let answers: Vec<Answer> = answers.collect();
    // One delivery settles the order; anything still open keeps it open.
    answers
        .iter()
        .find(|a| matches!(a.outcome, Outcome::Delivered(_)))
        .or_else(|| answers.iter().find(|a| matches!(a.outcome, Outcome::Pending { .. })))
        .unwrap_or(&answers[0])
        .clone()
}

/// What `ValidateOnly` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Ding would take it: its estimate.
    Valid(Validated),
    /// What a real send would have met, as its answer.
    Refused(Answer),
}

/// The answer to a `ValidateOnly` transfer.
pub fn validated(table: &Table, result: Result<Reply, CallError>, recheck_at_ms: i64) -> Validation {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => return Validation::Refused(unanswered(&e, true, recheck_at_ms)),
    };
    let answer: TransferAnswer = match serde_json::from_str(&reply.body) {
        Ok(answer) => answer,
        Err(e) => return Validation::Refused(unreadable(&reply, "ValidateOnly", &e, recheck_at_ms)),
    };
    if answer.result_code == SUCCESS && answer.error_codes.is_empty() {
        let price = answer.transfer_record.and_then(|r| r.price).unwrap_or_default();
        let text = |n: Option<serde_json::Number>| n.map(|n| n.to_string()).unwrap_or_default();
        return Validation::Valid(Validated {
            send_value: text(price.send_value),
            send_currency: price.send_currency_iso.unwrap_or_default(),
            receive_value: text(price.receive_value),
            receive_currency: price.receive_currency_iso.unwrap_or_default(),
        });
    }
    let outcome = match table.errors_meaning(pairs(&answer.error_codes)) {
        Meaning::Duplicate => Outcome::Pending { recheck_at_ms },
        meaning => refusal(meaning, &answer.error_codes, recheck_at_ms),
    };
    let code = upstream_code(Some(answer.result_code), &answer.error_codes, answer.transfer_record.as_ref());
    Validation::Refused(Answer { outcome, upstream_code: code, excerpt: excerpt(&reply.body), cost: None })
}

/// `GetBalance`: our float, when it is kept in `currency` (`None` otherwise:
/// a float in another currency says nothing in ringgit).
pub fn balance(result: Result<Reply, CallError>, currency: &str) -> Result<Option<Amount>, String> {
    let reply = result.map_err(|e| format!("Ding GetBalance: {e:?}"))?;
    let answer: BalanceAnswer = serde_json::from_str(&reply.body)
        .map_err(|e| format!("Ding GetBalance: HTTP {}: unreadable answer: {e}", reply.http_status))?;
    if answer.result_code != SUCCESS {
        let code = upstream_code(Some(answer.result_code), &answer.error_codes, None);
        return Err(format!("Ding GetBalance refused: HTTP {}: {code}", reply.http_status));
    }
    if answer.currency_iso.as_deref() != Some(currency) {
        tracing::info!(currency = ?answer.currency_iso, "our Ding float is not kept in {currency}: not shown");
        return Ok(None);
    }
    let value = answer.balance.map(|b| b.to_string()).unwrap_or_default();
    Amount::parse_rm(&value, 4).map(Some).map_err(|e| format!("Ding GetBalance: balance {value}: {e:?}"))
}

/// One page of `ListTransferRecords` for reconciliation: the transfers
/// started on the Malaysia-time day `day`, with our reference, what their
/// state means for an attempt, and their `SendValue`; and whether Ding has
/// more pages.
pub fn listing(table: &Table, reply: &Reply, day: time::Day) -> Result<(Vec<UpstreamTransaction>, bool), String> {
    let list: ListAnswer = serde_json::from_str(&reply.body)
        .map_err(|e| format!("ListTransferRecords: HTTP {}: unreadable answer: {e}", reply.http_status))?;
    if list.result_code != SUCCESS {
        let code = upstream_code(Some(list.result_code), &list.error_codes, None);
        return Err(format!("ListTransferRecords refused: HTTP {}: {code}", reply.http_status));
    }
    let mut out = Vec::new();
    for item in &list.items {
        let Some(record) = &item.transfer_record else { continue };
        let started = record.started_utc.as_deref().unwrap_or_default();
        if time::day_of(utc_ms(started)?) != day {
            continue;
        }
        let Some(reference) = record.transfer_id.as_ref().and_then(|t| t.distributor_ref.clone()) else { continue };
        let value = record.price.as_ref().and_then(|p| p.send_value.as_ref()).map(ToString::to_string);
        let amount = Amount::parse_rm(value.as_deref().unwrap_or("0"), 4)
            .map_err(|e| format!("ListTransferRecords: {reference}: SendValue {value:?}: {e:?}"))?;
        let state = record.processing_state.clone().unwrap_or_default();
        let settled = match table.state_meaning(&state) {
            Meaning::Delivered => Some(AttemptOutcome::Delivered),
            Meaning::Unavailable => match table.errors_meaning(pairs(&item.error_codes)) {
                Meaning::Declined(_) => Some(AttemptOutcome::Declined),
                _ => Some(AttemptOutcome::NotSent),
            },
            _ => None,
        };
        let code = upstream_code(None, &item.error_codes, Some(record));
        out.push(UpstreamTransaction { reference, code, settled, amount });
    }
    Ok((out, list.there_are_more_items))
}

/// `yyyy-MM-ddTHH:mm:ss`, then anything (a fraction, `Z`), as UTC Unix ms.
fn utc_ms(text: &str) -> Result<i64, String> {
    let bad = || format!("ListTransferRecords: StartedUtc {text:?} is not a date-time");
    let (date, clock) = text.get(..19).and_then(|t| t.split_once('T')).ok_or_else(bad)?;
    let day = time::parse_date(date).map_err(|_| bad())?;
    let parts: Vec<i64> = clock.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    let [h, m, s] = parts.as_slice() else { return Err(bad()) };
    Ok(((day * 86_400) + h * 3_600 + m * 60 + s) * 1_000)
}
