//! Turns the PostgreSQL tests on when `TAMBAH_TEST_POSTGRES` is set at build
//! time (`cfg(postgres_tests)`); without it they are reported as ignored
//! rather than passing without a server.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TAMBAH_TEST_POSTGRES");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("TAMBAH_TEST_POSTGRES").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
