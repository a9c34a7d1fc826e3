//! Signature nonces in the `nonces` table (migration 0012), as on
//! PostgreSQL: a node restarted on the same file still refuses a request
//! signed before the restart, and each key's nonces are its own rows, so one
//! key's requests never displace another key's. A row is kept until its
//! request's timestamp has left the window; the first nonce of each new
//! second deletes the expired ones.
//!
//! One connection, kept open, records them with `synchronous = NORMAL`: a
//! nonce survives a crash or restart of the process at once. After a power
//! loss the last few may be gone, but not the nonce of a request that changed
//! anything: that change commits later, with `synchronous = FULL`, and its
//! sync of the log also makes the nonce before it durable.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, TransactionBehavior};
use tambah_store::Result;

use crate::err;

const INSERT: &str = "INSERT INTO nonces (key_id, nonce, expires_at_s) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
const SWEEP: &str = "DELETE FROM nonces WHERE expires_at_s < ?1";

pub(crate) struct Nonces {
    inner: Mutex<Inner>,
}

struct Inner {
    conn: Connection,
    /// The second of the last sweep of expired nonces.
    swept_at_s: i64,
}

impl Nonces {
    pub(crate) fn open(path: &Path) -> Result<Nonces> {
        let conn = crate::open(path)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL").map_err(err)?;
        Ok(Nonces { inner: Mutex::new(Inner { conn, swept_at_s: i64::MIN }) })
    }

    /// Records a key's nonce; false when the key already used it.
    pub(crate) fn first_use(&self, key_id: &str, nonce: &str, expires_at_s: i64, now_s: i64) -> Result<bool> {
        let mut inner = self.inner.lock().expect("nonce connection poisoned");
        let sweep = inner.swept_at_s < now_s;
        let tx = inner.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        if sweep {
            tx.prepare_cached(SWEEP).and_then(|mut s| s.execute([now_s])).map_err(err)?;
        }
        let added =
            tx.prepare_cached(INSERT).and_then(|mut s| s.execute(params![key_id, nonce, expires_at_s])).map_err(err)?
                == 1;
        tx.commit().map_err(err)?;
        if sweep {
            inner.swept_at_s = now_s;
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file removed (with its WAL and shared memory) on drop.
    struct TempDb(std::path::PathBuf);

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = self.0.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }

    fn rows(path: &Path) -> Vec<(String, String)> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn.prepare("SELECT key_id, nonce FROM nonces ORDER BY key_id, nonce").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn expired_nonces_are_deleted_and_live_ones_kept() {
        let db = TempDb(std::env::temp_dir().join(format!("tambah-nonces-{}.db", std::process::id())));
        let store = crate::SqliteStore::open(&db.0).unwrap();
        let now = 1_700_000_000;
        assert!(store.nonces.first_use("key-a", "old-nonce-000001", now + 300, now).unwrap());
        assert!(store.nonces.first_use("key-b", "new-nonce-000001", now + 600, now + 300).unwrap());
        assert_eq!(rows(&db.0).len(), 2, "nothing has expired yet");

        // A second later key-a's nonce is out of its window: the next nonce
        // sweeps it away, and key-b's, still inside its own, stays refused.
        assert!(store.nonces.first_use("key-c", "any-nonce-000001", now + 601, now + 301).unwrap());
        let left = rows(&db.0);
        assert_eq!(left, [("key-b".into(), "new-nonce-000001".into()), ("key-c".into(), "any-nonce-000001".into())]);
        assert!(!store.nonces.first_use("key-b", "new-nonce-000001", now + 601, now + 301).unwrap());
    }
}
