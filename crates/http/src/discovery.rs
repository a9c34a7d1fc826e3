//! Discovering what to sell: `GET /v2/subproducts`, `/v2/options`,
//! `/v2/esim/countries`, the e-SIM QR code, `/v2/catalog`,
//! `/v2/bill-presentment` (and v1) and `/v2/networkstatus` (and v1).

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tambah_domain::{Amount, Family, Product};
use tambah_engine::families::Subproduct;

use crate::transactions::first_value;
use crate::wire::{self, ApiVersion};
use crate::{qr, ApiError, Authed, Shared};

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest { code, message: message.into() }
}

fn product(state: &Shared, code: Option<String>) -> Result<std::sync::Arc<Product>, ApiError> {
    let code = code.ok_or_else(|| bad("invalid_product", "product_code is required"))?;
    state
        .engine
        .catalog()
        .get(&code)
        .cloned()
        .ok_or_else(|| bad("invalid_product", format!("unknown product {code:?}")))
}

fn subproducts(state: &Shared, p: &Product, account_number: Option<&str>) -> Result<Vec<Subproduct>, ApiError> {
    state.engine.families().subproducts(p, account_number).map_err(|r| bad("invalid_request", r.reason))
}

fn amount_or_null(a: Option<Amount>) -> Value {
    a.map(wire::money).unwrap_or(Value::Null)
}

/// `GET /v2/subproducts?product_code=&account_number=&limit=`
pub(crate) async fn subproducts_route(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { uri, .. } = req;
    let q = uri.query().unwrap_or("");
    let p = product(&state, first_value(q, "product_code"))?;
    let mut list = subproducts(&state, &p, first_value(q, "account_number").as_deref())?;
    if let Some(limit) = first_value(q, "limit") {
        let n: usize = limit.parse().map_err(|_| bad("invalid_limit", format!("limit {limit:?} is not a number")))?;
        list.truncate(n);
    }
    let data: Vec<Value> = list
        .iter()
        .map(|s| {
            json!({
                "subproduct_code": s.code,
                "display_name": s.display_name,
                "denomination": amount_or_null(s.denomination),
                "face_value": amount_or_null(s.denomination),
                "validity": s.validity,
                "description": s.description,
                "account_number": s.account_number,
                "additional_description": null,
                "min": amount_or_null(s.min),
                "max": amount_or_null(s.max),
            })
        })
        .collect();
    Ok(Json(json!({"message": "success", "data": data})))
}

/// `GET /v2/options?product_code=&field_id=&account_number=&page=&limit=`
pub(crate) async fn options(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { uri, .. } = req;
    let q = uri.query().unwrap_or("");
    let p = product(&state, first_value(q, "product_code"))?;
    let field = first_value(q, "field_id").unwrap_or_else(|| option_field(&p).to_owned());
    if field != option_field(&p) {
        return Err(bad("invalid_field", format!("product {} has no options for field {field:?}", p.code)));
    }
    let list = subproducts(&state, &p, first_value(q, "account_number").as_deref())?;
    let number = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
        match first_value(q, name) {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| bad("invalid_page", format!("{name} must be 1 to {max}"))),
            None => Ok(default),
        }
    };
    let page = number("page", 1, usize::MAX)?;
    let per_page = number("limit", 20, 100)?;
    let total = list.len();
    let items: Vec<Value> = list
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|s| {
            json!({
                "code": s.code,
                "label": s.display_name,
                "description": s.description,
                "price": s.denomination.map(|d| json!({"amount": d.to_cents(), "currency": "MYR"})),
                "validity": s.validity,
                "account_number": s.account_number,
            })
        })
        .collect();
    Ok(Json(json!({
        "product_code": p.code,
        "field_id": field,
        "items": items,
        "meta": {"current_page": page, "last_page": total.div_ceil(per_page).max(1), "per_page": per_page, "total": total},
    })))
}

/// The field whose choices `/v2/options` lists for a product.
fn option_field(p: &Product) -> &'static str {
    if p.family == Family::Jompay {
        "biller_code"
    } else {
        "subproduct_code"
    }
}

/// `GET /v2/esim/countries`
pub(crate) async fn esim_countries(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { uri: _, .. } = req;
    let families = state.engine.families();
    let data: Vec<Value> = families
        .countries()
        .iter()
        .map(|c| json!({"iso": c.iso, "name": c.name, "plan_count": families.esim_plan_count(c)}))
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// `GET /v2/esim/qr/{refid}`: the activation QR code, to its buyer only.
pub(crate) async fn esim_qr(state: Shared, Path(refid): Path<String>, req: Authed) -> Result<Response, ApiError> {
    let Authed { caller, uri: _, headers: _, body: _ } = req;
    let order = state
        .engine
        .store()
        .order_by_refid(caller.merchant.id, &refid)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .filter(|o| o.pin.starts_with("LPA:") && o.status == 20)
        .ok_or_else(|| ApiError::NotFound(format!("no delivered e-SIM with refid {refid:?}")))?;
    let png = qr::png(&order.pin, 8).map_err(ApiError::Internal)?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "private, no-store")], png).into_response())
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

