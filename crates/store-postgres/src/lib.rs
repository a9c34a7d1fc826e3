//! The PostgreSQL backend, for many nodes on one database. Reads and
//! administrative writes are async on a few shared connections (pipelined by
//! tokio-postgres); each `Writer` owns one connection and blocks its own
//! (writer) thread on it. Connections are driven by a small runtime that the
//! store owns, so the store works from any caller: async handlers, the writer
//! thread, tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tambah_domain::Environment;
use tambah_store::{
    ApiKeyRow, BoxFuture, CallbackAttempt, CallbackKind, CallbackNext, CallbackRow, CallbackSecrets, Check, Claim,
    DisputeRow, Inserted, LowBalanceWatch, MerchantRow, MerchantSettings, Movements, NewCallback, NewMerchant,
    NewTransfer, OrderQuery, OrderRow, OrderTotals, OrderTransfers, OrderUpdate, Result, StatementEntry,
    StatementQuery, StatusGroup, Store, StoreError, SummaryRow, SystemAccounts, TokenKind, TokenRow, UserRow, Writer,
};
use tokio::runtime::{Handle, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

mod verify;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_core.sql")),
    (2, include_str!("../migrations/0002_merchant_settings.sql")),
    (3, include_str!("../migrations/0003_order_leases.sql")),
    (4, include_str!("../migrations/0004_nonces.sql")),
    (5, include_str!("../migrations/0005_after_the_sale.sql")),
    (6, include_str!("../migrations/0006_report_indexes.sql")),
    (7, include_str!("../migrations/0007_statement_balances.sql")),
    (8, include_str!("../migrations/0008_catalogue_state.sql")),
];
/// Shared connections for reads; each pipelines many concurrent queries.
const READ_CONNECTIONS: usize = 4;
/// Expired nonces are deleted once every this many new ones.
const NONCE_SWEEP_EVERY: u64 = 4_096;
/// How often the hot ledger-account rows are vacuumed.
const HOT_VACUUM_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Serializes migrations of nodes starting together.
const MIGRATION_LOCK: i64 = 0x7461_6d62_6168;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
/// Parameters of a statement built at run time.
type Values = Vec<Box<dyn ToSql + Sync + Send>>;

fn refs(values: &Values) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect()
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
        } else {
            StoreError::Other(format!("{text} ({})", code.code()))
        };
    }
    StoreError::Other(e.to_string())
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
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?;
        // Every statement here is a short indexed look-up or write, prepared
        // once per connection: plan it once rather than at every execution.
        let options = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} -c plan_cache_mode=force_generic_plan"),
            _ => "-c plan_cache_mode=force_generic_plan".to_owned(),
        };
        config.options(&options);
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
        })?;
        // The ledger accounts are a handful of rows rewritten by every batch:
        // their dead versions pile up far faster than autovacuum visits
        // (measured: status checks fell from ~14k/s to ~1.7k/s after a burst
        // of topups, and came back with a VACUUM). Vacuum them every second.
        let vacuum_config = config.clone();
        let vacuum_handle = handle.clone();
        handle.spawn(async move {
            let mut conn: Option<Conn> = None;
            loop {
                tokio::time::sleep(HOT_VACUUM_EVERY).await;
                if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                    conn = connect(&vacuum_config, &vacuum_handle).await.ok();
                }
                if let Some(c) = &conn {
                    let _ = c.client.batch_execute("VACUUM (SKIP_LOCKED) ledger_accounts").await;
                }
            }
        });
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

