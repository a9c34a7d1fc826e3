//! Reports a merchant reconciles with, as typed results the edges render:
//! the transaction listing with totals, the wallet statement, the daily
//! summary of successful orders, the order activity per day and product,
//! and the monthly invoice. [`Reports`] holds
//! only what it reads: the store and the catalogue of the moment.

use std::collections::HashMap;
use std::sync::Arc;

use tambah_domain::chain::Head;
use tambah_domain::{time, AccountId, Amount, Catalog, OrderId};
use tambah_store::{
    ActivityRow, MerchantRow, Movements, OrderQuery, OrderRow, OrderTotals, StatementEntry, StatementQuery, Store,
    StoreError, SummaryRow,
};

use crate::Engine;

/// The reporting service (see [`Engine::reports`]).
pub struct Reports<'a> {
    store: &'a dyn Store,
    catalog: Arc<Catalog>,
}

/// One page of a wallet statement, how many entries match in all, and the
/// sums of the wallet's movements over the same range.
#[derive(Clone, Debug)]
pub struct Statement {
    pub entries: Vec<StatementEntry>,
    pub total: u64,
    pub sums: Movements,
}

/// Successful orders of one product: how many, their amount and cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSales {
    pub product: String,
    pub product_name: String,
    pub count: u64,
    pub amount: Amount,
    pub cost: Amount,
}

/// Successful orders of one product on one Malaysia-time day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryLine {
    /// Days since 1970-01-01, Malaysia time.
    pub day: i64,
    pub sales: ProductSales,
}

/// The daily summary of a range: its lines and their totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub lines: Vec<SummaryLine>,
    pub count: u64,
    pub amount: Amount,
    pub cost: Amount,
}

/// Orders of one Malaysia-time day, whatever their status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayActivity {
    /// Days since 1970-01-01, Malaysia time.
    pub day: i64,
    pub count: u64,
    pub successful: u64,
    pub successful_amount: Amount,
}

/// Orders of one product over a range, whatever their status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductActivity {
    pub product: String,
    pub product_name: String,
    pub count: u64,
    pub successful: u64,
    pub successful_amount: Amount,
}

/// What a merchant's orders did over a range of days: every day of the
/// range (days without orders too, so that a chart has no gaps), every
/// product ordered (in product order), and the range's totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub days: Vec<DayActivity>,
    pub products: Vec<ProductActivity>,
    pub count: u64,
    pub successful: u64,
    pub successful_amount: Amount,
}

/// A month's invoice statement: the wallet's movements and the successful
/// orders per product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    pub opening: Amount,
    pub deposits: Amount,
    /// Holds less the voids (what the month's orders cost).
    pub charges: Amount,
    pub refunds: Amount,
    pub closing: Amount,
    /// One line per product, in product order.
    pub lines: Vec<ProductSales>,
}

/// Delivered orders of one product bought from one provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostOfGoodsLine {
    pub product: String,
    pub product_name: String,
    pub provider: String,
    pub count: u64,
    /// What merchants paid.
    pub sales: Amount,
    /// What the provider charged (where its answers said).
    pub cost_of_goods: Amount,
    /// Sales less cost of goods.
    pub margin: Amount,
    /// Deliveries whose charge the provider did not say (left out of the cost).
    pub uncosted: u64,
}

impl Engine {
    /// Listings, statements, summaries and invoices.
    pub fn reports(&self) -> Reports<'_> {
        Reports { store: self.store(), catalog: self.catalog() }
    }
}

