//! The embedded SQLite backend: WAL, `synchronous=FULL`, one write connection
//! per writer session and a small pool of read connections.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};
use tambah_domain::Environment;
use tambah_store::{
    ready, ApiKeyRow, BoxFuture, Check, Claim, MerchantRow, MerchantSettings, NewMerchant, NewTransfer, OrderRow,
    OrderUpdate, Result, Store, StoreError, SystemAccounts, TokenKind, TokenRow, UserRow, Writer,
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
     m.api_version, m.require_api_key_for_topup, a.id, m.created_at_ms";

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
                   require_api_key_for_topup = ?7 WHERE id = ?1",
                params![
                    merchant_id,
                    m.name,
                    m.level,
                    m.access,
                    m.suspended,
                    m.api_version,
                    m.require_api_key_for_topup
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

    fn claim_due_orders_now(&self, c: &Claim) -> Result<Vec<OrderRow>> {
        let due_sql = format!(
            "SELECT {ORDER_COLUMNS} FROM (
                 SELECT * FROM orders WHERE status = 0 AND created_at_ms < ?1
                 UNION
                 SELECT * FROM orders WHERE recheck_at_ms IS NOT NULL AND recheck_at_ms <= ?2)
             WHERE lease_until_ms IS NULL OR lease_until_ms < ?2 OR lease_owner = ?3
             ORDER BY id LIMIT ?4"
        );
        let query = |conn: &Connection| -> rusqlite::Result<Vec<OrderRow>> {
            let mut stmt = conn.prepare_cached(&due_sql)?;
            let rows = stmt.query_map(params![c.accepted_before_ms, c.now_ms, c.node, c.limit], order_row)?;
            rows.collect()
        };
        // Most passes find nothing: look on a read connection first.
        if self.read(query)?.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let due = query(tx)?;
            let mut lease =
                tx.prepare_cached("UPDATE orders SET lease_owner = ?1, lease_until_ms = ?2 WHERE id = ?3")?;
            for o in &due {
                lease.execute(params![c.node, c.now_ms + c.lease_ms, o.id])?;
            }
            Ok(due)
        })
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
}

/// A write session on its own connection. Transactions are opened with
/// `BEGIN IMMEDIATE`, so the batch holds SQLite's write lock from the start.
pub struct SqliteWriter {
    conn: Connection,
}

impl Writer for SqliteWriter {
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
                "INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
                    t.created_at_ms
                ])
            })
            .map_err(err)?;
        Ok(self.conn.last_insert_rowid())
    }
}
