//! Reloadly's answers mapped into our outcomes, by its `errorCode`s and
//! transaction statuses (never by the HTTP status alone). The rule that keeps
//! money exact: only an answer that settles the order settles it. A send that
//! provably never left, or that Reloadly refused with a code it documents as
//! raised before anything is attempted, may go elsewhere; anything after bytes
//! left (timeouts, 5xx, resets, unparsable answers, unknown codes, our
//! reference "already used", a delivery that is not what was ordered) waits
//! for a query, which finds the transaction by our reference.

use serde_json::{Number, Value};
use tambah_domain::Amount;

use super::client::{text, Accepted, CallError, ErrorBody, Page, Reply, Transaction};
use super::codes::{Meaning, Table};
use super::{COUNTRY_CURRENCY, COUNTRY_DIALING_CODE};
use crate::providers::{Answer, Delivery, Outcome, ProviderOrder};

/// How long the start of an answer kept for the attempt log is, in bytes.
const EXCERPT_MAX: usize = 512;

/// What follows a top-up or a report: ask the status of this transaction,
/// or the answer is already known.
pub enum Next {
    AskStatus(String),
    Answered(Answer),
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(EXCERPT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn pending(recheck_at_ms: i64, upstream_code: impl Into<String>, raw: &str) -> Answer {
    Answer {
        outcome: Outcome::Pending { recheck_at_ms },
        upstream_code: upstream_code.into(),
        excerpt: excerpt(raw),
        cost: None,
    }
}

/// The answer to `POST /topups-async`: its transaction's status is asked
/// next when Reloadly took the top-up, otherwise what the answer means.
pub fn sent(table: &Table, order: &ProviderOrder, result: Result<Reply, CallError>, recheck_at_ms: i64) -> Next {
    let reply = match result {
        Ok(reply) => reply,
        Err(CallError::Token { reason, code }) => {
            let outcome = Outcome::Unavailable { reason: format!("not sent: {reason}") };
            return Next::Answered(Answer { outcome, upstream_code: code, excerpt: excerpt(&reason), cost: None });
        }
        Err(CallError::NotSent(reason)) => {
            let outcome = Outcome::Unavailable { reason: format!("not sent: {reason}") };
            return Next::Answered(Answer {
                outcome,
                upstream_code: String::new(),
                excerpt: excerpt(&reason),
                cost: None,
            });
        }
        Err(CallError::Unknown(reason)) => return Next::Answered(pending(recheck_at_ms, "", &reason)),
    };
    if !reply.is_success() {
        return Next::Answered(refused(table, order, &reply, recheck_at_ms));
    }
    match serde_json::from_str::<Accepted>(&reply.body).ok().and_then(|a| text(Some(&a.transaction_id))) {
        Some(id) => Next::AskStatus(id),
        None => {
            tracing::warn!(upstream_ref = %order.upstream_ref,
                "Reloadly took the top-up without a readable transactionId: the order waits for a query");
            Next::Answered(pending(recheck_at_ms, reply.http_status.to_string(), &reply.body))
        }
    }
}

/// A top-up answered with an error: what its `errorCode` means. An error
/// without Reloadly's body (a proxy's page, a bare 5xx) says nothing.
fn refused(table: &Table, order: &ProviderOrder, reply: &Reply, recheck_at_ms: i64) -> Answer {
    let code = serde_json::from_str::<ErrorBody>(&reply.body).ok().and_then(|e| e.error_code);
    let Some(code) = code else {
        return pending(recheck_at_ms, reply.http_status.to_string(), &reply.body);
    };
    let outcome = match table.error_meaning(&code) {
        Meaning::Declined(ours) => Outcome::Declined { code: ours, reason: format!("Reloadly refused it: {code}") },
        Meaning::Unavailable => Outcome::Unavailable { reason: format!("Reloadly could not take it: {code}") },
        // Refused again after a new token: nothing was done there.
        Meaning::Auth => Outcome::Unavailable { reason: format!("Reloadly refused our credentials: {code}") },
        Meaning::Duplicate => {
            tracing::warn!(upstream_ref = %order.upstream_ref,
                "Reloadly says our reference was used before: that request may have been paid, the order is looked up by it");
            Outcome::Pending { recheck_at_ms }
        }
        Meaning::Pending | Meaning::Delivered | Meaning::Reversed | Meaning::Unknown => {
            Outcome::Pending { recheck_at_ms }
        }
    };
    Answer { outcome, upstream_code: code, excerpt: excerpt(&reply.body), cost: None }
}

/// The answer to the transaction report filtered by our reference: the
/// transaction to ask about, otherwise an answer (always pending: a report
/// that does not show our reference is no proof that it was never sent).
pub fn found(table: &Table, order: &ProviderOrder, result: Result<Reply, CallError>, recheck_at_ms: i64) -> Next {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => return Next::Answered(not_through(order, &e, recheck_at_ms)),
    };
    let page = serde_json::from_str::<Page>(&reply.body).ok().filter(|_| reply.is_success());
    let Some(page) = page else {
        tracing::warn!(upstream_ref = %order.upstream_ref, http_status = reply.http_status,
            "the Reloadly report could not be read: the order waits");
        return Next::Answered(pending(recheck_at_ms, reply.http_status.to_string(), &reply.body));
    };
    let ours: Vec<&Transaction> =
        page.content.iter().filter(|t| t.custom_identifier.as_deref() == Some(order.upstream_ref.as_str())).collect();
    if ours.len() > 1 {
        tracing::error!(upstream_ref = %order.upstream_ref, count = ours.len(),
            "Reloadly shows more than one transaction under our reference: it may have paid twice; flagged for the operator");
    }
    // A delivery settles the order; otherwise one not yet final; otherwise any.
    let chosen = ours
        .iter()
        .find(|t| table.status_meaning(t.status.as_deref().unwrap_or("")) == Meaning::Delivered)
        .or_else(|| {
            ours.iter().find(|t| table.status_meaning(t.status.as_deref().unwrap_or("")) != Meaning::Unavailable)
        })
        .or_else(|| ours.first());
    match chosen.and_then(|t| text(t.transaction_id.as_ref())) {
        Some(id) => Next::AskStatus(id),
        None => {
            tracing::warn!(upstream_ref = %order.upstream_ref,
                "Reloadly's report does not show our reference (no proof it was never sent): the order waits; settle it by hand if it stays so");
            Next::Answered(pending(recheck_at_ms, "NOT_FOUND", &reply.body))
        }
    }
}

fn not_through(order: &ProviderOrder, e: &CallError, recheck_at_ms: i64) -> Answer {
    let (code, reason) = match e {
        CallError::Token { reason, code } => (code.as_str(), reason.as_str()),
        CallError::NotSent(reason) | CallError::Unknown(reason) => ("", reason.as_str()),
    };
    tracing::warn!(upstream_ref = %order.upstream_ref, %reason, "a Reloadly query did not get through: the order waits");
    pending(recheck_at_ms, code, reason)
}

/// The answer to `GET /topups/{id}/status` (the `{status, transaction}`
/// wrapper, or the bare transaction), about a top-up Reloadly took.
pub fn status(table: &Table, order: &ProviderOrder, result: Result<Reply, CallError>, recheck_at_ms: i64) -> Answer {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => return not_through(order, &e, recheck_at_ms),
    };
    let value = serde_json::from_str::<Value>(&reply.body).ok().filter(|_| reply.is_success());
    let Some(value) = value else {
        let code = serde_json::from_str::<ErrorBody>(&reply.body).ok().and_then(|e| e.error_code);
        return pending(recheck_at_ms, code.unwrap_or_else(|| reply.http_status.to_string()), &reply.body);
    };
    let tx_value = match value.get("transaction") {
        Some(tx @ Value::Object(_)) => Some(tx.clone()),
        Some(_) => None,
        None => Some(value.clone()),
    };
    let tx: Option<Transaction> = tx_value.and_then(|v| serde_json::from_value(v).ok());
    let status = value.get("status").and_then(Value::as_str).map(str::to_owned).or_else(|| tx.as_ref()?.status.clone());
    let Some(status) = status else {
        // Older answers have no status: not a failure, not a delivery.
        return pending(recheck_at_ms, "", &reply.body);
    };
    let outcome = settle(table, order, &status, tx.as_ref(), recheck_at_ms);
    let cost = tx.as_ref().filter(|_| matches!(outcome, Outcome::Delivered(_))).and_then(cost);
    Answer { outcome, upstream_code: status, excerpt: excerpt(&reply.body), cost }
}

