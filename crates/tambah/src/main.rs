//! `tambah`: the one binary. `tambah serve` (the default) runs the API and the
//! workers on the configured database; the other subcommands are the
//! operator's CLI, usable whether or not a server is running.

mod cli;
mod database;
mod serve;
mod watch;

use std::process::ExitCode;

use clap::Parser;

/// Every request allocates and frees many small buffers on several threads:
/// mimalloc serves that with less CPU than glibc's malloc and returns freed
/// memory sooner (`BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TAMBAH_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal; plain text for a file or a journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tambah: {e}");
            ExitCode::FAILURE
        }
    }
}
