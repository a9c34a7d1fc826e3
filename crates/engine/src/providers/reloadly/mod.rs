//! The Reloadly connector: sends live orders to Reloadly's Airtime API.
//! An order goes out as `POST /topups-async` under our upstream reference as
//! `customIdentifier`, to the operator whose Reloadly `operatorId` is the
//! route's upstream product (`tambah route add --upstream-product 1234`), for
//! the ordered amount in ringgit (`useLocalAmount`) to the Malaysian number;
//! its status is asked at once by `GET /topups/{transactionId}/status`.
//! A later query only has our reference (the transaction id is not kept), so
//! it finds the transaction in Reloadly's transaction report filtered by
//! `customIdentifier`, then asks its status. Reloadly refuses a reused
//! reference ("already used"): that earlier request may have been paid, so
//! the order is looked up, never failed and never sent again.
//! `client` is the wire, `transform` the mapping, `codes` the code tables.

mod client;
pub(crate) mod codes;
mod transform;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Number;
use tambah_domain::{Amount, Product};
use tambah_store::ProviderRow;

use super::config::Credentials;
use super::{Answer, BoxFuture, Outcome, Provider, ProviderOrder};
use client::{Client, Phone, Settings, TopupRequest};
use transform::Next;

/// Ask about a pending order this long after an answer that did not settle
/// it (Reloadly's sandbox keeps an async top-up PROCESSING about 10 s).
const RECHECK_AFTER_MS: i64 = 10_000;
/// Every order is a Malaysian number topped up in ringgit.
const COUNTRY_ISO: &str = "MY";
const COUNTRY_DIALING_CODE: &str = "60";
const COUNTRY_CURRENCY: &str = "MYR";

/// A route's upstream product that asks Reloadly which operator serves the
/// number (`GET /operators/auto-detect/…`) before each send, instead of a
/// fixed operator id: for numbers that may have moved network.
pub const AUTO_DETECT: &str = "auto";

pub struct Reloadly {
    name: String,
    client: Client,
    table: codes::Table,
}

impl Reloadly {
    /// The connector of a configured provider, or `None` (logged) when its
    /// settings cannot make a client. The base URL is the Airtime API
    /// (`https://topups.reloadly.com`, or the sandbox's), which is also the
    /// token's audience; the auth URL is the token service's host.
    pub fn connect(row: &ProviderRow, credentials: Credentials) -> Option<Arc<dyn Provider>> {
        let Credentials::ClientCredentials { client_id, client_secret } = credentials else {
            tracing::error!(provider = %row.name, "a Reloadly provider needs an OAuth2 client id and secret");
            return None;
        };
        let changes = super::codes_of(row)?;
        let settings = Settings {
            base_url: row.base_url.clone(),
            auth_url: row.auth_url.clone(),
            client_id,
            client_secret,
            timeout: Duration::from_millis(u64::try_from(row.timeout_ms).unwrap_or(1).max(1)),
        };
        match Client::new(settings) {
            Ok(client) => {
                Some(Arc::new(Reloadly { name: row.name.clone(), client, table: codes::Table::new(changes) }))
            }
            Err(e) => {
                tracing::error!(provider = %row.name, error = %e, "Reloadly provider settings are unusable");
                None
            }
        }
    }

    /// The operator to send an order to: the route's, or for a route of
    /// [`AUTO_DETECT`] the one Reloadly detects for the number (`Err`: the
    /// answer that ends the attempt, nothing sent).
    async fn operator(&self, order: &ProviderOrder) -> Result<Option<Number>, Box<Answer>> {
        if order.upstream_product != AUTO_DETECT {
            return Ok(None);
        }
        let found = self.client.auto_detect(&order.account, COUNTRY_ISO).await;
        let id = transform::detected(&self.table, found)?;
        tracing::info!(provider = %self.name, order = %order.order_id, operator = %id, "operator auto-detected");
        Ok(Some(id))
    }

    /// The top-up request, or why this order cannot be put to Reloadly (a
    /// route whose upstream product is not an operator id).
    fn request(order: &ProviderOrder, detected: Option<Number>) -> Result<TopupRequest, String> {
        let operator_id = Some(order.upstream_product.as_str())
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| Number::from_str(p).ok())
            .or(detected)
            .ok_or_else(|| {
                format!("the route's upstream product {:?} is not a Reloadly operatorId", order.upstream_product)
            })?;
        let amount = Number::from_str(&order.amount.to_plain()).map_err(|e| format!("amount: {e}"))?;
        Ok(TopupRequest {
            operator_id,
            amount,
            use_local_amount: true,
            custom_identifier: order.upstream_ref.clone(),
            recipient_phone: Phone { country_code: COUNTRY_ISO.to_owned(), number: order.account.clone() },
        })
    }

    /// Finds the transaction under our reference, then asks its status.
    async fn look_up(&self, order: &ProviderOrder, recheck_at_ms: i64) -> Answer {
        let found = self.client.find_by_identifier(&order.upstream_ref).await;
        match transform::found(&self.table, order, found, recheck_at_ms) {
            Next::AskStatus(id) => transform::status(&self.table, order, self.client.status(&id).await, recheck_at_ms),
            Next::Answered(answer) => answer,
        }
    }
}

impl Provider for Reloadly {
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
            let recheck_at_ms = now_ms + RECHECK_AFTER_MS;
            let detected = match self.operator(order).await {
                Ok(detected) => detected,
                Err(answer) => return *answer,
            };
            let request = match Self::request(order, detected) {
                Ok(request) => request,
                Err(why) => {
                    tracing::error!(provider = %self.name, order = %order.order_id, %why, "not sent");
                    return Outcome::Unavailable { reason: format!("not sent: {why}") }.into();
                }
            };
            let sent = self.client.topup_async(&request).await;
            match transform::sent(&self.table, order, sent, recheck_at_ms) {
                Next::AskStatus(id) => {
                    transform::status(&self.table, order, self.client.status(&id).await, recheck_at_ms)
                }
                Next::Answered(answer) => answer,
            }
        })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder, _product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer> {
        Box::pin(async move { self.look_up(order, now_ms + RECHECK_AFTER_MS).await })
    }

    fn balance(&self) -> BoxFuture<'_, Result<Option<Amount>, String>> {
        Box::pin(async move {
            let reply = self.client.balance().await.map_err(|e| format!("{e:?}"))?;
            if !reply.is_success() {
                return Err(format!("Reloadly balance: HTTP {}: {}", reply.http_status, reply.body));
            }
            // Our float is in the Reloadly account's currency, which need not
            // be ringgit: shown only when it is.
            let value: serde_json::Value = serde_json::from_str(&reply.body).map_err(|e| format!("balance: {e}"))?;
            if value.get("currencyCode").and_then(|c| c.as_str()) != Some(COUNTRY_CURRENCY) {
                return Ok(None);
            }
            let balance = value.get("balance").map(ToString::to_string).unwrap_or_default();
            Amount::parse_rm(&balance, 4).map(Some).map_err(|e| format!("balance {balance}: {e:?}"))
        })
    }
}
