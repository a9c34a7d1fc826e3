//! `tambah deposit`: credit a merchant's wallet (a DEPOSIT ledger entry).

use clap::Args as ClapArgs;
use tambah_domain::Amount;

use crate::database::{with_engine, DbArgs};

#[derive(ClapArgs, Debug)]
pub struct DepositArgs {
    #[arg(long)]
    account: String,
    /// Amount in RM, e.g. 1000 or 250.50: digits, then optionally '.' and up
    /// to 4 decimals (the ledger's unit); no sign, spaces or leading zeros.
    #[arg(long)]
    amount: String,
    #[arg(long, default_value = "")]
    remarks: String,
}

pub async fn run(db: &DbArgs, args: DepositArgs) -> Result<(), String> {
    let DepositArgs { account, amount, remarks } = args;
    let amount = Amount::parse_positive(&amount, 4).map_err(|e| format!("--amount {amount:?}: {e}"))?;
    let acct = account.clone();
    let balance =
        with_engine(db, |e| async move { e.deposit(&acct, amount, &remarks).await.map_err(|e| e.to_string()) }).await?;
    println!("deposited RM {} to {account}; balance RM {}", amount.to_cents(), balance.to_cents());
    Ok(())
}
