//! The operator's side of providers: adding them (credentials sealed with
//! the master key), enabling and disabling them, routing products to them,
//! and loading the whole table into the router. Every node reloads it within
//! seconds of a change (`Engine::reload_providers`, called by the server's
//! watch loop), like an imported catalogue.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tambah_domain::{Amount, ProviderId};
use tambah_store::{NewProvider, ProviderKind, ProviderRow, RouteRow, StoreError};

use super::routes::{Connector, LiveRoute, LiveTable};
use super::Provider;
use crate::credentials::random_alnum;
use crate::merchants::AdminError;
use crate::Engine;

/// The default time a provider has to answer, below IIMMPACT's own 29 s
/// gateway limit.
pub const DEFAULT_TIMEOUT_MS: i64 = 25_000;

/// How a provider is signed in to. Stored as JSON, sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credentials {
    /// IIMMPACT: an API key and its signing secret, and the secret its
    /// callbacks to us are signed with, when known.
    ApiKey {
        key_id: String,
        secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        callback_secret: Option<String>,
    },
    /// Reloadly: OAuth2 client credentials.
    ClientCredentials { client_id: String, client_secret: String },
    /// Ding: one API key.
    Key { api_key: String },
}

/// A provider to add (`tambah provider add`).
#[derive(Clone, Debug)]
pub struct ProviderSpec {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub auth_url: String,
    pub credentials: Credentials,
    pub timeout_ms: i64,
    /// Alert the operator when our float there falls below this.
    pub low_balance: Option<Amount>,
}

/// A provider as the operator sees it (no secrets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderView {
    pub id: ProviderId,
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub timeout_ms: i64,
    pub low_balance: Option<Amount>,
    pub enabled: bool,
    /// Whether this node has a connector for it (a kind it cannot speak yet,
    /// or credentials it cannot open, leave it out of routing).
    pub connected: bool,
}

/// A route as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteView {
    pub product: String,
    pub provider: String,
    pub upstream_product: String,
    pub priority: u32,
    pub weight: u32,
    pub buy_price: Option<Amount>,
}

/// A route to add or replace (`tambah route add`).
#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub product: String,
    pub provider: String,
    /// The provider's code; ours when absent.
    pub upstream_product: Option<String>,
    pub priority: u32,
    pub weight: u32,
    pub buy_price: Option<Amount>,
}

/// Longest provider name (it is stored on every order it handles).
const NAME_MAX_CHARS: usize = 32;

fn check_name(name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name != super::simulator::Simulator::NAME;
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "provider name {name:?}: 1-{NAME_MAX_CHARS} letters, digits, '-' or '_' (and not \"simulator\")"
        )))
    }
}

fn check_url(url: &str) -> Result<(), AdminError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!("base URL {url:?} must start with http:// or https://")))
    }
}

impl Engine {
    /// Adds a provider; its credentials are sealed with the master key.
    pub async fn add_provider(&self, spec: &ProviderSpec) -> Result<ProviderView, AdminError> {
        check_name(&spec.name)?;
        check_url(&spec.base_url)?;
        if spec.timeout_ms <= 0 {
            return Err(AdminError::Invalid("the timeout must be greater than 0 ms".into()));
        }
        let secrets = serde_json::to_vec(&spec.credentials).expect("credentials serialize");
        let row = NewProvider {
            name: spec.name.clone(),
            kind: spec.kind,
            base_url: spec.base_url.trim_end_matches('/').to_owned(),
            auth_url: spec.auth_url.clone(),
            ref_prefix: format!("t{}", random_alnum(5)),
            secrets_sealed: self.master_key().seal(&secrets),
            timeout_ms: spec.timeout_ms,
            low_balance: spec.low_balance,
            now_ms: self.now_ms(),
        };
        let created = self.store().create_provider(&row).await.map_err(|e| match e {
            StoreError::Unique(_) => AdminError::Invalid(format!("a provider named {:?} exists", spec.name)),
            other => other.into(),
        })?;
        self.reload_providers().await.map_err(AdminError::Store)?;
        Ok(self.view(&created))
    }

