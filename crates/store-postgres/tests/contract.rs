//! The store contract against a real PostgreSQL: every check on a fresh
//! database. Needs `TAMBAH_TEST_POSTGRES` (a server URL without a database,
//! e.g. `postgres://postgres@127.0.0.1:5432`); `.ci/run` starts the server and
//! sets it. Without it the test is skipped locally and fails under CI.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tambah_store::Store;
use tambah_store_postgres::PgStore;

static SEQ: AtomicU64 = AtomicU64::new(0);

fn server_url() -> Option<String> {
    match std::env::var("TAMBAH_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "TAMBAH_TEST_POSTGRES must be set in CI: PostgreSQL tests may not be skipped"
            );
            eprintln!("skipped: set TAMBAH_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 to run");
            None
        }
    }
}

fn drop_databases(server: &str, names: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) =
            tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        for name in names {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    });
}

#[test]
fn postgres_passes_the_store_contract() {
    let Some(server) = server_url() else { return };
    let created = Mutex::new(Vec::new());
    tambah_store::contract::run_all(&|| {
        let name = format!("tambah_contract_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        created.lock().unwrap().push(name.clone());
        Box::new(PgStore::open(&format!("{server}/{name}")).expect("opening a fresh PostgreSQL database"))
            as Box<dyn Store>
    });
    drop_databases(&server, &created.lock().unwrap());
}
