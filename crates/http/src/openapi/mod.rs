//! The OpenAPI 3.1 description of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types in `schemas`, served at
//! `/openapi.json`. A checked-in copy (`docs/openapi.json`) is kept in step
//! by a test: regenerate it with `TAMBAH_UPDATE_OPENAPI=1 cargo test -p
//! tambah-http openapi`.
//!
//! Every route of `src/api` is described (a test reads the routers to keep
//! it so); paths served by another's handler are copied as `ALIASES`. The
//! wire types are in `schemas` (the core calls) and `resources` (the rest);
//! `reference` renders the description as HTML at `/reference`.

pub(crate) mod reference;
pub(crate) mod resources;
pub(crate) mod schemas;

use std::sync::{Arc, OnceLock};

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tambah",
        description = "Reload and bill-payment API, wire-compatible with IIMMPACT's v2 and v1 APIs. \
                       Two response versions: `2023-10-01` (flat, every value a string) and `2025-05-20` \
                       (under `data`, numbers), chosen per merchant or per request with `X-Api-Version`. \
                       See the status code table in the `StatusCode` schema: only 0 and 1 are not final."
    ),
    paths(
        crate::api::health::health,
        crate::api::tokens::token,
        crate::api::tokens::refresh,
        crate::api::balance::v2,
        crate::api::balance::v1,
        crate::api::topup::v2,
        crate::api::topup::v1,
        crate::api::products::v2,
        crate::api::products::v1,
        crate::api::network_status::network_status,
        crate::api::transactions::v2,
        crate::api::transactions::v1,
        crate::api::statement::v2,
        crate::api::statement::v1,
        crate::api::callbacks::show,
        crate::api::callbacks::set,
        crate::api::low_balance::show,
        crate::api::low_balance::set,
        crate::api::bills::v2,
        crate::api::bills::v1,
        crate::api::callbacks::secret,
        crate::api::callbacks::rotate,
        crate::api::callbacks::log,
        crate::api::callbacks::redeliver,
        crate::api::catalog::catalog,
        crate::api::options::subproducts_route,
        crate::api::options::options,
        crate::api::esim::countries,
        crate::api::esim::qr_code,
        crate::api::reports::summary_route,
        crate::api::reports::invoice_route,
        crate::api::transactions::check,
        crate::api::tokens::change_password,
        crate::api::not_offered::new_password_challenge,
        crate::api::not_offered::car_insurance,
        crate::api::not_offered::jpj,
        crate::api::upstream::callback,
        crate::img::product,
        crate::img::group,
    ),
    components(schemas(
        schemas::StatusCode,
        schemas::ApiVersion,
        schemas::CallbackMethod,
        schemas::ErrorBody,
        schemas::Health,
        schemas::TokenRequest,
        schemas::RefreshRequest,
        schemas::Tokens,
        schemas::TokenAnswer,
        schemas::Wallet,
        schemas::BalanceAnswer,
        schemas::WalletV1,
        schemas::BalanceAnswerV1,
        schemas::TopupRequest,
        schemas::Topup20231001,
        schemas::Topup20250520,
        schemas::TopupData20250520,
        schemas::TopupAnswer,
        schemas::TopupRefusal,
        schemas::TopupV1,
        schemas::TopupDataV1,
        schemas::Product20231001,
        schemas::Product20250520,
        schemas::ProductItem,
        schemas::ProductList,
        schemas::ProductListV1,
        schemas::Transaction,
        schemas::TransactionsMeta,
        schemas::Transactions,
        schemas::NamedProduct,
        schemas::TransactionStatusV1,
        schemas::BalanceMoveV1,
        schemas::TransactionV1,
        schemas::TransactionsMetaV1,
        schemas::TransactionsV1,
        schemas::StatementEntry,
        schemas::ChainEntry,
        schemas::ChainDay,
        schemas::ChainDays,
        schemas::PageLinks,
        schemas::PageMeta,
        schemas::Tally,
        schemas::StatementSummary,
        schemas::Statement,
        schemas::Metadata,
        schemas::CallbackSetting,
        schemas::CallbackAnswer,
        schemas::LowBalanceSetting,
        schemas::LowBalanceAnswer,
        schemas::NetworkStatus,
        schemas::NetworkStatusAnswer,
        resources::PresentmentAnswer,
        resources::PresentmentV1,
        resources::CallbackSecretAnswer,
        resources::CallbackLog,
        resources::RedeliveryAnswer,
        resources::Catalog,
        resources::Subproducts,
        resources::Options,
        resources::EsimCountries,
        resources::SummaryAnswer,
        resources::InvoiceAnswer,
        resources::CheckRequest,
        resources::CheckAnswer,
        resources::PasswordChange,
        resources::Message,
        resources::NotedAnswer,
    )),
    modifiers(&SecuritySchemes, &QueryShapes, &Aliases),
    tags(
        (name = "health", description = "Whether the node and its database accept work"),
        (name = "auth", description = "Tokens for the Bearer scheme (the API key + HMAC scheme needs none)"),
        (name = "wallet", description = "The merchant's prepaid wallet"),
        (name = "topup", description = "Buying every product; the same refid again is the status check"),
        (name = "products", description = "What can be bought, at the caller's prices"),
        (name = "reports", description = "Orders and wallet movements, for reconciling"),
        (name = "callbacks", description = "Where final statuses are sent"),
        (name = "bills", description = "What a bill account owes, before paying it"),
        (name = "not offered", description = "Calls of IIMMPACT's v1 SDKs that this server answers with a clear refusal"),
        (name = "providers", description = "For upstream providers, not merchants"),
        (name = "images", description = "Product and group images, drawn from their codes; no credentials"),
    )
)]
pub struct ApiDoc;

