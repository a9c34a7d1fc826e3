//! `GET /v2/catalog?product_code=&is_active=&include_hidden=`: the
//! catalogue as a tree of groups and categories, each product with its
//! purchase form (how its fields map onto a topup request) and its pricing.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tambah_domain::{Amount, Family, Product};

use super::options::option_field;
use crate::wire::{self, query::first_value};
use crate::{ApiError, AppState, Authed, Shared};

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v2/catalog", get(catalog))
}

/// How a purchase form maps onto the topup request [ours].
fn fields(p: &Product) -> Vec<Value> {
    let options = format!("/v2/options?product_code={}&field_id={}", p.code, option_field(p));
    let account = json!({"id": "account", "label": p.account_label, "type": p.account_type,
        "keyboard": p.keyboard_type, "required": true, "maps_to": "account"});
    let amount = |fixed_by_option: bool| {
        json!({"id": "amount", "label": "Amount (RM)", "type": "amount", "required": true,
        "maps_to": "amount", "denomination": p.denomination.text(), "datatype": p.datatype(),
        "fixed_by": if fixed_by_option { json!("subproduct_code") } else { Value::Null }})
    };
    let select = |id: &str, label: &str, depends_on: Option<&str>| {
        json!({"id": id, "label": label, "type": "select",
        "required": true, "maps_to": format!("extras.{id}"), "options_url": options, "depends_on": depends_on})
    };
    let text = |id: &str, label: &str, kind: &str, required: bool| {
        json!({"id": id, "label": label, "type": kind,
        "required": required, "maps_to": format!("extras.{id}")})
    };
    match p.family {
        Family::Data => vec![account, select("subproduct_code", "Plan", Some("account")), amount(true)],
        Family::Ptptn => vec![
            text("ic_number", "Payer's NRIC (12 digits)", "nric", true),
            select("subproduct_code", "PTPTN account", Some("ic_number")),
            json!({"id": "account", "label": "PTPTN account number", "type": "from_option", "required": true,
                   "maps_to": "account", "from": "subproduct_code.account_number"}),
            amount(false),
        ],
        Family::Jompay => vec![
            select("biller_code", "Biller", None),
            json!({"id": "account", "label": "Ref-1", "type": "text", "required": true, "maps_to": "account"}),
            text("ref2", "Ref-2 (when the biller asks for it)", "text", false),
            text("ic_number", "Payer's NRIC", "nric", false),
            amount(false),
        ],
        Family::Zakat => vec![
            select("subproduct_code", "Zakat type and state", None),
            json!({"id": "account", "label": "Payer's NRIC (12 digits)", "type": "nric", "required": true, "maps_to": "account"}),
            text("ic_number", "Payer's NRIC (again, for the receipt)", "nric", true),
            text("name", "Payer's name", "text", true),
            text("email", "E-mail for the receipt", "email", false),
            text("phone", "Mobile number", "phone", false),
            amount(false),
        ],
        Family::Esim => vec![
            json!({"id": "country", "label": "Country", "type": "select", "required": true, "maps_to": null,
                   "options_url": "/v2/esim/countries"}),
            select("subproduct_code", "Plan", Some("country")),
            account,
            amount(true),
        ],
        _ => vec![account, amount(false)],
    }
}

/// [ours] The catalogue as a tree of groups and categories, each product
/// with its purchase form and its price for the caller.
#[utoipa::path(get, path = "/v2/catalog", tag = "products", security(("api_key" = []), ("bearer" = [])),
    params(
        ("product_code" = Option<String>, Query, nullable = false, description = "Only this product"),
        ("is_active" = Option<bool>, Query, nullable = false, description = "Only active (true) or inactive (false) products"),
        ("include_hidden" = Option<bool>, Query, nullable = false, description = "Also the simulation-only test products"),
    ),
    responses((status = 200, description = "The catalogue", body = crate::openapi::resources::Catalog), crate::openapi::resources::Refusals))]
pub(crate) async fn catalog(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let q = req.query();
    let only = first_value(q, "product_code");
    let is_active = flag(q, "is_active")?;
    // Test products are hidden unless asked for.
    let include_hidden = flag(q, "include_hidden")?.unwrap_or(false);
    let catalog = state.engine.catalog();
    let level = &req.caller.merchant.level;
    let url = &state.config.public_url;
    let chosen: Vec<&Arc<Product>> = catalog
        .products()
        .iter()
        .filter(|p| only.as_ref().is_none_or(|c| &p.code == c))
        .filter(|p| is_active.is_none_or(|a| p.active == a))
        .filter(|p| include_hidden || p.family != Family::Test)
        .collect();
    let mut groups: Vec<Group> = Vec::new();
    let mut products = serde_json::Map::new();
    for p in &chosen {
        file(&mut groups, p);
        products.insert(p.code.clone(), product_entry(p, level, url));
    }
    let tree: Vec<Value> = groups.iter().map(|g| group_entry(g, url)).collect();
    Ok(Json(json!({
        "last_updated": wire::myt(state.engine.now_ms()).metadata_text(),
        "tree": {"groups": tree},
        "products": products,
    })))
}

/// `true`/`1`, `false`/`0`, or absent.
fn flag(q: &str, name: &str) -> Result<Option<bool>, ApiError> {
    match first_value(q, name).as_deref() {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request("invalid_request", format!("{name} {other:?} is not true or false"))),
    }
}

/// A group of the catalog tree and its categories, in catalogue order.
type Group = (String, Vec<Category>);
/// A category of the catalog tree and its product codes.
type Category = (String, Vec<String>);

/// Files a product under its group and category, adding either when new.
fn file(groups: &mut Vec<Group>, p: &Product) {
    let group = match groups.iter_mut().position(|(g, _)| *g == p.product_group) {
        Some(i) => &mut groups[i],
        None => {
            groups.push((p.product_group.clone(), Vec::new()));
            groups.last_mut().expect("just pushed")
        }
    };
    match group.1.iter_mut().find(|(c, _)| *c == p.category) {
        Some(c) => c.1.push(p.code.clone()),
        None => group.1.push((p.category.clone(), vec![p.code.clone()])),
    }
}

use crate::img::slug;

fn group_entry((g, cats): &Group, public_url: &str) -> Value {
    json!({
        "id": slug(g),
        "name": g,
        "icon_url": format!("{public_url}/img/groups/{}.png", slug(g)),
        "categories": cats.iter().map(|(c, codes)| json!({"id": slug(c), "name": c, "product_codes": codes})).collect::<Vec<_>>(),
    })
}

/// A product as the catalog lists it, priced for the caller's level.
fn product_entry(p: &Product, level: &str, public_url: &str) -> Value {
    let discount = Amount::from_minor(i64::from(p.discount_bp(level)) * 100);
    json!({
        "code": p.code,
        "name": p.name,
        "product_type": family_name(p.family),
        "image_url": format!("{public_url}/img/{}.png", p.code),
        "processing_time": p.update_time,
        "status": if p.active { "Active" } else { "Inactive" },
        "fields": fields(p),
        "pricing": {"model": "percentage_discount", "discount_rate": wire::money(discount),
                    "unit_price": wire::unit_price_text(p.unit_price_bp)},
    })
}

pub(crate) fn family_name(f: Family) -> &'static str {
    match f {
        Family::Reload => "reload",
        Family::Postpaid => "postpaid",
        Family::Utility => "utility",
        Family::Pin => "pin",
        Family::Gift => "gift",
        Family::Data => "data",
        Family::Ptptn => "ptptn",
        Family::Jompay => "jompay",
        Family::Zakat => "zakat",
        Family::Esim => "esim",
        Family::Test => "test",
    }
}
