//! The PostgreSQL server the tests run against and a fresh database per
//! test. `TAMBAH_TEST_POSTGRES` is a server URL without a database (e.g.
//! `postgres://postgres@127.0.0.1:5432`); `.ci/run` starts the server and sets
//! it. Tests that need it are built ignored without it (see `build.rs`).

use std::sync::atomic::{AtomicU64, Ordering};

use tambah_store::Store;
use tambah_store_contract::FreshStore;
use tambah_store_postgres::PgStore;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// The server's URL, from the environment at run time or else at build time
/// (a test is only built to run when it was set then).
pub fn server_url() -> String {
    let url = std::env::var("TAMBAH_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
        .or_else(|| option_env!("TAMBAH_TEST_POSTGRES").map(str::to_owned))
        .expect("TAMBAH_TEST_POSTGRES must name the PostgreSQL server (postgres://postgres@127.0.0.1:5432)");
    url.trim_end_matches('/').to_owned()
}

/// A fresh database with the store open on it (created and migrated by
/// `PgStore::open`). Dropping it closes the store and drops the database,
/// also when the test failed.
pub struct Database {
    store: Option<PgStore>,
    server: String,
    name: String,
}

impl Database {
    /// A new database named after `label` (unique in this run).
    pub fn fresh(label: &str) -> Database {
        let mut name = format!("tambah_{label}_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        // PostgreSQL cuts identifiers at 63 bytes; the suffix keeps them unique.
        if name.len() > 63 {
            name.drain(..name.len() - 63);
        }
        // Own the name before opening, so that a half-created database is dropped too.
        let mut db = Database { store: None, server: server_url(), name };
        db.store = Some(PgStore::open(&db.url()).expect("opening a fresh PostgreSQL database"));
        db
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl FreshStore for Database {
    fn store(&self) -> &dyn Store {
        self.store.as_ref().expect("the store is open until the database is dropped")
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        drop(self.store.take());
        // Never panic here: this may run while a failed test unwinds.
        let dropped = tokio::runtime::Builder::new_current_thread().enable_all().build().map(|rt| {
            rt.block_on(async {
                let (client, conn) =
                    tokio_postgres::connect(&format!("{}/postgres", self.server), tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)).await
            })
        });
        if let Ok(Err(e)) = dropped {
            eprintln!("dropping database {}: {e}", self.name);
        }
    }
}
