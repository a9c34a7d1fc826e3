//! Providers deliver orders: the staging simulator now, upstream connectors for
//! live later. A provider answers with one of four outcomes (plus a refund
//! notice); the engine turns each into an order transition and ledger entries.

pub mod simulator;

use std::future::Future;
use std::pin::Pin;

use tambah_domain::{Amount, Environment, MerchantId, OrderId, Product, StatusCode};

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

pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;

    /// The outcome, when the provider can decide without any side effect
    /// (the simulator for ordinary accounts). The engine then records order,
    /// hold and resolution in one transaction. `None`: submit normally.
    fn decide_inline(&self, order: &ProviderOrder, product: &Product) -> Option<Outcome>;

    /// Sends the order. Called once per order, after it is durably Processing.
    fn submit<'a>(&'a self, order: &'a ProviderOrder, product: &'a Product, now_ms: i64) -> BoxFuture<'a, Outcome>;

    /// Asks what became of an order sent earlier.
    fn query<'a>(&'a self, order: &'a ProviderOrder, product: &'a Product, now_ms: i64) -> BoxFuture<'a, Outcome>;
}

/// Picks the provider for an order. Staging always goes to the simulator;
/// live goes to the configured connectors (none exist yet, so live orders fail
/// with 47 and their hold is released).
pub struct Router {
    simulator: simulator::Simulator,
}

impl Router {
    pub fn new(simulator: simulator::Simulator) -> Router {
        Router { simulator }
    }

    pub fn route(&self, environment: Environment, _product: &Product) -> Option<&dyn Provider> {
        match environment {
            Environment::Staging => Some(&self.simulator),
            Environment::Live => None,
        }
    }

    pub fn by_name(&self, name: &str) -> Option<&dyn Provider> {
        (name == self.simulator.name()).then_some(&self.simulator as &dyn Provider)
    }

    pub fn simulator(&self) -> &simulator::Simulator {
        &self.simulator
    }
}
