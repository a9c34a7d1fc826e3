//! The IIMMPACT connector: sends live orders to an IIMMPACT-compatible API
//! (IIMMPACT itself, or another tambah) with the `tambah-iimmpact` client.
//! `transform` maps its answers into our outcomes, `codes` is the status code
//! table. Each order goes out under our upstream reference (from the attempt
//! row); a status check resubmits the same request, which IIMMPACT answers
//! without charging again.

pub(crate) mod codes;
mod transform;

use std::sync::Arc;
use std::time::Duration;

use tambah_domain::{Amount, Product};
use tambah_iimmpact::{Client, Config, Method, TopupRequest};
use tambah_store::ProviderRow;

use super::config::Credentials;
use super::{Answer, BoxFuture, Outcome, Provider, ProviderOrder, UpstreamProduct, UpstreamTransaction};
use transform::Call;

/// Ask about a pending order this long after an answer that did not settle it.
const RECHECK_AFTER_MS: i64 = 10_000;
/// A page of the provider's transaction list (its largest).
const LIST_PAGE: usize = 500;
/// Pages read at most for one day's reconciliation.
const LIST_PAGES_MAX: usize = 200;

pub struct Iimmpact {
    name: String,
    client: Client,
    table: codes::Table,
}

impl Iimmpact {
    /// The connector of a configured provider, or `None` (logged) when its
    /// settings cannot make a client.
    pub fn connect(row: &ProviderRow, credentials: Credentials) -> Option<Arc<dyn Provider>> {
        let Credentials::ApiKey { key_id, secret, .. } = credentials else {
            tracing::error!(provider = %row.name, "an IIMMPACT provider needs an API key and secret");
            return None;
        };
        let changes = super::codes_of(row)?;
        let mut config = Config::new(row.base_url.clone(), tambah_iimmpact::Credentials::ApiKey { key_id, secret });
        config.timeout = Duration::from_millis(u64::try_from(row.timeout_ms).unwrap_or(1));
        config.connect_timeout = config.connect_timeout.min(config.timeout);
        match Client::new(config) {
            Ok(client) => {
                Some(Arc::new(Iimmpact { name: row.name.clone(), client, table: codes::Table::new(changes) }))
            }
            Err(e) => {
                tracing::error!(provider = %row.name, error = %e, "IIMMPACT provider settings are unusable");
                None
            }
        }
    }

    /// The order at the provider: our reference, the route's product, and
    /// the order's extras (its plan, biller, payer) as they were given.
    fn request(order: &ProviderOrder) -> TopupRequest {
        let amount = tambah_iimmpact::Amount::from_minor(order.amount.minor());
        let mut request = TopupRequest::new(
            order.upstream_ref.clone(),
            order.upstream_product.clone(),
            order.account.clone(),
            amount,
        );
        request.extras = order.extras.clone();
        request
    }
}

impl Provider for Iimmpact {
    fn name(&self) -> &str {
        &self.name
    }

    fn decide_inline(&self, _order: &ProviderOrder, _product: &Product) -> Option<Outcome> {
        // Every answer comes over the network, after the order is durably
        // Processing with its attempt written.
        None
    }

    fn submit<'a>(&'a self, order: &'a ProviderOrder, _product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            let result = self.client.topup(&Self::request(order)).await;
            transform::answer(&self.table, order, result, Call::Send, now_ms + RECHECK_AFTER_MS)
        })
    }

    fn balance(&self) -> BoxFuture<'_, Result<Option<Amount>, String>> {
        Box::pin(async move {
            let b = self.client.balance().await.map_err(|e| e.to_string())?;
            Ok(Some(Amount::from_minor(b.balance.minor())))
        })
    }

    fn catalogue(&self) -> BoxFuture<'_, Result<Vec<UpstreamProduct>, String>> {
        Box::pin(async move {
            let products = self.client.products().await.map_err(|e| e.to_string())?;
            let one_ringgit = tambah_iimmpact::Amount::from_rm(1);
            Ok(products
                .iter()
                .map(|p| UpstreamProduct {
                    code: p.product_code.clone(),
                    name: p.product_name.clone(),
                    active: p.is_active(),
                    buy_price: p.cost_of(one_ringgit).map(|c| Amount::from_minor(c.minor())),
                })
                .collect())
        })
    }

    fn transactions<'a>(&'a self, day: &'a str) -> BoxFuture<'a, Result<Vec<UpstreamTransaction>, String>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for page in 0..LIST_PAGES_MAX {
                let offset = (page * LIST_PAGE).to_string();
                let limit = LIST_PAGE.to_string();
                let query = [("date", day), ("limit", limit.as_str()), ("offset", offset.as_str())];
                let reply = self.client.request(Method::GET, "/v2/transactions", &query, None).await;
                let items = transform::listing(&self.table, &reply.map_err(|e| e.to_string())?.body)?;
                let full = items.len() == LIST_PAGE;
                out.extend(items);
                if !full {
                    return Ok(out);
                }
            }
            Err(format!("more than {} transactions on {day}: not listed whole", LIST_PAGES_MAX * LIST_PAGE))
        })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder, _product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            let result = self.client.status(&Self::request(order)).await;
            transform::answer(&self.table, order, result, Call::Query, now_ms + RECHECK_AFTER_MS)
        })
    }
}
