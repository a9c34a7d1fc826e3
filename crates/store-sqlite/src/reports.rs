//! Reports on SQLite: the transaction listing with its totals, wallet
//! statements, movement sums and the daily summary.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension};
use tambah_domain::chain::Head;
use tambah_domain::{AccountId, Amount, MerchantId, OrderId};
use tambah_store::rows::{self, FilterValue};
use tambah_store::{
    order_columns, ready, statement_columns, ActivityRow, BoxFuture, CostOfGoodsRow, Movements, OrderQuery, OrderRow,
    OrderTotals, ReportStore, Result, StatementEntry, StatementQuery, SummaryRow,
};

use crate::{Cols, SqliteStore};

/// Totals of a listing in the column order `rows::order_totals` reads.
const TOTALS: &str = "SELECT COUNT(*), COALESCE(SUM(amount_minor), 0), COALESCE(SUM(cost_minor), 0),
       COALESCE(SUM(status = 20), 0), COALESCE(SUM(status IN (0, 1)), 0),
       COALESCE(SUM(status >= 40 AND status <> 53), 0), COALESCE(SUM(status = 53), 0),
       COALESCE(SUM(CASE WHEN status = 20 THEN amount_minor END), 0),
       COALESCE(SUM(CASE WHEN status = 20 THEN cost_minor END), 0)
     FROM orders WHERE ";

/// One grouped scan of the wallet's index (kind, amount and the credited
/// account are in it): no table rows are read. The wallet is credited by a
/// deposit, a void or a refund and debited by a hold.
const MOVEMENTS: &str = "SELECT credit_account = ?1, kind, created_at_ms >= ?2, SUM(amount_minor), COUNT(*)
    FROM transfers WHERE wallet_account = ?1 AND created_at_ms < ?3 GROUP BY 1, 2, 3";

fn value(v: FilterValue) -> Value {
    match v {
        FilterValue::Int(i) => Value::Integer(i),
        FilterValue::Text(t) => Value::Text(t),
    }
}

/// `WHERE` clauses and parameters of a statement page.
/// A wallet's last chain entry dated before a time: entries are dated in
/// the order of their numbers, so the index on (wallet, time) finds it.
const CHAIN_HEAD: &str = "SELECT wallet_seq, wallet_hash FROM transfers
    WHERE wallet_account = ?1 AND created_at_ms < ?2 AND wallet_seq IS NOT NULL
    ORDER BY created_at_ms DESC, id DESC LIMIT 1";

fn statement_filter(q: &StatementQuery) -> (String, Vec<Value>) {
    let mut clauses = vec!["t.wallet_account = ?".to_owned()];
    let mut values = vec![Value::Integer(q.wallet_id.get())];
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
        values.extend(q.kinds.iter().map(|k| Value::Text(k.as_str().to_owned())));
    }
    (clauses.join(" AND "), values)
}