async fn setup(config: &tokio_postgres::Config, handle: &Handle) -> Result<Vec<Conn>> {
    let first = match connect(config, handle).await {
        Ok(c) => c,
        Err(StoreError::Other(m)) if m.contains(SqlState::INVALID_CATALOG_NAME.code()) => {
            create_database(config, handle).await?;
            connect(config, handle).await?
        }
        Err(e) => return Err(e),
    };
    migrate(&first).await?;
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

async fn migrate(conn: &Conn) -> Result<()> {
    let c = &conn.client;
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
    )
    .await
    .or_else(|e| if e.code() == Some(&SqlState::UNIQUE_VIOLATION) { Ok(()) } else { Err(e) })
    .map_err(err)?;
    c.batch_execute("BEGIN").await.map_err(err)?;
    let result = async {
        c.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(err)?;
        let current: i64 =
            c.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await.map_err(err)?.get(0);
        for (version, sql) in MIGRATIONS {
            if *version > current {
                c.batch_execute(sql).await.map_err(err)?;
                c.execute(
                    "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, (extract(epoch from now()) * 1000)::bigint)",
                    &[version],
                )
                .await
                .map_err(err)?;
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => c.batch_execute("COMMIT").await.map_err(err),
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

fn env_of(text: &str) -> Environment {
    Environment::parse(text).expect("environment constrained by CHECK")
}

macro_rules! merchant_select {
    () => {
        "SELECT m.id, m.account, m.name, m.environment, m.level, m.access, m.suspended,
         m.api_version, m.require_api_key_for_topup, a.id, m.created_at_ms, m.email, m.callback_url,
         m.callback_method, m.low_balance_threshold_minor
         FROM merchants m JOIN ledger_accounts a ON a.merchant_id = m.id"
    };
}

fn merchant_row(r: &Row) -> MerchantRow {
    MerchantRow {
        id: r.get(0),
        account: r.get(1),
        name: r.get(2),
        environment: env_of(r.get(3)),
        level: r.get(4),
        access: r.get::<_, i16>(5) as u8,
        suspended: r.get(6),
        api_version: r.get(7),
        require_api_key_for_topup: r.get(8),
        wallet_id: r.get(9),
        created_at_ms: r.get(10),
        email: r.get(11),
        callback_url: r.get(12),
        callback_method: r.get(13),
        low_balance_threshold_minor: r.get(14),
    }
}

macro_rules! order_columns {
    () => {
        "id, merchant_id, refid, product, account, amount_minor, cost_minor, status, sn, pin, expiry, note,
         voucherlink, remarks, extras_json, provider, recheck_at_ms, created_at_ms, updated_at_ms"
    };
}

/// `INSERT INTO orders (...) VALUES ($1..$18)`: every column but `id`, bound by [`order_values`].
macro_rules! insert_order_sql {
    () => {
        "INSERT INTO orders (merchant_id, refid, product, account, amount_minor, cost_minor, status, sn, pin,
           expiry, note, voucherlink, remarks, extras_json, provider, recheck_at_ms, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    };
}

/// The 18 values of [`insert_order_sql`], in order (`status` as the column's `i16`).
fn order_values<'a>(o: &'a OrderRow, status: &'a i16) -> [&'a (dyn ToSql + Sync); 18] {
    [
        &o.merchant_id,
        &o.refid,
        &o.product,
        &o.account,
        &o.amount_minor,
        &o.cost_minor,
        status,
        &o.sn,
        &o.pin,
        &o.expiry,
        &o.note,
        &o.voucherlink,
        &o.remarks,
        &o.extras_json,
        &o.provider,
        &o.recheck_at_ms,
        &o.created_at_ms,
        &o.updated_at_ms,
    ]
}

fn order_row(r: &Row) -> OrderRow {
    OrderRow {
        id: r.get(0),
        merchant_id: r.get(1),
        refid: r.get(2),
        product: r.get(3),
        account: r.get(4),
        amount_minor: r.get(5),
        cost_minor: r.get(6),
        status: r.get::<_, i16>(7) as u8,
        sn: r.get(8),
        pin: r.get(9),
        expiry: r.get(10),
        note: r.get(11),
        voucherlink: r.get(12),
        remarks: r.get(13),
        extras_json: r.get(14),
        provider: r.get(15),
        recheck_at_ms: r.get(16),
        created_at_ms: r.get(17),
        updated_at_ms: r.get(18),
    }
}

fn user_row(r: &Row) -> UserRow {
    UserRow { id: r.get(0), merchant_id: r.get(1), username: r.get(2), password_hash: r.get(3) }
}

fn token_row(r: &Row) -> TokenRow {
    TokenRow {
        token_hash: r.get(0),
        kind: TokenKind::parse(r.get(1)).expect("kind constrained by CHECK"),
        merchant_id: r.get(2),
        user_id: r.get(3),
        expires_at_ms: r.get(4),
        revoked: r.get(5),
    }
}

macro_rules! callback_columns {
    () => {
        "id, merchant_id, kind, order_id, status, balance_minor, created_at_ms, attempts, state"
    };
}

fn callback_row(r: &Row) -> CallbackRow {
    CallbackRow {
        id: r.get(0),
        merchant_id: r.get(1),
        kind: CallbackKind::parse(r.get(2)).expect("kind constrained by CHECK"),
        order_id: r.get(3),
        status: r.get::<_, Option<i64>>(4).map(|s| s as u8),
        balance_minor: r.get(5),
        created_at_ms: r.get(6),
        attempts: r.get::<_, i64>(7) as u32,
        state: r.get(8),
    }
}

fn attempt_row(r: &Row) -> CallbackAttempt {
    CallbackAttempt {
        callback_id: r.get(0),
        attempt: r.get::<_, i64>(1) as u32,
        at_ms: r.get(2),
        url: r.get(3),
        http_status: r.get::<_, Option<i64>>(4).map(|s| s as u16),
        latency_ms: r.get(5),
        error: r.get(6),
        response_excerpt: r.get(7),
    }
}

/// The outbox insert, shared by the writer (inside a batch) and
/// `enqueue_callback` (on its own). Due at once.
const INSERT_CALLBACK: &str =
    "INSERT INTO callbacks (merchant_id, kind, order_id, status, balance_minor, created_at_ms, next_attempt_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";

macro_rules! dispute_select {
    () => {
        "SELECT d.id, d.merchant_id, d.order_id, o.refid, d.emails, d.state, d.resolution, d.created_at_ms,
         d.resolved_at_ms FROM disputes d JOIN orders o ON o.id = d.order_id"
    };
}

fn dispute_row(r: &Row) -> DisputeRow {
    DisputeRow {
        id: r.get(0),
        merchant_id: r.get(1),
        order_id: r.get(2),
        refid: r.get(3),
        emails: r.get(4),
        state: r.get(5),
        resolution: r.get(6),
        created_at_ms: r.get(7),
        resolved_at_ms: r.get(8),
    }
}

fn status_group_sql(g: StatusGroup) -> &'static str {
    match g {
        StatusGroup::Successful => "status = 20",
        StatusGroup::Pending => "status IN (0, 1)",
        StatusGroup::Failed => "(status >= 40 AND status <> 53)",
        StatusGroup::Refund => "status = 53",
    }
}

/// `WHERE` clauses (numbered parameters from `$1`) and parameters of an
/// order listing.
fn order_filter(q: &OrderQuery) -> (String, Values) {
    let mut values: Values = vec![Box::new(q.merchant_id)];
    let mut clauses = vec!["merchant_id = $1".to_owned()];
    if let Some(from) = q.from_ms {
        values.push(Box::new(from));
        clauses.push(format!("created_at_ms >= ${}", values.len()));
    }
    if let Some(to) = q.to_ms {
        values.push(Box::new(to));
        clauses.push(format!("created_at_ms < ${}", values.len()));
    }
    for (field, value) in [("account", &q.account), ("product", &q.product), ("refid", &q.refid), ("sn", &q.sn)] {
        if let Some(v) = value {
            values.push(Box::new(v.clone()));
            clauses.push(format!("{field} = ${}", values.len()));
        }
    }
    if !q.statuses.is_empty() {
        let groups: Vec<&str> = q.statuses.iter().map(|g| status_group_sql(*g)).collect();
        clauses.push(format!("({})", groups.join(" OR ")));
    }
    (clauses.join(" AND "), values)
}

impl Store for PgStore {
    fn writer(&self) -> Result<Box<dyn Writer>> {
        Ok(Box::new(PgWriter { config: self.config.clone(), runtime: None, conn: None }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.query("SELECT 1", &[]).await.map(|_| ()) })
    }

    fn system_accounts(&self, environment: Environment) -> BoxFuture<'_, Result<SystemAccounts>> {
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT kind, id FROM ledger_accounts WHERE environment = $1 AND kind <> 'wallet'",
                    &[&environment.as_str()],
                )
                .await?;
            let id = |kind: &str| {
                rows.iter()
                    .find(|r| r.get::<_, &str>(0) == kind)
                    .map(|r| r.get::<_, i64>(1))
                    .ok_or_else(|| StoreError::Other(format!("system account {kind} missing")))
            };
            Ok(SystemAccounts { funding: id("funding")?, holds: id("holds")?, revenue: id("revenue")? })
        })
    }

    fn create_merchant<'a>(&'a self, m: &'a NewMerchant) -> BoxFuture<'a, Result<MerchantRow>> {
        Box::pin(async move {
            // One statement, so it is atomic without a transaction on a
            // shared connection.
            let row = self
                .query_opt(
                    "WITH n AS (SELECT nextval('merchants_id_seq') AS id),
                          m AS (INSERT INTO merchants (id, account, name, environment, level, api_version, created_at_ms)
                                SELECT id, (10000 + id)::text, $1, $2, $3, $4, $5 FROM n RETURNING id),
                          w AS (INSERT INTO ledger_accounts (kind, environment, merchant_id)
                                SELECT 'wallet', $2, id FROM m),
                          u AS (INSERT INTO users (merchant_id, username, password_hash)
                                SELECT id, $6, $7 FROM m)
                     SELECT id FROM m",
                    &[&m.name, &m.environment.as_str(), &m.level, &m.api_version, &m.created_at_ms, &m.username, &m.password_hash],
                )
                .await?
                .ok_or_else(|| StoreError::Other("merchant insert returned nothing".into()))?;
            let id: i64 = row.get(0);
            self.merchant(id).await?.ok_or_else(|| StoreError::Other("merchant vanished after insert".into()))
        })
    }

    fn merchant(&self, merchant_id: i64) -> BoxFuture<'_, Result<Option<MerchantRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(merchant_select!(), " WHERE m.id = $1");
            Ok(self.query_opt(SQL, &[&merchant_id]).await?.as_ref().map(merchant_row))
        })
    }

    fn merchant_by_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Option<MerchantRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(merchant_select!(), " WHERE m.account = $1");
            Ok(self.query_opt(SQL, &[&account]).await?.as_ref().map(merchant_row))
        })
    }

    fn merchant_count(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let row = self.query_opt("SELECT COUNT(*) FROM merchants", &[]).await?;
            Ok(row.map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0))
        })
    }

    fn update_merchant<'a>(&'a self, merchant_id: i64, m: &'a MerchantSettings) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let access = i16::from(m.access);
            let n = self
                .execute(
                    "UPDATE merchants SET name = $2, level = $3, access = $4, suspended = $5, api_version = $6,
                       require_api_key_for_topup = $7, email = $8 WHERE id = $1",
                    &[
                        &merchant_id,
                        &m.name,
                        &m.level,
                        &access,
                        &m.suspended,
                        &m.api_version,
                        &m.require_api_key_for_topup,
                        &m.email,
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn balance(&self, account_id: i64) -> BoxFuture<'_, Result<i64>> {
        Box::pin(async move {
            let row = self.query_opt("SELECT balance_minor FROM ledger_accounts WHERE id = $1", &[&account_id]).await?;
            row.map(|r| r.get(0)).ok_or_else(|| StoreError::Other(format!("no ledger account {account_id}")))
        })
    }

    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO api_keys (key_id, merchant_id, secret_sealed, revoked, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
                &[&key.key_id, &key.merchant_id, &key.secret_sealed, &key.revoked, &created_at_ms],
            )
            .await
            .map(|_| ())
        })
    }

    fn api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRow>>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT key_id, merchant_id, secret_sealed, revoked FROM api_keys WHERE key_id = $1",
                    &[&key_id],
                )
                .await?;
            Ok(row.map(|r| ApiKeyRow {
                key_id: r.get(0),
                merchant_id: r.get(1),
                secret_sealed: r.get(2),
                revoked: r.get(3),
            }))
        })
    }

    fn revoke_api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(self.execute("UPDATE api_keys SET revoked = true WHERE key_id = $1", &[&key_id]).await? > 0)
        })
    }

    fn user_by_username<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<UserRow>>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT id, merchant_id, username, password_hash FROM users WHERE username = $1",
                    &[&username],
                )
                .await?;
            Ok(row.as_ref().map(user_row))
        })
    }

    fn user(&self, user_id: i64) -> BoxFuture<'_, Result<Option<UserRow>>> {
        Box::pin(async move {
            let row = self
                .query_opt("SELECT id, merchant_id, username, password_hash FROM users WHERE id = $1", &[&user_id])
                .await?;
            Ok(row.as_ref().map(user_row))
        })
    }

    fn set_password_hash<'a>(&'a self, user_id: i64, password_hash: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute("UPDATE users SET password_hash = $1 WHERE id = $2", &[&password_hash, &user_id])
                .await
                .map(|_| ())
        })
    }

    fn insert_token<'a>(&'a self, t: &'a TokenRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "INSERT INTO tokens (token_hash, kind, merchant_id, user_id, expires_at_ms, revoked, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &t.token_hash,
                    &t.kind.as_str(),
                    &t.merchant_id,
                    &t.user_id,
                    &t.expires_at_ms,
                    &t.revoked,
                    &created_at_ms,
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<Option<TokenRow>>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT token_hash, kind, merchant_id, user_id, expires_at_ms, revoked FROM tokens WHERE token_hash = $1",
                    &[&token_hash],
                )
                .await?;
            Ok(row.as_ref().map(token_row))
        })
    }

    fn revoke_user_tokens(&self, user_id: i64) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.execute("UPDATE tokens SET revoked = true WHERE user_id = $1", &[&user_id]).await.map(|_| ())
        })
    }

    fn api_key_with_merchant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<(ApiKeyRow, MerchantRow)>>> {
        Box::pin(async move {
            // The key's columns come after the merchant's.
            const FULL: &str = concat!(
                "SELECT q.*, k.key_id, k.secret_sealed, k.revoked FROM (",
                merchant_select!(),
                ") q (id, account, name, environment, level, access, suspended, api_version, require_api_key_for_topup,
                   wallet_id, created_at_ms, email, callback_url, callback_method, low_balance_threshold_minor)
                 JOIN api_keys k ON k.merchant_id = q.id WHERE k.key_id = $1"
            );
            let row = self.query_opt(FULL, &[&key_id]).await?;
            Ok(row.map(|r| {
                let m = merchant_row(&r);
                let key =
                    ApiKeyRow { key_id: r.get(15), merchant_id: m.id, secret_sealed: r.get(16), revoked: r.get(17) };
                (key, m)
            }))
        })
    }

    fn token_with_merchant<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(TokenRow, MerchantRow)>>> {
        Box::pin(async move {
            const FULL: &str = concat!(
                "SELECT q.*, t.token_hash, t.kind, t.user_id, t.expires_at_ms, t.revoked FROM (",
                merchant_select!(),
                ") q (id, account, name, environment, level, access, suspended, api_version, require_api_key_for_topup,
                   wallet_id, created_at_ms, email, callback_url, callback_method, low_balance_threshold_minor)
                 JOIN tokens t ON t.merchant_id = q.id WHERE t.token_hash = $1"
            );
            let row = self.query_opt(FULL, &[&token_hash]).await?;
            Ok(row.map(|r| {
                let m = merchant_row(&r);
                let token = TokenRow {
                    token_hash: r.get(15),
                    kind: TokenKind::parse(r.get(16)).expect("kind constrained by CHECK"),
                    merchant_id: m.id,
                    user_id: r.get(17),
                    expires_at_ms: r.get(18),
                    revoked: r.get(19),
                };
                (token, m)
            }))
        })
    }

    fn order_with_balance<'a>(
        &'a self,
        merchant_id: i64,
        refid: &'a str,
        wallet_id: i64,
    ) -> BoxFuture<'a, Result<(Option<OrderRow>, i64)>> {
        Box::pin(async move {
            // One round trip: the order (if any) and the balance side by side.
            const SQL: &str = concat!(
                "SELECT o.*, (SELECT balance_minor FROM ledger_accounts WHERE id = $3) FROM (SELECT 1) one LEFT JOIN (SELECT ",
                order_columns!(),
                " FROM orders WHERE merchant_id = $1 AND refid = $2) o ON true"
            );
            let row = self
                .query_opt(SQL, &[&merchant_id, &refid, &wallet_id])
                .await?
                .ok_or_else(|| StoreError::Other("order look-up returned no row".into()))?;
            let balance: i64 = row.get(19);
            let order = row.get::<_, Option<i64>>(0).map(|_| order_row(&row));
            Ok((order, balance))
        })
    }

    fn remember_nonce<'a>(
        &'a self,
        key_id: &'a str,
        nonce: &'a str,
        expires_at_s: i64,
        now_s: i64,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let added = self
                .execute(
                    "INSERT INTO nonces (key_id, nonce, expires_at_s) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&key_id, &nonce, &expires_at_s],
                )
                .await?
                == 1;
            if added && self.nonces_added.fetch_add(1, Ordering::Relaxed).is_multiple_of(NONCE_SWEEP_EVERY) {
                self.execute("DELETE FROM nonces WHERE expires_at_s < $1", &[&now_s]).await?;
            }
            Ok(added)
        })
    }

    fn order_by_refid<'a>(&'a self, merchant_id: i64, refid: &'a str) -> BoxFuture<'a, Result<Option<OrderRow>>> {
        Box::pin(async move {
            const SQL: &str =
                concat!("SELECT ", order_columns!(), " FROM orders WHERE merchant_id = $1 AND refid = $2");
            Ok(self.query_opt(SQL, &[&merchant_id, &refid]).await?.as_ref().map(order_row))
        })
    }

    fn claim_due_orders<'a>(&'a self, c: &'a Claim) -> BoxFuture<'a, Result<Vec<OrderRow>>> {
        Box::pin(async move {
            // Rows another node is leasing right now are skipped, not waited for.
            const SQL: &str = concat!(
                "UPDATE orders SET lease_owner = $3, lease_until_ms = $2 + $5
                 WHERE id IN (
                     SELECT id FROM orders
                     WHERE ((status = 0 AND created_at_ms < $1) OR (recheck_at_ms IS NOT NULL AND recheck_at_ms <= $2))
                       AND (lease_until_ms IS NULL OR lease_until_ms < $2 OR lease_owner = $3)
                     ORDER BY id LIMIT $4
                     FOR UPDATE SKIP LOCKED)
                 RETURNING ",
                order_columns!()
            );
            let limit = i64::from(c.limit);
            let rows = self.query(SQL, &[&c.accepted_before_ms, &c.now_ms, &c.node, &limit, &c.lease_ms]).await?;
            let mut orders: Vec<OrderRow> = rows.iter().map(order_row).collect();
            orders.sort_by_key(|o| o.id);
            Ok(orders)
        })
    }

    fn verify(&self) -> BoxFuture<'_, Result<Vec<Check>>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            verify::run(&conn.client).await
        })
    }

    // ---- after the sale ----

    fn set_callback_url<'a>(&'a self, merchant_id: i64, url: &'a str, method: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.execute(
                "UPDATE merchants SET callback_url = $2, callback_method = $3 WHERE id = $1",
                &[&merchant_id, &url, &method],
            )
            .await
            .map(|_| ())
        })
    }

    fn callback_secrets(&self, merchant_id: i64) -> BoxFuture<'_, Result<CallbackSecrets>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT callback_secret_sealed, callback_secret_prev_sealed, callback_secret_prev_until_ms
                     FROM merchants WHERE id = $1",
                    &[&merchant_id],
                )
                .await?
                .ok_or_else(|| StoreError::Other(format!("no merchant {merchant_id}")))?;
            let previous: Option<Vec<u8>> = row.get(1);
            let until: Option<i64> = row.get(2);
            Ok(CallbackSecrets { current: row.get(0), previous: previous.zip(until) })
        })
    }

    fn set_callback_secrets<'a>(&'a self, merchant_id: i64, s: &'a CallbackSecrets) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let previous = s.previous.as_ref().map(|(p, _)| p.as_slice());
            let until = s.previous.as_ref().map(|(_, u)| *u);
            self.execute(
                "UPDATE merchants SET callback_secret_sealed = $2, callback_secret_prev_sealed = $3,
                   callback_secret_prev_until_ms = $4 WHERE id = $1",
                &[&merchant_id, &s.current.as_deref(), &previous, &until],
            )
            .await
            .map(|_| ())
        })
    }

    fn set_low_balance_threshold(&self, merchant_id: i64, threshold_minor: i64) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.execute(
                "UPDATE merchants SET low_balance_threshold_minor = $2, low_balance_notified = false WHERE id = $1",
                &[&merchant_id, &threshold_minor],
            )
            .await
            .map(|_| ())
        })
    }

    fn enqueue_callback<'a>(&'a self, c: &'a NewCallback) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let status = c.status.map(i64::from);
            let row = self
                .query_opt(
                    INSERT_CALLBACK,
                    &[&c.merchant_id, &c.kind.as_str(), &c.order_id, &status, &c.balance_minor, &c.created_at_ms],
                )
                .await?;
            row.map(|r| r.get(0)).ok_or_else(|| StoreError::Other("callback insert returned no id".into()))
        })
    }

    fn claim_due_callbacks<'a>(&'a self, c: &'a Claim) -> BoxFuture<'a, Result<Vec<CallbackRow>>> {
        Box::pin(async move {
            // As claim_due_orders: rows another node is leasing are skipped.
            const SQL: &str = concat!(
                "UPDATE callbacks SET lease_owner = $2, lease_until_ms = $1 + $4
                 WHERE id IN (
                     SELECT id FROM callbacks
                     WHERE state = 'pending' AND next_attempt_ms <= $1
                       AND (lease_until_ms IS NULL OR lease_until_ms < $1 OR lease_owner = $2)
                     ORDER BY id LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 RETURNING ",
                callback_columns!()
            );
            let limit = i64::from(c.limit);
            let rows = self.query(SQL, &[&c.now_ms, &c.node, &limit, &c.lease_ms]).await?;
            let mut callbacks: Vec<CallbackRow> = rows.iter().map(callback_row).collect();
            callbacks.sort_by_key(|cb| cb.id);
            Ok(callbacks)
        })
    }

    fn record_callback_attempt<'a>(&'a self, a: &'a CallbackAttempt, next: CallbackNext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (state, next_at) = match next {
                CallbackNext::Delivered => ("delivered", None),
                CallbackNext::RetryAt(at) => ("pending", Some(at)),
                CallbackNext::Failed => ("failed", None),
            };
            let attempt = i64::from(a.attempt);
            let http_status = a.http_status.map(i64::from);
            // One statement: atomic without a transaction on a shared connection.
            self.execute(
                "WITH logged AS (
                     INSERT INTO callback_attempts (callback_id, attempt, at_ms, url, http_status, latency_ms, error,
                       response_excerpt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
                 UPDATE callbacks SET attempts = $2, state = $9, next_attempt_ms = $10, lease_owner = NULL,
                   lease_until_ms = NULL WHERE id = $1",
                &[
                    &a.callback_id,
                    &attempt,
                    &a.at_ms,
                    &a.url,
                    &http_status,
                    &a.latency_ms,
                    &a.error,
                    &a.response_excerpt,
                    &state,
                    &next_at,
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn callback_log(&self, order_id: i64) -> BoxFuture<'_, Result<Vec<(CallbackRow, Vec<CallbackAttempt>)>>> {
        Box::pin(async move {
            const CALLBACKS: &str =
                concat!("SELECT ", callback_columns!(), " FROM callbacks WHERE order_id = $1 ORDER BY id");
            let callbacks: Vec<CallbackRow> =
                self.query(CALLBACKS, &[&order_id]).await?.iter().map(callback_row).collect();
            if callbacks.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<i64> = callbacks.iter().map(|cb| cb.id).collect();
            let rows = self
                .query(
                    "SELECT callback_id, attempt, at_ms, url, http_status, latency_ms, error, response_excerpt
                     FROM callback_attempts WHERE callback_id = ANY($1) ORDER BY callback_id, attempt, id",
                    &[&ids],
                )
                .await?;
            let mut attempts: HashMap<i64, Vec<CallbackAttempt>> = HashMap::new();
            for row in &rows {
                let attempt = attempt_row(row);
                attempts.entry(attempt.callback_id).or_default().push(attempt);
            }
            Ok(callbacks
                .into_iter()
                .map(|cb| {
                    let log = attempts.remove(&cb.id).unwrap_or_default();
                    (cb, log)
                })
                .collect())
        })
    }

    fn orders_with_refid<'a>(&'a self, refid: &'a str) -> BoxFuture<'a, Result<Vec<OrderRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE refid = $1 ORDER BY id");
            Ok(self.query(SQL, &[&refid]).await?.iter().map(order_row).collect())
        })
    }

    fn order(&self, order_id: i64) -> BoxFuture<'_, Result<Option<OrderRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1");
            Ok(self.query_opt(SQL, &[&order_id]).await?.as_ref().map(order_row))
        })
    }

    fn list_orders<'a>(&'a self, q: &'a OrderQuery) -> BoxFuture<'a, Result<(Vec<OrderRow>, OrderTotals)>> {
        Box::pin(async move {
            let (filter, mut values) = order_filter(q);
            let totals_sql = format!(
                "SELECT COUNT(*), COALESCE(SUM(amount_minor), 0)::bigint, COALESCE(SUM(cost_minor), 0)::bigint,
                   COUNT(*) FILTER (WHERE status = 20), COUNT(*) FILTER (WHERE status IN (0, 1)),
                   COUNT(*) FILTER (WHERE status >= 40 AND status <> 53), COUNT(*) FILTER (WHERE status = 53),
                   COALESCE(SUM(amount_minor) FILTER (WHERE status = 20), 0)::bigint,
                   COALESCE(SUM(cost_minor) FILTER (WHERE status = 20), 0)::bigint
                 FROM orders WHERE {filter}"
            );
            let rows = self.query_dynamic(&totals_sql, &refs(&values)).await?;
            let r = rows.first().ok_or_else(|| StoreError::Other("order totals returned no row".into()))?;
            let count = |i: usize| r.get::<_, i64>(i) as u64;
            let totals = OrderTotals {
                count: count(0),
                amount_minor: r.get(1),
                cost_minor: r.get(2),
                successful: count(3),
                pending: count(4),
                failed: count(5),
                refund: count(6),
                successful_amount_minor: r.get(7),
                successful_cost_minor: r.get(8),
            };
            let n = values.len();
            values.push(Box::new(i64::from(q.limit)));
            values.push(Box::new(q.offset as i64));
            let order = if q.ascending { "ASC" } else { "DESC" };
            let page_sql = format!(
                "SELECT {} FROM orders WHERE {filter} ORDER BY created_at_ms {order}, id {order} LIMIT ${} OFFSET ${}",
                order_columns!(),
                n + 1,
                n + 2
            );
            let rows = self.query_dynamic(&page_sql, &refs(&values)).await?;
            Ok((rows.iter().map(order_row).collect(), totals))
        })
    }

    fn statement<'a>(&'a self, q: &'a StatementQuery) -> BoxFuture<'a, Result<(Vec<StatementEntry>, u64)>> {
        Box::pin(async move {
            // Balances were recorded with each entry: the page reads only itself.
            let mut values: Values = vec![Box::new(q.wallet_id)];
            let mut clauses = vec!["t.wallet_account = $1".to_owned()];
            if let Some(from) = q.from_ms {
                values.push(Box::new(from));
                clauses.push(format!("t.created_at_ms >= ${}", values.len()));
            }
            if let Some(to) = q.to_ms {
                values.push(Box::new(to));
                clauses.push(format!("t.created_at_ms < ${}", values.len()));
            }
            if !q.kinds.is_empty() {
                values.push(Box::new(q.kinds.clone()));
                clauses.push(format!("t.kind = ANY(${})", values.len()));
            }
            let filter = clauses.join(" AND ");
            let rows =
                self.query_dynamic(&format!("SELECT COUNT(*) FROM transfers t WHERE {filter}"), &refs(&values)).await?;
            let total = rows.first().map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0);
            let n = values.len();
            values.push(Box::new(i64::from(q.limit)));
            values.push(Box::new(q.offset as i64));
            let page_sql = format!(
                "SELECT t.id, t.created_at_ms, t.kind,
                   CASE WHEN t.kind = 'HOLD' THEN -t.amount_minor ELSE t.amount_minor END,
                   t.wallet_balance_after_minor, t.remarks, o.refid, o.product
                 FROM transfers t LEFT JOIN orders o ON o.id = t.order_id
                 WHERE {filter} ORDER BY t.created_at_ms, t.id LIMIT ${} OFFSET ${}",
                n + 1,
                n + 2
            );
            let rows = self.query_dynamic(&page_sql, &refs(&values)).await?;
            let entries = rows
                .iter()
                .map(|r| StatementEntry {
                    transfer_id: r.get(0),
                    at_ms: r.get(1),
                    kind: r.get(2),
                    amount_minor: r.get(3),
                    balance_after_minor: r.get(4),
                    remarks: r.get(5),
                    refid: r.get(6),
                    product: r.get(7),
                })
                .collect();
            Ok((entries, total))
        })
    }

    fn movements(&self, wallet_id: i64, from_ms: Option<i64>, to_ms: Option<i64>) -> BoxFuture<'_, Result<Movements>> {
        Box::pin(async move {
            let from = from_ms.unwrap_or(i64::MIN);
            let to = to_ms.unwrap_or(i64::MAX);
            // One grouped scan per side, each on its (account, time, kind,
            // amount) index.
            let mut sides = Vec::new();
            for (credit, sql) in [
                (
                    true,
                    "SELECT kind, created_at_ms >= $2, SUM(amount_minor)::bigint, COUNT(*) FROM transfers
                     WHERE credit_account = $1 AND created_at_ms < $3 GROUP BY 1, 2",
                ),
                (
                    false,
                    "SELECT kind, created_at_ms >= $2, SUM(amount_minor)::bigint, COUNT(*) FROM transfers
                     WHERE debit_account = $1 AND created_at_ms < $3 GROUP BY 1, 2",
                ),
            ] {
                for r in self.query(sql, &[&wallet_id, &from, &to]).await? {
                    sides.push((
                        credit,
                        r.get::<_, String>(0),
                        r.get::<_, bool>(1),
                        r.get::<_, i64>(2),
                        r.get::<_, i64>(3) as u64,
                    ));
                }
            }
            Ok(Movements::fold(sides))
        })
    }

    fn daily_summary(&self, merchant_id: i64, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<SummaryRow>>> {
        Box::pin(async move {
            // Products in byte order (COLLATE "C"), as SQLite sorts them.
            let rows = self
                .query(
                    "SELECT (created_at_ms + 28800000) / 86400000 AS day, product, COUNT(*),
                       SUM(amount_minor)::bigint, SUM(cost_minor)::bigint
                     FROM orders WHERE merchant_id = $1 AND created_at_ms >= $2 AND created_at_ms < $3 AND status = 20
                     GROUP BY day, product ORDER BY day, product COLLATE \"C\"",
                    &[&merchant_id, &from_ms, &to_ms],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| SummaryRow {
                    day: r.get(0),
                    product: r.get(1),
                    count: r.get::<_, i64>(2) as u64,
                    amount_minor: r.get(3),
                    cost_minor: r.get(4),
                })
                .collect())
        })
    }

    fn save_catalog<'a>(&'a self, json: &'a str, now_ms: i64) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "INSERT INTO catalog_versions (version, json, created_at_ms)
                     SELECT COALESCE(MAX(version), 0) + 1, $1, $2 FROM catalog_versions RETURNING version",
                    &[&json, &now_ms],
                )
                .await?;
            row.map(|r| r.get(0)).ok_or_else(|| StoreError::Other("catalogue insert returned nothing".into()))
        })
    }

    fn latest_catalog(&self, with_json: bool) -> BoxFuture<'_, Result<Option<(i64, String)>>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT version, CASE WHEN $1 THEN json ELSE '' END FROM catalog_versions ORDER BY version DESC LIMIT 1",
                    &[&with_json],
                )
                .await?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    }

    fn set_stock<'a>(&'a self, product: &'a str, remaining: Option<u64>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match remaining {
                Some(n) => {
                    let n = n as i64;
                    self.execute(
                        "INSERT INTO stock (product, remaining) VALUES ($1, $2)
                         ON CONFLICT (product) DO UPDATE SET remaining = excluded.remaining",
                        &[&product, &n],
                    )
                    .await?
                }
                None => self.execute("DELETE FROM stock WHERE product = $1", &[&product]).await?,
            };
            Ok(())
        })
    }

    fn stock_levels(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>>> {
        Box::pin(async move {
            let rows = self.query("SELECT product, remaining FROM stock ORDER BY product COLLATE \"C\"", &[]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1) as u64)).collect())
        })
    }

    fn bill_payments<'a>(&'a self, product: &'a str, account: &'a str, month: i64) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT count FROM bill_counts WHERE product = $1 AND account = $2 AND month = $3",
                    &[&product, &account, &month],
                )
                .await?;
            Ok(row.map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0))
        })
    }

    fn open_dispute<'a>(
        &'a self,
        order: &'a OrderRow,
        emails: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<DisputeRow>> {
        Box::pin(async move {
            // The partial unique index `disputes_open_once` settles races: the
            // loser inserts nothing and reads the winner's open dispute. If
            // that one is resolved in between, try again.
            for _ in 0..8 {
                let inserted = self
                    .query_opt(
                        "INSERT INTO disputes (merchant_id, order_id, emails, created_at_ms) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (order_id) WHERE state = 'open' DO NOTHING RETURNING id",
                        &[&order.merchant_id, &order.id, &emails, &now_ms],
                    )
                    .await?;
                let id: Option<i64> = match inserted {
                    Some(r) => Some(r.get(0)),
                    None => self
                        .query_opt("SELECT id FROM disputes WHERE order_id = $1 AND state = 'open'", &[&order.id])
                        .await?
                        .map(|r| r.get(0)),
                };
                if let Some(id) = id {
                    const SQL: &str = concat!(dispute_select!(), " WHERE d.id = $1");
                    let row = self.query_opt(SQL, &[&id]).await?;
                    return row
                        .as_ref()
                        .map(dispute_row)
                        .ok_or_else(|| StoreError::Other(format!("dispute {id} vanished")));
                }
            }
            Err(StoreError::Other(format!("could not open a dispute on order {}", order.id)))
        })
    }

    fn disputes(&self, open_only: bool) -> BoxFuture<'_, Result<Vec<DisputeRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(dispute_select!(), " WHERE (NOT $1 OR d.state = 'open') ORDER BY d.id");
            Ok(self.query(SQL, &[&open_only]).await?.iter().map(dispute_row).collect())
        })
    }

    fn resolve_dispute<'a>(&'a self, id: i64, resolution: &'a str, now_ms: i64) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let n = self
                .execute(
                    "UPDATE disputes SET state = 'resolved', resolution = $2, resolved_at_ms = $3
                     WHERE id = $1 AND state = 'open'",
                    &[&id, &resolution, &now_ms],
                )
                .await?;
            Ok(n == 1)
        })
    }
}

