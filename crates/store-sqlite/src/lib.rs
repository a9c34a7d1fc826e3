//! The embedded SQLite backend: WAL, `synchronous=FULL`, one write connection
//! per writer session and a small pool of read connections.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};
use tambah_domain::Environment;
use tambah_store::{
    ready, ApiKeyRow, BoxFuture, CallbackAttempt, CallbackKind, CallbackNext, CallbackRow, CallbackSecrets, Check,
    Claim, DisputeRow, LowBalanceWatch, MerchantRow, MerchantSettings, Movements, NewCallback, NewMerchant,
    NewTransfer, OrderQuery, OrderRow, OrderTotals, OrderUpdate, Result, StatementEntry, StatementQuery, StatusGroup,
    Store, StoreError, SummaryRow, SystemAccounts, TokenKind, TokenRow, UserRow, Writer,
};

mod nonces;
mod verify;

/// Nonces remembered at most; beyond it the oldest are forgotten first.
const NONCES_MAX: usize = 2_000_000;

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
/// Read connections kept open for reuse; more may be opened under load.
const READ_POOL_MAX: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    /// One SQLite file is served by one node, so nonces live in its memory.
    nonces: nonces::NonceCache,
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
        return StoreError::Other(text);
    }
    StoreError::Other(e.to_string())
}

fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -16000;",
    )
    .map_err(err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let mut conn = open(&path)?;
        migrate(&mut conn)?;
        Ok(SqliteStore { path, readers: Mutex::new(vec![conn]), nonces: nonces::NonceCache::new(NONCES_MAX) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

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

    /// Leases the rows `select` finds (in `table`) to the claiming node, and
    /// returns them. Most passes find nothing, so the first look is on a read
    /// connection; only a non-empty pass takes the writer and looks again.
    fn claim_leased<T>(
        &self,
        select: &str,
        select_params: &[&dyn rusqlite::ToSql],
        row: fn(&rusqlite::Row) -> rusqlite::Result<T>,
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

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = open(&self.path)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        let out = f(&tx).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
    )
    .map_err(err)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).map_err(err)?;
    for (version, sql) in MIGRATIONS {
        if *version > current {
            tx.execute_batch(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, strftime('%s','now') * 1000)",
                [version],
            )
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

fn env_of(text: &str) -> Environment {
    Environment::parse(text).expect("environment constrained by CHECK")
}

const MERCHANT_COLUMNS: &str = "m.id, m.account, m.name, m.environment, m.level, m.access, m.suspended, \
     m.api_version, m.require_api_key_for_topup, a.id, m.created_at_ms, m.email, m.callback_url, m.callback_method, \
     m.low_balance_threshold_minor";

fn merchant_row(r: &Row) -> rusqlite::Result<MerchantRow> {
    Ok(MerchantRow {
        id: r.get(0)?,
        account: r.get(1)?,
        name: r.get(2)?,
        environment: env_of(&r.get::<_, String>(3)?),
        level: r.get(4)?,
        access: r.get(5)?,
        suspended: r.get(6)?,
        api_version: r.get(7)?,
        require_api_key_for_topup: r.get(8)?,
        wallet_id: r.get(9)?,
        created_at_ms: r.get(10)?,
        email: r.get(11)?,
        callback_url: r.get(12)?,
        callback_method: r.get(13)?,
        low_balance_threshold_minor: r.get(14)?,
    })
}

fn user_row(r: &Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow { id: r.get(0)?, merchant_id: r.get(1)?, username: r.get(2)?, password_hash: r.get(3)? })
}

pub(crate) const ORDER_COLUMNS: &str = "id, merchant_id, refid, product, account, amount_minor, cost_minor, \
     status, sn, pin, expiry, note, voucherlink, remarks, extras_json, provider, recheck_at_ms, created_at_ms, updated_at_ms";

pub(crate) fn order_row(r: &Row) -> rusqlite::Result<OrderRow> {
    Ok(OrderRow {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        refid: r.get(2)?,
        product: r.get(3)?,
        account: r.get(4)?,
        amount_minor: r.get(5)?,
        cost_minor: r.get(6)?,
        status: r.get(7)?,
        sn: r.get(8)?,
        pin: r.get(9)?,
        expiry: r.get(10)?,
        note: r.get(11)?,
        voucherlink: r.get(12)?,
        remarks: r.get(13)?,
        extras_json: r.get(14)?,
        provider: r.get(15)?,
        recheck_at_ms: r.get(16)?,
        created_at_ms: r.get(17)?,
        updated_at_ms: r.get(18)?,
    })
}

fn find_order(conn: &Connection, merchant_id: i64, refid: &str) -> rusqlite::Result<Option<OrderRow>> {
    conn.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE merchant_id = ?1 AND refid = ?2"))?
        .query_row(params![merchant_id, refid], order_row)
        .optional()
}

fn insert_callback(conn: &Connection, c: &NewCallback) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO callbacks (merchant_id, kind, order_id, status, balance_minor, created_at_ms, next_attempt_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![c.merchant_id, c.kind.as_str(), c.order_id, c.status, c.balance_minor, c.created_at_ms])?;
    Ok(conn.last_insert_rowid())
}

const CALLBACK_COLUMNS: &str = "id, merchant_id, kind, order_id, status, balance_minor, created_at_ms, attempts, state";

fn callback_row(r: &Row) -> rusqlite::Result<CallbackRow> {
    Ok(CallbackRow {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        kind: CallbackKind::parse(&r.get::<_, String>(2)?).expect("kind constrained by CHECK"),
        order_id: r.get(3)?,
        status: r.get(4)?,
        balance_minor: r.get(5)?,
        created_at_ms: r.get(6)?,
        attempts: r.get(7)?,
        state: r.get(8)?,
    })
}

fn attempt_row(r: &Row) -> rusqlite::Result<CallbackAttempt> {
    Ok(CallbackAttempt {
        callback_id: r.get(0)?,
        attempt: r.get(1)?,
        at_ms: r.get(2)?,
        url: r.get(3)?,
        http_status: r.get(4)?,
        latency_ms: r.get(5)?,
        error: r.get(6)?,
        response_excerpt: r.get(7)?,
    })
}

const DISPUTE_SELECT: &str = "SELECT d.id, d.merchant_id, d.order_id, o.refid, d.emails, d.state, d.resolution,
     d.created_at_ms, d.resolved_at_ms FROM disputes d JOIN orders o ON o.id = d.order_id";

fn dispute_row(r: &Row) -> rusqlite::Result<DisputeRow> {
    Ok(DisputeRow {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        order_id: r.get(2)?,
        refid: r.get(3)?,
        emails: r.get(4)?,
        state: r.get(5)?,
        resolution: r.get(6)?,
        created_at_ms: r.get(7)?,
        resolved_at_ms: r.get(8)?,
    })
}

/// `WHERE` clauses and parameters of an order listing.
fn order_filter(q: &OrderQuery) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut clauses = vec!["merchant_id = ?".to_owned()];
    let mut values = vec![Value::Integer(q.merchant_id)];
    if let Some(from) = q.from_ms {
        clauses.push("created_at_ms >= ?".into());
        values.push(Value::Integer(from));
    }
    if let Some(to) = q.to_ms {
        clauses.push("created_at_ms < ?".into());
        values.push(Value::Integer(to));
    }
    for (field, value) in [("account", &q.account), ("product", &q.product), ("refid", &q.refid), ("sn", &q.sn)] {
        if let Some(v) = value {
            clauses.push(format!("{field} = ?"));
            values.push(Value::Text(v.clone()));
        }
    }
    if !q.statuses.is_empty() {
        let groups: Vec<&str> = q.statuses.iter().map(|g| status_group_sql(*g)).collect();
        clauses.push(format!("({})", groups.join(" OR ")));
    }
    (clauses.join(" AND "), values)
}

