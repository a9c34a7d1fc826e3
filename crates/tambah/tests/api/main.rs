//! Black-box tests: a real `tambah` process on a random port with a fresh
//! SQLite file, driven over real HTTP. One test binary (faster to link);
//! each module covers one part of the contract.

mod aftersale;
mod auth;
mod browser;
mod browsing;
mod chain;
mod cli;
mod console;
mod console_catalogue;
mod crash;
mod dashboard;
mod dashboard_pages;
mod dashboard_reports;
mod delivery;
mod docs;
mod families;
mod harness;
mod ledger_chain;
mod limits;
mod multinode;
mod receiver;
mod snapshots;
mod topup;
mod wire_strict;
