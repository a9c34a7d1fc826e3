//! The price list: every product of the catalogue with what the merchant
//! pays for it at its pricing level, read as the API's product listing
//! reads it (the same catalogue, the same discount and unit price), and the
//! price of each amount from the product's own pricing rule, the one orders
//! are charged by.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use tambah_domain::{Amount, Denomination, Product};

use super::{html, Nav, Session};
use crate::api::catalog::family_name;
use crate::api::products::status;
use crate::wire::query::first_value;
use crate::{wire, AppState};

/// One amount a product takes and what the merchant pays for it.
struct Price {
    amount: String,
    pays: String,
}

/// One product as the price list shows it.
struct PriceLine {
    code: String,
    name: String,
    family: &'static str,
    status: &'static str,
    active: bool,
    /// `5, 10, 30` or `1 to 1000`.
    amounts: String,
    /// Any amount within a range (its ends are priced), not only those listed.
    range: bool,
    discount: String,
    unit_price: String,
    prices: Vec<Price>,
}

#[derive(Template)]
#[template(path = "dashboard/prices.html")]
struct PricesPage {
    nav: Nav,
    level: String,
    search: String,
    family: String,
    /// The families of the catalogue, in catalogue order.
    families: Vec<&'static str>,
    /// How many products the catalogue has in all.
    total: usize,
    products: Vec<PriceLine>,
}

/// A product with its prices at `level`.
fn line(p: &Product, level: &str) -> PriceLine {
    let price = |amount: Amount| Price { amount: amount.to_plain(), pays: p.cost(amount, level).to_cents() };
    let (amounts, range, prices) = match &p.denomination {
        Denomination::List(list) => (
            list.iter().map(|a| a.to_plain()).collect::<Vec<_>>().join(", "),
            false,
            list.iter().copied().map(price).collect(),
        ),
        Denomination::Range { min, max } => {
            (format!("{} to {}", min.to_plain(), max.to_plain()), true, vec![price(*min), price(*max)])
        }
    };
    PriceLine {
        code: p.code.clone(),
        name: p.name.clone(),
        family: family_name(p.family),
        status: status(p),
        active: p.active,
        amounts,
        range,
        discount: p.discount_text(level),
        unit_price: wire::unit_price_text(p.unit_price_bp),
        prices,
    }
}

/// Whether a product's code or name holds the search (already lower case).
fn matches(p: &Product, search: &str) -> bool {
    search.is_empty() || p.code.to_lowercase().contains(search) || p.name.to_lowercase().contains(search)
}

/// `GET /dashboard/prices?q=&family=`: the catalogue priced for the
/// merchant, narrowed by a search on code or name and by family.
pub(super) async fn prices(State(state): State<Arc<AppState>>, s: Session, uri: axum::http::Uri) -> Response {
    let query = uri.query().unwrap_or("");
    let search = first_value(query, "q").map(|q| q.trim().to_owned()).unwrap_or_default();
    let family = first_value(query, "family").unwrap_or_default();
    let needle = search.to_lowercase();
    let level = &s.member.merchant.level;
    let catalog = state.engine.catalog();
    let mut families: Vec<&'static str> = Vec::new();
    for p in catalog.products() {
        let name = family_name(p.family);
        if !families.contains(&name) {
            families.push(name);
        }
    }
    let products = catalog
        .products()
        .iter()
        .filter(|p| family.is_empty() || family_name(p.family) == family)
        .filter(|p| matches(p, &needle))
        .map(|p| line(p, level))
        .collect();
    let page = PricesPage {
        nav: s.nav("prices"),
        level: level.clone(),
        search,
        family,
        families,
        total: catalog.products().len(),
        products,
    };
    html(StatusCode::OK, page)
}
