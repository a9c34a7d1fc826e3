//! The embedded SQLite backend: WAL, `synchronous=FULL`, one write connection
//! per writer session and a small pool of read connections. This file holds
//! the plumbing (opening, the reader pool, error conversion, row reading);
//! each store section lives in the file of the same name as in `tambah_store`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, Row};
use tambah_domain::StatusCode;
use tambah_store::{ready, rows, BoxFuture, Claim, Result, Store, StoreError, Writer};

mod accounts;
mod callbacks;
mod catalog;
mod chain;
mod checkpoint;
mod credentials;
mod disputes;
mod ledger;
mod merchants;
mod migrate;
mod nonces;
mod orders;
mod providers;
mod reports;
mod verify;
mod writer;

pub use writer::SqliteWriter;

/// Read connections kept open for reuse; more may be opened under load.
const READ_POOL_MAX: usize = 8;
/// Waits for the write lock: this many steps of 100 µs, then of 1 ms up to
/// 10 s in all.
const BUSY_FINE_STEPS: i32 = 100;
const BUSY_STEPS: i32 = BUSY_FINE_STEPS + 10_000;

pub struct SqliteStore {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    /// Signature nonces, written on a connection of their own.
    nonces: nonces::Nonces,
    /// Declared last: stopped after every connection above is closed.
    _checkpointer: checkpoint::Checkpointer,
}

fn err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
        let text = msg.clone().unwrap_or_else(|| f.to_string());
        if f.code == ErrorCode::ConstraintViolation {
            return if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            {
                StoreError::Unique(text)
            } else {
                StoreError::Constraint(text)
            };
        }
        // SQLite rolls a failed statement's transaction back whole.
        let infrastructure = [
            ErrorCode::ReadOnly,
            ErrorCode::DiskFull,
            ErrorCode::DatabaseBusy,
            ErrorCode::DatabaseLocked,
            ErrorCode::CannotOpen,
            ErrorCode::SystemIoFailure,
            ErrorCode::PermissionDenied,
            ErrorCode::OutOfMemory,
        ];
        if infrastructure.contains(&f.code) {
            return StoreError::Unavailable { reason: text, nothing_changed: true };
        }
        return StoreError::Other(text);
    }
    StoreError::Other(e.to_string())
}

/// Called while another connection holds the write lock: waits and tries
/// again. Every signed request takes the lock for a moment (its nonce), so
/// waits start short: SQLite's own handler sleeps a whole millisecond first.
fn busy(retries: i32) -> bool {
    if retries >= BUSY_STEPS {
        return false;
    }
    let step = if retries < BUSY_FINE_STEPS { Duration::from_micros(100) } else { Duration::from_millis(1) };
    std::thread::sleep(step);
    true
}

/// SQLite's page cache of the writer's connection, in KiB: the pages every
/// batch touches (the newest index pages, the wallets) stay in memory.
const WRITER_CACHE_KIB: i64 = 16_000;
/// The page cache of every other connection (readers, nonces, the CLI's
/// writes): the operating system caches the file too, and eight readers
/// with the writer's cache each would hold 128 MB.
const READER_CACHE_KIB: i64 = 2_000;

fn open(path: &Path) -> Result<Connection> {
    open_with_cache(path, READER_CACHE_KIB)
}

fn open_with_cache(path: &Path, cache_kib: i64) -> Result<Connection> {
    open_with(path, cache_kib, checkpoint::AUTOCHECKPOINT_PAGES)
}

