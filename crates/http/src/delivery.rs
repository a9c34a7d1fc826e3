//! The callback sender: takes due callbacks from the outbox (leased, so each
//! is sent by one node at a time), delivers them signed, logs every attempt
//! and schedules retries. At least once: a callback whose node dies
//! mid-delivery is sent again after its lease runs out.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tambah_domain::{Amount, StatusCode};
use tambah_engine::{callbacks, Engine};
use tambah_store::{CallbackAttempt, CallbackKind, CallbackNext, CallbackRow, Claim, MerchantRow};

use crate::mail::{self, SmtpConfig};
use crate::topup::{order_body, Shape};
use crate::wire::{self, ApiVersion};

/// Callbacks taken per pass at most.
const BATCH: u32 = 64;
/// Characters of the receiver's answer kept in the log.
const EXCERPT_CHARS: usize = 500;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Time between attempts (60 s by default).
    pub retry_delay_ms: i64,
    /// Retries after the first attempt (3 by default).
    pub max_retries: u32,
    pub timeout_ms: u64,
    /// Deliver to loopback, private and link-local addresses (tests, labs).
    pub allow_private_networks: bool,
    pub smtp: Option<SmtpConfig>,
    pub lease_ms: i64,
    /// Base of links in bodies (the e-SIM QR code).
    pub public_url: String,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_delay_ms: 60_000,
            max_retries: 3,
            timeout_ms: 30_000,
            allow_private_networks: false,
            smtp: None,
            lease_ms: 60_000,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// Whether an address is one a callback may not reach (SSRF guard).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64.0.0/10
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks a callback URL: http(s), a host, and (unless allowed) no private
/// address behind the name. Returns the resolved addresses.
pub async fn check_url(url: &str, allow_private: bool) -> Result<(reqwest::Url, Vec<SocketAddr>), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?}: only http and https callbacks are sent"));
    }
    if url.len() > 2048 {
        return Err("the callback URL is longer than 2048 characters".into());
    }
    let host = parsed.host_str().ok_or_else(|| format!("{url:?} has no host"))?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host_for_lookup = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host_for_lookup.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, a loopback, private or link-local address; callbacks are not sent there \
                 (the operator may allow it with TAMBAH_CALLBACK_ALLOW_PRIVATE_NETWORKS=true)",
                bad.ip()
            ));
        }
    }
    Ok((parsed, addrs))
}

pub struct CallbackSender {
    engine: Arc<Engine>,
    config: DeliveryConfig,
    client: reqwest::Client,
}

/// What one attempt came to.
struct Answer {
    http_status: Option<u16>,
    error: String,
    excerpt: String,
    retryable: bool,
    ok: bool,
}

impl Answer {
    fn failed(error: String, retryable: bool) -> Answer {
        Answer { http_status: None, error, excerpt: String::new(), retryable, ok: false }
    }
}

impl CallbackSender {
    pub fn new(engine: Arc<Engine>, config: DeliveryConfig) -> CallbackSender {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        CallbackSender { engine, config, client }
    }

