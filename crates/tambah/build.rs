//! The black-box tests that need a PostgreSQL server of their own are
//! reported as *ignored* (never as passed) when they cannot run:
//! `cfg(postgres_tests)` when `TAMBAH_TEST_POSTGRES` names a server, and
//! `cfg(postgres_pass)` on the suite's PostgreSQL pass
//! (`TAMBAH_TEST_BACKEND=postgres`), where they already ran in the default
//! pass.
//!
//! The dashboard's browser tests likewise: `cfg(browser_tests)` when a
//! `chromedriver` is on the PATH (Debian's `chromium-driver`, which `.ci/run`
//! installs).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(postgres_pass)");
    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    println!("cargo::rerun-if-env-changed=TAMBAH_TEST_POSTGRES");
    println!("cargo::rerun-if-env-changed=TAMBAH_TEST_BACKEND");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("TAMBAH_TEST_POSTGRES").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    if std::env::var("TAMBAH_TEST_BACKEND").is_ok_and(|b| b == "postgres") {
        println!("cargo::rustc-cfg=postgres_pass");
    }
    // Looked for on every build: installing it later must turn the tests on.
    println!("cargo::rerun-if-env-changed=PATH");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let driver = std::env::split_paths(&path).map(|dir| dir.join("chromedriver")).find(|p| p.is_file());
    match driver {
        Some(found) => {
            println!("cargo::rerun-if-changed={}", found.display());
            println!("cargo::rustc-cfg=browser_tests");
        }
        None => println!("cargo::rerun-if-changed=/usr/bin/chromedriver"),
    }
}
