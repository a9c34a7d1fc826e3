//! The writer session on SQLite: one connection owned by the writer thread,
//! every order, ledger and outbox write inside its `BEGIN IMMEDIATE` batch.

use rusqlite::{params, Connection, OptionalExtension};
use tambah_domain::chain::Head;
use tambah_domain::{AccountId, Amount, CallbackId, MerchantId, OrderId, TransferId};
use tambah_store::{
    order_insert_columns, AccountState, AttemptAnswer, AttemptRow, LowBalanceWatch, NewAttempt, NewCallback,
    NewTransfer, OrderCallbacks, OrderRow, OrderUpdate, Result, StoreError, Writer,
};

use crate::{callbacks, err, orders, providers};

/// A write session on its own connection. Transactions are opened with
/// `BEGIN IMMEDIATE`, so the batch holds SQLite's write lock from the start.
pub struct SqliteWriter {
    conn: Connection,
}

impl SqliteWriter {
    pub(crate) fn new(conn: Connection) -> SqliteWriter {
        SqliteWriter { conn }
    }
}

impl Writer for SqliteWriter {
    fn insert_callback(&mut self, c: &NewCallback) -> Result<CallbackId> {
        callbacks::insert_callback(&self.conn, c).map_err(err)
    }

    fn order_callbacks(&mut self, order_id: OrderId) -> Result<OrderCallbacks> {
        callbacks::order_callbacks(&self.conn, order_id).map_err(err)
    }