/// The two ways to authenticate, as security schemes.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "The API key, with an HMAC v1 signature of the request in three more headers: \
                 X-Timestamp (unix seconds), X-Nonce (unique per key within 300 s) and \
                 X-Signature = \"v1=\" + base64(HMAC-SHA256(base64-decode(secret), canonical)), where \
                 canonical = \"v1:\" + timestamp + \":\" + nonce + \":\" + METHOD + \":\" + sortedQuery + \
                 \":\" + base64(SHA-256(body)). See docs/api.md, Authentication.",
            ))),
        );
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some("The IdToken from /v2/token (also accepted without the Bearer prefix).".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// One `yyyy-MM-dd` day of the proleptic Gregorian calendar, as
/// `tambah_domain::time::parse_date` reads it (ASCII digits only).
const DAY: &str = "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)\
                   |02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)";

/// The shape of the query parameters that are parsed by one shared
/// function wherever they appear: whatever the description calls valid the
/// server accepts, and what it calls invalid the server refuses, but for a
/// few other spellings the server also takes (lower-case `status` and
/// `type`, comma-separated `status` lists).
fn query_shape(name: &str, required: bool) -> Option<serde_json::Value> {
    use serde_json::json;
    let one_of = |values: &[&str]| json!({"type": "string", "enum": values});
    Some(match name {
        "date" if required => json!({"type": "string", "pattern": format!("^{DAY}(?: - {DAY})?$")}),
        // Empty: no date filter (IIMMPACT's v1 SDK sends `date=` for that).
        "date" => json!({"type": "string", "pattern": format!("^(?:|{DAY}(?: - {DAY})?)$")}),
        "month" => json!({"type": "string", "pattern": "^[0-9]{4}-(?:0[1-9]|1[0-2])$"}),
        "status" => json!({"type": "array",
            "items": {"type": "string", "enum": ["SUCCESSFUL", "SUCCESS", "PENDING", "FAILED", "REFUND"]}}),
        "direction" => one_of(&["asc", "desc", "ASC", "DESC"]),
        "sort" => one_of(&["date", "created_at", "id"]),
        "type" => one_of(&["DEPOSIT", "TRANSACTION", "REFUND", "COMMISSION"]),
        "format" => one_of(&["json", "csv"]),
        _ => return None,
    })
}

/// Applies `query_shape` to every query parameter it knows.
struct QueryShapes;

impl Modify for QueryShapes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                for p in op.parameters.iter_mut().flatten() {
                    if !matches!(p.parameter_in, ParameterIn::Query) {
                        continue;
                    }
                    let required = matches!(p.required, utoipa::openapi::Required::True);
                    if let Some(shape) = query_shape(&p.name, required) {
                        p.schema = Some(serde_json::from_value(shape).expect("a valid schema"));
                    }
                }
            }
        }
    }
}

/// Paths served by the same handler as another: `(alias, described path)`.
const ALIASES: &[(&str, &str)] = &[
    ("/v1/token", "/v2/token"),
    ("/v1/token/refresh", "/v2/token/refresh"),
    ("/v2/products", "/v2/product-list"),
    ("/v1/callback-url", "/v2/callback-url"),
    ("/v1/low-balance-threshold", "/v2/low-balance-threshold"),
    ("/v1/networkstatus", "/v2/networkstatus"),
    ("/v1/jpj/driving-test-results", "/v1/jpj/driving-license"),
    ("/v1/jpj/motor-vehicle-expiry", "/v1/jpj/driving-license"),
    ("/v1/jpj/summons", "/v1/jpj/driving-license"),
];

