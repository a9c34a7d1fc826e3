//! The low-balance notice: a signed `low_balance` event to the callback URL
//! and, when the operator has set up SMTP, an e-mail. Delivered when every
//! channel took it; retried when one failed in a way that may pass.

use serde_json::json;
use tambah_domain::Amount;
use tambah_engine::callbacks;
use tambah_http::wire;
use tambah_store::{CallbackRow, MerchantRow};

use crate::callbacks::{Answer, CallbackSender};
use crate::mail;

impl CallbackSender {
    pub(crate) async fn deliver_low_balance(&self, cb: &CallbackRow, m: &MerchantRow) -> (String, Answer) {
        let balance = cb.balance;
        let threshold = m.low_balance_threshold;
        let when = wire::myt(cb.created_at_ms).seconds_text();
        let mut answers = Vec::new();
        if !m.callback_url.is_empty() {
            answers.push(self.low_balance_event(m, balance, threshold, &when).await);
        }
        if let (Some(smtp), false) = (&self.config.smtp, m.email.is_empty()) {
            let subject = format!("tambah: balance of account {} is RM {}", m.account, balance.to_cents());
            let text = format!(
                "The balance of account {} ({}) fell to RM {} at {when} (Malaysia time), below your threshold of RM {}.\n\
                 Top up your wallet to keep your sales going.\n",
                m.account,
                m.name,
                balance.to_cents(),
                threshold.to_cents()
            );
            answers.push(match mail::send(smtp, &m.email, &subject, &text).await {
                Ok(()) => Answer::done("e-mail sent"),
                Err(e) => Answer::failed(format!("e-mail: {e}"), true),
            });
        }
        let url = if m.callback_url.is_empty() { format!("mailto:{}", m.email) } else { m.callback_url.clone() };
        if answers.is_empty() {
            return (url, Answer::done("no channel set"));
        }
        (url, combined(&answers))
    }

    /// The signed `low_balance` webhook event.
    async fn low_balance_event(&self, m: &MerchantRow, balance: Amount, threshold: Amount, when: &str) -> Answer {
        let body = json!({"event": "low_balance", "data": {
            "account": m.account, "balance": wire::money(balance), "threshold": wire::money(threshold),
            "timestamp": when }});
        let bytes = body.to_string().into_bytes();
        match self.engine.callback_secrets(m.id).await {
            Ok(secrets) => {
                let signature = callbacks::signature(&secrets, self.engine.now_ms() / 1000, &bytes);
                self.send(&m.callback_url, reqwest::Method::POST, Some(bytes), &signature).await
            }
            Err(e) => Answer::failed(format!("secrets: {e}"), true),
        }
    }
}

/// One answer for all channels: ok when all were, retryable when a failed
/// one is.
fn combined(answers: &[Answer]) -> Answer {
    let ok = answers.iter().all(|a| a.ok);
    let retryable = answers.iter().any(|a| !a.ok && a.retryable);
    let error = answers.iter().map(|a| a.error.as_str()).filter(|e| !e.is_empty()).collect::<Vec<_>>().join("; ");
    let http_status = answers.iter().find_map(|a| a.http_status);
    let excerpt = answers.iter().map(|a| a.excerpt.as_str()).collect::<Vec<_>>().join(" | ");
    Answer { http_status, error, excerpt, retryable, ok }
}
