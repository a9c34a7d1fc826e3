//! Copies the write-ahead log back into the database file beside the writer
//! rather than in its way.
//!
//! SQLite's automatic checkpoint runs inside whichever commit finds the log
//! past 1,000 pages: at a few thousand orders a second that is several times
//! a second, each copying the pages written since the last one and syncing
//! the file (4–8 ms measured) while every caller of that batch waits, or on
//! a runtime worker when a request's own write crossed the threshold.
//!
//! Here a thread of its own copies the log every 50 ms (a passive checkpoint:
//! it never blocks a writer). It cannot end a log cycle on its own, though:
//! SQLite starts the log over only when a write begins with every frame
//! copied, and under steady writes new frames always arrive in between. So
//! every connection keeps its automatic checkpoint, at a much higher
//! threshold ([`AUTOCHECKPOINT_PAGES`]): whichever commits past it (the
//! writer's batch, a nonce, an operator's change) finds only the last
//! milliseconds' frames left to copy, and the next write starts the log
//! over. When the last connection closes, SQLite checkpoints and removes the
//! log as always.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tambah_store::{Result, StoreError};

/// How often the thread copies the log.
const EVERY: Duration = Duration::from_millis(50);

/// The connections' threshold, in pages: the log grows to about 40 MB before
/// a commit ends its cycle.
pub(crate) const AUTOCHECKPOINT_PAGES: i64 = 10_000;

pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path) -> Result<Checkpointer> {
        let conn = crate::open(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tambah-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // A failure (the disk) is the writer's to report, on its
                    // next commit; this tries again.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| StoreError::Other(format!("starting the checkpoint thread: {e}")))?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use crate::SqliteStore;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tambah-checkpoint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("t.db")
    }

    fn len(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// No connection checkpoints on its own commits below the threshold, so
    /// the pages a fresh database's migrations wrote reach the database file
    /// only through the thread.
    #[test]
    fn the_log_is_copied_back_while_the_store_is_open() {
        let path = scratch("copied");
        let store = SqliteStore::open(&path).unwrap();
        let conn = crate::open(&path).unwrap();
        let auto: i64 = conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
        assert_eq!(auto, super::AUTOCHECKPOINT_PAGES, "connections leave checkpoints to the thread");
        let (pages, size): (u64, u64) = conn
            .query_row(
                "SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(pages > 20, "{pages} pages");
        let started = Instant::now();
        while len(&path) < pages * size {
            assert!(started.elapsed() < Duration::from_secs(5), "the database file still lacks pages in the log");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(conn);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// Under steady writes the thread alone would let the log grow for ever
    /// (a cycle ends only when a write begins with every frame copied); the
    /// writing connection's own threshold ends each cycle. With a threshold
    /// of 100 pages and 600 commits of a page each, the log stays near 100
    /// pages.
    #[test]
    fn steady_writes_keep_the_log_near_the_threshold() {
        let path = scratch("steady");
        let store = SqliteStore::open(&path).unwrap();
        let writer = crate::open_with(&path, 1_000, 100).unwrap();
        writer.execute_batch("CREATE TABLE scratch (b BLOB)").unwrap();
        let page = vec![7u8; 4000];
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let mut largest = 0;
        for _ in 0..600 {
            writer.execute("INSERT INTO scratch (b) VALUES (?1)", [&page]).unwrap();
            largest = largest.max(len(&wal));
        }
        assert!(largest < 200 * 4096, "the log grew to {largest} bytes");
        drop(writer);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
