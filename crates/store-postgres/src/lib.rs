//! The PostgreSQL backend, for many nodes on one database: the store, its connections and their runtime.
//!
//! Reads and administrative writes are async on a few shared connections
//! (pipelined by tokio-postgres); each `Writer` owns one connection and blocks
//! its own (writer) thread on it. Connections are driven by a small runtime
//! that the store owns, so the store works from any caller: async handlers,
//! the writer thread, tests. Each section of the store (merchants,
//! credentials, orders, ...) lives in the file of the same name as in
//! `tambah_store`; rows are mapped by `tambah_store::rows` through [`Cols`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tambah_domain::StatusCode;
use tambah_store::rows::{Columns, FilterValue};
use tambah_store::{BoxFuture, Result, Store, StoreError, Writer};
use tokio::runtime::{Handle, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row, Statement};

mod accounts;
mod callbacks;
mod catalog;
mod chain;
mod credentials;
mod disputes;
mod ledger;
mod merchants;
mod migrate;
mod orders;
mod providers;
mod reports;
mod verify;
mod writer;

pub use writer::PgWriter;

/// Shared connections for reads; each pipelines many concurrent queries.
const READ_CONNECTIONS: usize = 4;
/// How often the hot ledger-account rows are vacuumed.
const HOT_VACUUM_EVERY: Duration = Duration::from_secs(1);

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
/// Parameters of a statement built at run time.
type Values = Vec<Box<dyn ToSql + Sync + Send>>;

fn refs(values: &Values) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// The values of a shared filter (`tambah_store::rows::order_filter`), as parameters.
fn filter_values(values: Vec<FilterValue>) -> Values {
    values
        .into_iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                FilterValue::Int(i) => Box::new(i),
                FilterValue::Text(t) => Box::new(t),
            }
        })
        .collect()
}

/// The dialect's n-th placeholder (1-based), for shared filters.
fn placeholder(n: usize) -> String {
    format!("${n}")
}

pub(crate) fn err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let text = db.message().to_owned();
        let code = db.code();
        return if *code == SqlState::UNIQUE_VIOLATION {
            StoreError::Unique(text)
        } else if [
            SqlState::CHECK_VIOLATION,
            SqlState::FOREIGN_KEY_VIOLATION,
            SqlState::NOT_NULL_VIOLATION,
            SqlState::RAISE_EXCEPTION,
        ]
        .contains(code)
        {
            StoreError::Constraint(text)
        } else if infrastructure(code) {
            // The server refused: its transaction is rolled back.
            StoreError::Unavailable { reason: format!("{text} ({})", code.code()), nothing_changed: true }
        } else {
            StoreError::Other(format!("{text} ({})", code.code()))
        };
    }
    // No answer from the server: a commit in flight may have landed.
    StoreError::Unavailable { reason: e.to_string(), nothing_changed: false }
}

/// SQLSTATEs that say the database, not the request, is the problem: a
/// read-only transaction, connection exceptions (08), insufficient
/// resources (53: disk full, out of memory, too many connections), operator
/// intervention (57: shutdown, cannot connect now), system errors (58).
fn infrastructure(code: &SqlState) -> bool {
    *code == SqlState::READ_ONLY_SQL_TRANSACTION || ["08", "53", "57", "58"].iter().any(|c| code.code().starts_with(c))
}

/// One selected row as the shared mappers read it, from column `from` on (a
/// statement may select two rows side by side, e.g. a merchant and its key).
pub(crate) struct Cols<'r> {
    row: &'r Row,
    from: usize,
}

