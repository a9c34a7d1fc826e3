//! The DingConnect connector: sends live orders to Ding's API V1 with our
//! `api_key`. An order goes out as `POST SendTransfer` with our upstream
//! reference as `DistributorRef`, the route's upstream product as `SkuCode`,
//! the ordered amount in ringgit as `SendValue` and the customer's number in
//! international form as `AccountNumber`. Ding does not promise that a
//! reference is taken once (a replayed one has been paid twice), so a query
//! never sends again: it reads `ListTransferRecords` filtered by our
//! reference. A reference Ding says it already has is looked up, never
//! failed. `validate_only` puts the same transfer to Ding with `ValidateOnly`
//! (checked, balance included, nothing debited).
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
use super::{Answer, BoxFuture, Outcome, Provider, ProviderOrder, UpstreamTransaction};
use client::{Client, ListRequest, Settings, TransferRequest};
use transform::Ordered;
pub use transform::{Validated, Validation};

/// Ask about a pending order this long after an answer that did not settle
/// it (Batch transfers answer Submitted and are polled).
const RECHECK_AFTER_MS: i64 = 10_000;
/// Every order is paid in ringgit: Ding refuses a currency our account there
/// is not kept in, rather than reading ringgit as another currency.
const CURRENCY: &str = "MYR";
/// Malaysian numbers, in the international form Ding wants.
const COUNTRY_DIALING_CODE: &str = "60";
/// Transfers read under one reference: more than one (Ding does not prevent
/// it) is flagged.
const LIST_TAKE: u32 = 10;
/// Minor units in one sen: Ding takes two decimals.
const MINOR_PER_SEN: i64 = 100;
/// A page of Ding's transfer list for reconciliation.
const LIST_PAGE: u32 = 100;
/// Pages read at most for one day's reconciliation (Ding lists two months,
/// with no filter by date).
const LIST_PAGES_MAX: u32 = 500;

pub struct Ding {
    name: String,
    client: Client,
    table: codes::Table,
}

impl Ding {
    /// The connector of a configured provider, or why its settings cannot
    /// make one. The base URL is `https://api.dingconnect.com/api/V1` (the
    /// host alone works too).
    pub fn new(row: &ProviderRow, credentials: Credentials) -> Result<Ding, String> {
        let Credentials::Key { api_key } = credentials else {
            return Err("a Ding provider needs an API key".into());
        };
        let changes = codes::Codes::from_json(&row.codes_json)?;
        let timeout = Duration::from_millis(u64::try_from(row.timeout_ms).unwrap_or(1).max(1));
        let client = Client::new(Settings { base_url: row.base_url.clone(), api_key, timeout })?;
        Ok(Ding { name: row.name.clone(), client, table: codes::Table::new(changes) })
    }

    /// [`Ding::new`] as a routable provider, or `None` (logged).
    pub fn connect(row: &ProviderRow, credentials: Credentials) -> Option<Arc<dyn Provider>> {
        match Ding::new(row, credentials) {
            Ok(ding) => Some(Arc::new(ding)),
            Err(e) => {
                tracing::error!(provider = %row.name, error = %e, "Ding provider settings are unusable");
                None
            }
        }
    }

    /// Puts the order's transfer to Ding with `ValidateOnly`: the SKU, number
    /// and amount checked (with the provider where Ding can) and our balance
    /// checked, nothing debited and no transfer recorded. Valid: Ding's
    /// estimate; refused: what a real send would have met, as an answer.
    pub async fn validate_only(&self, order: &ProviderOrder, now_ms: i64) -> Validation {
        let recheck_at_ms = now_ms + RECHECK_AFTER_MS;
        let mut request = match Self::request(order) {
            Ok((_, request)) => request,
            Err(why) => return Validation::Refused(not_sent(why).into()),
        };
        request.validate_only = true;
        transform::validated(&self.table, self.client.send_transfer(&request).await, recheck_at_ms)
    }