pub(crate) fn status_group_sql(g: StatusGroup) -> &'static str {
    match g {
        StatusGroup::Successful => "status = 20",
        StatusGroup::Pending => "status IN (0, 1)",
        StatusGroup::Failed => "(status >= 40 AND status <> 53)",
        StatusGroup::Refund => "status = 53",
    }
}

/// The synchronous work behind each `Store` method (SQLite answers in
/// microseconds, so the futures are ready at once).
impl SqliteStore {
    fn system_accounts_now(&self, environment: Environment) -> Result<SystemAccounts> {
        self.read(|c| {
            let id = |kind: &str| -> rusqlite::Result<i64> {
                c.query_row(
                    "SELECT id FROM ledger_accounts WHERE environment = ?1 AND kind = ?2",
                    params![environment.as_str(), kind],
                    |r| r.get(0),
                )
            };
            Ok(SystemAccounts { funding: id("funding")?, holds: id("holds")?, revenue: id("revenue")? })
        })
    }

    fn create_merchant_now(&self, m: &NewMerchant) -> Result<MerchantRow> {
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO merchants (account, name, environment, level, api_version, created_at_ms)
                 VALUES ('pending-' || hex(randomblob(8)), ?1, ?2, ?3, ?4, ?5)",
                params![m.name, m.environment.as_str(), m.level, m.api_version, m.created_at_ms],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute("UPDATE merchants SET account = CAST(10000 + id AS TEXT) WHERE id = ?1", [id])?;
            tx.execute(
                "INSERT INTO ledger_accounts (kind, environment, merchant_id) VALUES ('wallet', ?1, ?2)",
                params![m.environment.as_str(), id],
            )?;
            tx.execute(
                "INSERT INTO users (merchant_id, username, password_hash) VALUES (?1, ?2, ?3)",
                params![id, m.username, m.password_hash],
            )?;
            Ok(id)
        })?;
        self.merchant_now(id)?.ok_or_else(|| StoreError::Other("merchant vanished after insert".into()))
    }

    fn merchant_now(&self, merchant_id: i64) -> Result<Option<MerchantRow>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {MERCHANT_COLUMNS} FROM merchants m JOIN ledger_accounts a ON a.merchant_id = m.id WHERE m.id = ?1"
            ))?
            .query_row([merchant_id], merchant_row)
            .optional()
        })
    }

    fn merchant_by_account_now(&self, account: &str) -> Result<Option<MerchantRow>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {MERCHANT_COLUMNS} FROM merchants m JOIN ledger_accounts a ON a.merchant_id = m.id WHERE m.account = ?1"
            ))?
            .query_row([account], merchant_row)
            .optional()
        })
    }

    fn merchant_count_now(&self) -> Result<u64> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM merchants", [], |r| r.get(0)))
    }

    fn update_merchant_now(&self, merchant_id: i64, m: &MerchantSettings) -> Result<bool> {
        self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET name = ?2, level = ?3, access = ?4, suspended = ?5, api_version = ?6,
                   require_api_key_for_topup = ?7, email = ?8 WHERE id = ?1",
                params![
                    merchant_id,
                    m.name,
                    m.level,
                    m.access,
                    m.suspended,
                    m.api_version,
                    m.require_api_key_for_topup,
                    m.email
                ],
            )
            .map(|n| n == 1)
        })
    }

    fn balance_now(&self, account_id: i64) -> Result<i64> {
        self.read(|c| {
            c.prepare_cached("SELECT balance_minor FROM ledger_accounts WHERE id = ?1")?
                .query_row([account_id], |r| r.get(0))
        })
    }

    fn insert_api_key_now(&self, key: &ApiKeyRow, created_at_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO api_keys (key_id, merchant_id, secret_sealed, revoked, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.key_id, key.merchant_id, key.secret_sealed, key.revoked, created_at_ms],
            )
            .map(|_| ())
        })
    }

    fn api_key_now(&self, key_id: &str) -> Result<Option<ApiKeyRow>> {
        self.read(|c| {
            c.prepare_cached("SELECT key_id, merchant_id, secret_sealed, revoked FROM api_keys WHERE key_id = ?1")?
                .query_row([key_id], |r| {
                    Ok(ApiKeyRow {
                        key_id: r.get(0)?,
                        merchant_id: r.get(1)?,
                        secret_sealed: r.get(2)?,
                        revoked: r.get(3)?,
                    })
                })
                .optional()
        })
    }

    fn revoke_api_key_now(&self, key_id: &str) -> Result<bool> {
        self.write(|tx| tx.execute("UPDATE api_keys SET revoked = 1 WHERE key_id = ?1", [key_id]).map(|n| n > 0))
    }

    fn user_by_username_now(&self, username: &str) -> Result<Option<UserRow>> {
        self.read(|c| {
            c.prepare_cached("SELECT id, merchant_id, username, password_hash FROM users WHERE username = ?1")?
                .query_row([username], user_row)
                .optional()
        })
    }

    fn user_now(&self, user_id: i64) -> Result<Option<UserRow>> {
        self.read(|c| {
            c.prepare_cached("SELECT id, merchant_id, username, password_hash FROM users WHERE id = ?1")?
                .query_row([user_id], user_row)
                .optional()
        })
    }

    fn set_password_hash_now(&self, user_id: i64, password_hash: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, user_id]).map(|_| ())
        })
    }

    fn insert_token_now(&self, t: &TokenRow, created_at_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO tokens (token_hash, kind, merchant_id, user_id, expires_at_ms, revoked, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.token_hash,
                    t.kind.as_str(),
                    t.merchant_id,
                    t.user_id,
                    t.expires_at_ms,
                    t.revoked,
                    created_at_ms
                ],
            )
            .map(|_| ())
        })
    }

    fn token_now(&self, token_hash: &str) -> Result<Option<TokenRow>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT token_hash, kind, merchant_id, user_id, expires_at_ms, revoked FROM tokens WHERE token_hash = ?1",
            )?
            .query_row([token_hash], |r| {
                Ok(TokenRow {
                    token_hash: r.get(0)?,
                    kind: TokenKind::parse(&r.get::<_, String>(1)?).expect("kind constrained by CHECK"),
                    merchant_id: r.get(2)?,
                    user_id: r.get(3)?,
                    expires_at_ms: r.get(4)?,
                    revoked: r.get(5)?,
                })
            })
            .optional()
        })
    }

    fn revoke_user_tokens_now(&self, user_id: i64) -> Result<()> {
        self.write(|tx| tx.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?1", [user_id]).map(|_| ()))
    }

    fn order_by_refid_now(&self, merchant_id: i64, refid: &str) -> Result<Option<OrderRow>> {
        self.read(|c| find_order(c, merchant_id, refid))
    }

    fn set_callback_url_now(&self, merchant_id: i64, url: &str, method: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET callback_url = ?2, callback_method = ?3 WHERE id = ?1",
                params![merchant_id, url, method],
            )
            .map(|_| ())
        })
    }

    fn callback_secrets_now(&self, merchant_id: i64) -> Result<CallbackSecrets> {
        self.read(|c| {
            c.query_row(
                "SELECT callback_secret_sealed, callback_secret_prev_sealed, callback_secret_prev_until_ms
                 FROM merchants WHERE id = ?1",
                [merchant_id],
                |r| {
                    let prev: Option<Vec<u8>> = r.get(1)?;
                    let until: Option<i64> = r.get(2)?;
                    Ok(CallbackSecrets { current: r.get(0)?, previous: prev.zip(until) })
                },
            )
        })
    }

    fn set_callback_secrets_now(&self, merchant_id: i64, s: &CallbackSecrets) -> Result<()> {
        let (prev, until) = match &s.previous {
            Some((p, u)) => (Some(p.clone()), Some(*u)),
            None => (None, None),
        };
        self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET callback_secret_sealed = ?2, callback_secret_prev_sealed = ?3,
                   callback_secret_prev_until_ms = ?4 WHERE id = ?1",
                params![merchant_id, s.current, prev, until],
            )
            .map(|_| ())
        })
    }

    fn set_low_balance_threshold_now(&self, merchant_id: i64, threshold: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE merchants SET low_balance_threshold_minor = ?2, low_balance_notified = 0 WHERE id = ?1",
                params![merchant_id, threshold],
            )
            .map(|_| ())
        })
    }

    fn enqueue_callback_now(&self, c: &NewCallback) -> Result<i64> {
        self.write(|tx| insert_callback(tx, c))
    }

    fn claim_due_callbacks_now(&self, c: &Claim) -> Result<Vec<CallbackRow>> {
        let sql = format!(
            "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE state = 'pending' AND next_attempt_ms <= ?1
               AND (lease_until_ms IS NULL OR lease_until_ms < ?1 OR lease_owner = ?2)
             ORDER BY id LIMIT ?3"
        );
        self.claim_leased(&sql, params![c.now_ms, c.node, c.limit], callback_row, "callbacks", |cb| cb.id, c)
    }

    fn record_callback_attempt_now(&self, a: &CallbackAttempt, next: CallbackNext) -> Result<()> {
        let (state, next_at) = match next {
            CallbackNext::Delivered => ("delivered", None),
            CallbackNext::RetryAt(at) => ("pending", Some(at)),
            CallbackNext::Failed => ("failed", None),
        };
        self.write(|tx| {
            tx.execute(
                "INSERT INTO callback_attempts (callback_id, attempt, at_ms, url, http_status, latency_ms, error, response_excerpt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.callback_id, a.attempt, a.at_ms, a.url, a.http_status, a.latency_ms, a.error, a.response_excerpt],
            )?;
            tx.execute(
                "UPDATE callbacks SET attempts = ?2, state = ?3, next_attempt_ms = ?4, lease_owner = NULL,
                   lease_until_ms = NULL WHERE id = ?1",
                params![a.callback_id, a.attempt, state, next_at],
            )?;
            Ok(())
        })
    }

    fn callback_log_now(&self, order_id: i64) -> Result<Vec<(CallbackRow, Vec<CallbackAttempt>)>> {
        self.read(|c| {
            let callbacks: Vec<CallbackRow> = c
                .prepare_cached(&format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE order_id = ?1 ORDER BY id"))?
                .query_map([order_id], callback_row)?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = c.prepare_cached(
                "SELECT callback_id, attempt, at_ms, url, http_status, latency_ms, error, response_excerpt
                 FROM callback_attempts WHERE callback_id = ?1 ORDER BY attempt",
            )?;
            callbacks
                .into_iter()
                .map(|cb| {
                    let attempts = stmt.query_map([cb.id], attempt_row)?.collect::<rusqlite::Result<_>>()?;
                    Ok((cb, attempts))
                })
                .collect()
        })
    }

    fn order_now(&self, order_id: i64) -> Result<Option<OrderRow>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"))?
                .query_row([order_id], order_row)
                .optional()
        })
    }

    fn list_orders_now(&self, q: &OrderQuery) -> Result<(Vec<OrderRow>, OrderTotals)> {
        let (filter, mut values) = order_filter(q);
        self.read(|c| {
            let totals = c.query_row(
                &format!(
                    "SELECT COUNT(*), COALESCE(SUM(amount_minor), 0), COALESCE(SUM(cost_minor), 0),
                       COALESCE(SUM(status = 20), 0), COALESCE(SUM(status IN (0, 1)), 0),
                       COALESCE(SUM(status >= 40 AND status <> 53), 0), COALESCE(SUM(status = 53), 0),
                       COALESCE(SUM(CASE WHEN status = 20 THEN amount_minor END), 0),
                       COALESCE(SUM(CASE WHEN status = 20 THEN cost_minor END), 0)
                     FROM orders WHERE {filter}"
                ),
                rusqlite::params_from_iter(values.iter()),
                |r| {
                    Ok(OrderTotals {
                        count: r.get(0)?,
                        amount_minor: r.get(1)?,
                        cost_minor: r.get(2)?,
                        successful: r.get(3)?,
                        pending: r.get(4)?,
                        failed: r.get(5)?,
                        refund: r.get(6)?,
                        successful_amount_minor: r.get(7)?,
                        successful_cost_minor: r.get(8)?,
                    })
                },
            )?;
            values.push(rusqlite::types::Value::Integer(i64::from(q.limit)));
            values.push(rusqlite::types::Value::Integer(q.offset as i64));
            let order = if q.ascending { "ASC" } else { "DESC" };
            let mut stmt = c.prepare(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE {filter} ORDER BY created_at_ms {order}, id {order} LIMIT ? OFFSET ?"
            ))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), order_row)?.collect::<rusqlite::Result<_>>()?;
            Ok((rows, totals))
        })
    }

    fn statement_now(&self, q: &StatementQuery) -> Result<(Vec<StatementEntry>, u64)> {
        use rusqlite::types::Value;
        // Balances were recorded with each entry: the page reads only itself.
        let mut clauses = vec!["t.wallet_account = ?".to_owned()];
        let mut values = vec![Value::Integer(q.wallet_id)];
        if let Some(from) = q.from_ms {
            clauses.push("t.created_at_ms >= ?".into());
            values.push(Value::Integer(from));
        }
        if let Some(to) = q.to_ms {
            clauses.push("t.created_at_ms < ?".into());
            values.push(Value::Integer(to));
        }
        if !q.kinds.is_empty() {
            clauses.push(format!("t.kind IN ({})", vec!["?"; q.kinds.len()].join(", ")));
            values.extend(q.kinds.iter().map(|k| Value::Text(k.clone())));
        }
        let filter = clauses.join(" AND ");
        self.read(|c| {
            let total: u64 = c.query_row(
                &format!("SELECT COUNT(*) FROM transfers t WHERE {filter}"),
                rusqlite::params_from_iter(values.iter()),
                |r| r.get(0),
            )?;
            let mut page_values = values.clone();
            page_values.push(Value::Integer(i64::from(q.limit)));
            page_values.push(Value::Integer(q.offset as i64));
            let mut stmt = c.prepare(&format!(
                "SELECT t.id, t.created_at_ms, t.kind,
                   CASE WHEN t.kind = 'HOLD' THEN -t.amount_minor ELSE t.amount_minor END,
                   t.wallet_balance_after_minor, t.remarks, o.refid, o.product
                 FROM transfers t LEFT JOIN orders o ON o.id = t.order_id
                 WHERE {filter} ORDER BY t.created_at_ms, t.id LIMIT ? OFFSET ?"
            ))?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(page_values.iter()), |r| {
                    Ok(StatementEntry {
                        transfer_id: r.get(0)?,
                        at_ms: r.get(1)?,
                        kind: r.get(2)?,
                        amount_minor: r.get(3)?,
                        balance_after_minor: r.get(4)?,
                        remarks: r.get(5)?,
                        refid: r.get(6)?,
                        product: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok((rows, total))
        })
    }

    fn movements_now(&self, wallet_id: i64, from_ms: Option<i64>, to_ms: Option<i64>) -> Result<Movements> {
        let from = from_ms.unwrap_or(i64::MIN);
        let to = to_ms.unwrap_or(i64::MAX);
        // One grouped scan per side, each on its (account, time, kind, amount)
        // index: no table rows are read.
        self.read(|c| {
            let mut sides = Vec::new();
            for (credit, sql) in [
                (
                    true,
                    "SELECT kind, created_at_ms >= ?2, SUM(amount_minor), COUNT(*) FROM transfers
                        WHERE credit_account = ?1 AND created_at_ms < ?3 GROUP BY 1, 2",
                ),
                (
                    false,
                    "SELECT kind, created_at_ms >= ?2, SUM(amount_minor), COUNT(*) FROM transfers
                         WHERE debit_account = ?1 AND created_at_ms < ?3 GROUP BY 1, 2",
                ),
            ] {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map(params![wallet_id, from, to], |r| {
                    Ok((credit, r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)?, r.get::<_, u64>(3)?))
                })?;
                for row in rows {
                    sides.push(row?);
                }
            }
            Ok(Movements::fold(sides))
        })
    }

    fn daily_summary_now(&self, merchant_id: i64, from_ms: i64, to_ms: i64) -> Result<Vec<SummaryRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT (created_at_ms + 28800000) / 86400000 AS day, product, COUNT(*), SUM(amount_minor), SUM(cost_minor)
                 FROM orders WHERE merchant_id = ?1 AND status = 20 AND created_at_ms >= ?2 AND created_at_ms < ?3
                 GROUP BY day, product ORDER BY day, product",
            )?;
            let rows = stmt.query_map(params![merchant_id, from_ms, to_ms], |r| {
                Ok(SummaryRow {
                    day: r.get(0)?,
                    product: r.get(1)?,
                    count: r.get(2)?,
                    amount_minor: r.get(3)?,
                    cost_minor: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    fn open_dispute_now(&self, order: &OrderRow, emails: &str, now_ms: i64) -> Result<DisputeRow> {
        let id = self.write(|tx| {
            let existing: Option<i64> = tx
                .query_row("SELECT id FROM disputes WHERE order_id = ?1 AND state = 'open'", [order.id], |r| r.get(0))
                .optional()?;
            if let Some(id) = existing {
                return Ok(id);
            }
            tx.execute(
                "INSERT INTO disputes (merchant_id, order_id, emails, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![order.merchant_id, order.id, emails, now_ms],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        self.read(|c| c.query_row(&format!("{DISPUTE_SELECT} WHERE d.id = ?1"), [id], dispute_row))
    }

    fn disputes_now(&self, open_only: bool) -> Result<Vec<DisputeRow>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("{DISPUTE_SELECT} WHERE (?1 = 0 OR d.state = 'open') ORDER BY d.id"))?;
            let rows = stmt.query_map([open_only], dispute_row)?;
            rows.collect()
        })
    }

    fn resolve_dispute_now(&self, id: i64, resolution: &str, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            tx.execute(
                "UPDATE disputes SET state = 'resolved', resolution = ?2, resolved_at_ms = ?3 WHERE id = ?1 AND state = 'open'",
                params![id, resolution, now_ms],
            )
            .map(|n| n == 1)
        })
    }

    fn claim_due_orders_now(&self, c: &Claim) -> Result<Vec<OrderRow>> {
        let due_sql = format!(
            "SELECT {ORDER_COLUMNS} FROM (
                 SELECT * FROM orders WHERE status = 0 AND created_at_ms < ?1
                 UNION
                 SELECT * FROM orders WHERE recheck_at_ms IS NOT NULL AND recheck_at_ms <= ?2)
             WHERE lease_until_ms IS NULL OR lease_until_ms < ?2 OR lease_owner = ?3
             ORDER BY id LIMIT ?4"
        );
        self.claim_leased(
            &due_sql,
            params![c.accepted_before_ms, c.now_ms, c.node, c.limit],
            order_row,
            "orders",
            |o| o.id,
            c,
        )
    }

    fn verify_now(&self) -> Result<Vec<Check>> {
        self.read(verify::run)
    }
}

