//! The store seam: the traits the engine sees and the rows that cross it,
//! one section per file (merchants, credentials, orders, ledger, callbacks,
//! reports, catalog, disputes, providers, accounts). `Store` is the sum of the section
//! traits.
//! Backends (SQLite, PostgreSQL) implement them in files of the same names;
//! row mapping is written once, in `rows`. The write side is a `Writer`
//! session used by exactly one thread (the group-commit writer); reads go
//! through `Store` from any thread. Only the binary picks a backend.

use std::future::Future;
use std::pin::Pin;

mod accounts;
mod callbacks;
mod catalog;
mod chain;
mod credentials;
mod disputes;
mod ledger;
mod merchants;
mod orders;
mod providers;
mod reports;
pub mod rows;
mod writer;

pub use accounts::*;
pub use callbacks::*;
pub use catalog::*;
pub use chain::*;
pub use credentials::*;
pub use disputes::*;
pub use ledger::*;
pub use merchants::*;
pub use orders::*;
pub use providers::*;
pub use reports::*;
pub use writer::*;

pub type Result<T> = std::result::Result<T, StoreError>;

/// Why a store call failed, in the terms the engine acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write (e.g. a refid raced in).
    #[error("unique constraint: {0}")]
    Unique(String),
    /// Another constraint refused the write (a bug upstream of the store).
    #[error("constraint: {0}")]
    Constraint(String),
    /// The database cannot take the call for a reason outside the request:
    /// read-only, full, locked too long, unreachable, shutting down. With
    /// `nothing_changed`, the database said so itself (the transaction was
    /// refused or rolled back); without, the connection failed and a commit
    /// may or may not have landed.
    #[error("database unavailable: {reason}")]
    Unavailable { reason: String, nothing_changed: bool },
    /// Anything else: corruption, a bug.
    #[error("store: {0}")]
    Other(String),
}

/// A boxed future, so that `Store` stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A value already computed, as a `BoxFuture` (for synchronous backends).
pub fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

/// The database: every section, plus a write session for the writer thread.
/// Reads and administrative writes are async (network backends must not
/// block the caller's runtime); order and ledger writes go through a
/// `Writer` on the writer thread.
pub trait Store:
    MerchantStore
    + CredentialStore
    + OrderStore
    + LedgerStore
    + CallbackStore
    + ReportStore
    + CatalogStore
    + DisputeStore
    + ProviderStore
    + AccountStore
    + Send
    + Sync
    + 'static
{
    /// A write session for a writer thread. Must not block: network backends
    /// connect on first use, on the writer's own thread.
    fn writer(&self) -> Result<Box<dyn Writer>>;

    /// Checks that the database answers.
    fn ping(&self) -> BoxFuture<'_, Result<()>>;

    /// Records that `node` wrote at `at_ms` (the health endpoint's proof
    /// that the database accepts writes).
    fn heartbeat<'a>(&'a self, node: &'a str, at_ms: i64) -> BoxFuture<'a, Result<()>>;

    /// Every node's last heartbeat as (node, at_ms), the latest first (at
    /// most [`NODE_HEARTBEATS_MAX`]).
    fn node_heartbeats(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>>>;
}

/// Node heartbeats listed at most (a node named by its process id leaves a
/// row behind at every restart).
pub const NODE_HEARTBEATS_MAX: u32 = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_lists_the_first_violations_and_counts_the_rest() {
        let rule = VerifyRule { name: "r", examined: "", violations: "" };
        let c = Check::from_rule(&rule, 7, (0..Check::LIST_MAX + 3).map(|i| format!("v{i}")));
        assert_eq!(c.examined, 7);
        assert_eq!(c.violations.len(), Check::LIST_MAX + 1);
        assert_eq!(c.violations[0], "v0");
        assert_eq!(c.violations.last().unwrap(), "... and 3 more");
        assert_eq!(c.found, Check::LIST_MAX + 3, "every violation counted");
        let c = Check::from_rule(&rule, 0, (0..Check::LIST_MAX).map(|i| format!("v{i}")));
        assert_eq!(c.violations.len(), Check::LIST_MAX);
        assert!(Check::from_rule(&rule, 0, Vec::new()).violations.is_empty());
    }
}