    fn view(&self, row: &ProviderRow) -> ProviderView {
        ProviderView {
            id: row.id,
            name: row.name.clone(),
            kind: row.kind,
            base_url: row.base_url.clone(),
            timeout_ms: row.timeout_ms,
            low_balance: row.low_balance,
            enabled: row.enabled,
            connected: self.connector(row).is_some(),
        }
    }

    /// Every provider, by name.
    pub async fn providers(&self) -> Result<Vec<ProviderView>, StoreError> {
        Ok(self.store().providers().await?.iter().map(|p| self.view(p)).collect())
    }

    /// The sealed credentials of a provider, opened.
    pub async fn provider_credentials(&self, name: &str) -> Result<Credentials, AdminError> {
        let row = self.provider_row(name).await?;
        self.credentials_of(&row).map_err(AdminError::Store)
    }

    pub(crate) async fn provider_row(&self, name: &str) -> Result<ProviderRow, AdminError> {
        let rows = self.store().providers().await?;
        rows.into_iter().find(|p| p.name == name).ok_or_else(|| AdminError::NotFound(format!("no provider {name:?}")))
    }

    fn credentials_of(&self, row: &ProviderRow) -> Result<Credentials, String> {
        let json = self.master_key().open(&row.secrets_sealed)?;
        serde_json::from_slice(&json).map_err(|e| format!("provider {}: credentials: {e}", row.name))
    }

    /// Our float at a provider (`None`: it does not tell); a successful call
    /// also proves its settings and credentials.
    pub async fn provider_balance(&self, name: &str) -> Result<Option<Amount>, AdminError> {
        let row = self.provider_row(name).await?;
        let connector = self.connector(&row).ok_or_else(|| {
            AdminError::Invalid(format!("provider {name}: this build cannot connect to it (see the log)"))
        })?;
        let float = connector.balance().await.map_err(|e| AdminError::Store(format!("provider {name}: {e}")))?;
        if let Some(float) = float {
            self.router().set_float(row.id, float);
        }
        Ok(float)
    }

    /// Takes a provider out of routing (`false`) or puts it back.
    pub async fn set_provider_enabled(&self, name: &str, enabled: bool) -> Result<(), AdminError> {
        if !self.store().set_provider_enabled(name, enabled, self.now_ms()).await? {
            return Err(AdminError::NotFound(format!("no provider {name:?}")));
        }
        self.reload_providers().await.map_err(AdminError::Store)
    }

    /// Adds a route, or replaces the route of the same product and provider.
    pub async fn put_route(&self, spec: &RouteSpec) -> Result<(), AdminError> {
        if self.catalog().get(&spec.product).is_none() {
            return Err(AdminError::Invalid(format!("unknown product {:?}", spec.product)));
        }
        if spec.weight == 0 {
            return Err(AdminError::Invalid("the weight must be at least 1".into()));
        }
        let provider = self.provider_row(&spec.provider).await?;
        let route = RouteRow {
            product: spec.product.clone(),
            provider_id: provider.id,
            upstream_product: spec.upstream_product.clone().unwrap_or_else(|| spec.product.clone()),
            priority: spec.priority,
            weight: spec.weight,
            buy_price: spec.buy_price,
        };
        self.store().put_route(&route).await?;
        self.reload_providers().await.map_err(AdminError::Store)
    }

    /// Removes the route of a product to a provider.
    pub async fn remove_route(&self, product: &str, provider: &str) -> Result<(), AdminError> {
        let provider = self.provider_row(provider).await?;
        if !self.store().remove_route(product, provider.id).await? {
            return Err(AdminError::NotFound(format!("no route of {product} to {}", provider.name)));
        }
        self.reload_providers().await.map_err(AdminError::Store)
    }

    /// Every route, by product then priority.
    pub async fn routes(&self) -> Result<Vec<RouteView>, StoreError> {
        let names: HashMap<ProviderId, String> =
            self.store().providers().await?.into_iter().map(|p| (p.id, p.name)).collect();
        Ok(self
            .store()
            .routes()
            .await?
            .into_iter()
            .map(|r| RouteView {
                provider: names.get(&r.provider_id).cloned().unwrap_or_default(),
                product: r.product,
                upstream_product: r.upstream_product,
                priority: r.priority,
                weight: r.weight,
                buy_price: r.buy_price,
            })
            .collect())
    }