    /// What we ask of Ding, and the transfer request; or why this order
    /// cannot be put to Ding (an amount below a sen, no SKU).
    fn request(order: &ProviderOrder) -> Result<(Ordered, TransferRequest), String> {
        if order.upstream_product.is_empty() {
            return Err("the route has no Ding SkuCode".into());
        }
        if order.amount.minor() <= 0 || order.amount.minor() % MINOR_PER_SEN != 0 {
            return Err(format!("RM {} is not a whole number of sen", order.amount.to_plain()));
        }
        let send_value = Number::from_str(&order.amount.to_cents()).map_err(|e| format!("amount: {e}"))?;
        let ordered = Ordered {
            reference: order.upstream_ref.clone(),
            sku: order.upstream_product.clone(),
            account: account_number(&order.account),
            amount: order.amount,
            currency: CURRENCY,
        };
        let request = TransferRequest {
            sku_code: ordered.sku.clone(),
            send_value,
            send_currency_iso: CURRENCY.to_owned(),
            account_number: ordered.account.clone(),
            distributor_ref: ordered.reference.clone(),
            settings: Vec::new(),
            validate_only: false,
            bill_ref: None,
        };
        Ok((ordered, request))
    }
}

/// A Malaysian number in the international form Ding wants: no `+`, the
/// trunk `0` replaced by the country code (`0123456789` → `60123456789`).
fn account_number(account: &str) -> String {
    let digits = account.trim().trim_start_matches('+');
    match digits.strip_prefix('0') {
        Some(national) => format!("{COUNTRY_DIALING_CODE}{national}"),
        None => digits.to_owned(),
    }
}

fn not_sent(why: String) -> Outcome {
    Outcome::Unavailable { reason: format!("not sent: {why}") }
}

impl Provider for Ding {
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
            let (ordered, request) = match Self::request(order) {
                Ok(request) => request,
                Err(why) => {
                    tracing::error!(provider = %self.name, order = %order.order_id, %why, "not sent");
                    return not_sent(why).into();
                }
            };
            transform::sent(&self.table, &ordered, self.client.send_transfer(&request).await, now_ms + RECHECK_AFTER_MS)
        })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder, _product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            let recheck_at_ms = now_ms + RECHECK_AFTER_MS;
            let ordered = match Self::request(order) {
                Ok((ordered, _)) => ordered,
                Err(why) => {
                    // It could not have been sent either; still, only the
                    // provider's list says so.
                    tracing::error!(provider = %self.name, order = %order.order_id, %why, "cannot look the order up");
                    return Outcome::Pending { recheck_at_ms }.into();
                }
            };
            let request = ListRequest {
                transfer_ref: None,
                distributor_ref: Some(ordered.reference.clone()),
                account_number: None,
                skip: 0,
                take: LIST_TAKE,
            };
            transform::found(&self.table, &ordered, self.client.list_transfer_records(&request).await, recheck_at_ms)
        })
    }

    fn validate<'a>(&'a self, order: &'a ProviderOrder, now_ms: i64) -> Option<BoxFuture<'a, Result<String, Answer>>> {
        Some(Box::pin(async move {
            match self.validate_only(order, now_ms).await {
                Validation::Valid(v) => Ok(format!(
                    "sends {} {}, delivers {} {}",
                    v.send_value, v.send_currency, v.receive_value, v.receive_currency
                )),
                Validation::Refused(answer) => Err(answer),
            }
        }))
    }

    fn balance(&self) -> BoxFuture<'_, Result<Option<Amount>, String>> {
        Box::pin(async move { transform::balance(self.client.get_balance().await, CURRENCY) })
    }

    /// Ding's list has no date filter: it is read whole (two months) and the
    /// transfers started that Malaysia-time day are kept.
    fn transactions<'a>(&'a self, day: &'a str) -> BoxFuture<'a, Result<Vec<UpstreamTransaction>, String>> {
        Box::pin(async move {
            let wanted = tambah_domain::time::parse_date(day)?;
            let mut out = Vec::new();
            for page in 0..LIST_PAGES_MAX {
                let request = ListRequest {
                    transfer_ref: None,
                    distributor_ref: None,
                    account_number: None,
                    skip: page * LIST_PAGE,
                    take: LIST_PAGE,
                };
                let reply = self.client.list_transfer_records(&request).await.map_err(|e| format!("{e:?}"))?;
                let (items, more) = transform::listing(&self.table, &reply, wanted)?;
                out.extend(items);
                if !more {
                    return Ok(out);
                }
            }
            Err(format!("more than {} transfers listed: not read whole", LIST_PAGES_MAX * LIST_PAGE))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::account_number;

    #[test]
    fn numbers_go_out_in_international_form() {
        assert_eq!(account_number("0123456789"), "60123456789");
        assert_eq!(account_number("+60123456789"), "60123456789");
        assert_eq!(account_number("60123456789"), "60123456789");
    }
}