/// Describes the aliases, the `GET` form of the provider callback, and
/// gives every operation a unique id from its method and path
/// (`get_v2_callbacks_refid`): handlers share names across modules.
struct Aliases;

impl Modify for Aliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = &mut openapi.paths.paths;
        for (alias, of) in ALIASES {
            let item = paths.get(*of).cloned().unwrap_or_else(|| panic!("{of} is described"));
            paths.insert((*alias).to_owned(), item);
        }
        if let Some(item) = paths.get_mut("/upstream/{provider}/callback") {
            item.get = item.post.clone();
        }
        for (path, item) in paths.iter_mut() {
            let slug: String = path
                .trim_matches('/')
                .chars()
                .filter(|c| !matches!(c, '{' | '}'))
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            for (method, op) in [("get", &mut item.get), ("post", &mut item.post)] {
                if let Some(op) = op {
                    op.operation_id = Some(format!("{method}_{slug}"));
                }
            }
        }
    }
}

/// What a topup's answer leads to, as OpenAPI links (so a client generator,
/// and Schemathesis's stateful phase, can follow an order): its status
/// check (the same request again), its callbacks and their redelivery, its
/// listing and its e-SIM QR code, each by the request's refid. Written into
/// the JSON: utoipa 5's `Link` serialises its fields in snake case
/// (`operation_id`), which is not OpenAPI.
fn add_links(doc: &mut serde_json::Value) {
    use serde_json::json;
    let by_refid = |operation: &str, description: &str| json!({"operationId": operation, "parameters": {"refid": "$request.body#/refid"}, "description": description});
    let links = json!({
        "status": {"operationId": "post_v2_topup", "requestBody": "$request.body",
                   "description": "The same request again: the order's status"},
        "callbacks": by_refid("get_v2_callbacks_refid", "The order's callbacks and their delivery attempts"),
        "redeliver": by_refid("post_v2_callbacks_refid_redeliver", "Queue its callback again"),
        "listing": by_refid("get_v1_transactions", "The order in the (v1) transaction listing"),
        "qr": by_refid("get_v2_esim_qr_refid", "An e-SIM order's activation QR code"),
    });
    let answer = &mut doc["paths"]["/v2/topup"]["post"]["responses"]["200"];
    assert!(answer.is_object(), "the topup's 200 is described");
    answer["links"] = links;
}

/// The description as pretty JSON (what `/openapi.json` serves and the
/// checked-in copy holds).
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the description serialises");
        add_links(&mut doc);
        serde_json::to_string_pretty(&doc).expect("the description serialises")
    })
}

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route(
        "/openapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], json()).into_response() }),
    )
}

#[cfg(test)]
mod tests {
    /// The checked-in copy is what the code generates (set
    /// `TAMBAH_UPDATE_OPENAPI=1` to write it after a change).
    #[test]
    fn the_checked_in_openapi_json_is_current() {
        let path = format!("{}/../../docs/openapi.json", env!("CARGO_MANIFEST_DIR"));
        let generated = format!("{}\n", super::json());
        if std::env::var_os("TAMBAH_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/openapi.json is stale: run TAMBAH_UPDATE_OPENAPI=1 cargo test -p tambah-http openapi"
        );
    }

    /// It is OpenAPI 3.1 with both security schemes, and every operation has
    /// a unique id.
    #[test]
    fn the_description_names_its_version_schemes_and_unique_operations() {
        let v: serde_json::Value = serde_json::from_str(super::json()).unwrap();
        assert_eq!(v["openapi"], "3.1.0");
        for scheme in ["api_key", "bearer"] {
            assert!(v["components"]["securitySchemes"][scheme].is_object(), "{scheme}");
        }
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in v["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no id"));
                assert!(ids.insert(id.to_owned()), "{id} twice");
            }
        }
    }

    /// Every route the API's routers declare (`.route("/path", get(..).post(..))`
    /// in `src/api`) is described, with each of its methods.
    #[test]
    fn every_route_is_described() {
        let v: serde_json::Value = serde_json::from_str(super::json()).unwrap();
        let dir = format!("{}/src/api", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for route in source.split(".route(\"").skip(1) {
                let (path, rest) = route.split_once('"').unwrap();
                let methods = rest.lines().next().unwrap_or("");
                for method in ["get", "post"] {
                    if methods.contains(&format!("{method}(")) {
                        seen += 1;
                        assert!(v["paths"][path][method].is_object(), "{method} {path} is not described");
                    }
                }
            }
        }
        assert!(seen >= 40, "only {seen} routes found: has the router's form changed?");
    }
}
