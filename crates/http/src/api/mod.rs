//! One module per resource; each exposes `router()` with its own routes, v1
//! and v2 paths together, and the handlers behind them.

pub(crate) mod balance;
pub(crate) mod bills;
pub mod callbacks;
pub(crate) mod catalog;
pub(crate) mod esim;
pub(crate) mod health;
pub(crate) mod low_balance;
pub(crate) mod network_status;
pub(crate) mod not_offered;
pub(crate) mod options;
pub(crate) mod products;
pub mod reports;
pub(crate) mod statement;
pub(crate) mod tokens;
pub(crate) mod topup;
pub(crate) mod transactions;
pub(crate) mod upstream;

use std::sync::Arc;

use tambah_domain::Product;

use crate::{ApiError, Shared};

/// The catalogue product a query names (`product_code=` or `product=`).
pub(crate) fn product(state: &Shared, code: Option<String>) -> Result<Arc<Product>, ApiError> {
    let code = code.ok_or_else(|| ApiError::bad_request("invalid_product", "product_code is required"))?;
    state
        .engine
        .catalog()
        .get(&code)
        .cloned()
        .ok_or_else(|| ApiError::bad_request("invalid_product", format!("unknown product {code:?}")))
}