impl Store for SqliteStore {
    fn writer(&self) -> Result<Box<dyn Writer>> {
        Ok(Box::new(SqliteWriter { conn: open(&self.path)? }))
    }

    fn ping(&self) -> BoxFuture<'_, Result<()>> {
        ready(self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))))
    }

    fn system_accounts(&self, environment: Environment) -> BoxFuture<'_, Result<SystemAccounts>> {
        ready(self.system_accounts_now(environment))
    }

    fn create_merchant<'a>(&'a self, merchant: &'a NewMerchant) -> BoxFuture<'a, Result<MerchantRow>> {
        ready(self.create_merchant_now(merchant))
    }

    fn merchant(&self, merchant_id: i64) -> BoxFuture<'_, Result<Option<MerchantRow>>> {
        ready(self.merchant_now(merchant_id))
    }

    fn merchant_by_account<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<Option<MerchantRow>>> {
        ready(self.merchant_by_account_now(account))
    }

    fn merchant_count(&self) -> BoxFuture<'_, Result<u64>> {
        ready(self.merchant_count_now())
    }

    fn update_merchant<'a>(&'a self, merchant_id: i64, settings: &'a MerchantSettings) -> BoxFuture<'a, Result<bool>> {
        ready(self.update_merchant_now(merchant_id, settings))
    }

    fn balance(&self, account_id: i64) -> BoxFuture<'_, Result<i64>> {
        ready(self.balance_now(account_id))
    }

    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        ready(self.insert_api_key_now(key, created_at_ms))
    }

    fn api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<ApiKeyRow>>> {
        ready(self.api_key_now(key_id))
    }

    fn revoke_api_key<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        ready(self.revoke_api_key_now(key_id))
    }

    fn user_by_username<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<UserRow>>> {
        ready(self.user_by_username_now(username))
    }

    fn user(&self, user_id: i64) -> BoxFuture<'_, Result<Option<UserRow>>> {
        ready(self.user_now(user_id))
    }

    fn set_password_hash<'a>(&'a self, user_id: i64, password_hash: &'a str) -> BoxFuture<'a, Result<()>> {
        ready(self.set_password_hash_now(user_id, password_hash))
    }

    fn insert_token<'a>(&'a self, token: &'a TokenRow, created_at_ms: i64) -> BoxFuture<'a, Result<()>> {
        ready(self.insert_token_now(token, created_at_ms))
    }

    fn token<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<Option<TokenRow>>> {
        ready(self.token_now(token_hash))
    }

    fn revoke_user_tokens(&self, user_id: i64) -> BoxFuture<'_, Result<()>> {
        ready(self.revoke_user_tokens_now(user_id))
    }

    fn api_key_with_merchant<'a>(&'a self, key_id: &'a str) -> BoxFuture<'a, Result<Option<(ApiKeyRow, MerchantRow)>>> {
        ready(self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {MERCHANT_COLUMNS}, k.key_id, k.secret_sealed, k.revoked
                 FROM api_keys k JOIN merchants m ON m.id = k.merchant_id JOIN ledger_accounts a ON a.merchant_id = m.id
                 WHERE k.key_id = ?1"
            ))?
            .query_row([key_id], |r| {
                let m = merchant_row(r)?;
                let key =
                    ApiKeyRow { key_id: r.get(15)?, merchant_id: m.id, secret_sealed: r.get(16)?, revoked: r.get(17)? };
                Ok((key, m))
            })
            .optional()
        }))
    }

    fn token_with_merchant<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(TokenRow, MerchantRow)>>> {
        ready(self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {MERCHANT_COLUMNS}, t.token_hash, t.kind, t.user_id, t.expires_at_ms, t.revoked
                 FROM tokens t JOIN merchants m ON m.id = t.merchant_id JOIN ledger_accounts a ON a.merchant_id = m.id
                 WHERE t.token_hash = ?1"
            ))?
            .query_row([token_hash], |r| {
                let m = merchant_row(r)?;
                let token = TokenRow {
                    token_hash: r.get(15)?,
                    kind: TokenKind::parse(&r.get::<_, String>(16)?).expect("kind constrained by CHECK"),
                    merchant_id: m.id,
                    user_id: r.get(17)?,
                    expires_at_ms: r.get(18)?,
                    revoked: r.get(19)?,
                };
                Ok((token, m))
            })
            .optional()
        }))
    }

    fn order_with_balance<'a>(
        &'a self,
        merchant_id: i64,
        refid: &'a str,
        wallet_id: i64,
    ) -> BoxFuture<'a, Result<(Option<OrderRow>, i64)>> {
        ready(self.read(|c| {
            let order = find_order(c, merchant_id, refid)?;
            let balance = c
                .prepare_cached("SELECT balance_minor FROM ledger_accounts WHERE id = ?1")?
                .query_row([wallet_id], |r| r.get(0))?;
            Ok((order, balance))
        }))
    }

    fn remember_nonce<'a>(
        &'a self,
        key_id: &'a str,
        nonce: &'a str,
        expires_at_s: i64,
        now_s: i64,
    ) -> BoxFuture<'a, Result<bool>> {
        ready(Ok(self.nonces.first_use(key_id, nonce, expires_at_s, now_s)))
    }

    fn order_by_refid<'a>(&'a self, merchant_id: i64, refid: &'a str) -> BoxFuture<'a, Result<Option<OrderRow>>> {
        ready(self.order_by_refid_now(merchant_id, refid))
    }

    fn claim_due_orders<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<OrderRow>>> {
        ready(self.claim_due_orders_now(claim))
    }

    fn verify(&self) -> BoxFuture<'_, Result<Vec<Check>>> {
        ready(self.verify_now())
    }

    fn set_callback_url<'a>(&'a self, merchant_id: i64, url: &'a str, method: &'a str) -> BoxFuture<'a, Result<()>> {
        ready(self.set_callback_url_now(merchant_id, url, method))
    }

    fn callback_secrets(&self, merchant_id: i64) -> BoxFuture<'_, Result<CallbackSecrets>> {
        ready(self.callback_secrets_now(merchant_id))
    }

    fn set_callback_secrets<'a>(&'a self, merchant_id: i64, secrets: &'a CallbackSecrets) -> BoxFuture<'a, Result<()>> {
        ready(self.set_callback_secrets_now(merchant_id, secrets))
    }

    fn set_low_balance_threshold(&self, merchant_id: i64, threshold_minor: i64) -> BoxFuture<'_, Result<()>> {
        ready(self.set_low_balance_threshold_now(merchant_id, threshold_minor))
    }

    fn enqueue_callback<'a>(&'a self, callback: &'a NewCallback) -> BoxFuture<'a, Result<i64>> {
        ready(self.enqueue_callback_now(callback))
    }

    fn claim_due_callbacks<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Vec<CallbackRow>>> {
        ready(self.claim_due_callbacks_now(claim))
    }

    fn record_callback_attempt<'a>(
        &'a self,
        attempt: &'a CallbackAttempt,
        next: CallbackNext,
    ) -> BoxFuture<'a, Result<()>> {
        ready(self.record_callback_attempt_now(attempt, next))
    }

    fn callback_log(&self, order_id: i64) -> BoxFuture<'_, Result<Vec<(CallbackRow, Vec<CallbackAttempt>)>>> {
        ready(self.callback_log_now(order_id))
    }

    fn order(&self, order_id: i64) -> BoxFuture<'_, Result<Option<OrderRow>>> {
        ready(self.order_now(order_id))
    }

    fn orders_with_refid<'a>(&'a self, refid: &'a str) -> BoxFuture<'a, Result<Vec<OrderRow>>> {
        ready(self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE refid = ?1 ORDER BY id"))?;
            let rows = stmt.query_map([refid], order_row)?;
            rows.collect()
        }))
    }

    fn list_orders<'a>(&'a self, query: &'a OrderQuery) -> BoxFuture<'a, Result<(Vec<OrderRow>, OrderTotals)>> {
        ready(self.list_orders_now(query))
    }

    fn statement<'a>(&'a self, query: &'a StatementQuery) -> BoxFuture<'a, Result<(Vec<StatementEntry>, u64)>> {
        ready(self.statement_now(query))
    }

    fn movements(&self, wallet_id: i64, from_ms: Option<i64>, to_ms: Option<i64>) -> BoxFuture<'_, Result<Movements>> {
        ready(self.movements_now(wallet_id, from_ms, to_ms))
    }

    fn daily_summary(&self, merchant_id: i64, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<SummaryRow>>> {
        ready(self.daily_summary_now(merchant_id, from_ms, to_ms))
    }

    fn save_catalog<'a>(&'a self, json: &'a str, now_ms: i64) -> BoxFuture<'a, Result<i64>> {
        ready(self.write(|tx| {
            tx.execute("INSERT INTO catalog_versions (json, created_at_ms) VALUES (?1, ?2)", params![json, now_ms])?;
            Ok(tx.last_insert_rowid())
        }))
    }

    fn latest_catalog(&self, with_json: bool) -> BoxFuture<'_, Result<Option<(i64, String)>>> {
        ready(self.read(|c| {
            c.prepare_cached(
                "SELECT version, CASE WHEN ?1 THEN json ELSE '' END FROM catalog_versions ORDER BY version DESC LIMIT 1",
            )?
            .query_row([with_json], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
        }))
    }

    fn set_stock<'a>(&'a self, product: &'a str, remaining: Option<u64>) -> BoxFuture<'a, Result<()>> {
        ready(self.write(|tx| {
            match remaining {
                Some(n) => tx.execute(
                    "INSERT INTO stock (product, remaining) VALUES (?1, ?2)
                     ON CONFLICT (product) DO UPDATE SET remaining = excluded.remaining",
                    params![product, n],
                )?,
                None => tx.execute("DELETE FROM stock WHERE product = ?1", [product])?,
            };
            Ok(())
        }))
    }

    fn stock_levels(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT product, remaining FROM stock ORDER BY product")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        }))
    }

    fn bill_payments<'a>(&'a self, product: &'a str, account: &'a str, month: i64) -> BoxFuture<'a, Result<u64>> {
        ready(self.read(|c| {
            c.prepare_cached("SELECT count FROM bill_counts WHERE product = ?1 AND account = ?2 AND month = ?3")?
                .query_row(params![product, account, month], |r| r.get(0))
                .optional()
                .map(|n| n.unwrap_or(0))
        }))
    }

    fn open_dispute<'a>(
        &'a self,
        order: &'a OrderRow,
        emails: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<DisputeRow>> {
        ready(self.open_dispute_now(order, emails, now_ms))
    }

    fn disputes(&self, open_only: bool) -> BoxFuture<'_, Result<Vec<DisputeRow>>> {
        ready(self.disputes_now(open_only))
    }

    fn resolve_dispute<'a>(&'a self, id: i64, resolution: &'a str, now_ms: i64) -> BoxFuture<'a, Result<bool>> {
        ready(self.resolve_dispute_now(id, resolution, now_ms))
    }
}