impl Reports<'_> {
    /// A summary row as sales of its product, named from the catalogue.
    fn sales(&self, r: SummaryRow) -> ProductSales {
        let product_name = self.catalog.get(&r.product).map(|p| p.name.clone()).unwrap_or_default();
        ProductSales { product: r.product, product_name, count: r.count, amount: r.amount, cost: r.cost }
    }

    /// One page of a merchant's orders and the totals of every order the
    /// query matches.
    pub async fn transactions(&self, query: &OrderQuery) -> Result<(Vec<OrderRow>, OrderTotals), StoreError> {
        self.store.list_orders(query).await
    }

    /// The wallet balance right after each order's HOLD (orders refused
    /// before anything was held have none).
    pub async fn hold_balances(&self, order_ids: &[OrderId]) -> Result<HashMap<OrderId, Amount>, StoreError> {
        Ok(self.store.hold_balances(order_ids).await?.into_iter().collect())
    }

    /// Where a wallet's statement chain stood at each of `before_ms` (its last
    /// entry dated before it; `None`: none yet).
    pub async fn chain_heads(&self, wallet_id: AccountId, before_ms: &[i64]) -> Result<Vec<Option<Head>>, StoreError> {
        self.store.chain_heads(wallet_id, before_ms).await
    }

    /// One page of wallet movements with the range's sums.
    pub async fn statement(&self, query: &StatementQuery) -> Result<Statement, StoreError> {
        let (entries, total) = self.store.statement(query).await?;
        let sums = self.store.movements(query.wallet_id, query.from_ms, query.to_ms).await?;
        Ok(Statement { entries, total, sums })
    }

    /// A statement that lists nothing (a filter no movement matches), with
    /// the range's sums.
    pub async fn empty_statement(&self, query: &StatementQuery) -> Result<Statement, StoreError> {
        let sums = self.store.movements(query.wallet_id, query.from_ms, query.to_ms).await?;
        Ok(Statement { entries: Vec::new(), total: 0, sums })
    }

    /// The daily summary of a merchant's successful orders in [from_ms, to_ms).
    pub async fn summary(&self, m: &MerchantRow, from_ms: i64, to_ms: i64) -> Result<Summary, StoreError> {
        let rows = self.store.daily_summary(m.id, from_ms, to_ms).await?;
        let mut summary =
            Summary { lines: Vec::with_capacity(rows.len()), count: 0, amount: Amount::ZERO, cost: Amount::ZERO };
        for r in rows {
            summary.count += r.count;
            summary.amount = sum(summary.amount, r.amount)?;
            summary.cost = sum(summary.cost, r.cost)?;
            summary.lines.push(SummaryLine { day: r.day, sales: self.sales(r) });
        }
        Ok(summary)
    }

    /// The orders of a merchant created in [from_ms, to_ms), per
    /// Malaysia-time day and per product. The range is whole days: every
    /// day from the one of `from_ms` to the one of `to_ms - 1` has a line.
    pub async fn activity(&self, m: &MerchantRow, from_ms: i64, to_ms: i64) -> Result<Activity, StoreError> {
        let rows = self.store.order_activity(m.id, from_ms, to_ms).await?;
        let (first, last) = (time::day_of(from_ms), time::day_of(to_ms - 1));
        let mut activity = Activity {
            days: (first..=last)
                .map(|day| DayActivity { day, count: 0, successful: 0, successful_amount: Amount::ZERO })
                .collect(),
            products: Vec::new(),
            count: 0,
            successful: 0,
            successful_amount: Amount::ZERO,
        };
        for r in rows {
            activity.count += r.count;
            activity.successful += r.successful;
            activity.successful_amount = sum(activity.successful_amount, r.successful_amount)?;
            if let Some(day) = usize::try_from(r.day - first).ok().and_then(|i| activity.days.get_mut(i)) {
                day.count += r.count;
                day.successful += r.successful;
                day.successful_amount = sum(day.successful_amount, r.successful_amount)?;
            }
            self.add_product(&mut activity.products, r)?;
        }
        activity.products.sort_by(|a, b| a.product.cmp(&b.product));
        Ok(activity)
    }

    /// Adds one day's orders of a product to that product's line.
    fn add_product(&self, products: &mut Vec<ProductActivity>, r: ActivityRow) -> Result<(), StoreError> {
        match products.iter_mut().find(|p| p.product == r.product) {
            Some(line) => {
                line.count += r.count;
                line.successful += r.successful;
                line.successful_amount = sum(line.successful_amount, r.successful_amount)?;
            }
            None => products.push(ProductActivity {
                product_name: self.catalog.get(&r.product).map(|p| p.name.clone()).unwrap_or_default(),
                product: r.product,
                count: r.count,
                successful: r.successful,
                successful_amount: r.successful_amount,
            }),
        }
        Ok(())
    }

    /// The invoice of the month [from_ms, to_ms): wallet movements and the
    /// month's successful orders per product (in product order).
    pub async fn invoice(&self, m: &MerchantRow, from_ms: i64, to_ms: i64) -> Result<Invoice, StoreError> {
        let mv = self.store.movements(m.wallet_id, Some(from_ms), Some(to_ms)).await?;
        let rows = self.store.daily_summary(m.id, from_ms, to_ms).await?;
        let mut lines: Vec<ProductSales> = Vec::new();
        for r in rows {
            match lines.iter_mut().find(|l| l.product == r.product) {
                Some(line) => {
                    line.count += r.count;
                    line.amount = sum(line.amount, r.amount)?;
                    line.cost = sum(line.cost, r.cost)?;
                }
                None => lines.push(self.sales(r)),
            }
        }
        lines.sort_by(|a, b| a.product.cmp(&b.product));
        let overflow = || StoreError::Other("invoice sums overflow".into());
        let charges = mv.holds.checked_sub(mv.voids).ok_or_else(overflow)?;
        let closing = mv
            .opening
            .checked_add(mv.deposits)
            .and_then(|b| b.checked_sub(charges))
            .and_then(|b| b.checked_add(mv.refunds))
            .ok_or_else(overflow)?;
        Ok(Invoice { opening: mv.opening, deposits: mv.deposits, charges, refunds: mv.refunds, closing, lines })
    }
}

impl Reports<'_> {
    /// Delivered orders sent to providers in [from_ms, to_ms), per product
    /// and provider: sales, cost of goods and margin.
    pub async fn cost_of_goods(&self, from_ms: i64, to_ms: i64) -> Result<Vec<CostOfGoodsLine>, StoreError> {
        let names: HashMap<_, _> = self.store.providers().await?.into_iter().map(|p| (p.id, p.name)).collect();
        let rows = self.store.cost_of_goods(from_ms, to_ms).await?;
        rows.into_iter()
            .map(|r| {
                let margin =
                    r.sales.checked_sub(r.cost_of_goods).ok_or_else(|| StoreError::Other("margin overflows".into()))?;
                Ok(CostOfGoodsLine {
                    product_name: self.catalog.get(&r.product).map(|p| p.name.clone()).unwrap_or_default(),
                    provider: names.get(&r.provider_id).cloned().unwrap_or_default(),
                    product: r.product,
                    count: r.count,
                    sales: r.sales,
                    cost_of_goods: r.cost_of_goods,
                    margin,
                    uncosted: r.uncosted,
                })
            })
            .collect()
    }
}

/// Adds a stored sum to a running total; an overflow is a broken invariant
/// (no wallet holds more than `Amount::MAX_MINOR`), reported, not wrapped.
fn sum(total: Amount, more: Amount) -> Result<Amount, StoreError> {
    total.checked_add(more).ok_or_else(|| StoreError::Other("report sum overflows".into()))
}
