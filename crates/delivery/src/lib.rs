//! Outbound delivery: what tambah sends to merchants, apart from answering
//! their requests. The callback sender (`callbacks`) takes due callbacks from
//! the outbox the writer fills, renders each in the merchant's API version
//! (the same body `tambah-http` answers with), signs and sends it to the
//! merchant's URL (`webhook`, behind the SSRF guard of `tambah_http::guard`)
//! or by e-mail (`mail`), logs every attempt and schedules the retry.
//! `alerts` sends the operator's own alerts (provider float, reconciliation).
//!
//! Layering: `engine` ← `http` (wire shapes, URL guard) ← `delivery` ←
//! `tambah`; the inbound crate knows nothing of this one.

pub mod alerts;
mod callbacks;
mod low_balance;
pub mod mail;
mod order;
mod webhook;

pub use callbacks::CallbackSender;
pub use mail::SmtpConfig;

/// Settings of the callback sender.
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
    /// Callbacks in flight at once on this node (64 by default).
    pub concurrency: usize,
    /// One merchant's callbacks in flight at once, on all nodes together
    /// (4 by default): a slow receiver holds up only its own merchant.
    pub per_merchant: u32,
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
            concurrency: 64,
            per_merchant: 4,
        }
    }
}