/// A write session on its own connection. Transactions are opened with
/// `BEGIN IMMEDIATE`, so the batch holds SQLite's write lock from the start.
pub struct SqliteWriter {
    conn: Connection,
}

impl Writer for SqliteWriter {
    fn insert_callback(&mut self, c: &NewCallback) -> Result<i64> {
        insert_callback(&self.conn, c).map_err(err)
    }

    fn low_balance_watch(&mut self, wallet_ids: &[i64]) -> Result<Vec<LowBalanceWatch>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.id, m.id, m.low_balance_threshold_minor, m.low_balance_notified
                 FROM ledger_accounts a JOIN merchants m ON m.id = a.merchant_id
                 WHERE a.id = ?1 AND m.low_balance_threshold_minor > 0",
            )
            .map_err(err)?;
        let mut out = Vec::new();
        for id in wallet_ids {
            let row = stmt
                .query_row([id], |r| {
                    Ok(LowBalanceWatch {
                        wallet_id: r.get(0)?,
                        merchant_id: r.get(1)?,
                        threshold_minor: r.get(2)?,
                        notified: r.get(3)?,
                    })
                })
                .optional()
                .map_err(err)?;
            out.extend(row);
        }
        Ok(out)
    }

    fn take_stock(&mut self, product: &str) -> Result<Option<bool>> {
        let taken = self
            .conn
            .prepare_cached("UPDATE stock SET remaining = remaining - 1 WHERE product = ?1 AND remaining > 0")
            .and_then(|mut s| s.execute([product]))
            .map_err(err)?;
        if taken == 1 {
            return Ok(Some(true));
        }
        let limited = self
            .conn
            .prepare_cached("SELECT 1 FROM stock WHERE product = ?1")
            .and_then(|mut s| s.exists([product]))
            .map_err(err)?;
        Ok(limited.then_some(false))
    }

    fn count_bill_payment(&mut self, product: &str, account: &str, month: i64, limit: u32) -> Result<bool> {
        let counted = self
            .conn
            .prepare_cached(
                "INSERT INTO bill_counts (product, account, month, count) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (product, account, month) DO UPDATE SET count = count + 1 WHERE count < ?4",
            )
            .and_then(|mut s| s.execute(params![product, account, month, limit]))
            .map_err(err)?;
        Ok(counted == 1)
    }

    fn set_low_balance_notified(&mut self, merchant_id: i64, notified: bool) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE merchants SET low_balance_notified = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![merchant_id, notified]))
            .map(|_| ())
            .map_err(err)
    }

    fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(err)
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(err)
    }

    fn rollback(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn.execute_batch("ROLLBACK").map_err(err)
    }

    fn savepoint(&mut self) -> Result<()> {
        self.conn.prepare_cached("SAVEPOINT cmd").and_then(|mut s| s.execute([])).map(|_| ()).map_err(err)
    }

    fn release_savepoint(&mut self) -> Result<()> {
        self.conn.prepare_cached("RELEASE cmd").and_then(|mut s| s.execute([])).map(|_| ()).map_err(err)
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK TO cmd; RELEASE cmd").map_err(err)
    }

    fn lock_balances(&mut self, sorted_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        debug_assert!(sorted_ids.windows(2).all(|w| w[0] < w[1]));
        let mut stmt =
            self.conn.prepare_cached("SELECT balance_minor FROM ledger_accounts WHERE id = ?1").map_err(err)?;
        sorted_ids.iter().map(|&id| stmt.query_row([id], |r| r.get(0)).map(|b| (id, b)).map_err(err)).collect()
    }

    fn set_balance(&mut self, account_id: i64, balance_minor: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE ledger_accounts SET balance_minor = ?1 WHERE id = ?2")
            .and_then(|mut s| s.execute(params![balance_minor, account_id]))
            .map(|_| ())
            .map_err(err)
    }

    fn find_order(&mut self, merchant_id: i64, refid: &str) -> Result<Option<OrderRow>> {
        find_order(&self.conn, merchant_id, refid).map_err(err)
    }

    fn get_order(&mut self, order_id: i64) -> Result<Option<OrderRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"))
            .and_then(|mut s| s.query_row([order_id], order_row).optional())
            .map_err(err)
    }

    fn insert_order(&mut self, o: &OrderRow) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO orders (merchant_id, refid, product, account, amount_minor, cost_minor, status, sn, pin,
                   expiry, note, voucherlink, remarks, extras_json, provider, recheck_at_ms, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    o.merchant_id,
                    o.refid,
                    o.product,
                    o.account,
                    o.amount_minor,
                    o.cost_minor,
                    o.status,
                    o.sn,
                    o.pin,
                    o.expiry,
                    o.note,
                    o.voucherlink,
                    o.remarks,
                    o.extras_json,
                    o.provider,
                    o.recheck_at_ms,
                    o.created_at_ms,
                    o.updated_at_ms
                ])
            })
            .map_err(err)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn update_order(&mut self, u: &OrderUpdate) -> Result<()> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE orders SET status = ?2, sn = ?3, pin = ?4, expiry = ?5, note = ?6, voucherlink = ?7,
                   provider = ?8, recheck_at_ms = ?9, updated_at_ms = ?10 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    u.id,
                    u.status,
                    u.sn,
                    u.pin,
                    u.expiry,
                    u.note,
                    u.voucherlink,
                    u.provider,
                    u.recheck_at_ms,
                    u.updated_at_ms
                ])
            })
            .map_err(err)?;
        if n != 1 {
            return Err(StoreError::Other(format!("order {} not found for update", u.id)));
        }
        Ok(())
    }

    fn order_hold(&mut self, order_id: i64) -> Result<Option<(i64, i64, bool)>> {
        self.conn
            .prepare_cached(
                "SELECT h.id, h.amount_minor, EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)
                 FROM transfers h WHERE h.order_id = ?1 AND h.kind = 'HOLD'",
            )
            .and_then(|mut s| s.query_row([order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
            .map_err(err)
    }

    fn insert_transfer(&mut self, t: &NewTransfer) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
                   created_at_ms, wallet_account, wallet_balance_after_minor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    t.kind.as_str(),
                    t.debit_account,
                    t.credit_account,
                    t.amount_minor,
                    t.order_id,
                    t.pending_id,
                    t.remarks,
                    t.created_at_ms,
                    t.wallet_account(),
                    t.wallet_balance_after_minor
                ])
            })
            .map_err(err)?;
        Ok(self.conn.last_insert_rowid())
    }
}
