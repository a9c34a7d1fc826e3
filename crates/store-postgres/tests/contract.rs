//! The store contract against a real PostgreSQL: one test per check, each on
//! a fresh database dropped afterwards. Without `TAMBAH_TEST_POSTGRES` at
//! build time the checks are ignored (and CI fails, see below).

mod server;

use server::Database;

/// A fresh database named after the check.
fn fresh_database(check: &str) -> Database {
    Database::fresh(&format!("contract_{check}"))
}

tambah_store_contract::contract_tests!(
    fresh_database,
    #[cfg_attr(not(postgres_tests), ignore = "set TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 to run")]
);

/// CI must run the PostgreSQL tests, not report them ignored.
#[test]
fn ci_runs_the_postgres_tests() {
    assert!(
        cfg!(postgres_tests) || std::env::var_os("CI").is_none(),
        "TAMBAH_TEST_POSTGRES must be set in CI: PostgreSQL tests may not be skipped"
    );
}
