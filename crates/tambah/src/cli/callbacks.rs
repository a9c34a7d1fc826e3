//! `tambah callbacks`: an order's delivery log, and queueing its status for
//! delivery again.

use clap::Subcommand;

use crate::database::{with_engine, DbArgs};

#[derive(Subcommand, Debug)]
pub enum CallbacksCommand {
    /// Queue an order's current status for delivery again (refused while a
    /// callback of the order is pending, and once it has had 10).
    Redeliver {
        #[arg(long)]
        account: String,
        #[arg(long)]
        refid: String,
    },
    /// Every callback of an order and every attempt, as JSON.
    Log {
        #[arg(long)]
        account: String,
        #[arg(long)]
        refid: String,
    },
}

pub async fn run(db: &DbArgs, command: CallbacksCommand) -> Result<(), String> {
    match command {
        CallbacksCommand::Redeliver { account, refid } => redeliver(db, account, refid).await,
        CallbacksCommand::Log { account, refid } => log(db, account, refid).await,
    }
}

async fn redeliver(db: &DbArgs, account: String, refid: String) -> Result<(), String> {
    let r = refid.clone();
    let id = with_engine(db, |e| async move {
        let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
        e.redeliver(&m, &r).await.map_err(|e| e.to_string())
    })
    .await?;
    println!("callback {id} queued for {refid}");
    Ok(())
}

async fn log(db: &DbArgs, account: String, refid: String) -> Result<(), String> {
    let log = with_engine(db, |e| async move {
        let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
        tambah_http::callbacks::log_json(&e, m.id, &refid).await.map_err(|e| e.to_string())
    })
    .await?;
    println!("{log}");
    Ok(())
}
