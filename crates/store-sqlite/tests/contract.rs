//! Runs the backend-neutral store contract against SQLite, each check on a
//! fresh database file in the temporary directory.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tambah_store::Store;
use tambah_store_sqlite::SqliteStore;

/// Removes every database file it handed out (with its WAL and shared-memory
/// files), even when a check panics.
#[derive(Default)]
struct TempDbs {
    paths: RefCell<Vec<PathBuf>>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempDbs {
    fn open(&self) -> Box<dyn Store> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "tambah-store-contract-{}-{}-{nanos}.db",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
        ));
        self.paths.borrow_mut().push(path.clone());
        let store = SqliteStore::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        Box::new(store)
    }
}

impl Drop for TempDbs {
    fn drop(&mut self) {
        for path in self.paths.borrow().iter() {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

#[test]
fn sqlite_passes_the_store_contract() {
    let dbs = TempDbs::default();
    tambah_store::contract::run_all(&|| dbs.open());
}
