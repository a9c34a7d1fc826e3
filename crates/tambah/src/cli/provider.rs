//! `tambah provider`: the upstream providers live orders are sent to. Their
//! credentials are sealed with the master key; every running node picks a
//! change up within seconds.

use clap::{Subcommand, ValueEnum};
use serde_json::json;
use tambah_domain::Amount;
use tambah_engine::providers::config::{Credentials, ProviderSpec, ProviderView, DEFAULT_TIMEOUT_MS};
use tambah_store::ProviderKind;

use crate::database::{with_engine, DbArgs};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// The IIMMPACT v2 API (IIMMPACT itself, or another tambah).
    Iimmpact,
    /// Reloadly's Airtime API.
    Reloadly,
    /// DingConnect.
    Ding,
}

#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// Add a provider.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        kind: Kind,
        /// The base URL as the provider documents it (IIMMPACT:
        /// https://api.iimmpact.com/v2); the host alone works too.
        #[arg(long)]
        base_url: Option<String>,
        /// Reloadly: the token endpoint's host.
        #[arg(long)]
        auth_url: Option<String>,
        /// IIMMPACT: the API key; Ding: the API key.
        #[arg(long)]
        api_key: Option<String>,
        /// IIMMPACT: the API key's signing secret.
        #[arg(long)]
        api_secret: Option<String>,
        /// IIMMPACT: the secret its callbacks to us are signed with (its
        /// GET /v2/callback-secret); unsigned or wrongly signed callbacks are
        /// then refused.
        #[arg(long)]
        callback_secret: Option<String>,
        /// Reloadly: OAuth2 client id.
        #[arg(long)]
        client_id: Option<String>,
        /// Reloadly: OAuth2 client secret.
        #[arg(long)]
        client_secret: Option<String>,
        /// How long the provider has to answer a call.
        #[arg(long, default_value_t = DEFAULT_TIMEOUT_MS)]
        timeout_ms: i64,
        /// Alert the operator when our float there falls below this, in RM
        /// (more than 0; digits, optionally '.' and up to 2 decimals).
        #[arg(long)]
        low_balance: Option<String>,
    },
    /// List the providers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One provider's settings (never its secrets).
    Show { name: String },
    /// Our float at the provider.
    Balance { name: String },
    /// Check the provider's settings and credentials with a call that buys
    /// nothing; with --product, --account and --amount, also put that order
    /// to it to be checked, not bought (Ding's ValidateOnly), through the
    /// product's route there. Non-zero exit when it fails.
    Test {
        name: String,
        #[arg(long, requires_all = ["account", "amount"])]
        product: Option<String>,
        #[arg(long, requires = "product")]
        account: Option<String>,
        /// In ringgit, e.g. 10 or 10.50.
        #[arg(long, requires = "product")]
        amount: Option<String>,
    },
    /// Take a provider out of routing.
    Disable { name: String },
    /// Put a provider back into routing.
    Enable { name: String },
    /// The provider's code table: what each of its codes means for an order
    /// (shipped with this build, and the operator's changes).
    Codes {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Change what one of the provider's codes means, or add a code the
    /// shipped table does not know; running nodes pick it up within seconds.
    /// KEY as `provider codes` lists it (IIMMPACT: 42; Reloadly:
    /// error:CODE, status:STATUS; Ding: error:Code, error:Code/Context,
    /// state:State). MEANING: pending, delivered, declined:NN (one of our
    /// failure codes), unavailable (nothing taken there: may go to another
    /// route), auth, duplicate (look it up), reversed, unknown (wait for a
    /// query).
    Code {
        name: String,
        key: String,
        #[arg(required_unless_present = "shipped")]
        meaning: Option<String>,
        /// Give the code back to the shipped table.
        #[arg(long, conflicts_with = "meaning")]
        shipped: bool,
    },
}