/// `GET /v2/catalog?product_code=&is_active=&include_hidden=`
pub(crate) async fn catalog(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri, headers: _, body: _ } = req;
    let q = uri.query().unwrap_or("");
    let only = first_value(q, "product_code");
    let flag = |name: &str| match first_value(q, name).as_deref() {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => Err(bad("invalid_request", format!("{name} {other:?} is not true or false"))),
    };
    let is_active = flag("is_active")?;
    // Test products are hidden unless asked for.
    let include_hidden = flag("include_hidden")?.unwrap_or(false);
    let catalog = state.engine.catalog();
    let level = &caller.merchant.level;
    let chosen: Vec<&std::sync::Arc<Product>> = catalog
        .products()
        .iter()
        .filter(|p| only.as_ref().is_none_or(|c| &p.code == c))
        .filter(|p| is_active.is_none_or(|a| p.active == a))
        .filter(|p| include_hidden || p.family != Family::Test)
        .collect();
    let mut groups: Vec<(String, Vec<Category>)> = Vec::new();
    let mut products = serde_json::Map::new();
    for p in &chosen {
        let group = match groups.iter_mut().find(|(g, _)| *g == p.product_group) {
            Some(g) => g,
            None => {
                groups.push((p.product_group.clone(), Vec::new()));
                groups.last_mut().expect("just pushed")
            }
        };
        match group.1.iter_mut().find(|(c, _)| *c == p.category) {
            Some(c) => c.1.push(p.code.clone()),
            None => group.1.push((p.category.clone(), vec![p.code.clone()])),
        }
        let discount = Amount::from_minor(i64::from(p.discount_bp(level)) * 100);
        products.insert(
            p.code.clone(),
            json!({
                "code": p.code,
                "name": p.name,
                "product_type": family_name(p.family),
                "image_url": format!("{}/img/{}.png", state.config.public_url, p.code),
                "processing_time": p.update_time,
                "status": if p.active { "Active" } else { "Inactive" },
                "fields": fields(p),
                "pricing": {"model": "percentage_discount", "discount_rate": wire::money(discount),
                            "unit_price": wire::unit_price_text(p.unit_price_bp)},
            }),
        );
    }
    let slug = |s: &str| s.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let tree: Vec<Value> = groups
        .iter()
        .map(|(g, cats)| {
            json!({
                "id": slug(g),
                "name": g,
                "icon_url": format!("{}/img/groups/{}.png", state.config.public_url, slug(g)),
                "categories": cats.iter().map(|(c, codes)| json!({"id": slug(c), "name": c, "product_codes": codes})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "last_updated": wire::myt(state.engine.now_ms()).metadata_text(),
        "tree": {"groups": tree},
        "products": products,
    })))
}

/// A category of the catalog tree and its product codes.
type Category = (String, Vec<String>);

fn family_name(f: Family) -> &'static str {
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

/// `GET /v2/bill-presentment?account=&product=&biller_code=&ref2=&amount=` (and v1)
pub(crate) async fn bill_presentment(state: Shared, req: Authed) -> Result<Response, ApiError> {
    let Authed { caller, uri, headers, body: _ } = req;
    let version = ApiVersion::for_request(&headers, &caller.merchant.api_version)?;
    let q = uri.query().unwrap_or("");
    let p = product(&state, first_value(q, "product"))?;
    let account = first_value(q, "account").ok_or_else(|| bad("invalid_request", "account is required"))?;
    let biller = first_value(q, "biller_code");
    let pr = state
        .engine
        .present_bill(&caller.merchant, &p, &account, biller.as_deref())
        .await
        .map_err(|m| bad("invalid_request", m))?;
    let now = state.engine.now_ms();
    let outstanding = match (version, pr.outstanding) {
        (ApiVersion::Seed, Some(a)) => json!(a.to_cents()),
        (ApiVersion::Current, Some(a)) => wire::money(a),
        (_, None) => json!(""),
    };
    let mut data = json!({
        "message": pr.message,
        "CustomerName": pr.customer_name,
        "Outstanding": outstanding,
        "Balance": "",
        "Data": "",
        "Address": "",
        "E-Bill": "",
        "CustomField": "",
        "DueDate": pr.due_date,
    });
    let metadata =
        json!({"status_code": "200", "product_code": p.code, "last_updated": wire::myt(now).metadata_text()});
    if version == ApiVersion::Current {
        data["BillerName"] = json!(pr.biller_name);
    }
    data["transaction_validity"] = json!(pr.transaction_validity.to_string());
    data["transaction_message"] = json!(pr.transaction_message);
    let mut answer = match version {
        ApiVersion::Seed => {
            // metadata inside data, before the transaction fields, as the seed shows.
            let obj = data.as_object_mut().expect("an object");
            let validity = obj.remove("transaction_validity");
            let message = obj.remove("transaction_message");
            obj.insert("metadata".into(), metadata);
            obj.insert("transaction_validity".into(), validity.unwrap_or(Value::Null));
            obj.insert("transaction_message".into(), message.unwrap_or(Value::Null));
            json!({ "data": data })
        }
        ApiVersion::Current => json!({ "data": data, "metadata": metadata }),
    };
    if let Some(e) = pr.error_message {
        answer["error_message"] = json!(e);
    }
    Ok(Json(answer).into_response())
}

/// `GET /v2/networkstatus?product=` (and v1)
pub(crate) async fn network_status(state: Shared, req: Authed) -> Result<Json<Value>, ApiError> {
    let Authed { caller, uri, headers: _, body: _ } = req;
    let q = uri.query().unwrap_or("");
    let p = product(&state, first_value(q, "product").or_else(|| first_value(q, "product_code")))?;
    let healthy = state.engine.network_healthy(caller.merchant.environment, &p);
    Ok(Json(json!({
        "data": {"product_code": p.code, "product_name": p.name,
                 "product_img": format!("{}/img/{}.png", state.config.public_url, p.code),
                 "network_status": if healthy { "Healthy" } else { "Interruption" }},
        "metadata": {"status_code": 200, "last_updated": wire::myt(state.engine.now_ms()).metadata_text()},
    })))
}
