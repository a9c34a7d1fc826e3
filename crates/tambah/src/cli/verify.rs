//! `tambah verify`: check every ledger invariant; a violation makes the
//! command fail so scripts and cron jobs notice.

use crate::database::{with_engine, DbArgs};

pub async fn run(db: &DbArgs) -> Result<(), String> {
    let checks = with_engine(db, |e| async move { e.verify().await.map_err(|e| e.to_string()) }).await?;
    let mut violations = 0;
    for c in &checks {
        let mark = if c.violations.is_empty() { "ok  " } else { "FAIL" };
        println!("{mark} {} ({} examined)", c.name, c.examined);
        for v in &c.violations {
            println!("       {v}");
        }
        violations += c.found;
    }
    if violations > 0 {
        return Err(format!("{violations} violation(s) of the ledger invariants"));
    }
    println!("ledger verified: {} checks, no violations", checks.len());
    Ok(())
}