pub async fn run(db: &DbArgs, command: ProviderCommand) -> Result<(), String> {
    match command {
        ProviderCommand::Add {
            name,
            kind,
            base_url,
            auth_url,
            api_key,
            api_secret,
            callback_secret,
            client_id,
            client_secret,
            timeout_ms,
            low_balance,
        } => {
            let secrets = Secrets { api_key, api_secret, callback_secret, client_id, client_secret };
            let mut spec = spec(name, kind, base_url, auth_url, secrets, timeout_ms)?;
            spec.low_balance = match low_balance {
                Some(text) => {
                    Some(Amount::parse_positive(&text, 2).map_err(|e| format!("--low-balance {text:?}: {e}"))?)
                }
                None => None,
            };
            let view =
                with_engine(db, |e| async move { e.add_provider(&spec).await.map_err(|e| e.to_string()) }).await?;
            println!("provider {} added ({}, {})", view.name, view.kind.as_str(), view.base_url);
            Ok(())
        }
        ProviderCommand::List { json } => list(db, json).await,
        ProviderCommand::Show { name } => show(db, name).await,
        ProviderCommand::Balance { name } => balance(db, name, false).await,
        ProviderCommand::Test { name, product, account, amount } => {
            balance(db, name.clone(), true).await?;
            match (product, account, amount) {
                (Some(product), Some(account), Some(amount)) => check(db, name, product, account, amount).await,
                _ => Ok(()),
            }
        }
        ProviderCommand::Disable { name } => set_enabled(db, name, false).await,
        ProviderCommand::Enable { name } => set_enabled(db, name, true).await,
        ProviderCommand::Codes { name, json } => codes(db, name, json).await,
        ProviderCommand::Code { name, key, meaning, shipped: _ } => set_code(db, name, key, meaning).await,
    }
}

async fn codes(db: &DbArgs, name: String, json: bool) -> Result<(), String> {
    let table = with_engine(db, |e| async move { e.provider_codes(&name).await.map_err(|e| e.to_string()) }).await?;
    if json {
        let rows = table
            .iter()
            .map(|c| json!({"key": c.key, "meaning": c.meaning, "shipped": c.shipped, "changed": c.changed}));
        println!("{}", serde_json::Value::Array(rows.collect()));
        return Ok(());
    }
    println!("{:<50} {:<14} SHIPPED", "KEY", "MEANING");
    for c in &table {
        let shipped = match (&c.shipped, c.changed) {
            (Some(s), true) => format!("{s} (changed)"),
            (Some(s), false) => s.clone(),
            (None, _) => "- (added)".into(),
        };
        println!("{:<50} {:<14} {shipped}", c.key, c.meaning);
    }
    Ok(())
}

async fn set_code(db: &DbArgs, name: String, key: String, meaning: Option<String>) -> Result<(), String> {
    let (n, k, m) = (name.clone(), key.clone(), meaning.clone());
    with_engine(db, |e| async move { e.set_provider_code(&n, &k, m.as_deref()).await.map_err(|e| e.to_string()) })
        .await?;
    match meaning {
        Some(m) => println!("provider {name}: {key} means {m}"),
        None => println!("provider {name}: {key} back to the shipped table"),
    }
    Ok(())
}

