//! `tambah key`: create and revoke a merchant's API keys.

use clap::Subcommand;
use serde_json::json;

use crate::database::{with_engine, DbArgs};

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create another API key for a merchant.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key at once.
    Revoke { key: String },
}

pub async fn run(db: &DbArgs, command: KeyCommand) -> Result<(), String> {
    match command {
        KeyCommand::Create { account, json } => create(db, account, json).await,
        KeyCommand::Revoke { key } => revoke(db, key).await,
    }
}

async fn create(db: &DbArgs, account: String, json: bool) -> Result<(), String> {
    let acct = account.clone();
    let (key, secret) = with_engine(db, |e| async move {
        let m = e.merchant_by_account(&acct).await.map_err(|e| e.to_string())?;
        e.create_api_key(&m).await.map_err(|e| e.to_string())
    })
    .await?;
    if json {
        println!("{}", json!({"account": account, "api_key": key, "api_secret": secret}));
    } else {
        println!("API key:    {key}\nAPI secret: {secret}   (shown once: store it now)");
    }
    Ok(())
}

async fn revoke(db: &DbArgs, key: String) -> Result<(), String> {
    let k = key.clone();
    let revoked = with_engine(db, |e| async move { e.revoke_api_key(&k).await.map_err(|e| e.to_string()) }).await?;
    if revoked {
        println!("API key {key} revoked");
    } else {
        println!("API key {key} was already revoked");
    }
    Ok(())
}
