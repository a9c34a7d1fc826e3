//! The PostgreSQL `Writer`: one connection blocked on by the writer thread, every order and ledger write of a batch.

use std::collections::HashMap;

use tambah_domain::chain::Head;
use tambah_domain::{AccountId, Amount, CallbackId, MerchantId, OrderId, TransferId};
use tambah_store::{
    order_columns, rows, AccountState, AttemptAnswer, AttemptRow, Inserted, LowBalanceWatch, NewAttempt, NewCallback,
    NewTransfer, OrderCallbacks, OrderRow, OrderTransfers, OrderUpdate, Result, StoreError, Writer,
};
use tokio::runtime::Runtime;
use tokio_postgres::Row;

use crate::callbacks::{callback_values, CallbackKeys, INSERT_CALLBACK};
use crate::providers::LAST_ATTEMPT;
use crate::{connect, err, maybe, Conn, Params};

mod order_insert;

use order_insert::{
    order_values, transfer_values, OrderKeys, TransferColumns, INSERT_ORDER, INSERT_ORDER_WITH_TRANSFERS,
};

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
    /// A session that has not connected yet (it must not block the caller).
    pub(crate) fn new(config: tokio_postgres::Config) -> PgWriter {
        PgWriter { config, runtime: None, conn: None }
    }

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

    fn insert_callback(&mut self, c: &NewCallback) -> Result<CallbackId> {
        let keys = CallbackKeys::of(c);
        let row = self.query_opt(INSERT_CALLBACK, &callback_values(c, &keys))?;
        row.map(|r| CallbackId::new(r.get(0))).ok_or_else(|| StoreError::Other("callback insert returned no id".into()))
    }

    fn order_callbacks(&mut self, order_id: OrderId) -> Result<OrderCallbacks> {
        let row = self.query_opt(
            "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FROM callbacks WHERE order_id = $1",
            &[&order_id.get()],
        )?;
        let count = |i: usize| row.as_ref().map_or(0, |r| u32::try_from(r.get::<_, i64>(i)).unwrap_or(u32::MAX));
        Ok(OrderCallbacks { pending: count(0), queued: count(1) })
    }

    fn low_balance_watch(&mut self, wallet_ids: &[AccountId]) -> Result<Vec<LowBalanceWatch>> {
        if wallet_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = wallet_ids.iter().map(|id| id.get()).collect();
        let rows = self.query(
            "SELECT a.id, m.id, m.low_balance_threshold_minor, m.low_balance_notified
             FROM ledger_accounts a JOIN merchants m ON m.id = a.merchant_id
             WHERE a.id = ANY($1) AND m.low_balance_threshold_minor > 0",
            &[&ids],
        )?;
        let found: HashMap<AccountId, LowBalanceWatch> = rows
            .iter()
            .map(|r| {
                let watch = LowBalanceWatch {
                    wallet_id: AccountId::new(r.get(0)),
                    merchant_id: MerchantId::new(r.get(1)),
                    threshold: Amount::from_minor(r.get(2)),
                    notified: r.get(3),
                };
                (watch.wallet_id, watch)
            })
            .collect();
        // In the order asked, as the SQLite backend answers.
        Ok(wallet_ids.iter().filter_map(|id| found.get(id).copied()).collect())
    }

    fn insert_attempt(&mut self, a: &NewAttempt) -> Result<()> {
        let attempt = i64::from(a.attempt);
        self.execute(
            "INSERT INTO attempts (order_id, attempt, provider_id, upstream_ref, upstream_product, sent_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&a.order_id.get(), &attempt, &a.provider_id.get(), &a.upstream_ref, &a.upstream_product, &a.sent_at_ms],
        )
        .map(|_| ())
    }

    fn answer_attempt(&mut self, a: &AttemptAnswer) -> Result<()> {
        let attempt = i64::from(a.attempt);
        let n = self.execute(
            "UPDATE attempts SET outcome = $3, upstream_code = $4, answer_excerpt = $5, answered_at_ms = $6,
               cost_minor = $7 WHERE order_id = $1 AND attempt = $2",
            &[
                &a.order_id.get(),
                &attempt,
                &a.outcome.as_str(),
                &a.upstream_code,
                &a.answer_excerpt,
                &a.answered_at_ms,
                &a.cost.map(Amount::minor),
            ],
        )?;
        if n != 1 {
            return Err(StoreError::Other(format!(
                "attempt {} of order {} not found for its answer",
                a.attempt, a.order_id
            )));
        }
        Ok(())
    }

    fn last_attempt(&mut self, order_id: OrderId) -> Result<Option<AttemptRow>> {
        maybe(self.query_opt(LAST_ATTEMPT, &[&order_id.get()])?.as_ref(), rows::attempt)
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

    fn spend_of(&mut self, merchant_id: MerchantId, day: i64) -> Result<(u64, Amount)> {
        let row = self.query_opt(
            "SELECT count, amount_minor FROM spend_days WHERE merchant_id = $1 AND day = $2",
            &[&merchant_id.get(), &day],
        )?;
        Ok(row.map_or((0, Amount::ZERO), |r| (r.get::<_, i64>(0) as u64, Amount::from_minor(r.get(1)))))
    }

    fn add_spend(&mut self, merchant_id: MerchantId, day: i64, cost: Amount) -> Result<()> {
        self.execute(
            "INSERT INTO spend_days AS s (merchant_id, day, count, amount_minor) VALUES ($1, $2, 1, $3)
             ON CONFLICT (merchant_id, day) DO UPDATE SET count = s.count + 1, amount_minor = s.amount_minor + $3",
            &[&merchant_id.get(), &day, &cost.minor()],
        )
        .map(|_| ())
    }

    fn set_low_balance_notified(&mut self, merchant_id: MerchantId, notified: bool) -> Result<()> {
        self.execute("UPDATE merchants SET low_balance_notified = $2 WHERE id = $1", &[&merchant_id.get(), &notified])
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

    fn lock_balances(&mut self, sorted_ids: &[AccountId]) -> Result<Vec<(AccountId, AccountState)>> {
        debug_assert!(sorted_ids.windows(2).all(|w| w[0] < w[1]));
        if sorted_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Row locks are taken in id order (the sort runs below the lock), the
        // same order on every node: batches on different nodes never deadlock.
        let ids: Vec<i64> = sorted_ids.iter().map(|id| id.get()).collect();
        let rows = self.query(
            "SELECT id, balance_minor, chain_seq, chain_hash, chain_at_ms FROM ledger_accounts
             WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&ids],
        )?;
        let found: HashMap<i64, AccountState> = rows
            .iter()
            .map(|r| {
                let hash: Vec<u8> = r.get(3);
                let head = Head::stored(r.get::<_, i64>(2), hash);
                (r.get(0), AccountState { balance: Amount::from_minor(r.get(1)), head, head_at_ms: r.get(4) })
            })
            .collect();
        sorted_ids
            .iter()
            .map(|id| {
                found
                    .get(&id.get())
                    .map(|state| (*id, *state))
                    .ok_or_else(|| StoreError::Other(format!("no ledger account {id}")))
            })
            .collect()
    }

    fn set_balance(&mut self, account_id: AccountId, state: &AccountState) -> Result<()> {
        let (seq, hash) = (state.head.seq as i64, state.head.hash.as_slice());
        self.execute(
            "UPDATE ledger_accounts SET balance_minor = $1, chain_seq = $2, chain_hash = $3, chain_at_ms = $4
             WHERE id = $5",
            &[&state.balance.minor(), &seq, &hash, &state.head_at_ms, &account_id.get()],
        )
        .map(|_| ())
    }

    fn find_order(&mut self, merchant_id: MerchantId, refid: &str) -> Result<Option<OrderRow>> {
        const SQL: &str =
            concat!("SELECT ", order_columns!(), " FROM orders WHERE merchant_id = $1 AND refid = $2 FOR UPDATE");
        maybe(self.query_opt(SQL, &[&merchant_id.get(), &refid])?.as_ref(), rows::order)
    }

    fn get_order(&mut self, order_id: OrderId) -> Result<Option<OrderRow>> {
        const SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 FOR UPDATE");
        maybe(self.query_opt(SQL, &[&order_id.get()])?.as_ref(), rows::order)
    }

    fn insert_order(&mut self, o: &OrderRow) -> Result<OrderId> {
        let keys = OrderKeys::of(o);
        let row = self.query_opt(INSERT_ORDER, &order_values(o, &keys))?;
        row.map(|r| OrderId::new(r.get(0))).ok_or_else(|| StoreError::Other("order insert returned no id".into()))
    }

    fn update_order(&mut self, u: &OrderUpdate) -> Result<()> {
        let (id, status) = (u.id.get(), i16::from(u.status.code()));
        let n = self.execute(
            "UPDATE orders SET status = $2, sn = $3, pin = $4, expiry = $5, note = $6, voucherlink = $7,
               provider = $8, recheck_at_ms = $9, updated_at_ms = $10 WHERE id = $1",
            &[
                &id,
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

    fn order_hold(&mut self, order_id: OrderId) -> Result<Option<(TransferId, Amount, bool)>> {
        let row = self.query_opt(
            "SELECT h.id, h.amount_minor, EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id)
             FROM transfers h WHERE h.order_id = $1 AND h.kind = 'HOLD'",
            &[&order_id.get()],
        )?;
        Ok(row.map(|r| (TransferId::new(r.get(0)), Amount::from_minor(r.get(1)), r.get(2))))
    }

    /// One statement: the order (unless its refid exists: `ON CONFLICT DO
    /// NOTHING`, which waits for another node's insert to commit or roll
    /// back), its hold, and the hold's resolution.
    fn insert_order_with_transfers(&mut self, o: &OrderRow, t: &OrderTransfers) -> Result<Inserted> {
        if t.hold.is_none() && t.resolution.is_some() {
            return Err(StoreError::Constraint("a resolution needs a hold".into()));
        }
        let keys = OrderKeys::of(o);
        let hold = TransferColumns::of(t.hold.as_ref());
        let resolution = TransferColumns::of(t.resolution.as_ref());
        let row = self.query_opt(
            INSERT_ORDER_WITH_TRANSFERS,
            &[order_values(o, &keys).as_slice(), &transfer_values(&hold, &resolution)].concat(),
        )?;
        let row = row.ok_or_else(|| StoreError::Other("order insert returned no row".into()))?;
        Ok(match row.get::<_, Option<i64>>(0) {
            Some(order_id) => Inserted::New {
                order_id: OrderId::new(order_id),
                hold_id: row.get::<_, Option<i64>>(1).map(TransferId::new),
            },
            None => Inserted::Exists,
        })
    }

    fn insert_transfer(&mut self, t: &NewTransfer) -> Result<TransferId> {
        let row = self.query_opt(
            "INSERT INTO transfers (kind, debit_account, credit_account, amount_minor, order_id, pending_id, remarks,
               created_at_ms, wallet_account, wallet_balance_after_minor, wallet_seq, wallet_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            &[
                &t.kind.as_str(),
                &t.debit_account.get(),
                &t.credit_account.get(),
                &t.amount.minor(),
                &t.order_id.map(OrderId::get),
                &t.pending_id.map(TransferId::get),
                &t.remarks,
                &t.created_at_ms,
                &t.wallet_account().map(AccountId::get),
                &t.wallet_balance_after.map(Amount::minor),
                &t.chain.map(|h| h.seq as i64),
                &t.chain.as_ref().map(|h| h.hash.as_slice()),
            ],
        )?;
        row.map(|r| TransferId::new(r.get(0))).ok_or_else(|| StoreError::Other("transfer insert returned no id".into()))
    }
}
