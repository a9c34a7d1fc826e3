//! The OpenAPI 3.1 description of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types in `schemas`, served at
//! `/openapi.json`. A checked-in copy (`docs/openapi.json`) is kept in step
//! by a test: regenerate it with `TAMBAH_UPDATE_OPENAPI=1 cargo test -p
//! tambah-http openapi`.
//!
//! Covered so far: health, tokens, balance, topup (v2 in both response
//! versions, and v1), products, network status, transactions and the
//! statement (v2 and v1), the callback URL and the low-balance threshold.
//! The other resources are described in `docs/api.md` only.

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
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "health", description = "Whether the node and its database accept work"),
        (name = "auth", description = "Tokens for the Bearer scheme (the API key + HMAC scheme needs none)"),
        (name = "wallet", description = "The merchant's prepaid wallet"),
        (name = "topup", description = "Buying every product; the same refid again is the status check"),
        (name = "products", description = "What can be bought, at the caller's prices"),
        (name = "reports", description = "Orders and wallet movements, for reconciling"),
        (name = "callbacks", description = "Where final statuses are sent"),
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

/// The description as pretty JSON (what `/openapi.json` serves and the
/// checked-in copy holds).
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the description serialises"))
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

    /// It is OpenAPI 3.1 with both security schemes and every covered path.
    #[test]
    fn the_description_names_its_version_schemes_and_paths() {
        let v: serde_json::Value = serde_json::from_str(super::json()).unwrap();
        assert_eq!(v["openapi"], "3.1.0");
        for scheme in ["api_key", "bearer"] {
            assert!(v["components"]["securitySchemes"][scheme].is_object(), "{scheme}");
        }
        let paths = [
            "/health",
            "/v2/token",
            "/v2/token/refresh",
            "/v2/balance",
            "/v1/balance",
            "/v2/topup",
            "/v1/topup",
            "/v2/product-list",
            "/v1/products",
            "/v2/networkstatus",
            "/v2/transactions",
            "/v1/transactions",
            "/v2/balance-statement",
            "/v1/balance-statement",
            "/v2/callback-url",
            "/v2/low-balance-threshold",
        ];
        for path in paths {
            assert!(v["paths"][path].is_object(), "{path}");
        }
    }
}
