//! Reports on PostgreSQL: transaction listings with totals, wallet statements, movement sums and the daily summary.

use tambah_domain::chain::Head;
use tambah_domain::{AccountId, Amount, MerchantId, OrderId};
use tambah_store::{
    order_columns, rows, statement_columns, ActivityRow, BoxFuture, CostOfGoodsRow, Movements, OrderQuery, OrderRow,
    OrderTotals, ReportStore, Result, StatementEntry, StatementQuery, StoreError, SummaryRow,
};

use crate::{all, filter_values, one, placeholder, refs, PgStore, Values};

impl ReportStore for PgStore {
    fn list_orders<'a>(&'a self, q: &'a OrderQuery) -> BoxFuture<'a, Result<(Vec<OrderRow>, OrderTotals)>> {
        Box::pin(async move {
            let (filter, values) = rows::order_filter(q, placeholder);
            let mut values = filter_values(values);
            let totals = self.order_totals(&filter, &values).await?;
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
            let page = self.query_dynamic(&page_sql, &refs(&values)).await?;
            Ok((all(&page, rows::order)?, totals))
        })
    }

    fn statement<'a>(&'a self, q: &'a StatementQuery) -> BoxFuture<'a, Result<(Vec<StatementEntry>, u64)>> {
        Box::pin(async move {
            // Balances were recorded with each entry: the page reads only itself.
            let (filter, mut values) = statement_filter(q);
            let counted =
                self.query_dynamic(&format!("SELECT COUNT(*) FROM transfers t WHERE {filter}"), &refs(&values)).await?;
            let total = counted.first().map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0);
            let n = values.len();
            values.push(Box::new(i64::from(q.limit)));
            values.push(Box::new(q.offset as i64));
            let page_sql = format!(
                "SELECT {} FROM transfers t LEFT JOIN orders o ON o.id = t.order_id
                 WHERE {filter} ORDER BY t.created_at_ms, t.id LIMIT ${} OFFSET ${}",
                statement_columns!(),
                n + 1,
                n + 2
            );
            let page = self.query_dynamic(&page_sql, &refs(&values)).await?;
            Ok((all(&page, rows::statement_entry)?, total))
        })
    }

    fn movements(
        &self,
        wallet_id: AccountId,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> BoxFuture<'_, Result<Movements>> {
        Box::pin(async move {
            let from = from_ms.unwrap_or(i64::MIN);
            let to = to_ms.unwrap_or(i64::MAX);
            // One grouped scan of the wallet's index (kind, amount and the
            // credited account are in it): a deposit, a void or a refund
            // credits the wallet, a hold debits it.
            let rows = self
                .query(
                    "SELECT credit_account = $1, kind, created_at_ms >= $2, SUM(amount_minor)::bigint, COUNT(*)
                     FROM transfers WHERE wallet_account = $1 AND created_at_ms < $3 GROUP BY 1, 2, 3",
                    &[&wallet_id.get(), &from, &to],
                )
                .await?;
            let sides = rows.iter().map(|r| {
                (
                    r.get::<_, bool>(0),
                    r.get::<_, String>(1),
                    r.get::<_, bool>(2),
                    r.get::<_, i64>(3),
                    r.get::<_, i64>(4) as u64,
                )
            });
            Ok(Movements::fold(sides))
        })
    }

    fn daily_summary(
        &self,
        merchant_id: MerchantId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<SummaryRow>>> {
        Box::pin(async move {
            // Products in byte order (COLLATE "C"), as SQLite sorts them.
            let summary = self
                .query(
                    "SELECT (created_at_ms + 28800000) / 86400000 AS day, product, COUNT(*),
                       SUM(amount_minor)::bigint, SUM(cost_minor)::bigint
                     FROM orders WHERE merchant_id = $1 AND created_at_ms >= $2 AND created_at_ms < $3 AND status = 20
                     GROUP BY day, product ORDER BY day, product COLLATE \"C\"",
                    &[&merchant_id.get(), &from_ms, &to_ms],
                )
                .await?;
            all(&summary, rows::summary)
        })
    }

    fn order_activity(
        &self,
        merchant_id: MerchantId,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<ActivityRow>>> {
        Box::pin(async move {
            // Products in byte order (COLLATE "C"), as SQLite sorts them.
            const SQL: &str = "SELECT (created_at_ms + 28800000) / 86400000 AS day, product, COUNT(*),
                   COUNT(*) FILTER (WHERE status = 20),
                   COALESCE(SUM(amount_minor) FILTER (WHERE status = 20), 0)::bigint
                 FROM orders WHERE merchant_id = $1 AND created_at_ms >= $2 AND created_at_ms < $3
                 GROUP BY day, product ORDER BY day, product COLLATE \"C\"";
            all(&self.query(SQL, &[&merchant_id.get(), &from_ms, &to_ms]).await?, ActivityRow::read)
        })
    }

    fn cost_of_goods(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<CostOfGoodsRow>>> {
        Box::pin(async move {
            // Products in byte order (COLLATE "C"), as SQLite sorts them.
            const SQL: &str = "SELECT o.product, a.provider_id, COUNT(*), SUM(o.cost_minor)::bigint,
                   COALESCE(SUM(a.cost_minor), 0)::bigint, COUNT(*) FILTER (WHERE a.cost_minor IS NULL)
                 FROM attempts a JOIN orders o ON o.id = a.order_id
                 WHERE a.outcome = 'delivered' AND o.status = 20 AND a.sent_at_ms >= $1 AND a.sent_at_ms < $2
                 GROUP BY o.product, a.provider_id ORDER BY o.product COLLATE \"C\", a.provider_id";
            all(&self.query(SQL, &[&from_ms, &to_ms]).await?, rows::cost_of_goods)
        })
    }

    fn chain_heads<'a>(
        &'a self,
        wallet_id: AccountId,
        before_ms: &'a [i64],
    ) -> BoxFuture<'a, Result<Vec<Option<Head>>>> {
        Box::pin(async move {
            // A wallet's last chain entry dated before each time: entries are
            // dated in the order of their numbers, so the index on (wallet,
            // time) finds it.
            const SQL: &str = "SELECT b.before, h.wallet_seq, h.wallet_hash FROM unnest($2::bigint[]) AS b(before)
                 LEFT JOIN LATERAL (SELECT wallet_seq, wallet_hash FROM transfers
                     WHERE wallet_account = $1 AND created_at_ms < b.before AND wallet_seq IS NOT NULL
                     ORDER BY created_at_ms DESC, id DESC LIMIT 1) h ON true";
            let rows = self.query(SQL, &[&wallet_id.get(), &before_ms]).await?;
            let found: std::collections::HashMap<i64, Head> = rows
                .iter()
                .filter_map(|r| {
                    let seq: Option<i64> = r.get(1);
                    let hash: Option<Vec<u8>> = r.get(2);
                    Some((r.get(0), Head::stored(seq?, hash?)))
                })
                .collect();
            Ok(before_ms.iter().map(|b| found.get(b).copied()).collect())
        })
    }

    fn hold_balances<'a>(&'a self, order_ids: &'a [OrderId]) -> BoxFuture<'a, Result<Vec<(OrderId, Amount)>>> {
        Box::pin(async move {
            const SQL: &str = "SELECT order_id, wallet_balance_after_minor FROM transfers
                 WHERE order_id = ANY($1) AND kind = 'HOLD'";
            let ids: Vec<i64> = order_ids.iter().map(|id| id.get()).collect();
            let rows = self.query(SQL, &[&ids]).await?;
            // A wallet transfer always records the balance after it; a row
            // without one is skipped rather than read as a panic.
            Ok(rows
                .iter()
                .filter_map(|r| {
                    r.get::<_, Option<i64>>(1).map(|after| (OrderId::new(r.get(0)), Amount::from_minor(after)))
                })
                .collect())
        })
    }
}

