//! The store contract: the behaviour every `Store` / `Writer` backend must
//! show, as plain functions that panic with a message naming the broken
//! promise, one file per store section. A backend's tests expand
//! [`contract_tests!`] with a function that opens a fresh, empty, migrated
//! store; it emits one `#[test]` per check, named after the check, so a
//! failing check never hides the others and `cargo test NAME` runs one.
//!
//! The checks only use the traits, so they hold for any backend. Writes that
//! are expected to fail inside a transaction are wrapped in a savepoint and
//! rolled back to it, as the engine does, so that backends whose transactions
//! are poisoned by a failed statement (PostgreSQL) pass as well.

use std::collections::BTreeSet;

use tambah_store::Store;

pub mod accounts;
pub mod callbacks;
pub mod credentials;
pub mod disputes;
mod fixtures;
pub mod ledger;
pub mod merchants;
pub mod orders;
pub mod providers;
pub mod reports;
pub mod writer;

pub use fixtures::{block, create, order};

/// One contract check, run against a fresh store.
pub type ContractCheck = fn(&dyn Store);

/// A fresh, empty, migrated store opened for one check. Dropping it removes
/// the database, also when the check panicked.
pub trait FreshStore {
    fn store(&self) -> &dyn Store;
}

/// Runs `check` on the store `open` makes for it; `open` gets the check's
/// name, so that a backend can name the database after it.
pub fn run<F: FreshStore>(name: &str, open: impl FnOnce(&str) -> F, check: ContractCheck) {
    let fresh = open(name);
    check(fresh.store());
}

/// Emits one `#[test]` per contract check, each running the check on a store
/// from `$open` (a `fn(&str) -> impl FreshStore`), plus a test that every
/// check written is listed here. Attributes after the opener go on every
/// check's test (e.g. a `cfg_attr(..., ignore = "...")` for a backend that
/// needs a server):
///
/// ```ignore
/// tambah_store_contract::contract_tests!(fresh_store);
/// tambah_store_contract::contract_tests!(fresh_database, #[cfg_attr(not(postgres_tests), ignore = "why")]);
/// ```
///
/// The `@checks` arm is the one list of checks; [`CHECKS`] is built from it
/// too, and `every_contract_check_is_listed` compares it with the sources.
#[macro_export]
macro_rules! contract_tests {
    (@checks $($how:tt)*) => {
        $crate::contract_tests! { @each [$($how)*]
            merchants::merchants
            merchants::merchant_settings
            merchants::daily_spend
            credentials::api_keys
            credentials::users_and_tokens
            credentials::nonces
            credentials::nonces_kept_per_key
            credentials::combined_lookups
            credentials::change_epoch
            orders::writer_orders
            orders::claim_due_orders
            orders::order_by_id
            orders::orders_with_refid
            orders::pending_orders
            writer::savepoints
            writer::ping
            ledger::system_accounts
            ledger::ledger_deposit
            ledger::ledger_hold_post
            ledger::ledger_constraints
            ledger::lock_balances_order
            ledger::insert_order_with_transfers
            ledger::verify_fresh
            ledger::verify_consistent_sequence
            ledger::verify_detects_drift
            callbacks::callback_settings
            callbacks::low_balance_watch
            callbacks::callback_outbox
            callbacks::order_callbacks
            callbacks::claim_due_callbacks
            callbacks::callbacks_of_an_order_go_in_turn
            callbacks::callbacks_in_flight_per_merchant
            callbacks::callback_attempts
            reports::list_orders
            reports::statement
            reports::hold_balances
            reports::movements
            reports::daily_summary
            reports::order_activity
            disputes::disputes
            providers::providers
            providers::provider_enabled
            providers::provider_codes
            providers::routes
            providers::attempts
            providers::attempts_sent
            providers::cost_of_goods
            providers::provider_health
            accounts::members
            accounts::user_links
            accounts::live_access
            accounts::api_key_listing
            accounts::operators_and_audit
            accounts::request_log
            accounts::dashboard_sessions
        }
    };
    (@each [table] $($section:ident :: $check:ident)*) => {
        &[$((stringify!($section), stringify!($check), $crate::$section::$check as $crate::ContractCheck)),*]
    };
    (@each [test $attrs:tt $open:expr] $($section:ident :: $check:ident)*) => {
        $($crate::contract_tests! { @test $attrs $open, $section, $check })*
    };
    (@test { $(#[$attr:meta])* } $open:expr, $section:ident, $check:ident) => {
        #[test]
        $(#[$attr])*
        fn $check() {
            $crate::run(stringify!($check), $open, $crate::$section::$check);
        }
    };
    ($open:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::contract_tests! { @checks test { $(#[$attr])* } $open }

        #[test]
        fn every_contract_check_is_listed() {
            $crate::assert_every_check_listed();
        }
    };
}

/// Every check as (section, name, function), in the order of the list in
/// [`contract_tests!`].
pub const CHECKS: &[(&str, &str, ContractCheck)] = contract_tests!(@checks table);

/// Each section's source, scanned for checks that the list forgot.
const SECTIONS: &[(&str, &str)] = &[
    ("accounts", include_str!("accounts.rs")),
    ("callbacks", include_str!("callbacks.rs")),
    ("credentials", include_str!("credentials.rs")),
    ("disputes", include_str!("disputes.rs")),
    ("fixtures", include_str!("fixtures.rs")),
    ("ledger", include_str!("ledger.rs")),
    ("merchants", include_str!("merchants.rs")),
    ("orders", include_str!("orders.rs")),
    ("providers", include_str!("providers.rs")),
    ("reports", include_str!("reports.rs")),
    ("writer", include_str!("writer.rs")),
];

/// Panics unless every `pub fn NAME(store: &dyn Store)` of every section is
/// in the list of [`contract_tests!`] (and nothing else is), so that a new
/// check cannot be left out of the backends' tests.
pub fn assert_every_check_listed() {
    let modules: BTreeSet<&str> = include_str!("lib.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ").or_else(|| l.strip_prefix("mod "))?.strip_suffix(';'))
        .collect();
    let scanned: BTreeSet<&str> = SECTIONS.iter().map(|(section, _)| *section).collect();
    assert_eq!(scanned, modules, "every module of the contract crate is scanned for checks");
    let written: BTreeSet<(&str, &str)> = SECTIONS
        .iter()
        .flat_map(|(section, text)| {
            text.lines()
                .filter_map(|l| l.strip_prefix("pub fn ")?.strip_suffix("(store: &dyn Store) {"))
                .map(move |name| (*section, name))
        })
        .collect();
    let listed: BTreeSet<(&str, &str)> = CHECKS.iter().map(|(section, name, _)| (*section, *name)).collect();
    assert_eq!(listed.len(), CHECKS.len(), "no check is listed twice");
    let forgotten: Vec<_> = written.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&written).collect();
    assert!(
        forgotten.is_empty() && unknown.is_empty(),
        "the list in contract_tests! must name exactly the checks written: add {forgotten:?}, remove {unknown:?}"
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_check_is_listed() {
        super::assert_every_check_listed();
    }
}