impl<'r> Cols<'r> {
    pub(crate) fn new(row: &'r Row) -> Cols<'r> {
        Cols { row, from: 0 }
    }

    pub(crate) fn at(row: &'r Row, from: usize) -> Cols<'r> {
        Cols { row, from }
    }

    /// The type of column `i`, counted from the row's start.
    fn int_type(&self, i: usize) -> &Type {
        self.row.columns()[i].type_()
    }
}

/// The schema mixes SMALLINT (statuses, access) with BIGINT columns, and
/// tokio-postgres reads each only as its own width: integers are read by the
/// column's type and widened, as the mappers take every integer as `i64`.
impl Columns for Cols<'_> {
    type Error = tokio_postgres::Error;

    fn int(&self, i: usize) -> std::result::Result<i64, Self::Error> {
        let i = self.from + i;
        match *self.int_type(i) {
            Type::INT2 => self.row.try_get::<_, i16>(i).map(i64::from),
            Type::INT4 => self.row.try_get::<_, i32>(i).map(i64::from),
            _ => self.row.try_get(i),
        }
    }

    fn opt_int(&self, i: usize) -> std::result::Result<Option<i64>, Self::Error> {
        let i = self.from + i;
        match *self.int_type(i) {
            Type::INT2 => Ok(self.row.try_get::<_, Option<i16>>(i)?.map(i64::from)),
            Type::INT4 => Ok(self.row.try_get::<_, Option<i32>>(i)?.map(i64::from)),
            _ => self.row.try_get(i),
        }
    }

    fn text(&self, i: usize) -> std::result::Result<String, Self::Error> {
        self.row.try_get(self.from + i)
    }

    fn opt_text(&self, i: usize) -> std::result::Result<Option<String>, Self::Error> {
        self.row.try_get(self.from + i)
    }

    fn flag(&self, i: usize) -> std::result::Result<bool, Self::Error> {
        self.row.try_get(self.from + i)
    }

    fn bytes(&self, i: usize) -> std::result::Result<Vec<u8>, Self::Error> {
        self.row.try_get(self.from + i)
    }

    fn opt_bytes(&self, i: usize) -> std::result::Result<Option<Vec<u8>>, Self::Error> {
        self.row.try_get(self.from + i)
    }

    fn status(&self, i: usize) -> std::result::Result<StatusCode, Self::Error> {
        self.row.try_get::<_, StoredCode>(self.from + i).map(|c| c.0)
    }

    fn opt_status(&self, i: usize) -> std::result::Result<Option<StatusCode>, Self::Error> {
        Ok(self.row.try_get::<_, Option<StoredCode>>(self.from + i)?.map(|c| c.0))
    }
}

/// A stored status code (SMALLINT or BIGINT), read as a conversion error
/// (not a panic) when the contract does not define it: a row edited by hand
/// must not stop a worker.
struct StoredCode(StatusCode);

impl<'a> tokio_postgres::types::FromSql<'a> for StoredCode {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let n = match *ty {
            Type::INT2 => i64::from(i16::from_sql(ty, raw)?),
            Type::INT4 => i64::from(i32::from_sql(ty, raw)?),
            _ => i64::from_sql(ty, raw)?,
        };
        let code = u8::try_from(n).ok().and_then(StatusCode::from_u8);
        code.map(StoredCode).ok_or_else(|| format!("status code {n} is not a contract code").into())
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
    }
}

/// One of the shared mappers (`tambah_store::rows::order`, ...) for rows of this backend.
type Mapper<'r, T> = fn(&Cols<'r>) -> std::result::Result<T, tokio_postgres::Error>;

/// Maps a row that starts with the mapped columns.
fn one<'r, T>(row: &'r Row, map: Mapper<'r, T>) -> Result<T> {
    map(&Cols::new(row)).map_err(err)
}

fn maybe<'r, T>(row: Option<&'r Row>, map: Mapper<'r, T>) -> Result<Option<T>> {
    row.map(|r| one(r, map)).transpose()
}

fn all<'r, T>(rows: &'r [Row], map: Mapper<'r, T>) -> Result<Vec<T>> {
    rows.iter().map(|r| one(r, map)).collect()
}

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    statements: Mutex<HashMap<&'static str, Statement>>,
}

impl Conn {
    async fn statement(&self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.lock().expect("statement cache poisoned").get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await.map_err(err)?;
        self.statements.lock().expect("statement cache poisoned").insert(sql, s.clone());
        Ok(s)
    }
}

async fn connect(config: &tokio_postgres::Config, handle: &Handle) -> Result<Conn> {
    let (client, connection) = config.connect(NoTls).await.map_err(err)?;
    handle.spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("tambah: PostgreSQL connection ended: {e}");
        }
    });
    Ok(Conn { client, statements: Mutex::new(HashMap::new()) })
}