    /// One pass: every due callback is attempted once. Returns how many.
    pub async fn run_once(&self) -> usize {
        let now = self.engine.now_ms();
        let claim = Claim {
            node: self.engine.config().node_id.clone(),
            accepted_before_ms: now,
            now_ms: now,
            lease_ms: self.config.lease_ms,
            limit: BATCH,
        };
        let due = match self.engine.store().claim_due_callbacks(&claim).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "callbacks: cannot claim due callbacks");
                return 0;
            }
        };
        let n = due.len();
        for cb in due {
            self.attempt(cb).await;
        }
        n
    }

    pub async fn run(self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        tambah_engine::workers::every(interval, stop, || self.run_once()).await
    }

    async fn attempt(&self, cb: CallbackRow) {
        let attempt_no = cb.attempts + 1;
        let started = Instant::now();
        let at_ms = self.engine.now_ms();
        let merchant = match self.engine.store().merchant(cb.merchant_id).await {
            Ok(Some(m)) => m,
            other => {
                tracing::warn!(callback = cb.id, ?other, "callbacks: merchant not readable");
                return;
            }
        };
        let (url, answer) = match cb.kind {
            CallbackKind::Order => self.deliver_order(&cb, &merchant).await,
            CallbackKind::LowBalance => self.deliver_low_balance(&cb, &merchant).await,
        };
        let next = if answer.ok {
            CallbackNext::Delivered
        } else if answer.retryable && attempt_no <= self.config.max_retries {
            CallbackNext::RetryAt(at_ms + self.config.retry_delay_ms)
        } else {
            CallbackNext::Failed
        };
        let record = CallbackAttempt {
            callback_id: cb.id,
            attempt: attempt_no,
            at_ms,
            url,
            http_status: answer.http_status,
            latency_ms: started.elapsed().as_millis() as i64,
            error: answer.error,
            response_excerpt: answer.excerpt,
        };
        if let Err(e) = self.engine.store().record_callback_attempt(&record, next).await {
            tracing::warn!(callback = cb.id, error = %e, "callbacks: could not log the attempt; it will be sent again");
        }
    }

    async fn deliver_order(&self, cb: &CallbackRow, m: &MerchantRow) -> (String, Answer) {
        let url = m.callback_url.clone();
        if url.is_empty() {
            return (url, Answer::failed("no callback URL is set".into(), false));
        }
        let order = match cb.order_id {
            Some(id) => self.engine.store().order(id).await.ok().flatten(),
            None => None,
        };
        let Some(mut order) = order else {
            return (url, Answer::failed("the order is not readable".into(), true));
        };
        crate::topup::absolutize(&mut order.voucherlink, &self.config.public_url);
        let status = cb.status.and_then(StatusCode::from_u8).unwrap_or(StatusCode::PROCESSING);
        let product_name = self.engine.catalog().get(&order.product).map(|p| p.name.clone()).unwrap_or_default();
        let version = ApiVersion::parse(&m.api_version).unwrap_or(ApiVersion::Seed);
        let body = order_body(&order, &product_name, status, cb.balance_minor, Shape::Version(version));
        let secrets = match self.engine.callback_secrets(m.id).await {
            Ok(s) => s,
            Err(e) => return (url, Answer::failed(format!("secrets: {e}"), true)),
        };
        let t = self.engine.now_ms() / 1000;
        let answer = if m.callback_method == "GET" {
            // The response data, URL-encoded, as IIMMPACT's GET callbacks carry it.
            let data = if body.get("data").is_some() { body["data"].clone() } else { body.clone() };
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("refid", &order.refid)
                .append_pair("status", &status.code().to_string())
                .append_pair("price", &Amount::from_minor(order.cost_minor).to_cents())
                .append_pair("message", &data.to_string())
                .finish();
            let full = if url.contains('?') { format!("{url}&{query}") } else { format!("{url}?{query}") };
            let signature = callbacks::signature(&secrets, t, query.as_bytes());
            self.send(&full, reqwest::Method::GET, None, &signature).await
        } else {
            let bytes = body.to_string().into_bytes();
            let signature = callbacks::signature(&secrets, t, &bytes);
            self.send(&url, reqwest::Method::POST, Some(bytes), &signature).await
        };
        (url, answer)
    }

    async fn deliver_low_balance(&self, cb: &CallbackRow, m: &MerchantRow) -> (String, Answer) {
        let balance = Amount::from_minor(cb.balance_minor);
        let threshold = Amount::from_minor(m.low_balance_threshold_minor);
        let when = wire::myt(cb.created_at_ms).seconds_text();
        let mut answers = Vec::new();
        if !m.callback_url.is_empty() {
            let body = json!({"event": "low_balance", "data": {
                "account": m.account, "balance": wire::money(balance), "threshold": wire::money(threshold),
                "timestamp": when }});
            let bytes = body.to_string().into_bytes();
            match self.engine.callback_secrets(m.id).await {
                Ok(secrets) => {
                    let signature = callbacks::signature(&secrets, self.engine.now_ms() / 1000, &bytes);
                    answers.push(self.send(&m.callback_url, reqwest::Method::POST, Some(bytes), &signature).await);
                }
                Err(e) => answers.push(Answer::failed(format!("secrets: {e}"), true)),
            }
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
                Ok(()) => Answer {
                    http_status: None,
                    error: String::new(),
                    excerpt: "e-mail sent".into(),
                    retryable: false,
                    ok: true,
                },
                Err(e) => Answer::failed(format!("e-mail: {e}"), true),
            });
        }
        let url = if m.callback_url.is_empty() { format!("mailto:{}", m.email) } else { m.callback_url.clone() };
        if answers.is_empty() {
            return (
                url,
                Answer {
                    http_status: None,
                    error: String::new(),
                    excerpt: "no channel set".into(),
                    retryable: false,
                    ok: true,
                },
            );
        }
        let ok = answers.iter().all(|a| a.ok);
        let retryable = answers.iter().any(|a| !a.ok && a.retryable);
        let error = answers.iter().map(|a| a.error.as_str()).filter(|e| !e.is_empty()).collect::<Vec<_>>().join("; ");
        let http_status = answers.iter().find_map(|a| a.http_status);
        let excerpt = answers.iter().map(|a| a.excerpt.as_str()).collect::<Vec<_>>().join(" | ");
        (url, Answer { http_status, error, excerpt, retryable, ok })
    }

    /// One HTTP attempt. Retryable: network errors, 5xx, 408, 429.
    async fn send(&self, url: &str, method: reqwest::Method, body: Option<Vec<u8>>, signature: &str) -> Answer {
        let (parsed, addrs) = match check_url(url, self.config.allow_private_networks).await {
            Ok(checked) => checked,
            Err(e) => return Answer::failed(e, false),
        };
        // Connect to the address just checked, not to whatever the name
        // resolves to a moment later (DNS rebinding).
        let client = if self.config.allow_private_networks {
            self.client.clone()
        } else {
            match reqwest::Client::builder()
                .timeout(Duration::from_millis(self.config.timeout_ms))
                .redirect(reqwest::redirect::Policy::none())
                .resolve(parsed.host_str().unwrap_or_default(), addrs[0])
                .build()
            {
                Ok(c) => c,
                Err(e) => return Answer::failed(e.to_string(), true),
            }
        };
        let mut request = client
            .request(method, parsed)
            .header("X-Signature", signature)
            .header("User-Agent", concat!("tambah/", env!("CARGO_PKG_VERSION")));
        if let Some(bytes) = body {
            request = request.header("Content-Type", "application/json").body(bytes);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
                let ok = (200..300).contains(&status);
                let retryable = status >= 500 || status == 408 || status == 429;
                Answer { http_status: Some(status), error: String::new(), excerpt, retryable, ok }
            }
            Err(e) => Answer::failed(format!("{e}"), true),
        }
    }
}
