//! Orders on PostgreSQL: reads outside the writer, and the lease by which nodes share the due order work.

use tambah_domain::{AccountId, Amount, MerchantId, OrderId};
use tambah_store::{order_columns, rows, BoxFuture, Claim, OrderRow, OrderStore, Result, StoreError};

use crate::{all, maybe, PgStore};

/// Where `order_with_balance` puts the balance: after the order's 19 columns.
const BALANCE_COLUMN: usize = 19;

impl OrderStore for PgStore {
    fn order(&self, order_id: OrderId) -> BoxFuture<'_, Result<Option<OrderRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1");
            maybe(self.query_opt(SQL, &[&order_id.get()]).await?.as_ref(), rows::order)
        })
    }

    fn order_by_refid<'a>(
        &'a self,
        merchant_id: MerchantId,
        refid: &'a str,
    ) -> BoxFuture<'a, Result<Option<OrderRow>>> {
        Box::pin(async move {
            const SQL: &str =
                concat!("SELECT ", order_columns!(), " FROM orders WHERE merchant_id = $1 AND refid = $2");
            maybe(self.query_opt(SQL, &[&merchant_id.get(), &refid]).await?.as_ref(), rows::order)
        })
    }

    fn order_with_balance<'a>(
        &'a self,
        merchant_id: MerchantId,
        refid: &'a str,
        wallet_id: AccountId,
    ) -> BoxFuture<'a, Result<(Option<OrderRow>, Amount)>> {
        Box::pin(async move {
            // One round trip: the order (if any) and the balance side by side.
            const SQL: &str = concat!(
                "SELECT o.*, (SELECT balance_minor FROM ledger_accounts WHERE id = $3) FROM (SELECT 1) one LEFT JOIN (SELECT ",
                order_columns!(),
                " FROM orders WHERE merchant_id = $1 AND refid = $2) o ON true"
            );
            let row = self
                .query_opt(SQL, &[&merchant_id.get(), &refid, &wallet_id.get()])
                .await?
                .ok_or_else(|| StoreError::Other("order look-up returned no row".into()))?;
            let balance = Amount::from_minor(row.get(BALANCE_COLUMN));
            // No order: the LEFT JOIN left its columns NULL.
            let found = row.get::<_, Option<i64>>(0).map(|_| &row);
            Ok((maybe(found, rows::order)?, balance))
        })
    }

    fn orders_with_refid<'a>(&'a self, refid: &'a str) -> BoxFuture<'a, Result<Vec<OrderRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!("SELECT ", order_columns!(), " FROM orders WHERE refid = $1 ORDER BY id");
            all(&self.query(SQL, &[&refid]).await?, rows::order)
        })
    }

    fn pending_orders(&self, created_before_ms: i64, limit: u32) -> BoxFuture<'_, Result<Vec<OrderRow>>> {
        Box::pin(async move {
            const SQL: &str = concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders WHERE status IN (0, 1) AND created_at_ms < $1 ORDER BY created_at_ms, id LIMIT $2"
            );
            all(&self.query(SQL, &[&created_before_ms, &i64::from(limit)]).await?, rows::order)
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
            let claimed = self.query(SQL, &[&c.accepted_before_ms, &c.now_ms, &c.node, &limit, &c.lease_ms]).await?;
            // UPDATE ... RETURNING does not keep the subquery's order.
            let mut orders = all(&claimed, rows::order)?;
            orders.sort_by_key(|o| o.id);
            Ok(orders)
        })
    }
}
