//! Alerts to the operator (not to merchants): a provider's float running low,
//! a day that does not reconcile with a provider. Sent to the operator's
//! webhook (a JSON POST) and/or e-mail address, whichever are configured;
//! the URL is the operator's own, so it is not held to the merchants' guard.
//! Of the webhook's answer only the status counts: the start of a refusal
//! goes to the log, and no more than 4 KiB of any answer is read.

use std::time::Duration;

use serde_json::json;

use crate::mail::{self, SmtpConfig};

/// Where alerts go.
#[derive(Clone, Debug, Default)]
pub struct AlertConfig {
    /// POSTed `{"event", "text", "at_ms"}` as JSON.
    pub webhook: Option<String>,
    /// E-mailed through this relay.
    pub email: Option<(SmtpConfig, String)>,
}

impl AlertConfig {
    pub fn is_empty(&self) -> bool {
        self.webhook.is_none() && self.email.is_none()
    }
}

pub struct Alerts {
    config: AlertConfig,
    http: reqwest::Client,
}

impl Alerts {
    pub fn new(config: AlertConfig) -> Alerts {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with fixed settings builds");
        Alerts { config, http }
    }

    /// Sends one alert everywhere it is configured to go; failures are
    /// logged (an alert is best effort, never a reason to stop).
    pub async fn send(&self, event: &str, text: &str, at_ms: i64) {
        tracing::warn!(event, text, "operator alert");
        if let Some(url) = &self.config.webhook {
            let body = json!({"event": event, "text": text, "at_ms": at_ms});
            match self.http.post(url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    let status = r.status().as_u16();
                    let answer = crate::webhook::answer_head(r).await;
                    tracing::warn!(status, answer, "alert webhook refused the alert");
                }
                Err(e) => tracing::warn!(error = %e, "alert webhook unreachable"),
            }
        }
        if let Some((smtp, to)) = &self.config.email {
            let subject = format!("tambah: {event}");
            if let Err(e) = mail::send(smtp, to, &subject, text).await {
                tracing::warn!(error = %e, "alert e-mail not sent");
            }
        }
    }
}