    /// Reads providers and routes and replaces the router's live table.
    /// Connectors are built anew only for providers whose row changed, so
    /// their connections and tokens survive a reload.
    pub async fn reload_providers(&self) -> Result<(), String> {
        let rows = self.store().providers().await.map_err(|e| e.to_string())?;
        let routes = self.store().routes().await.map_err(|e| e.to_string())?;
        let mut by_id: HashMap<ProviderId, Connector> = HashMap::new();
        let mut table = LiveTable::default();
        for row in rows.iter().filter(|r| r.enabled) {
            let Some(provider) = self.connector(row) else { continue };
            let c = Connector { id: row.id, provider, ref_prefix: row.ref_prefix.clone(), timeout_ms: row.timeout_ms };
            table.by_name.insert(row.name.clone(), c.clone());
            by_id.insert(row.id, c);
        }
        for r in routes {
            let Some(connector) = by_id.get(&r.provider_id) else { continue };
            let live = LiveRoute {
                connector: connector.clone(),
                upstream_product: r.upstream_product,
                priority: r.priority,
                weight: r.weight,
            };
            table.by_product.entry(r.product).or_default().push(live);
        }
        for routes in table.by_product.values_mut() {
            routes.sort_by_key(|r| r.priority);
        }
        self.router().set_live(table);
        let out = self.store().providers_out(self.now_ms()).await.map_err(|e| e.to_string())?;
        self.router().set_out(out.into_iter().map(|(id, product, until)| ((id, product), until)).collect());
        Ok(())
    }

    /// The connector of a provider row: reused while the row is unchanged.
    pub(crate) fn connector(&self, row: &ProviderRow) -> Option<Arc<dyn Provider>> {
        let key = (row.id, row.updated_at_ms);
        if let Some(c) = self.connectors.lock().expect("connectors lock poisoned").get(&key) {
            return Some(c.clone());
        }
        let credentials = match self.credentials_of(row) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(provider = %row.name, error = %e, "provider credentials cannot be opened");
                return None;
            }
        };
        let built = super::connect(row, credentials)?;
        self.connectors.lock().expect("connectors lock poisoned").insert(key, built.clone());
        Some(built)
    }
}

/// What `tambah catalog sync` did with one route of the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncedRoute {
    pub product: String,
    pub upstream_product: String,
    /// The buy price now on the route (`None`: the provider does not list
    /// the product, or lists no price; the route was left as it was).
    pub buy_price: Option<Amount>,
    /// The provider lists the product as inactive.
    pub inactive: bool,
    /// The provider does not list the product at all.
    pub unlisted: bool,
}

impl Engine {
    /// Reads a provider's products and prices and sets the buy price of
    /// every route to it from them.
    pub async fn sync_catalogue(&self, provider: &str) -> Result<Vec<SyncedRoute>, AdminError> {
        let row = self.provider_row(provider).await?;
        let connector =
            self.connector(&row).ok_or_else(|| AdminError::Invalid(format!("provider {provider}: cannot connect")))?;
        let listed = connector.catalogue().await.map_err(|e| AdminError::Store(format!("{provider}: {e}")))?;
        let mut synced = Vec::new();
        for mut route in self.store().routes().await?.into_iter().filter(|r| r.provider_id == row.id) {
            let found = listed.iter().find(|p| p.code == route.upstream_product);
            let price = found.and_then(|p| p.buy_price);
            if price.is_some() && price != route.buy_price {
                route.buy_price = price;
                self.store().put_route(&route).await?;
            }
            synced.push(SyncedRoute {
                buy_price: route.buy_price,
                inactive: found.is_some_and(|p| !p.active),
                unlisted: found.is_none(),
                product: route.product,
                upstream_product: route.upstream_product,
            });
        }
        self.reload_providers().await.map_err(AdminError::Store)?;
        Ok(synced)
    }
}
