//! Runs the backend-neutral store contract against SQLite: one test per
//! check, each on a fresh database file in the temporary directory that is
//! removed afterwards, also when the check fails.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tambah_store::Store;
use tambah_store_contract::FreshStore;
use tambah_store_sqlite::SqliteStore;

/// A store on its own database file; dropping it closes the store, then
/// removes the file with its WAL, shared-memory and journal files.
struct TempDb {
    store: Option<SqliteStore>,
    path: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Opens a fresh, migrated database named after the check.
fn temp_db(check: &str) -> TempDb {
    let path = std::env::temp_dir().join(format!(
        "tambah-store-contract-{}-{}-{check}.db",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
    ));
    // Own the path before opening, so that a half-created file is removed too.
    let mut db = TempDb { store: None, path };
    let store = SqliteStore::open(&db.path).unwrap_or_else(|e| panic!("opening {}: {e}", db.path.display()));
    db.store = Some(store);
    db
}

impl FreshStore for TempDb {
    fn store(&self) -> &dyn Store {
        self.store.as_ref().expect("the store is open until the database is dropped")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        drop(self.store.take());
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

tambah_store_contract::contract_tests!(temp_db);

/// A status code the contract does not define (a row edited by hand) is a
/// store error on read, not a panic that would stop a node's workers.
#[test]
fn an_unknown_stored_status_is_an_error_not_a_panic() {
    use tambah_domain::{Amount, Environment, StatusCode};
    use tambah_store_contract::{block, create, order};

    let db = temp_db("unknown_status");
    let store = db.store();
    let m = create(store, Environment::Staging, "unknown-status");
    let mut w = store.writer().unwrap();
    w.begin().unwrap();
    let id = w.insert_order(&order(m.id, "R1", StatusCode::PROCESSING, Amount::from_rm(10), 1)).unwrap();
    w.commit().unwrap();
    drop(w);
    assert_eq!(block(store.order(id)).unwrap().unwrap().status, StatusCode::PROCESSING);

    let raw = rusqlite::Connection::open(&db.path).unwrap();
    raw.execute("UPDATE orders SET status = 99 WHERE id = ?1", [id.get()]).unwrap();
    assert!(block(store.order(id)).is_err(), "status 99 must be refused on read");
    assert!(block(store.order_by_refid(m.id, "R1")).is_err());
}