impl PgStore {
    /// Counts and sums over the whole filtered listing (in the column order of
    /// `rows::order_totals`).
    async fn order_totals(&self, filter: &str, values: &Values) -> Result<OrderTotals> {
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(amount_minor), 0)::bigint, COALESCE(SUM(cost_minor), 0)::bigint,
               COUNT(*) FILTER (WHERE status = 20), COUNT(*) FILTER (WHERE status IN (0, 1)),
               COUNT(*) FILTER (WHERE status >= 40 AND status <> 53), COUNT(*) FILTER (WHERE status = 53),
               COALESCE(SUM(amount_minor) FILTER (WHERE status = 20), 0)::bigint,
               COALESCE(SUM(cost_minor) FILTER (WHERE status = 20), 0)::bigint
             FROM orders WHERE {filter}"
        );
        let totals = self.query_dynamic(&sql, &refs(values)).await?;
        let r = totals.first().ok_or_else(|| StoreError::Other("order totals returned no row".into()))?;
        one(r, rows::order_totals)
    }
}

/// `WHERE` clauses (numbered parameters from `$1`) and parameters of a
/// statement page.
fn statement_filter(q: &StatementQuery) -> (String, Values) {
    let mut values: Values = vec![Box::new(q.wallet_id.get())];
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
        values.push(Box::new(q.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()));
        clauses.push(format!("t.kind = ANY(${})", values.len()));
    }
    (clauses.join(" AND "), values)
}
