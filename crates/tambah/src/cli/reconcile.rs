//! `tambah reconcile`: a provider's day, our attempts against its own list;
//! exits non-zero when anything differs.

use clap::Args as ClapArgs;
use serde_json::json;
use tambah_engine::providers::reconcile::Reconciliation;

use crate::database::{with_engine, DbArgs};

#[derive(ClapArgs, Debug)]
pub struct ReconcileArgs {
    #[arg(long)]
    provider: String,
    /// The Malaysia-time day, `yyyy-MM-dd`.
    #[arg(long)]
    date: String,
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    #[arg(long)]
    csv: bool,
}

pub async fn run(db: &DbArgs, args: ReconcileArgs) -> Result<(), String> {
    let (provider, date) = (args.provider.clone(), args.date.clone());
    let r = with_engine(db, |e| async move { e.reconcile(&provider, &date).await.map_err(|e| e.to_string()) }).await?;
    if args.json {
        print_json(&r);
    } else if args.csv {
        print_csv(&r);
    } else {
        print_table(&r);
    }
    match r.differences.len() {
        0 => Ok(()),
        n => Err(format!("{n} difference(s) with {} on {}", r.provider, r.day)),
    }
}

fn print_json(r: &Reconciliation) {
    let differences: Vec<_> = r
        .differences
        .iter()
        .map(|d| json!({"reference": d.reference, "kind": d.kind.as_str(), "ours": d.ours, "theirs": d.theirs}))
        .collect();
    println!(
        "{}",
        json!({"provider": r.provider, "date": r.day, "ours": r.ours, "theirs": r.theirs, "differences": differences})
    );
}

fn print_csv(r: &Reconciliation) {
    println!("reference,kind,ours,theirs");
    for d in &r.differences {
        println!("{},{},{},{}", d.reference, d.kind.as_str(), d.ours, d.theirs);
    }
}

fn print_table(r: &Reconciliation) {
    println!("{} on {}: {} attempts here, {} transactions there", r.provider, r.day, r.ours, r.theirs);
    for d in &r.differences {
        println!("{:<24} {:<17} ours={:<10} theirs={}", d.reference, d.kind.as_str(), d.ours, d.theirs);
    }
    if r.differences.is_empty() {
        println!("no differences");
    }
}
