//! Providers deliver orders: the staging simulator, and for live orders the
//! upstream connectors the operator configures (`routes` picks one per order
//! from the product's routes). A provider answers with one of four outcomes
//! (plus a refund notice); the engine turns each into an order transition and
//! ledger entries, and records the answer on the order's attempt.

mod check;
pub mod config;
pub mod ding;
pub mod iimmpact;
pub mod meaning;
pub mod reconcile;
pub mod reloadly;
pub mod routes;
pub mod simulator;
pub mod table;
pub mod transport;

use std::future::Future;
use std::pin::Pin;

use tambah_domain::{Amount, MerchantId, OrderId, Product, StatusCode};

pub use routes::{Route, Router};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a provider needs to know about an order.
#[derive(Clone, Debug)]
pub struct ProviderOrder {
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub refid: String,
    pub product: String,
    pub account: String,
    pub amount: Amount,
    pub status: StatusCode,
    pub created_at_ms: i64,
    /// The provider's code for the product (ours for the simulator).
    pub upstream_product: String,
    /// Our reference at the provider for this attempt (empty for the
    /// simulator): the same on a query as on the send.
    pub upstream_ref: String,
    /// The order's extras (plan, biller, payer), passed on to providers
    /// whose API takes them (IIMMPACT-compatible ones).
    pub extras: std::collections::BTreeMap<String, String>,
}

/// What was delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sn: String,
    pub pin: String,
    /// `yyyymmdd`
    pub expiry: String,
    pub note: String,
    pub voucherlink: String,
    /// Ask the provider again at this time (e.g. a scheduled reversal).
    pub recheck_at_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered: the hold is posted.
    Delivered(Delivery),
    /// Refused for good with this code: the hold is voided.
    Declined { code: StatusCode, reason: String },
    /// Provably not sent (may fail over; with nowhere left to go, 47).
    Unavailable { reason: String },
    /// Sent, no final answer yet (or no answer at all): stays Processing and is
    /// resolved by asking the provider at `recheck_at_ms`, never by re-sending.
    Pending { recheck_at_ms: i64 },
    /// A delivered order was reversed: the cost goes back (53).
    Reversed { reason: String },
}

/// A provider's answer: the outcome, and what the provider itself said (for
/// the attempt log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    /// The provider's own status or error code.
    pub upstream_code: String,
    /// The start of the provider's answer.
    pub excerpt: String,
    /// What the provider charged us, when its answer says.
    pub cost: Option<Amount>,
}

impl From<Outcome> for Answer {
    fn from(outcome: Outcome) -> Answer {
        Answer { outcome, upstream_code: String::new(), excerpt: String::new(), cost: None }
    }
}

pub trait Provider: Send + Sync {
    fn name(&self) -> &str;

    /// The outcome, when the provider can decide without any side effect
    /// (the simulator for ordinary accounts). The engine then records order,
    /// hold and resolution in one transaction. `None`: submit normally.
    fn decide_inline(&self, order: &ProviderOrder, product: &Product) -> Option<Outcome>;

    /// Sends the order. Called once per order, after it is durably Processing.
    fn submit<'a>(&'a self, order: &'a ProviderOrder, product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer>;

    /// Asks what became of an order sent earlier.
    fn query<'a>(&'a self, order: &'a ProviderOrder, product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer>;

    /// Our float at the provider, when it tells (`Ok(None)`: it does not).
    /// A successful call also proves the credentials (`tambah provider test`).
    fn balance(&self) -> BoxFuture<'_, Result<Option<Amount>, String>> {
        Box::pin(async { Ok(None) })
    }

    /// The provider's products and what it charges us for one ringgit of
    /// face value of each, for `tambah catalog sync`; `Err` when it cannot
    /// list them.
    fn catalogue(&self) -> BoxFuture<'_, Result<Vec<UpstreamProduct>, String>> {
        Box::pin(async { Err("this provider cannot list its products".into()) })
    }

    /// Puts an order to the provider to be checked, not bought (Ding's
    /// `ValidateOnly`): `Ok` with what it says it would send and deliver,
    /// `Err` with what a real send would have met. `None`: the provider has
    /// no such check (`tambah provider test --product`).
    fn validate<'a>(
        &'a self,
        _order: &'a ProviderOrder,
        _now_ms: i64,
    ) -> Option<BoxFuture<'a, Result<String, Answer>>> {
        None
    }

    /// The provider's own list of what it took on a Malaysia-time day
    /// (`yyyy-MM-dd`), for reconciliation; `Err` when it cannot list.
    fn transactions<'a>(&'a self, _day: &'a str) -> BoxFuture<'a, Result<Vec<UpstreamTransaction>, String>> {
        Box::pin(async { Err("this provider cannot list its transactions".into()) })
    }
}

/// A product as a provider lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamProduct {
    pub code: String,
    pub name: String,
    pub active: bool,
    /// What one ringgit of face value costs us (`None`: not listed).
    pub buy_price: Option<Amount>,
}

/// One transaction in a provider's own list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamTransaction {
    /// Our upstream reference, as the provider recorded it.
    pub reference: String,
    /// The provider's status code, as it gave it.
    pub code: String,
    /// What the status means for an attempt (`None`: not settled yet).
    pub settled: Option<tambah_store::AttemptOutcome>,
    pub amount: Amount,
}

/// The operator's changes to a provider's code table, or `None` (logged)
/// when they cannot be read: the provider is then left out of routing rather
/// than read with a table the operator did not mean.
pub(crate) fn codes_of(row: &tambah_store::ProviderRow) -> Option<meaning::Codes> {
    meaning::Codes::from_json(&row.codes_json)
        .inspect_err(|e| tracing::error!(provider = %row.name, error = %e, "provider code table unreadable"))
        .ok()
}

/// The connector for a configured provider, when this build speaks its kind.
pub(crate) fn connect(
    row: &tambah_store::ProviderRow,
    credentials: config::Credentials,
) -> Option<std::sync::Arc<dyn Provider>> {
    match row.kind {
        tambah_store::ProviderKind::Iimmpact => iimmpact::Iimmpact::connect(row, credentials),
        tambah_store::ProviderKind::Reloadly => reloadly::Reloadly::connect(row, credentials),
        tambah_store::ProviderKind::Ding => ding::Ding::connect(row, credentials),
    }
}
