//! The IIMMPACT client's answers mapped into our outcomes. The rule that
//! keeps money exact: only an answer that settles the order settles it. A
//! send that provably never left may go elsewhere; anything after bytes left
//! (timeouts, 5xx, resets, unparsable answers, unknown codes, a delivery that
//! is not what was ordered) waits for a query by the same reference.

use tambah_domain::StatusCode;
use tambah_iimmpact::{Error, RejectionCode, TopupResponse};

use super::codes::{Meaning, Table};
use crate::providers::{Answer, Delivery, Outcome, ProviderOrder, UpstreamTransaction};
use tambah_domain::Amount;
use tambah_store::AttemptOutcome;

/// How long the start of an answer kept for the attempt log is, in bytes.
const EXCERPT_MAX: usize = 512;

/// Whether the call was the first send or a query (a resubmission of the
/// same reference): a query that does not get through says nothing new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Send,
    Query,
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(EXCERPT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The answer to a topup or status call.
pub fn answer(
    table: &Table,
    order: &ProviderOrder,
    result: Result<TopupResponse, Error>,
    call: Call,
    recheck_at_ms: i64,
) -> Answer {
    match result {
        Ok(response) => from_response(table, order, &response, recheck_at_ms),
        Err(e) => from_error(table, &e, call, recheck_at_ms),
    }
}

fn from_response(table: &Table, order: &ProviderOrder, r: &TopupResponse, recheck_at_ms: i64) -> Answer {
    let code = r.status_code;
    let pending = Outcome::Pending { recheck_at_ms };
    let outcome = match (integrity(order, r), table.meaning(code)) {
        (Err(why), _) => {
            tracing::error!(order = %order.order_id, upstream_ref = %order.upstream_ref, %why,
                "the provider answered about something else than what was ordered: flagged, not accepted");
            pending
        }
        (Ok(()), Meaning::Pending | Meaning::Unknown | Meaning::Auth | Meaning::Duplicate) => pending,
        (Ok(()), Meaning::Delivered) => Outcome::Delivered(Delivery {
            sn: r.sn.clone(),
            pin: r.pin.clone(),
            expiry: r.expiry.clone(),
            note: r.note.clone(),
            voucherlink: r.voucherlink.clone(),
            recheck_at_ms: None,
        }),
        (Ok(()), Meaning::Declined(code)) => Outcome::Declined { code, reason: format!("upstream: {}", r.status) },
        (Ok(()), Meaning::Unavailable) => Outcome::Unavailable { reason: format!("upstream {code}: {}", r.status) },
        (Ok(()), Meaning::Reversed) => Outcome::Reversed { reason: "reversed upstream".into() },
    };
    // What the provider charged, for a delivery it stands by.
    let cost = matches!(outcome, Outcome::Delivered(_)).then(|| Amount::from_minor(r.cost.minor()));
    Answer { outcome, upstream_code: code.to_string(), excerpt: excerpt(&r.raw), cost }
}

/// A delivery must be of what was ordered: the same reference, product,
/// account and amount.
fn integrity(order: &ProviderOrder, r: &TopupResponse) -> Result<(), String> {
    let ordered_amount = order.amount.minor();
    if r.refid != order.upstream_ref {
        return Err(format!("refid {:?}, sent {:?}", r.refid, order.upstream_ref));
    }
    if r.product != order.upstream_product || r.account != order.account {
        return Err(format!(
            "product/account {}/{}, sent {}/{}",
            r.product, r.account, order.upstream_product, order.account
        ));
    }
    if r.amount.minor() != ordered_amount {
        return Err(format!("amount {} minor units, sent {ordered_amount}", r.amount.minor()));
    }
    Ok(())
}

fn from_error(table: &Table, e: &Error, call: Call, recheck_at_ms: i64) -> Answer {
    let pending = Outcome::Pending { recheck_at_ms };
    let (outcome, code, text) = match e {
        // Nothing left this machine: a send may go elsewhere; a query
        // learned nothing.
        Error::NotSent { reason } | Error::Config(reason) => match call {
            Call::Send => {
                (Outcome::Unavailable { reason: format!("not sent: {reason}") }, String::new(), reason.clone())
            }
            Call::Query => (pending, String::new(), reason.clone()),
        },
        Error::Unknown { reason, http_status, body } => {
            (pending, http_status.map(|s| s.to_string()).unwrap_or_default(), body.clone().unwrap_or(reason.clone()))
        }
        Error::Rejected { http_status, code, body, .. } => {
            (rejected(table, *http_status, code, call, recheck_at_ms), code.to_string(), body.to_string())
        }
        // The credentials were refused: nothing was done upstream.
        Error::Auth { code, body, .. } => match call {
            Call::Send => (
                Outcome::Unavailable { reason: format!("upstream refused our credentials: {code}") },
                code.clone(),
                body.to_string(),
            ),
            Call::Query => (pending, code.clone(), body.to_string()),
        },
    };
    Answer { outcome, upstream_code: code, excerpt: excerpt(&text), cost: None }
}

/// A 4xx with a reason: nothing was stored upstream for this request. On a
/// send that is a refusal (mapped by the code table; the provider-level ones
/// may go elsewhere); a 409 means our reference is known there with other
/// parameters, which only an operator can untangle; on a query it says
/// nothing about the first send.
fn rejected(table: &Table, http_status: u16, code: &RejectionCode, call: Call, recheck_at_ms: i64) -> Outcome {
    let pending = Outcome::Pending { recheck_at_ms };
    if call == Call::Query || http_status == 409 {
        tracing::warn!(http_status, %code, ?call, "upstream refused a query or knows our reference otherwise: the order waits");
        return pending;
    }
    match code {
        RejectionCode::Status(c) => match table.meaning(*c) {
            Meaning::Declined(ours) => Outcome::Declined { code: ours, reason: format!("upstream refused it ({c})") },
            Meaning::Unavailable => Outcome::Unavailable { reason: format!("upstream could not take it ({c})") },
            // A 4xx that claims success or pending: believe neither.
            _ => pending,
        },
        RejectionCode::Error(word) => {
            Outcome::Declined { code: StatusCode::UNAVAILABLE, reason: format!("upstream refused the request: {word}") }
        }
    }
}

/// The items of one page of `/v2/transactions`: our references there, their
/// status codes (read through the code table) and amounts.
pub fn listing(table: &Table, body: &str) -> Result<Vec<UpstreamTransaction>, String> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("transaction list: {e}"))?;
    let items = value["data"].as_array().ok_or("transaction list: no data array")?;
    items.iter().map(|item| listed(table, item)).collect()
}

fn listed(table: &Table, item: &serde_json::Value) -> Result<UpstreamTransaction, String> {
    let text =
        |field: &str| item[field].as_str().map(str::to_owned).ok_or_else(|| format!("transaction list: no {field}"));
    let code = text("status_code")?;
    let amount = Amount::parse_rm(&text("amount")?, 4).map_err(|e| format!("transaction list: amount: {e}"))?;
    let settled = match code.parse().map(|c| table.meaning(c)).unwrap_or(Meaning::Unknown) {
        Meaning::Delivered => Some(AttemptOutcome::Delivered),
        Meaning::Declined(_) => Some(AttemptOutcome::Declined),
        Meaning::Unavailable => Some(AttemptOutcome::NotSent),
        Meaning::Reversed => Some(AttemptOutcome::Reversed),
        Meaning::Pending | Meaning::Unknown | Meaning::Auth | Meaning::Duplicate => None,
    };
    Ok(UpstreamTransaction { reference: text("refid")?, code, settled, amount })
}
