//! Catalogue state: imported catalogue versions, PIN stock and biller
//! payment counts.

use crate::{BoxFuture, Result};

/// Imported catalogues, stock levels and monthly biller counts.
pub trait CatalogStore {
    /// Stores a catalogue (validated by the caller) as the newest version.
    fn save_catalog<'a>(&'a self, json: &'a str, now_ms: i64) -> BoxFuture<'a, Result<i64>>;
    /// The newest stored catalogue version, and its JSON when `with_json`.
    fn latest_catalog(&self, with_json: bool) -> BoxFuture<'_, Result<Option<(i64, String)>>>;
    /// Sets a product's stock (`None`: unlimited).
    fn set_stock<'a>(&'a self, product: &'a str, remaining: Option<u64>) -> BoxFuture<'a, Result<()>>;
    fn stock_levels(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>>>;
    /// Payments counted for a biller account in a month.
    fn bill_payments<'a>(&'a self, product: &'a str, account: &'a str, month: i64) -> BoxFuture<'a, Result<u64>>;
}