/// What Reloadly charged us, when it says so in ringgit (`balanceInfo` is
/// in our Reloadly account's currency, which need not be ringgit).
fn cost(t: &Transaction) -> Option<Amount> {
    let info = t.balance_info.as_ref()?;
    if info.currency_code.as_deref() != Some(COUNTRY_CURRENCY) {
        return None;
    }
    Amount::parse_rm(&info.cost.as_ref()?.to_string(), 4).ok()
}

fn settle(table: &Table, order: &ProviderOrder, status: &str, tx: Option<&Transaction>, recheck_at_ms: i64) -> Outcome {
    match table.status_meaning(status) {
        Meaning::Delivered => match tx.ok_or_else(|| "no transaction in the answer".to_owned()).and_then(|t| {
            integrity(order, t)?;
            Ok(delivery(t))
        }) {
            Ok(delivery) => Outcome::Delivered(delivery),
            Err(why) => {
                tracing::error!(order = %order.order_id, upstream_ref = %order.upstream_ref, %why,
                    "Reloadly reports a delivery that is not what was ordered: flagged, not accepted");
                Outcome::Pending { recheck_at_ms }
            }
        },
        // FAILED ("funds are not debited") and REFUNDED ("not processed").
        Meaning::Unavailable => Outcome::Unavailable { reason: format!("Reloadly: {status}, nothing debited") },
        _ => Outcome::Pending { recheck_at_ms },
    }
}