pub struct PgStore {
    runtime: Option<Runtime>,
    handle: Handle,
    config: tokio_postgres::Config,
    conns: Vec<Mutex<Arc<Conn>>>,
    next: AtomicUsize,
    nonces_added: AtomicU64,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connects to `url` (creating the database if it does not exist yet)
    /// and brings the schema up to date. Safe to call from async code.
    pub fn open(url: &str) -> Result<PgStore> {
        let config = config(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tambah-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let handle = runtime.handle().clone();
        // A runtime cannot be blocked on from inside another: do the setup
        // on a plain thread.
        let conns = std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(setup(&config, &handle))).join().expect("PostgreSQL setup thread panicked")
        });
        let conns = match conns {
            Ok(conns) => conns,
            Err(e) => {
                // Dropped here, inside the caller's runtime, it would panic.
                runtime.shutdown_background();
                return Err(e);
            }
        };
        spawn_hot_vacuum(config.clone(), handle.clone());
        Ok(PgStore {
            runtime: Some(runtime),
            handle,
            config,
            conns: conns.into_iter().map(|c| Mutex::new(Arc::new(c))).collect(),
            next: AtomicUsize::new(0),
            nonces_added: AtomicU64::new(0),
        })
    }

    async fn conn(&self) -> Result<Arc<Conn>> {
        let slot = &self.conns[self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len()];
        let current = slot.lock().expect("connection slot poisoned").clone();
        if !current.client.is_closed() {
            return Ok(current);
        }
        let fresh = Arc::new(connect(&self.config, &self.handle).await?);
        *slot.lock().expect("connection slot poisoned") = fresh.clone();
        Ok(fresh)
    }

    async fn query(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        let conn = self.conn().await?;
        let statement = conn.statement(sql).await?;
        conn.client.query(&statement, params).await.map_err(err)
    }

    async fn query_opt(&self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>> {
        let conn = self.conn().await?;
        let statement = conn.statement(sql).await?;
        conn.client.query_opt(&statement, params).await.map_err(err)
    }

    async fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<u64> {
        let conn = self.conn().await?;
        let statement = conn.statement(sql).await?;
        conn.client.execute(&statement, params).await.map_err(err)
    }

    /// A statement built at run time (not cached: its text varies).
    async fn query_dynamic(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        let conn = self.conn().await?;
        conn.client.query(sql, params).await.map_err(err)
    }
}

/// The connection settings of `url`, with the session options every connection uses.
fn config(url: &str) -> Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e: tokio_postgres::Error| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?;
    // Every statement here is a short indexed look-up or write, prepared
    // once per connection: plan it once rather than at every execution.
    let options = match config.get_options() {
        Some(o) if !o.is_empty() => format!("{o} -c plan_cache_mode=force_generic_plan"),
        _ => "-c plan_cache_mode=force_generic_plan".to_owned(),
    };
    config.options(&options);
    Ok(config)
}

/// The ledger accounts are a handful of rows rewritten by every batch: their
/// dead versions pile up far faster than autovacuum visits (measured: status
/// checks fell from ~14k/s to ~1.7k/s after a burst of topups, and came back
/// with a VACUUM). Vacuum them every second, on a connection of their own.
fn spawn_hot_vacuum(config: tokio_postgres::Config, handle: Handle) {
    handle.clone().spawn(async move {
        let mut conn: Option<Conn> = None;
        loop {
            tokio::time::sleep(HOT_VACUUM_EVERY).await;
            if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                conn = connect(&config, &handle).await.ok();
            }
            if let Some(c) = &conn {
                let _ = c.client.batch_execute("VACUUM (SKIP_LOCKED) ledger_accounts").await;
            }
        }
    });
}

async fn setup(config: &tokio_postgres::Config, handle: &Handle) -> Result<Vec<Conn>> {
    let first = match connect(config, handle).await {
        Ok(c) => c,
        Err(StoreError::Other(m)) if m.contains(SqlState::INVALID_CATALOG_NAME.code()) => {
            create_database(config, handle).await?;
            connect(config, handle).await?
        }
        Err(e) => return Err(e),
    };
    migrate::run(&first.client).await?;
    let mut conns = vec![first];
    for _ in 1..READ_CONNECTIONS {
        conns.push(connect(config, handle).await?);
    }
    Ok(conns)
}

/// `CREATE DATABASE` for a database that does not exist yet (another node may
/// be doing the same: that is fine).
async fn create_database(config: &tokio_postgres::Config, handle: &Handle) -> Result<()> {
    let name = config.get_dbname().ok_or_else(|| StoreError::Other("the URL names no database".into()))?.to_owned();
    let mut admin = config.clone();
    admin.dbname("postgres");
    let conn = connect(&admin, handle).await?;
    let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match conn.client.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(()),
        Err(e) => Err(err(e)),
    }
}

impl Store for PgStore {
    fn writer(&self) -> Result<Box<dyn Writer>> {
        Ok(Box::new(PgWriter::new(self.config.clone())))
    }

    fn ping(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.query("SELECT 1", &[]).await.map(|_| ()) })
    }

    fn heartbeat<'a>(&'a self, node: &'a str, at_ms: i64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let sql = "INSERT INTO node_heartbeats (node, at_ms) VALUES ($1, $2)
                       ON CONFLICT (node) DO UPDATE SET at_ms = excluded.at_ms";
            self.execute(sql, &[&node, &at_ms]).await.map(|_| ())
        })
    }

    fn node_heartbeats(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>>> {
        Box::pin(async move {
            let sql = "SELECT node, at_ms FROM node_heartbeats ORDER BY at_ms DESC, node LIMIT $1";
            let limit = i64::from(tambah_store::NODE_HEARTBEATS_MAX);
            let rows = self.query(sql, &[&limit]).await?;
            rows.iter().map(|r| Ok((r.try_get(0).map_err(err)?, r.try_get(1).map_err(err)?))).collect()
        })
    }
}