impl SqliteStore {
    fn list_orders_now(&self, q: &OrderQuery) -> Result<(Vec<OrderRow>, OrderTotals)> {
        let (filter, values) = rows::order_filter(q, |_| "?".to_owned());
        let mut values: Vec<Value> = values.into_iter().map(value).collect();
        self.read(|c| {
            let totals = c.query_row(&format!("{TOTALS}{filter}"), params_from_iter(values.iter()), |r| {
                rows::order_totals(&Cols::new(r))
            })?;
            values.push(Value::Integer(i64::from(q.limit)));
            values.push(Value::Integer(q.offset as i64));
            let order = if q.ascending { "ASC" } else { "DESC" };
            let mut stmt = c.prepare(&format!(
                concat!(
                    "SELECT ",
                    order_columns!(),
                    " FROM orders WHERE {filter} ORDER BY created_at_ms {order}, id {order} LIMIT ? OFFSET ?"
                ),
                filter = filter,
                order = order
            ))?;
            let rows = stmt
                .query_map(params_from_iter(values.iter()), |r| rows::order(&Cols::new(r)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((rows, totals))
        })
    }

    fn statement_now(&self, q: &StatementQuery) -> Result<(Vec<StatementEntry>, u64)> {
        // Balances were recorded with each entry: the page reads only itself.
        let (filter, values) = statement_filter(q);
        self.read(|c| {
            let total: u64 = c.query_row(
                &format!("SELECT COUNT(*) FROM transfers t WHERE {filter}"),
                params_from_iter(values.iter()),
                |r| r.get(0),
            )?;
            let mut page_values = values.clone();
            page_values.push(Value::Integer(i64::from(q.limit)));
            page_values.push(Value::Integer(q.offset as i64));
            let mut stmt = c.prepare(&format!(
                concat!(
                    "SELECT ",
                    statement_columns!(),
                    " FROM transfers t LEFT JOIN orders o ON o.id = t.order_id
                     WHERE {filter} ORDER BY t.created_at_ms, t.id LIMIT ? OFFSET ?"
                ),
                filter = filter
            ))?;
            let rows = stmt
                .query_map(params_from_iter(page_values.iter()), |r| rows::statement_entry(&Cols::new(r)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((rows, total))
        })
    }

    fn movements_now(&self, wallet_id: AccountId, from_ms: Option<i64>, to_ms: Option<i64>) -> Result<Movements> {
        let from = from_ms.unwrap_or(i64::MIN);
        let to = to_ms.unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(MOVEMENTS)?;
            let sides = stmt
                .query_map(params![wallet_id.get(), from, to], |r| {
                    Ok((r.get::<_, bool>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Movements::fold(sides))
        })
    }
}

impl ReportStore for SqliteStore {
    fn list_orders<'a>(&'a self, query: &'a OrderQuery) -> BoxFuture<'a, Result<(Vec<OrderRow>, OrderTotals)>> {
        ready(self.list_orders_now(query))
    }

    fn statement<'a>(&'a self, query: &'a StatementQuery) -> BoxFuture<'a, Result<(Vec<StatementEntry>, u64)>> {
        ready(self.statement_now(query))
    }

    fn movements(
        &self,
        wallet_id: AccountId,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> BoxFuture<'_, Result<Movements>> {
        ready(self.movements_now(wallet_id, from_ms, to_ms))
    }

    fn daily_summary(
        &self,
        merchant_id: MerchantId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<SummaryRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT (created_at_ms + 28800000) / 86400000 AS day, product, COUNT(*), SUM(amount_minor), SUM(cost_minor)
                 FROM orders WHERE merchant_id = ?1 AND status = 20 AND created_at_ms >= ?2 AND created_at_ms < ?3
                 GROUP BY day, product ORDER BY day, product",
            )?;
            let rows = stmt.query_map(params![merchant_id.get(), from_ms, to_ms], |r| rows::summary(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn order_activity(
        &self,
        merchant_id: MerchantId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<ActivityRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT (created_at_ms + 28800000) / 86400000 AS day, product, COUNT(*),
                   COALESCE(SUM(status = 20), 0), COALESCE(SUM(CASE WHEN status = 20 THEN amount_minor END), 0)
                 FROM orders WHERE merchant_id = ?1 AND created_at_ms >= ?2 AND created_at_ms < ?3
                 GROUP BY day, product ORDER BY day, product",
            )?;
            let rows =
                stmt.query_map(params![merchant_id.get(), from_ms, to_ms], |r| ActivityRow::read(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn cost_of_goods(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<CostOfGoodsRow>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT o.product, a.provider_id, COUNT(*), SUM(o.cost_minor), COALESCE(SUM(a.cost_minor), 0),
                   SUM(a.cost_minor IS NULL)
                 FROM attempts a JOIN orders o ON o.id = a.order_id
                 WHERE a.outcome = 'delivered' AND o.status = 20 AND a.sent_at_ms >= ?1 AND a.sent_at_ms < ?2
                 GROUP BY o.product, a.provider_id ORDER BY o.product, a.provider_id",
            )?;
            let rows = stmt.query_map(params![from_ms, to_ms], |r| rows::cost_of_goods(&Cols::new(r)))?;
            rows.collect()
        }))
    }

    fn chain_heads<'a>(
        &'a self,
        wallet_id: AccountId,
        before_ms: &'a [i64],
    ) -> BoxFuture<'a, Result<Vec<Option<Head>>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(CHAIN_HEAD)?;
            let mut out = Vec::with_capacity(before_ms.len());
            for before in before_ms {
                let head = stmt
                    .query_row(params![wallet_id.get(), before], |r| {
                        let hash: Vec<u8> = r.get(1)?;
                        Ok(Head::stored(r.get::<_, i64>(0)?, hash))
                    })
                    .optional()?;
                out.push(head);
            }
            Ok(out)
        }))
    }

    fn hold_balances<'a>(&'a self, order_ids: &'a [OrderId]) -> BoxFuture<'a, Result<Vec<(OrderId, Amount)>>> {
        ready(self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT order_id, wallet_balance_after_minor FROM transfers WHERE order_id = ?1 AND kind = 'HOLD'",
            )?;
            let mut out = Vec::with_capacity(order_ids.len());
            for id in order_ids {
                let found =
                    stmt.query_row([id.get()], |r| Ok((OrderId::new(r.get(0)?), Amount::from_minor(r.get(1)?))));
                match found {
                    Ok(row) => out.push(row),
                    Err(rusqlite::Error::QueryReturnedNoRows) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        }))
    }
}