fn delivery(t: &Transaction) -> Delivery {
    let pin = t.pin_detail.as_ref();
    // The operator's reference is what the customer's telco knows the
    // top-up by; Reloadly's own id when there is none.
    let sn = text(t.operator_transaction_id.as_ref())
        .filter(|s| !s.is_empty())
        .or_else(|| text(t.transaction_id.as_ref()))
        .unwrap_or_default();
    Delivery {
        sn,
        pin: pin.and_then(|p| text(p.code.as_ref())).unwrap_or_default(),
        note: pin.and_then(|p| text(p.info1.as_ref())).unwrap_or_default(),
        ..Delivery::default()
    }
}

/// The answer to operator auto-detection: the operator id to send to, or
/// the answer that ends the attempt. Nothing was sent either way (a
/// look-up buys nothing), so only a refusal about the number declines; any
/// other failure is "not sent" and may go to another route.
pub fn detected(table: &Table, result: Result<Reply, CallError>) -> Result<Number, Box<Answer>> {
    let not_sent = |code: String, why: String, raw: &str| {
        Box::new(Answer {
            outcome: Outcome::Unavailable { reason: format!("not sent: operator auto-detection: {why}") },
            upstream_code: code,
            excerpt: excerpt(raw),
            cost: None,
        })
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(CallError::Token { reason, code }) => return Err(not_sent(code, reason.clone(), &reason)),
        Err(CallError::NotSent(reason) | CallError::Unknown(reason)) => {
            return Err(not_sent(String::new(), reason.clone(), &reason))
        }
    };
    if reply.is_success() {
        let operator = serde_json::from_str::<Value>(&reply.body).ok();
        let id = operator.as_ref().and_then(|o| o.get("operatorId").or_else(|| o.get("id"))).and_then(Value::as_u64);
        return id
            .map(Number::from)
            .ok_or_else(|| not_sent(reply.http_status.to_string(), "no operatorId in the answer".into(), &reply.body));
    }
    let code = serde_json::from_str::<ErrorBody>(&reply.body).ok().and_then(|e| e.error_code);
    let code = code.unwrap_or_else(|| reply.http_status.to_string());
    if let Meaning::Declined(ours) = table.error_meaning(&code) {
        let outcome = Outcome::Declined { code: ours, reason: format!("Reloadly refused the number: {code}") };
        return Err(Box::new(Answer { outcome, upstream_code: code, excerpt: excerpt(&reply.body), cost: None }));
    }
    Err(not_sent(code.clone(), code, &reply.body))
}

/// A delivery must be of what was ordered: our reference, the operator (the
/// route's, unless it auto-detects), the number, and the amount in ringgit.
fn integrity(order: &ProviderOrder, t: &Transaction) -> Result<(), String> {
    if let Some(reference) = t.custom_identifier.as_deref().filter(|r| *r != order.upstream_ref) {
        return Err(format!("customIdentifier {reference:?}, sent {:?}", order.upstream_ref));
    }
    let fixed = order.upstream_product != super::AUTO_DETECT;
    if let Some(operator) = text(t.operator_id.as_ref()).filter(|o| fixed && *o != order.upstream_product) {
        return Err(format!("operatorId {operator}, sent {}", order.upstream_product));
    }
    if let Some(phone) = text(t.recipient_phone.as_ref()).filter(|p| national(p) != national(&order.account)) {
        return Err(format!("recipientPhone {phone}, sent {}", order.account));
    }
    if let Some(currency) = t.delivered_amount_currency_code.as_deref().filter(|c| *c != COUNTRY_CURRENCY) {
        return Err(format!("delivered in {currency}, ordered in {COUNTRY_CURRENCY}"));
    }
    let delivered = t.delivered_amount.as_ref().ok_or("no deliveredAmount")?;
    match Amount::parse_rm(&delivered.to_string(), 4) {
        Ok(amount) if amount == order.amount => Ok(()),
        _ => Err(format!("deliveredAmount {delivered}, ordered {}", order.amount.to_plain())),
    }
}

/// A phone number without its country code or trunk zero, digits only.
fn national(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let rest = digits.strip_prefix(COUNTRY_DIALING_CODE).unwrap_or(&digits);
    rest.strip_prefix('0').unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::national;

    #[test]
    fn numbers_compare_without_country_code_or_trunk_zero() {
        assert_eq!(national("0123456789"), "123456789");
        assert_eq!(national("+60 12-345 6789"), "123456789");
        assert_eq!(national("60123456789"), "123456789");
    }
}
