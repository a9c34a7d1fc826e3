//! The black-box tests that need a PostgreSQL server of their own are
//! reported as *ignored* (never as passed) when they cannot run:
//! `cfg(postgres_tests)` when `TAMBAH_TEST_POSTGRES` names a server, and
//! `cfg(postgres_pass)` on the suite's PostgreSQL pass
//! (`TAMBAH_TEST_BACKEND=postgres`), where they already ran in the default
//! pass.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(postgres_pass)");
    println!("cargo::rerun-if-env-changed=TAMBAH_TEST_POSTGRES");
    println!("cargo::rerun-if-env-changed=TAMBAH_TEST_BACKEND");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("TAMBAH_TEST_POSTGRES").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    if std::env::var("TAMBAH_TEST_BACKEND").is_ok_and(|b| b == "postgres") {
        println!("cargo::rustc-cfg=postgres_pass");
    }
}
