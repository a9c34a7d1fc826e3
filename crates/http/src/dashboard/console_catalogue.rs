//! The console's catalogue: every product of the catalogue this node has
//! loaded (as `tambah catalog show` lists it, with the discount of every
//! pricing level and the stock of PIN and voucher products), searched by
//! code or name; a catalogue imported from a pasted JSON (the file `tambah
//! catalog import` reads, checked the same way); and a product's stock set
//! (as `tambah catalog stock`). The engine records both in the audit log.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tambah_domain::money::format_percent_bp;
use tambah_domain::{Denomination, Product};
use tambah_engine::merchants::AdminError;

use super::html;
use super::operator::Operator;
use crate::api::catalog::family_name;
use crate::wire::query::first_value;
use crate::AppState;

/// What an action did (fixed sentences: nothing of the query is echoed).
const DONE: [(&str, &str); 2] = [
    (
        "imported",
        "The catalogue is imported: this node uses it now, the other nodes within seconds; the audit log has it.",
    ),
    ("stock", "The stock is saved; the audit log has it."),
];

pub(super) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/operator/catalogue", get(catalogue))
        .route("/operator/catalogue/import", post(import))
        .route("/operator/catalogue/stock", post(stock))
}

/// One product as the console lists it.
struct ProductLine {
    code: String,
    name: String,
    family: &'static str,
    active: bool,
    /// `5, 10, 30` or `1 to 1000`.
    amounts: String,
    datatype: &'static str,
    /// The default discount first, then each level's, as `(level, percent)`.
    discounts: Vec<(String, String)>,
    /// PIN and voucher products count stock.
    counted: bool,
    /// Units left, or `unlimited` (empty for a product that counts none).
    stock: String,
}

fn product_line(p: &Product, stock: &[(String, u64)]) -> ProductLine {
    let amounts = match &p.denomination {
        Denomination::List(list) => list.iter().map(|a| a.to_plain()).collect::<Vec<_>>().join(", "),
        Denomination::Range { min, max } => format!("{} to {}", min.to_plain(), max.to_plain()),
    };
    let mut levels: Vec<(&String, &u32)> = p.level_discount_bp.iter().collect();
    levels.sort();
    let discounts = std::iter::once(("default".to_owned(), format_percent_bp(p.default_discount_bp)))
        .chain(levels.into_iter().map(|(level, bp)| (level.clone(), format_percent_bp(*bp))))
        .collect();
    let counted = p.family.delivers_pin();
    let stock = match stock.iter().find(|(code, _)| *code == p.code) {
        _ if !counted => String::new(),
        Some((_, n)) => n.to_string(),
        None => "unlimited".to_owned(),
    };
    ProductLine {
        code: p.code.clone(),
        name: p.name.clone(),
        family: family_name(p.family),
        active: p.active,
        amounts,
        datatype: p.datatype(),
        discounts,
        counted,
        stock,
    }
}

#[derive(Template)]
#[template(path = "operator/catalogue.html")]
struct CataloguePage {
    csrf: String,
    email: String,
    search: String,
    /// How many products the catalogue has in all.
    total: usize,
    products: Vec<ProductLine>,
    /// The codes of the products that count stock, for the stock form.
    counted: Vec<String>,
    /// The catalogue in the import form (the one refused, to be corrected).
    json: String,
    /// The request body limit, in KiB.
    limit_kib: usize,
    notice: Option<String>,
    error: Option<String>,
}

/// The page, with an action's refusal shown on it with its status.
async fn catalogue_page(
    state: &AppState,
    o: &Operator,
    search: String,
    json: String,
    notice: Option<String>,
    error: Option<AdminError>,
) -> Response {
    let (status, error) = match error {
        None => (StatusCode::OK, None),
        Some(AdminError::Invalid(m)) => (StatusCode::BAD_REQUEST, Some(m)),
        Some(AdminError::NotFound(m)) => (StatusCode::NOT_FOUND, Some(m)),
        Some(AdminError::Forbidden(m)) => (StatusCode::FORBIDDEN, Some(m)),
        Some(e) => return crate::ApiError::from(e).into_response(),
    };
    let stock = match state.engine.stock_levels().await {
        Ok(s) => s,
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let catalog = state.engine.catalog();
    let needle = search.to_lowercase();
    let found = |p: &&Arc<Product>| {
        needle.is_empty() || p.code.to_lowercase().contains(&needle) || p.name.to_lowercase().contains(&needle)
    };
    let page = CataloguePage {
        csrf: o.csrf(),
        email: o.op.email.clone(),
        total: catalog.products().len(),
        products: catalog.products().iter().filter(found).map(|p| product_line(p, &stock)).collect(),
        counted: catalog.products().iter().filter(|p| p.family.delivers_pin()).map(|p| p.code.clone()).collect(),
        search,
        json,
        limit_kib: state.config.body_limit_bytes / 1024,
        notice,
        error,
    };
    html(status, page)
}

/// `GET /operator/catalogue?q=`: the products, narrowed by code or name.
async fn catalogue(State(state): State<Arc<AppState>>, o: Operator, uri: Uri) -> Response {
    let query = uri.query().unwrap_or("");
    let search = first_value(query, "q").map(|q| q.trim().to_owned()).unwrap_or_default();
    let done = first_value(query, "done").unwrap_or_default();
    let notice = DONE.iter().find(|(code, _)| *code == done).map(|(_, words)| (*words).to_owned());
    catalogue_page(&state, &o, search, String::new(), notice, None).await
}

#[derive(Deserialize)]
struct ImportForm {
    csrf: String,
    #[serde(default)]
    json: String,
}

/// Checks and imports a pasted catalogue (as `tambah catalog import`); a
/// refused one is shown again with the reason, nothing changed.
async fn import(State(state): State<Arc<AppState>>, o: Operator, Form(form): Form<ImportForm>) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    match state.engine.console_import_catalog(&o.op, &form.json).await {
        Ok(_) => Redirect::to("/operator/catalogue?done=imported").into_response(),
        Err(e) => catalogue_page(&state, &o, String::new(), form.json, None, Some(e)).await,
    }
}

#[derive(Deserialize)]
struct StockForm {
    csrf: String,
    product: String,
    #[serde(default)]
    units: String,
    /// `1` when the stock is to be unlimited.
    #[serde(default)]
    unlimited: String,
}

/// Sets a PIN or voucher product's stock (as `tambah catalog stock`).
async fn stock(State(state): State<Arc<AppState>>, o: Operator, Form(form): Form<StockForm>) -> Response {
    if let Some(refused) = o.stale(&form.csrf) {
        return refused;
    }
    let units = form.units.trim();
    let remaining = match (form.unlimited == "1", units.parse::<u64>()) {
        (true, _) if units.is_empty() => Ok(None),
        (false, Ok(n)) => Ok(Some(n)),
        (true, _) => Err("give either a number of units or unlimited, not both".to_owned()),
        (false, Err(_)) => Err(format!("units {units:?}: give a whole number (0 or more), or tick unlimited")),
    };
    let outcome = match remaining {
        Ok(remaining) => state.engine.console_set_stock(&o.op, &form.product, remaining).await,
        Err(m) => Err(AdminError::Invalid(m)),
    };
    match outcome {
        Ok(()) => Redirect::to("/operator/catalogue?done=stock").into_response(),
        Err(e) => catalogue_page(&state, &o, String::new(), String::new(), None, Some(e)).await,
    }
}