/// The credential flags of `provider add`.
struct Secrets {
    api_key: Option<String>,
    api_secret: Option<String>,
    callback_secret: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The provider to add, with the credentials its kind needs.
fn spec(
    name: String,
    kind: Kind,
    base_url: Option<String>,
    auth_url: Option<String>,
    s: Secrets,
    timeout_ms: i64,
) -> Result<ProviderSpec, String> {
    let need = |v: Option<String>, flag: &str| v.ok_or_else(|| format!("--{flag} is required for this kind"));
    let (kind, credentials, default_base, default_auth) = match kind {
        Kind::Iimmpact => (
            ProviderKind::Iimmpact,
            Credentials::ApiKey {
                key_id: need(s.api_key, "api-key")?,
                secret: need(s.api_secret, "api-secret")?,
                callback_secret: s.callback_secret,
            },
            None,
            "",
        ),
        Kind::Reloadly => (
            ProviderKind::Reloadly,
            Credentials::ClientCredentials {
                client_id: need(s.client_id, "client-id")?,
                client_secret: need(s.client_secret, "client-secret")?,
            },
            Some("https://topups.reloadly.com"),
            "https://auth.reloadly.com",
        ),
        Kind::Ding => (
            ProviderKind::Ding,
            Credentials::Key { api_key: need(s.api_key, "api-key")? },
            Some("https://api.dingconnect.com/api/V1"),
            "",
        ),
    };
    let base_url = base_url.or(default_base.map(str::to_owned)).ok_or("--base-url is required for this kind")?;
    let auth_url = auth_url.unwrap_or_else(|| default_auth.to_owned());
    Ok(ProviderSpec { name, kind, base_url, auth_url, credentials, timeout_ms, low_balance: None })
}

fn view_json(p: &ProviderView) -> serde_json::Value {
    json!({"name": p.name, "kind": p.kind.as_str(), "base_url": p.base_url, "timeout_ms": p.timeout_ms,
           "low_balance": p.low_balance.map(|b| b.to_plain()), "enabled": p.enabled, "connected": p.connected})
}

async fn list(db: &DbArgs, json: bool) -> Result<(), String> {
    let list = with_engine(db, |e| async move { e.providers().await.map_err(|e| e.to_string()) }).await?;
    if json {
        println!("{}", serde_json::Value::Array(list.iter().map(view_json).collect()));
        return Ok(());
    }
    println!("{:<20} {:<9} {:<8} {:<9} BASE URL", "NAME", "KIND", "ENABLED", "CONNECTED");
    for p in &list {
        println!("{:<20} {:<9} {:<8} {:<9} {}", p.name, p.kind.as_str(), p.enabled, p.connected, p.base_url);
    }
    Ok(())
}

async fn show(db: &DbArgs, name: String) -> Result<(), String> {
    let list = with_engine(db, |e| async move { e.providers().await.map_err(|e| e.to_string()) }).await?;
    let p = list.iter().find(|p| p.name == name).ok_or_else(|| format!("no provider {name:?}"))?;
    println!("{}", view_json(p));
    Ok(())
}

async fn set_enabled(db: &DbArgs, name: String, enabled: bool) -> Result<(), String> {
    let n = name.clone();
    with_engine(db, |e| async move { e.set_provider_enabled(&n, enabled).await.map_err(|e| e.to_string()) }).await?;
    println!("provider {name} {}", if enabled { "enabled" } else { "disabled" });
    Ok(())
}

/// `provider balance` and `provider test`: both ask for the float, which
/// proves the settings and credentials without buying anything.
async fn balance(db: &DbArgs, name: String, test: bool) -> Result<(), String> {
    let n = name.clone();
    let float = with_engine(db, |e| async move { e.provider_balance(&n).await.map_err(|e| e.to_string()) }).await?;
    match (test, float) {
        (true, Some(b)) => println!("provider {name}: ok (balance RM {})", b.to_cents()),
        (true, None) => println!("provider {name}: ok"),
        (false, Some(b)) => println!("{}", b.to_cents()),
        (false, None) => return Err(format!("provider {name} does not report a balance")),
    }
    Ok(())
}

/// `provider test NAME --product CODE --account NUMBER --amount RM`.
async fn check(db: &DbArgs, name: String, product: String, account: String, amount: String) -> Result<(), String> {
    let amount = Amount::parse_positive(&amount, 2).map_err(|e| format!("--amount {amount:?}: {e}"))?;
    let n = name.clone();
    let p = product.clone();
    let said =
        with_engine(
            db,
            |e| async move { e.check_at_provider(&n, &p, &account, amount).await.map_err(|e| e.to_string()) },
        )
        .await?;
    println!("provider {name}: {product} ok ({said})");
    Ok(())
}