/// A write session on its own connection, used by one (non-async) thread.
/// It owns a single-threaded runtime that drives both its queries and its
/// connection on the calling thread: a round trip costs no hand-off between
/// threads. Connects on first use, and again after the connection is lost.
pub struct PgWriter {
    config: tokio_postgres::Config,
    runtime: Option<Runtime>,
    conn: Option<Conn>,
}

impl PgWriter {
    fn conn(&mut self) -> Result<(&Runtime, &Conn)> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            self.runtime = Some(rt);
        }
        let rt = self.runtime.as_ref().expect("created above");
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            let config = self.config.clone();
            let handle = rt.handle().clone();
            self.conn = Some(rt.block_on(async move { connect(&config, &handle).await })?);
        }
        Ok((rt, self.conn.as_ref().expect("connected above")))
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        let (rt, conn) = self.conn()?;
        rt.block_on(conn.client.batch_execute(sql)).map_err(err)
    }

    fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        let (rt, conn) = self.conn()?;
        rt.block_on(async {
            let statement = conn.statement(sql).await?;
            conn.client.query(&statement, params).await.map_err(err)
        })
    }

    fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>> {
        let (rt, conn) = self.conn()?;
        rt.block_on(async {
            let statement = conn.statement(sql).await?;
            conn.client.query_opt(&statement, params).await.map_err(err)
        })
    }

    fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64> {
        let (rt, conn) = self.conn()?;
        rt.block_on(async {
            let statement = conn.statement(sql).await?;
            conn.client.execute(&statement, params).await.map_err(err)
        })
    }
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        self.conn = None;
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Writer for PgWriter {
    fn begin(&mut self) -> Result<()> {
        self.batch("BEGIN")
    }

    fn insert_callback(&mut self, c: &NewCallback) -> Result<i64> {
        let status = c.status.map(i64::from);
        let row = self.query_opt(
            INSERT_CALLBACK,
            &[&c.merchant_id, &c.kind.as_str(), &c.order_id, &status, &c.balance_minor, &c.created_at_ms],
        )?;
        row.map(|r| r.get(0)).ok_or_else(|| StoreError::Other("callback insert returned no id".into()))
    }

    fn low_balance_watch(&mut self, wallet_ids: &[i64]) -> Result<Vec<LowBalanceWatch>> {
        if wallet_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = wallet_ids.to_vec();
        let rows = self.query(
            "SELECT a.id, m.id, m.low_balance_threshold_minor, m.low_balance_notified
             FROM ledger_accounts a JOIN merchants m ON m.id = a.merchant_id
             WHERE a.id = ANY($1) AND m.low_balance_threshold_minor > 0",
            &[&ids],
        )?;
        let found: HashMap<i64, LowBalanceWatch> = rows
            .iter()
            .map(|r| {
                let watch = LowBalanceWatch {
                    wallet_id: r.get(0),
                    merchant_id: r.get(1),
                    threshold_minor: r.get(2),
                    notified: r.get(3),
                };
                (watch.wallet_id, watch)
            })
            .collect();
        // In the order asked, as the SQLite backend answers.
        Ok(wallet_ids.iter().filter_map(|id| found.get(id).copied()).collect())
    }

    fn take_stock(&mut self, product: &str) -> Result<Option<bool>> {
        let row = self.query_opt(
            "WITH t AS (UPDATE stock SET remaining = remaining - 1 WHERE product = $1 AND remaining > 0 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM t), EXISTS (SELECT 1 FROM stock WHERE product = $1)",
            &[&product],
        )?;
        let (taken, limited): (bool, bool) = row.map(|r| (r.get(0), r.get(1))).unwrap_or((false, false));
        Ok(if taken { Some(true) } else { limited.then_some(false) })
    }

    fn count_bill_payment(&mut self, product: &str, account: &str, month: i64, limit: u32) -> Result<bool> {
        let limit = i64::from(limit);
        let counted = self.execute(
            "INSERT INTO bill_counts AS b (product, account, month, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (product, account, month) DO UPDATE SET count = b.count + 1 WHERE b.count < $4",
            &[&product, &account, &month, &limit],
        )?;
        Ok(counted == 1)
    }

    fn set_low_balance_notified(&mut self, merchant_id: i64, notified: bool) -> Result<()> {
        self.execute("UPDATE merchants SET low_balance_notified = $2 WHERE id = $1", &[&merchant_id, &notified])
            .map(|_| ())
    }

    fn commit(&mut self) -> Result<()> {
        self.batch("COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        match &self.conn {
            Some(c) if !c.client.is_closed() => self.batch("ROLLBACK"),
            _ => Ok(()),
        }
    }

    fn savepoint(&mut self) -> Result<()> {
        self.batch("SAVEPOINT cmd")
    }

    fn release_savepoint(&mut self) -> Result<()> {
        self.batch("RELEASE SAVEPOINT cmd")
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.batch("ROLLBACK TO SAVEPOINT cmd; RELEASE SAVEPOINT cmd")
    }

    fn lock_balances(&mut self, sorted_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        debug_assert!(sorted_ids.windows(2).all(|w| w[0] < w[1]));
        if sorted_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Row locks are taken in id order (the sort runs below the lock), the
        // same order on every node: batches on different nodes never deadlock.
        let ids = sorted_ids.to_vec();
        let rows = self.query(
            "SELECT id, balance_minor FROM ledger_accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&ids],
        )?;
        let found: HashMap<i64, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        sorted_ids
            .iter()
            .map(|id| {
                found.get(id).map(|b| (*id, *b)).ok_or_else(|| StoreError::Other(format!("no ledger account {id}")))
            })
            .collect()
    }

    fn set_balance(&mut self, account_id: i64, balance_minor: i64) -> Result<()> {
        self.execute("UPDATE ledger_accounts SET balance_minor = $1 WHERE id = $2", &[&balance_minor, &account_id])
            .map(|_| ())
    }

    fn find_order(&mut self, merchant_id: i64, refid: &str) -> Result<Option<OrderRow>> {
        const SQL: &str =
            concat!("SELECT ", order_columns!(), " FROM orders WHERE merchant_id = $1 AND refid = $2 FOR UPDATE");
        Ok(self.query_opt(SQL, &[&merchant_id, &refid])?.as_ref().map(order_row))
    }

    fn get_order(&mut self, order_id: i64) -> Result<Option<OrderRow>> {
        const SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 FOR UPDATE");
        Ok(self.query_opt(SQL, &[&order_id])?.as_ref().map(order_row))
    }

    fn insert_order(&mut self, o: &OrderRow) -> Result<i64> {
        let status = i16::from(o.status);
        let row = self.query_opt(concat!(insert_order_sql!(), " RETURNING id"), &order_values(o, &status))?;
        row.map(|r| r.get(0)).ok_or_else(|| StoreError::Other("order insert returned no id".into()))
    }

    fn update_order(&mut self, u: &OrderUpdate) -> Result<()> {
        let status = i16::from(u.status);
        let n = self.execute(
            "UPDATE orders SET status = $2, sn = $3, pin = $4, expiry = $5, note = $6, voucherlink = $7,
               provider = $8, recheck_at_ms = $9, updated_at_ms = $10 WHERE id = $1",
            &[
                &u.id,
                &status,
                &u.sn,
                &u.pin,
                &u.expiry,
                &u.note,
                &u.voucherlink,
                &u.provider,
                &u.recheck_at_ms,
                &u.updated_at_ms,
            ],
        )?;
        if n != 1 {
            return Err(StoreError::Other(format!("order {} not found for update", u.id)));
        }
        Ok(())
    }

    fn order_hold(&mut self, order_id: i64) -> Result<Option<(i64, i64, bool)>> {
        let row = self.query_opt(
            "SELECT h.id, h.amount_minor, EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)
             FROM transfers h WHERE h.order_id = $1 AND h.kind = 'HOLD'",
            &[&order_id],
        )?;
        Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    /// One statement: the order (unless its refid exists: `ON CONFLICT DO
    /// NOTHING`, which waits for another node's insert to commit or roll
    /// back), its hold, and the hold's resolution.
    fn insert_order_with_transfers(&mut self, o: &OrderRow, t: &OrderTransfers) -> Result<Inserted> {
        if t.hold.is_none() && t.resolution.is_some() {
            return Err(StoreError::Constraint("a resolution needs a hold".into()));
        }
        let status = i16::from(o.status);
        let hold = t.hold.as_ref();
        let resolution = t.resolution.as_ref();
        let hold_kind = hold.map(|h| h.kind.as_str());
        let hold_debit = hold.map(|h| h.debit_account);
        let hold_credit = hold.map(|h| h.credit_account);
        let hold_amount = hold.map(|h| h.amount_minor);
        let hold_remarks = hold.map(|h| h.remarks.as_str());
        let hold_at = hold.map(|h| h.created_at_ms);
        let hold_wallet = hold.and_then(|h| h.wallet_account());
        let hold_after = hold.and_then(|h| h.wallet_balance_after_minor);
        let res_kind = resolution.map(|r| r.kind.as_str());
        let res_debit = resolution.map(|r| r.debit_account);
        let res_credit = resolution.map(|r| r.credit_account);
        let res_amount = resolution.map(|r| r.amount_minor);
        let res_remarks = resolution.map(|r| r.remarks.as_str());
        let res_at = resolution.map(|r| r.created_at_ms);
        let res_wallet = resolution.and_then(|r| r.wallet_account());
        let res_after = resolution.and_then(|r| r.wallet_balance_after_minor);
        // $19..$34, after the order's 18.
        let transfer_values: [&(dyn ToSql + Sync); 16] = [
            &hold_kind,
            &hold_debit,
            &hold_credit,
            &hold_amount,
            &hold_remarks,
            &hold_at,
            &res_kind,
            &res_debit,
            &res_credit,
            &res_amount,
            &res_remarks,
            &res_at,
            &hold_wallet,
            &hold_after,
            &res_wallet,
            &res_after,
        ];
        let row = self.query_opt(
            concat!(
                "WITH o AS (",
                insert_order_sql!(),
                " ON CONFLICT (merchant_id, refid) DO NOTHING RETURNING id),
             h AS (
                 INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, remarks, created_at_ms,
                   wallet_account, wallet_balance_after_minor)
                 SELECT $19::text, $20::bigint, $21::bigint, $22::bigint, o.id, $23::text, $24::bigint, $31::bigint,
                   $32::bigint
                 FROM o WHERE $19::text IS NOT NULL RETURNING id, order_id),
             r AS (
                 INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
                   created_at_ms, wallet_account, wallet_balance_after_minor)
                 SELECT $25::text, $26::bigint, $27::bigint, $28::bigint, h.order_id, h.id, $29::text, $30::bigint,
                   $33::bigint, $34::bigint
                 FROM h WHERE $25::text IS NOT NULL RETURNING id)
             SELECT (SELECT id FROM o), (SELECT id FROM h)"
            ),
            &[order_values(o, &status).as_slice(), &transfer_values].concat(),
        )?;
        let row = row.ok_or_else(|| StoreError::Other("order insert returned no row".into()))?;
        Ok(match row.get::<_, Option<i64>>(0) {
            Some(order_id) => Inserted::New { order_id, hold_id: row.get(1) },
            None => Inserted::Exists,
        })
    }

    fn insert_transfer(&mut self, t: &NewTransfer) -> Result<i64> {
        let row = self.query_opt(
            "INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
               created_at_ms, wallet_account, wallet_balance_after_minor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                &t.kind.as_str(),
                &t.debit_account,
                &t.credit_account,
                &t.amount_minor,
                &t.order_id,
                &t.pending_id,
                &t.remarks,
                &t.created_at_ms,
                &t.wallet_account(),
                &t.wallet_balance_after_minor,
            ],
        )?;
        row.map(|r| r.get(0)).ok_or_else(|| StoreError::Other("transfer insert returned no id".into()))
    }
}
