//! Upstream providers: the connectors the operator configures, the routes of
//! each product to them, and the attempts at sending an order (written by the
//! writer before the network call, answered after it).

use tambah_domain::{Amount, OrderId, ProviderId};

use crate::{BoxFuture, Result};

/// The kinds of connector tambah speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// The IIMMPACT v2 API (IIMMPACT itself, or another tambah).
    Iimmpact,
    Reloadly,
    Ding,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [ProviderKind::Iimmpact, ProviderKind::Reloadly, ProviderKind::Ding];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Iimmpact => "iimmpact",
            ProviderKind::Reloadly => "reloadly",
            ProviderKind::Ding => "ding",
        }
    }

    pub fn parse(text: &str) -> Option<ProviderKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A provider to create (`tambah provider add`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProvider {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    /// Where tokens come from, for providers with a separate auth host.
    pub auth_url: String,
    /// Starts every upstream reference sent to this provider (random per
    /// installation, so that two installations sharing an upstream account
    /// never collide).
    pub ref_prefix: String,
    /// The credentials as JSON, sealed with the master key.
    pub secrets_sealed: Vec<u8>,
    pub timeout_ms: i64,
    /// Alert the operator when our float there falls below this.
    pub low_balance: Option<Amount>,
    pub now_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderRow {
    pub id: ProviderId,
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub auth_url: String,
    pub ref_prefix: String,
    pub secrets_sealed: Vec<u8>,
    pub timeout_ms: i64,
    pub low_balance: Option<Amount>,
    pub enabled: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The operator's changes to the connector's code table: a JSON object
    /// of key to meaning (`{}`: none).
    pub codes_json: String,
}

/// One route of a product to a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRow {
    /// Our product code.
    pub product: String,
    pub provider_id: ProviderId,
    /// The provider's code for the same product.
    pub upstream_product: String,
    /// Lower first; routes of the same priority share the orders by weight.
    pub priority: u32,
    pub weight: u32,
    /// What the provider charges us for one unit of face value, when known.
    pub buy_price: Option<Amount>,
}

/// What an attempt's answer meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Written before the call; no answer recorded yet.
    Sent,
    Delivered,
    Declined,
    /// Provably never left: another route may be tried.
    NotSent,
    /// Sent, and no answer that settles it: only a query decides.
    Unknown,
    Reversed,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 6] = [
        AttemptOutcome::Sent,
        AttemptOutcome::Delivered,
        AttemptOutcome::Declined,
        AttemptOutcome::NotSent,
        AttemptOutcome::Unknown,
        AttemptOutcome::Reversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Sent => "sent",
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Declined => "declined",
            AttemptOutcome::NotSent => "not_sent",
            AttemptOutcome::Unknown => "unknown",
            AttemptOutcome::Reversed => "reversed",
        }
    }

    pub fn parse(text: &str) -> Option<AttemptOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// An attempt at sending an order, as written before the network call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttempt {
    pub order_id: OrderId,
    /// 1 for the first try.
    pub attempt: u32,
    pub provider_id: ProviderId,
    /// Our reference upstream: deterministic from order and attempt, so the
    /// attempt can be looked up there after a crash.
    pub upstream_ref: String,
    /// The provider's product code it is sent as.
    pub upstream_product: String,
    pub sent_at_ms: i64,
}

/// An attempt with its answer so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    pub order_id: OrderId,
    pub attempt: u32,
    pub provider_id: ProviderId,
    pub upstream_ref: String,
    pub upstream_product: String,
    pub sent_at_ms: i64,
    pub outcome: AttemptOutcome,
    /// The provider's own status or error code, as it gave it.
    pub upstream_code: String,
    /// The start of the provider's answer, for the operator.
    pub answer_excerpt: String,
    pub answered_at_ms: Option<i64>,
    /// What the provider charged us, when its answer says.
    pub cost: Option<Amount>,
}

/// The answer to an attempt, recorded with the order's transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptAnswer {
    pub order_id: OrderId,
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    pub upstream_code: String,
    pub answer_excerpt: String,
    pub answered_at_ms: i64,
    /// What the provider charged us, when its answer says.
    pub cost: Option<Amount>,
}

/// The leaky bucket that takes a failing provider out of rotation for a
/// product: each failure adds one, `capacity` leak away evenly over
/// `window_ms`, and a failure that fills the bucket takes the provider out
/// for `out_ms` (and empties the bucket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub capacity: u32,
    pub window_ms: i64,
    pub out_ms: i64,
}

/// Providers and routes (administrative writes; every node re-reads them
/// within seconds), and the attempt log of an order.
pub trait ProviderStore {
    /// `StoreError::Unique` when the name is taken.
    fn create_provider<'a>(&'a self, provider: &'a NewProvider) -> BoxFuture<'a, Result<ProviderRow>>;
    /// Every provider, by name.
    fn providers(&self) -> BoxFuture<'_, Result<Vec<ProviderRow>>>;
    /// False when no provider has this name.
    fn set_provider_enabled<'a>(&'a self, name: &'a str, enabled: bool, now_ms: i64) -> BoxFuture<'a, Result<bool>>;

    /// Replaces the operator's code-table changes of a provider by name and
    /// stamps it; false when there is no such provider.
    fn set_provider_codes<'a>(&'a self, name: &'a str, codes_json: &'a str, now_ms: i64)
        -> BoxFuture<'a, Result<bool>>;
    /// Adds the route, or replaces the route of the same product and provider.
    fn put_route<'a>(&'a self, route: &'a RouteRow) -> BoxFuture<'a, Result<()>>;
    /// False when there was no such route.
    fn remove_route<'a>(&'a self, product: &'a str, provider_id: ProviderId) -> BoxFuture<'a, Result<bool>>;
    /// Every route, by product, then priority, then provider.
    fn routes(&self) -> BoxFuture<'_, Result<Vec<RouteRow>>>;
    /// An order's attempts, first first.
    fn attempts(&self, order_id: OrderId) -> BoxFuture<'_, Result<Vec<AttemptRow>>>;
    /// Counts a failure of a provider for a product in its bucket; the time
    /// it is out of rotation until, when this failure filled the bucket.
    fn record_provider_failure<'a>(
        &'a self,
        provider_id: ProviderId,
        product: &'a str,
        now_ms: i64,
        bucket: Bucket,
    ) -> BoxFuture<'a, Result<Option<i64>>>;
    /// (provider, product, out until) of every provider out of rotation at `now_ms`.
    fn providers_out(&self, now_ms: i64) -> BoxFuture<'_, Result<Vec<(ProviderId, String, i64)>>>;
    /// The attempts sent to a provider in [from_ms, to_ms), by time of
    /// sending (reconciliation against the provider's own list).
    fn attempts_sent(
        &self,
        provider_id: ProviderId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<AttemptRow>>>;
}
