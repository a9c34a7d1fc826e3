//! The command line: `serve` and the operator commands, each in the exact form
//! scripts depend on (see README.md). This module only parses and dispatches;
//! each command group lives in its own module with its flags and its `run`.

mod callbacks;
mod catalog;
mod deposit;
mod dispute;
mod key;
mod merchant;
mod migrate;
mod operator;
mod order;
mod provider;
mod reconcile;
mod report;
mod route;
mod sign;
mod statement;
mod verify;

use clap::{Parser, Subcommand};

use crate::database::DbArgs;
use crate::serve::ServeArgs;

#[derive(Parser, Debug)]
#[command(name = "tambah", version, about = "Reload and bill-payment platform (IIMMPACT-compatible API)")]
pub struct Args {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the API server and workers (the default).
    Serve,
    /// Create the database or bring its schema up to date.
    Migrate,
    /// Merchant accounts.
    #[command(subcommand)]
    Merchant(merchant::MerchantCommand),
    /// Credit a merchant's wallet (a DEPOSIT ledger entry).
    Deposit(deposit::DepositArgs),
    /// API keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Check every ledger invariant; exits non-zero on any violation.
    Verify,
    /// A merchant's downloaded statement: recompute its hash chain and check
    /// it against a head kept earlier. Needs no database.
    #[command(subcommand)]
    Statement(statement::StatementCommand),
    /// Print a signed curl command (HMAC v1) for trying the API by hand.
    Sign(sign::SignArgs),
    /// Orders.
    #[command(subcommand)]
    Order(order::OrderCommand),
    /// Callbacks: the delivery log, manual redelivery.
    #[command(subcommand)]
    Callbacks(callbacks::CallbacksCommand),
    /// Disputes opened with POST /v2/transactions/check.
    #[command(subcommand)]
    Dispute(dispute::DisputeCommand),
    /// Reconciliation reports (JSON, or CSV with --csv).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// The product catalogue: import, show, stock.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// The operator's own accounts for the console at /operator.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Upstream providers that live orders are sent to.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Which providers each product's live orders go to.
    #[command(subcommand)]
    Route(route::RouteCommand),
    /// A provider's day: our attempts against its own list (non-zero exit on any difference).
    Reconcile(reconcile::ReconcileArgs),
}

pub async fn run(args: Args) -> Result<(), String> {
    let db = &args.db;
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve::run(db, args.serve).await,
        Command::Migrate => migrate::run(db).await,
        Command::Merchant(c) => merchant::run(db, c).await,
        Command::Deposit(a) => deposit::run(db, a).await,
        Command::Key(c) => key::run(db, c).await,
        Command::Verify => verify::run(db).await,
        Command::Sign(a) => sign::run(a),
        Command::Statement(c) => statement::run(c),
        Command::Order(c) => order::run(db, c).await,
        Command::Callbacks(c) => callbacks::run(db, c).await,
        Command::Dispute(c) => dispute::run(db, c).await,
        Command::Operator(c) => operator::run(db, c).await,
        Command::Provider(c) => provider::run(db, c).await,
        Command::Route(c) => route::run(db, c).await,
        Command::Reconcile(a) => reconcile::run(db, a).await,
        Command::Report(c) => report::run(db, c).await,
        Command::Catalog(c) => catalog::run(db, c).await,
    }
}
