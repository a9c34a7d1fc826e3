//! `tambah dispute`: list the disputes merchants opened and close them.

use clap::Subcommand;
use serde_json::json;

use crate::database::{with_engine, DbArgs};

#[derive(Subcommand, Debug)]
pub enum DisputeCommand {
    /// Open disputes (all with --all), as JSON lines.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Close a dispute, optionally refunding its order first.
    Resolve {
        id: i64,
        #[arg(long)]
        resolution: String,
        #[arg(long)]
        refund: bool,
    },
}

pub async fn run(db: &DbArgs, command: DisputeCommand) -> Result<(), String> {
    match command {
        DisputeCommand::List { all } => list(db, all).await,
        DisputeCommand::Resolve { id, resolution, refund } => resolve(db, id, resolution, refund).await,
    }
}

async fn list(db: &DbArgs, all: bool) -> Result<(), String> {
    let list = with_engine(db, |e| async move { e.disputes(!all).await.map_err(|e| e.to_string()) }).await?;
    for d in list {
        println!(
            "{}",
            json!({"id": d.id.get(), "refid": d.refid, "merchant_id": d.merchant_id.get(), "state": d.state,
                   "emails": d.emails, "resolution": d.resolution,
                   "opened": tambah_http::wire::myt(d.created_at_ms).seconds_text()})
        );
    }
    Ok(())
}

async fn resolve(db: &DbArgs, id: i64, resolution: String, refund: bool) -> Result<(), String> {
    let d = with_engine(db, |e| async move {
        let resolved = e.resolve_dispute(tambah_domain::DisputeId::new(id), &resolution, refund).await;
        resolved.map_err(|e| e.to_string())
    })
    .await?;
    println!("dispute {} resolved: {}", d.id, d.resolution);
    Ok(())
}
