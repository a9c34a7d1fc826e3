//! What an aggregator's code means for our order, the vocabulary of the
//! Reloadly and Ding code tables (each connector's `codes.rs` keeps its own
//! table; IIMMPACT's, whose codes are the contract's own, has its own
//! vocabulary with reversals).

use tambah_domain::StatusCode;

/// What one upstream code or transfer state means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// Recorded and still being worked on, or sent and not settled: ask
    /// again later.
    Pending,
    Delivered,
    /// Refused for good about the customer's number, with our code.
    Declined(StatusCode),
    /// The provider could not take the order and nothing was debited there:
    /// it may go to another route.
    Unavailable,
    /// Our credentials (API key, bearer token) were refused: nothing was done.
    Auth,
    /// The provider says it has a request under our reference already: that
    /// one may have been paid, so the order is looked up, never failed.
    Duplicate,
    /// Not in the table: unknown, never a failure.
    Unknown,
}
