//! `tambah migrate`: create the database or bring its schema up to date
//! (opening it does both).

use crate::database::{redact, with_engine, DbArgs};

pub async fn run(db: &DbArgs) -> Result<(), String> {
    with_engine(db, |_| async { Ok(()) }).await?;
    println!("database {} is up to date", redact(&db.database));
    Ok(())
}