/// A connection with its page cache and the log size, in pages, past which
/// its own commits end the log's cycle (`checkpoint`).
fn open_with(path: &Path, cache_kib: i64, autocheckpoint: i64) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    conn.busy_handler(Some(busy)).map_err(err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(err)?;
    conn.pragma_update(None, "wal_autocheckpoint", autocheckpoint).map_err(err)?;
    conn.pragma_update(None, "cache_size", -cache_kib).map_err(err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Creates the database file, empty and for its owner only (0600, whatever
/// the umask), unless it exists: SQLite would create it 0644 less the umask,
/// and gives its `-wal` and `-shm` files the database file's mode.
#[cfg(unix)]
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    let fail = |e: std::io::Error| StoreError::Other(format!("creating {}: {e}", path.display()));
    match created {
        Ok(file) => file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> Result<()> {
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`. A
    /// database it creates is readable by its owner only.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        let mut conn = open(&path)?;
        migrate::run(&mut conn)?;
        let nonces = nonces::Nonces::open(&path)?;
        let _checkpointer = checkpoint::Checkpointer::start(&path)?;
        Ok(SqliteStore { path, readers: Mutex::new(vec![conn]), nonces, _checkpointer })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled read connection (SQLite answers in microseconds,
    /// so the section traits return its result as a ready future).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.readers.lock().expect("reader pool poisoned").pop();
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path)?,
        };
        let out = f(&conn).map_err(err);
        let mut pool = self.readers.lock().expect("reader pool poisoned");
        if pool.len() < READ_POOL_MAX {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in an immediate transaction on a fresh connection (the
    /// administrative writes that do not go through the writer thread).
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = open(&self.path)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        let out = f(&tx).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Leases the rows `select` finds (in `table`) to the claiming node, and
    /// returns them. Most passes find nothing, so the first look is on a read
    /// connection; only a non-empty pass takes the writer and looks again.
    fn claim_leased<T>(
        &self,
        select: &str,
        select_params: &[&dyn rusqlite::ToSql],
        row: fn(&Row) -> rusqlite::Result<T>,
        table: &str,
        id: fn(&T) -> i64,
        c: &Claim,
    ) -> Result<Vec<T>> {
        let query = |conn: &Connection| -> rusqlite::Result<Vec<T>> {
            let mut stmt = conn.prepare_cached(select)?;
            let rows = stmt.query_map(select_params, row)?;
            rows.collect()
        };
        if self.read(query)?.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let due = query(tx)?;
            let mut lease =
                tx.prepare_cached(&format!("UPDATE {table} SET lease_owner = ?1, lease_until_ms = ?2 WHERE id = ?3"))?;
            for r in &due {
                lease.execute(params![c.node, c.now_ms + c.lease_ms, id(r)])?;
            }
            Ok(due)
        })
    }
}

/// A selected row as `tambah_store::rows` reads it, from column `at` on (so
/// that one joined row can hold two store rows, e.g. a merchant and its key).
struct Cols<'r, 's> {
    row: &'r Row<'s>,
    at: usize,
}

impl<'r, 's> Cols<'r, 's> {
    fn new(row: &'r Row<'s>) -> Self {
        Cols { row, at: 0 }
    }

    fn at(row: &'r Row<'s>, at: usize) -> Self {
        Cols { row, at }
    }
}

impl rows::Columns for Cols<'_, '_> {
    type Error = rusqlite::Error;

    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.row.get(self.at + i)
    }

    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.row.get(self.at + i)
    }

    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.row.get(self.at + i)
    }

    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.row.get(self.at + i)
    }

    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.row.get(self.at + i)
    }

    fn bytes(&self, i: usize) -> rusqlite::Result<Vec<u8>> {
        self.row.get(self.at + i)
    }

    fn opt_bytes(&self, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.row.get(self.at + i)
    }

    fn status(&self, i: usize) -> rusqlite::Result<StatusCode> {
        self.row.get::<_, StoredCode>(self.at + i).map(|c| c.0)
    }

    fn opt_status(&self, i: usize) -> rusqlite::Result<Option<StatusCode>> {
        Ok(self.row.get::<_, Option<StoredCode>>(self.at + i)?.map(|c| c.0))
    }
}

/// A stored status code, read as a conversion error (not a panic) when the
/// contract does not define it: a row edited by hand must not stop a worker.
struct StoredCode(StatusCode);

impl rusqlite::types::FromSql for StoredCode {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let n = value.as_i64()?;
        u8::try_from(n)
            .ok()
            .and_then(StatusCode::from_u8)
            .map(StoredCode)
            .ok_or(rusqlite::types::FromSqlError::OutOfRange(n))
    }
}

impl Store for SqliteStore {
    fn writer(&self) -> Result<Box<dyn Writer>> {
        Ok(Box::new(SqliteWriter::new(open_with_cache(&self.path, WRITER_CACHE_KIB)?)))
    }

    fn ping(&self) -> BoxFuture<'_, Result<()>> {
        ready(self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))))
    }

    fn heartbeat<'a>(&'a self, node: &'a str, at_ms: i64) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            tx.execute(
                "INSERT INTO node_heartbeats (node, at_ms) VALUES (?1, ?2)
                 ON CONFLICT (node) DO UPDATE SET at_ms = excluded.at_ms",
                rusqlite::params![node, at_ms],
            )
            .map(|_| ())
        }))
    }

    fn node_heartbeats(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>>> {
        ready(self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT node, at_ms FROM node_heartbeats ORDER BY at_ms DESC, node LIMIT ?1")?;
            let rows = stmt.query_map([tambah_store::NODE_HEARTBEATS_MAX], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        }))
    }
}