    fn low_balance_watch(&mut self, wallet_ids: &[AccountId]) -> Result<Vec<LowBalanceWatch>> {
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
                .query_row([id.get()], |r| {
                    Ok(LowBalanceWatch {
                        wallet_id: AccountId::new(r.get(0)?),
                        merchant_id: MerchantId::new(r.get(1)?),
                        threshold: Amount::from_minor(r.get(2)?),
                        notified: r.get(3)?,
                    })
                })
                .optional()
                .map_err(err)?;
            out.extend(row);
        }
        Ok(out)
    }

    fn insert_attempt(&mut self, a: &NewAttempt) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO attempts (order_id, attempt, provider_id, upstream_ref, upstream_product, sent_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.order_id.get(),
                    a.attempt,
                    a.provider_id.get(),
                    a.upstream_ref,
                    a.upstream_product,
                    a.sent_at_ms
                ])
            })
            .map(|_| ())
            .map_err(err)
    }

    fn answer_attempt(&mut self, a: &AttemptAnswer) -> Result<()> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE attempts SET outcome = ?3, upstream_code = ?4, answer_excerpt = ?5, answered_at_ms = ?6,
                   cost_minor = ?7 WHERE order_id = ?1 AND attempt = ?2",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.order_id.get(),
                    a.attempt,
                    a.outcome.as_str(),
                    a.upstream_code,
                    a.answer_excerpt,
                    a.answered_at_ms,
                    a.cost.map(Amount::minor)
                ])
            })
            .map_err(err)?;
        if n != 1 {
            return Err(StoreError::Other(format!(
                "attempt {} of order {} not found for its answer",
                a.attempt, a.order_id
            )));
        }
        Ok(())
    }

    fn last_attempt(&mut self, order_id: OrderId) -> Result<Option<AttemptRow>> {
        providers::last_attempt(&self.conn, order_id).map_err(err)
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

    fn spend_of(&mut self, merchant_id: MerchantId, day: i64) -> Result<(u64, Amount)> {
        self.conn
            .prepare_cached("SELECT count, amount_minor FROM spend_days WHERE merchant_id = ?1 AND day = ?2")
            .and_then(|mut s| {
                s.query_row(params![merchant_id.get(), day], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, Amount::from_minor(r.get(1)?)))
                })
                .optional()
            })
            .map(|found| found.unwrap_or((0, Amount::ZERO)))
            .map_err(err)
    }

    fn add_spend(&mut self, merchant_id: MerchantId, day: i64, cost: Amount) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO spend_days (merchant_id, day, count, amount_minor) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (merchant_id, day) DO UPDATE SET count = count + 1, amount_minor = amount_minor + ?3",
            )
            .and_then(|mut s| s.execute(params![merchant_id.get(), day, cost.minor()]))
            .map(|_| ())
            .map_err(err)
    }

    fn set_low_balance_notified(&mut self, merchant_id: MerchantId, notified: bool) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE merchants SET low_balance_notified = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![merchant_id.get(), notified]))
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

    fn lock_balances(&mut self, sorted_ids: &[AccountId]) -> Result<Vec<(AccountId, AccountState)>> {
        debug_assert!(sorted_ids.windows(2).all(|w| w[0] < w[1]));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT balance_minor, chain_seq, chain_hash, chain_at_ms FROM ledger_accounts WHERE id = ?1",
            )
            .map_err(err)?;
        sorted_ids
            .iter()
            .map(|&id| {
                stmt.query_row([id.get()], |r| {
                    let hash: Vec<u8> = r.get(2)?;
                    let head = Head::stored(r.get::<_, i64>(1)?, hash);
                    Ok((id, AccountState { balance: Amount::from_minor(r.get(0)?), head, head_at_ms: r.get(3)? }))
                })
                .map_err(err)
            })
            .collect()
    }

    fn set_balance(&mut self, account_id: AccountId, state: &AccountState) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE ledger_accounts SET balance_minor = ?1, chain_seq = ?2, chain_hash = ?3, chain_at_ms = ?4
                 WHERE id = ?5",
            )
            .and_then(|mut s| {
                s.execute(params![
                    state.balance.minor(),
                    state.head.seq as i64,
                    state.head.hash.as_slice(),
                    state.head_at_ms,
                    account_id.get()
                ])
            })
            .map(|_| ())
            .map_err(err)
    }

    fn find_order(&mut self, merchant_id: MerchantId, refid: &str) -> Result<Option<OrderRow>> {
        orders::find_order(&self.conn, merchant_id, refid).map_err(err)
    }

    fn get_order(&mut self, order_id: OrderId) -> Result<Option<OrderRow>> {
        orders::order_by_id(&self.conn, order_id).map_err(err)
    }

    fn insert_order(&mut self, o: &OrderRow) -> Result<OrderId> {
        self.conn
            .prepare_cached(concat!(
                "INSERT INTO orders (",
                order_insert_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    o.merchant_id.get(),
                    o.refid,
                    o.product,
                    o.account,
                    o.amount.minor(),
                    o.cost.minor(),
                    o.status.code(),
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
        Ok(OrderId::new(self.conn.last_insert_rowid()))
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
                    u.id.get(),
                    u.status.code(),
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

    fn order_hold(&mut self, order_id: OrderId) -> Result<Option<(TransferId, Amount, bool)>> {
        self.conn
            .prepare_cached(
                "SELECT h.id, h.amount_minor, EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)
                 FROM transfers h WHERE h.order_id = ?1 AND h.kind = 'HOLD'",
            )
            .and_then(|mut s| {
                s.query_row([order_id.get()], |r| {
                    Ok((TransferId::new(r.get(0)?), Amount::from_minor(r.get(1)?), r.get(2)?))
                })
                .optional()
            })
            .map_err(err)
    }

    fn insert_transfer(&mut self, t: &NewTransfer) -> Result<TransferId> {
        self.conn
            .prepare_cached(
                "INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
                   created_at_ms, wallet_account, wallet_balance_after_minor, wallet_seq, wallet_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    t.kind.as_str(),
                    t.debit_account.get(),
                    t.credit_account.get(),
                    t.amount.minor(),
                    t.order_id.map(OrderId::get),
                    t.pending_id.map(TransferId::get),
                    t.remarks,
                    t.created_at_ms,
                    t.wallet_account().map(AccountId::get),
                    t.wallet_balance_after.map(Amount::minor),
                    t.chain.map(|h| h.seq as i64),
                    t.chain.as_ref().map(|h| h.hash.as_slice())
                ])
            })
            .map_err(err)?;
        Ok(TransferId::new(self.conn.last_insert_rowid()))
    }
}
