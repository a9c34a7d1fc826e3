//! The command line: `serve` and the operator commands, each in the exact form
//! scripts depend on (see README.md).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args as ClapArgs, Parser, Subcommand};
use serde_json::json;
use tambah_domain::{Amount, Environment};
use tambah_engine::disputes::DisputeError;
use tambah_engine::merchants::{MerchantChanges, MerchantSpec};
use tambah_engine::{catalog, signing, Config, Engine, EngineRunner, MasterKey, SystemClock};
use tambah_store::Store;
use tambah_store_postgres::PgStore;
use tambah_store_sqlite::SqliteStore;

#[derive(Parser, Debug)]
#[command(name = "tambah", version, about = "Reload and bill-payment platform (IIMMPACT-compatible API)")]
pub struct Args {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ClapArgs, Debug, Clone)]
pub struct DbArgs {
    /// Database: a SQLite file path (or sqlite://PATH), or postgres://USER@HOST/DB.
    #[arg(long, env = "TAMBAH_DATABASE", default_value = "./tambah.db", global = true)]
    pub database: String,
    /// Master key sealing API secrets, 32 bytes in base64. Default: read from
    /// (or created at) the file DATABASE.key.
    #[arg(long, env = "TAMBAH_MASTER_KEY", global = true, hide_env_values = true)]
    pub master_key: Option<String>,
    /// File holding the master key (created if absent). Default for SQLite:
    /// DATABASE.key. PostgreSQL nodes need TAMBAH_MASTER_KEY or this.
    #[arg(long, env = "TAMBAH_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Product catalogue file (JSON). Default: the built-in catalogue.
    #[arg(long, env = "TAMBAH_CATALOG", global = true)]
    pub catalog: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the API server and workers (the default).
    Serve,
    /// Create the database or bring its schema up to date.
    Migrate,
    /// Merchant accounts.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// Credit a merchant's wallet (a DEPOSIT ledger entry).
    Deposit {
        #[arg(long)]
        account: String,
        /// Amount in RM, e.g. 1000 or 250.50.
        #[arg(long)]
        amount: String,
        #[arg(long, default_value = "")]
        remarks: String,
    },
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Check every ledger invariant; exits non-zero on any violation.
    Verify,
    /// Print a signed curl command (HMAC v1) for trying the API by hand.
    Sign(SignArgs),
    /// Orders.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Callbacks: the delivery log, manual redelivery.
    #[command(subcommand)]
    Callbacks(CallbacksCommand),
    /// Disputes opened with POST /v2/transactions/check.
    #[command(subcommand)]
    Dispute(DisputeCommand),
    /// Reconciliation reports (JSON, or CSV with --csv).
    #[command(subcommand)]
    Report(ReportCommand),
    /// The product catalogue: import, show, stock.
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Check a catalogue file and make it the active catalogue of every node
    /// (running nodes pick it up within seconds).
    Import { file: PathBuf },
    /// The active catalogue: one product per line, or the file with --json.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Set a product's stock (PINs and vouchers fail with 45 at 0).
    Stock {
        #[arg(long)]
        product: String,
        /// Units left; omit with --unlimited.
        #[arg(long)]
        set: Option<u64>,
        #[arg(long)]
        unlimited: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrderCommand {
    /// Reverse a successful order: status 53, the cost returned, a callback sent.
    Refund {
        refid: String,
        /// The merchant's account number (needed only when several merchants used the refid).
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value = "refunded by the operator")]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CallbacksCommand {
    /// Queue an order's current status for delivery again.
    Redeliver {
        #[arg(long)]
        account: String,
        #[arg(long)]
        refid: String,
    },
    /// Every callback of an order and every attempt, as JSON.
    Log {
        #[arg(long)]
        account: String,
        #[arg(long)]
        refid: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DisputeCommand {
    /// Open disputes (all with --all), as JSON lines.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Close a dispute, optionally refunding its order first.
    Resolve {
        id: i64,
        #[arg(long)]
        resolution: String,
        #[arg(long)]
        refund: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Successful orders per Malaysia-time day and product.
    Summary {
        #[arg(long)]
        account: String,
        /// yyyy-MM-dd or "yyyy-MM-dd - yyyy-MM-dd".
        #[arg(long)]
        date: String,
        #[arg(long)]
        csv: bool,
    },
    /// The invoice statement of one month.
    Invoice {
        #[arg(long)]
        account: String,
        /// yyyy-MM
        #[arg(long)]
        month: String,
        #[arg(long)]
        csv: bool,
    },
}

#[derive(ClapArgs, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, global = true, env = "TAMBAH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Accept credentials of this environment only (staging or live).
    #[arg(long, global = true, env = "TAMBAH_ENVIRONMENT")]
    pub environment: Option<String>,
    /// How long a topup response waits for the final status, in ms.
    #[arg(long, global = true, env = "TAMBAH_TOPUP_WAIT_MS", default_value_t = 2000)]
    pub topup_wait_ms: u64,
    /// Lifetime of IdTokens and AccessTokens, in seconds.
    #[arg(long, global = true, env = "TAMBAH_TOKEN_TTL_SECONDS", default_value_t = 3600)]
    pub token_ttl_seconds: i64,
    /// Base URL used in links (product images); default http://LISTEN.
    #[arg(long, global = true, env = "TAMBAH_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Requests handled at once at most (503 with Retry-After beyond).
    #[arg(long, global = true, env = "TAMBAH_MAX_IN_FLIGHT", default_value_t = 4096)]
    pub max_in_flight: usize,
    /// Largest request body accepted, in bytes.
    #[arg(long, global = true, env = "TAMBAH_BODY_LIMIT_BYTES", default_value_t = 65536)]
    pub body_limit_bytes: usize,
    /// Commands per group-commit batch at most.
    #[arg(long, global = true, env = "TAMBAH_WRITER_BATCH_MAX", default_value_t = 1024)]
    pub writer_batch_max: usize,
    /// Interval of the order reconciler, in ms.
    #[arg(long, global = true, env = "TAMBAH_RECONCILE_INTERVAL_MS", default_value_t = 500)]
    pub reconcile_interval_ms: u64,
    /// How long a node holds due order work before another node may take it, in ms.
    #[arg(long, global = true, env = "TAMBAH_LEASE_MS", default_value_t = 30_000)]
    pub lease_ms: i64,
    /// Ask the provider about a sent order this long after sending it if no
    /// outcome was recorded (a node died mid-call), in ms.
    #[arg(long, global = true, env = "TAMBAH_QUERY_AFTER_MS", default_value_t = 10_000)]
    pub query_after_ms: i64,
    /// This node's name in worker leases; default node-PID@HOST.
    #[arg(long, global = true, env = "TAMBAH_NODE_ID")]
    pub node_id: Option<String>,
    /// Delay between callback attempts, in ms.
    #[arg(long, global = true, env = "TAMBAH_CALLBACK_RETRY_DELAY_MS", default_value_t = 60_000)]
    pub callback_retry_delay_ms: i64,
    /// Callback retries after the first attempt.
    #[arg(long, global = true, env = "TAMBAH_CALLBACK_MAX_RETRIES", default_value_t = 3)]
    pub callback_max_retries: u32,
    /// Time limit of one callback attempt, in ms.
    #[arg(long, global = true, env = "TAMBAH_CALLBACK_TIMEOUT_MS", default_value_t = 30_000)]
    pub callback_timeout_ms: u64,
    /// Allow callback URLs on loopback, private and link-local addresses.
    #[arg(long, global = true, env = "TAMBAH_CALLBACK_ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub callback_allow_private_networks: bool,
    /// How often the callback sender looks for due callbacks, in ms.
    #[arg(long, global = true, env = "TAMBAH_CALLBACK_INTERVAL_MS", default_value_t = 200)]
    pub callback_interval_ms: u64,
    /// SMTP relay for low-balance e-mails (smtp://host:port); none by default.
    #[arg(long, global = true, env = "TAMBAH_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender address of e-mails.
    #[arg(long, global = true, env = "TAMBAH_SMTP_FROM", default_value = "tambah@localhost")]
    pub smtp_from: String,
    /// Seed of the staging simulator.
    #[arg(long, global = true, env = "TAMBAH_SIMULATOR_SEED", default_value_t = 0)]
    pub simulator_seed: u64,
}

#[derive(Subcommand, Debug)]
pub enum MerchantCommand {
    /// Create a merchant with a wallet, a dashboard user and a first API key.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "staging")]
        environment: String,
        /// Pricing level (discounts per level are in the catalogue).
        #[arg(long)]
        level: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        password: Option<String>,
        /// Response format: 2023-10-01 (default) or 2025-05-20.
        #[arg(long)]
        api_version: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Change a merchant's settings (only the flags given).
    Update {
        #[arg(long)]
        account: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        level: Option<String>,
        /// 0 (full) or 50 (read-only: may not top up).
        #[arg(long)]
        access: Option<u8>,
        /// Suspended merchants get 403 / code 41 on topup.
        #[arg(long)]
        suspended: Option<bool>,
        #[arg(long)]
        api_version: Option<String>,
        /// Refuse token-authenticated topups (403): API key signatures only.
        #[arg(long)]
        require_api_key_for_topup: Option<bool>,
        /// Where low-balance notices are e-mailed ("" to stop).
        #[arg(long)]
        email: Option<String>,
    },
    /// Print a merchant's settings and balance as JSON.
    Show {
        #[arg(long)]
        account: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create another API key for a merchant.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key at once.
    Revoke { key: String },
}

#[derive(ClapArgs, Debug)]
pub struct SignArgs {
    #[arg(long, env = "TAMBAH_API_KEY")]
    pub key: String,
    /// The API secret (base64), as shown at creation.
    #[arg(long, env = "TAMBAH_API_SECRET", hide_env_values = true)]
    pub secret: String,
    #[arg(long, default_value = "GET")]
    pub method: String,
    #[arg(long, default_value = "http://127.0.0.1:8080/v2/balance")]
    pub url: String,
    /// Request body (sent as JSON).
    #[arg(long)]
    pub data: Option<String>,
    /// Print only the headers, one per line.
    #[arg(long)]
    pub headers_only: bool,
}

/// Which database a `--database` value names.
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

pub fn database(url: &str) -> Result<Database, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Database::Postgres(url.to_owned()));
    }
    if let Some(rest) = url.strip_prefix("sqlite://") {
        return Ok(Database::Sqlite(PathBuf::from(rest)));
    }
    if url.contains("://") {
        return Err(format!("unsupported database URL {url:?}: use a SQLite path or postgres://…"));
    }
    Ok(Database::Sqlite(PathBuf::from(url)))
}

pub struct Opened {
    pub engine: Arc<Engine>,
    pub runner: EngineRunner,
}

/// Opens the database (creating and migrating it) and starts an engine on it.
pub async fn open(db: &DbArgs, config: Config) -> Result<Opened, String> {
    let (store, default_key_file): (Arc<dyn Store>, Option<PathBuf>) = match database(&db.database)? {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
            let mut key_path = path.into_os_string();
            key_path.push(".key");
            (Arc::new(store), Some(PathBuf::from(key_path)))
        }
        Database::Postgres(url) => {
            let store = PgStore::open(&url).map_err(|e| format!("opening PostgreSQL: {e}"))?;
            (Arc::new(store), None)
        }
    };
    let master_key = match (&db.master_key, db.master_key_file.as_ref().or(default_key_file.as_ref())) {
        (Some(k), _) => MasterKey::from_base64(k)?,
        (None, Some(file)) => MasterKey::load_or_create(file)?,
        (None, None) => {
            return Err("PostgreSQL nodes must share one master key: set TAMBAH_MASTER_KEY (32 bytes, base64) \
                        or TAMBAH_MASTER_KEY_FILE"
                .into())
        }
    };
    let catalog_json = match &db.catalog {
        Some(file) => std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?,
        None => catalog::BUILT_IN.to_owned(),
    };
    // An imported catalogue (`tambah catalog import`) wins over the file.
    let catalog_json = match store.latest_catalog(true).await.map_err(|e| e.to_string())? {
        Some((_, json)) => json,
        None => catalog_json,
    };
    let catalog = catalog::parse(&catalog_json)?;
    let families = tambah_engine::families::Families::parse(tambah_engine::families::BUILT_IN)?;
    let (engine, runner) = Engine::start(store, catalog, families, master_key, config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Opened { engine, runner })
}

/// Runs `work` on an engine over the configured database, then stops the
/// engine (its writer commits what was queued) whatever `work` returned.
async fn with_engine<T, F, Fut>(db: &DbArgs, work: F) -> Result<T, String>
where
    F: FnOnce(Arc<Engine>) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let o = open(db, Config::default()).await?;
    let result = work(o.engine.clone()).await;
    o.runner.shutdown(&o.engine).await;
    result
}

pub async fn run(args: Args) -> Result<(), String> {
    let db = &args.db;
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve::run(db, args.serve).await,
        Command::Migrate => {
            with_engine(db, |_| async { Ok(()) }).await?;
            println!("database {} is up to date", redact(&db.database));
            Ok(())
        }
        Command::Merchant(MerchantCommand::Create {
            name,
            environment,
            level,
            username,
            password,
            api_version,
            json,
        }) => {
            let spec = MerchantSpec {
                name,
                environment: Environment::parse(&environment)?,
                level,
                username,
                password,
                api_version,
            };
            let c =
                with_engine(db, |e| async move { e.create_merchant(&spec).await.map_err(|e| e.to_string()) }).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "account": c.merchant.account,
                        "name": c.merchant.name,
                        "environment": c.merchant.environment.as_str(),
                        "level": c.merchant.level,
                        "api_version": c.merchant.api_version,
                        "api_key": c.api_key,
                        "api_secret": c.api_secret,
                        "username": c.username,
                        "password": c.password,
                    })
                );
            } else {
                println!(
                    "merchant {} created ({}): account {}",
                    c.merchant.name,
                    c.merchant.environment.as_str(),
                    c.merchant.account
                );
                println!("  username:   {}", c.username);
                println!("  password:   {}", c.password);
                println!("  API key:    {}", c.api_key);
                println!("  API secret: {}   (shown once: store it now)", c.api_secret);
            }
            Ok(())
        }
        Command::Merchant(MerchantCommand::Update {
            account,
            name,
            level,
            access,
            suspended,
            api_version,
            require_api_key_for_topup,
            email,
        }) => {
            let changes =
                MerchantChanges { name, level, access, suspended, api_version, require_api_key_for_topup, email };
            let shown = with_engine(db, |e| async move {
                let m = e.update_merchant(&account, &changes).await.map_err(|e| e.to_string())?;
                merchant_json(&e, &m).await
            })
            .await?;
            println!("{shown}");
            Ok(())
        }
        Command::Merchant(MerchantCommand::Show { account }) => {
            let shown = with_engine(db, |e| async move {
                let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
                merchant_json(&e, &m).await
            })
            .await?;
            println!("{shown}");
            Ok(())
        }
        Command::Deposit { account, amount, remarks } => {
            let amount = Amount::parse_rm(&amount, 4).map_err(|e| format!("--amount {amount:?}: {e}"))?;
            let acct = account.clone();
            let balance =
                with_engine(db, |e| async move { e.deposit(&acct, amount, &remarks).await.map_err(|e| e.to_string()) })
                    .await?;
            println!("deposited RM {} to {account}; balance RM {}", amount.to_cents(), balance.to_cents());
            Ok(())
        }
        Command::Key(KeyCommand::Create { account, json }) => {
            let acct = account.clone();
            let (key, secret) = with_engine(db, |e| async move {
                let m = e.merchant_by_account(&acct).await.map_err(|e| e.to_string())?;
                e.create_api_key(&m).await.map_err(|e| e.to_string())
            })
            .await?;
            if json {
                println!("{}", json!({"account": account, "api_key": key, "api_secret": secret}));
            } else {
                println!("API key:    {key}\nAPI secret: {secret}   (shown once: store it now)");
            }
            Ok(())
        }
        Command::Key(KeyCommand::Revoke { key }) => {
            let k = key.clone();
            with_engine(db, |e| async move { e.revoke_api_key(&k).await.map_err(|e| e.to_string()) }).await?;
            println!("API key {key} revoked");
            Ok(())
        }
        Command::Verify => {
            let checks =
                with_engine(db, |e| async move { e.store().verify().await.map_err(|e| e.to_string()) }).await?;
            let mut violations = 0;
            for c in &checks {
                let mark = if c.violations.is_empty() { "ok  " } else { "FAIL" };
                println!("{mark} {} ({} examined)", c.name, c.examined);
                for v in &c.violations {
                    println!("       {v}");
                }
                violations += c.violations.len();
            }
            if violations > 0 {
                return Err(format!("{violations} violation(s) of the ledger invariants"));
            }
            println!("ledger verified: {} checks, no violations", checks.len());
            Ok(())
        }
        Command::Sign(s) => sign(s),
        Command::Order(OrderCommand::Refund { refid, account, reason }) => {
            let order = with_engine(db, |e| async move {
                let m = match account {
                    Some(account) => e.merchant_by_account(&account).await.map_err(|e| e.to_string())?,
                    None => {
                        let found = e.store().orders_with_refid(&refid).await.map_err(|e| e.to_string())?;
                        let merchant_id = match found.as_slice() {
                            [one] => one.merchant_id,
                            [] => return Err(format!("no transaction with refid {refid:?}")),
                            many => {
                                let mut accounts = Vec::new();
                                for o in many {
                                    if let Ok(Some(m)) = e.store().merchant(o.merchant_id).await {
                                        accounts.push(m.account);
                                    }
                                }
                                return Err(format!(
                                    "refid {refid:?} was used by several merchants ({}): add --account",
                                    accounts.join(", ")
                                ));
                            }
                        };
                        e.store()
                            .merchant(merchant_id)
                            .await
                            .map_err(|e| e.to_string())?
                            .ok_or_else(|| "the order's merchant is gone".to_string())?
                    }
                };
                e.refund(&m, &refid, &reason).await.map_err(|e| match e {
                    DisputeError::NotFound(m) | DisputeError::Failed(m) => m,
                    DisputeError::NotRefundable(o) => {
                        format!(
                            "order {} has status {}: only successful (20) orders can be refunded",
                            o.refid, o.status
                        )
                    }
                })
            })
            .await?;
            println!(
                "order {} refunded: status {}, RM {} returned",
                order.refid,
                order.status,
                Amount::from_minor(order.cost_minor).to_cents()
            );
            Ok(())
        }
        Command::Callbacks(CallbacksCommand::Redeliver { account, refid }) => {
            let r = refid.clone();
            let id = with_engine(db, |e| async move {
                let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
                e.redeliver(&m, &r).await.map_err(|e| format!("{e:?}"))
            })
            .await?;
            println!("callback {id} queued for {refid}");
            Ok(())
        }
        Command::Callbacks(CallbacksCommand::Log { account, refid }) => {
            let log = with_engine(db, |e| async move {
                let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
                tambah_http::callbacks::log_json(&e, m.id, &refid).await.map_err(|e| format!("{e:?}"))
            })
            .await?;
            println!("{log}");
            Ok(())
        }
        Command::Dispute(DisputeCommand::List { all }) => {
            let list =
                with_engine(db, |e| async move { e.store().disputes(!all).await.map_err(|e| e.to_string()) }).await?;
            for d in list {
                println!(
                    "{}",
                    json!({"id": d.id, "refid": d.refid, "merchant_id": d.merchant_id, "state": d.state,
                           "emails": d.emails, "resolution": d.resolution,
                           "opened": tambah_http::wire::myt(d.created_at_ms).seconds_text()})
                );
            }
            Ok(())
        }
        Command::Dispute(DisputeCommand::Resolve { id, resolution, refund }) => {
            let d = with_engine(db, |e| async move {
                e.resolve_dispute(id, &resolution, refund).await.map_err(|e| format!("{e:?}"))
            })
            .await?;
            println!("dispute {} resolved: {}", d.id, d.resolution);
            Ok(())
        }
        Command::Catalog(c) => catalog_command(db, c).await,
        Command::Report(ReportCommand::Summary { account, date, csv }) => {
            let (from, to) = tambah_domain::time::parse_date_range(&date)?;
            let v = with_engine(db, |e| async move {
                let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
                tambah_http::reports::summary(&e, &m, from, to).await.map_err(|e| format!("{e:?}"))
            })
            .await?;
            print_report(&v, "data", tambah_http::reports::SUMMARY_COLUMNS, csv);
            Ok(())
        }
        Command::Report(ReportCommand::Invoice { account, month, csv }) => {
            let v = with_engine(db, |e| async move {
                let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
                tambah_http::reports::invoice(&e, &m, &month).await.map_err(|e| format!("{e:?}"))
            })
            .await?;
            print_report(&v, "lines", tambah_http::reports::INVOICE_COLUMNS, csv);
            Ok(())
        }
    }
}

async fn catalog_command(db: &DbArgs, command: CatalogCommand) -> Result<(), String> {
    match command {
        CatalogCommand::Import { file } => {
            let json = std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            let parsed = catalog::parse(&json)?;
            let n = parsed.products().len();
            let version = with_engine(db, |e| async move {
                e.store().save_catalog(&json, e.now_ms()).await.map_err(|e| e.to_string())
            })
            .await?;
            println!("catalogue version {version} imported: {n} products");
            Ok(())
        }
        CatalogCommand::Show { json } => {
            let (text, stock) = with_engine(db, |e| async move {
                let stored = e.store().latest_catalog(true).await.map_err(|e| e.to_string())?;
                let stock = e.store().stock_levels().await.map_err(|e| e.to_string())?;
                Ok((stored.map(|(_, j)| j), stock))
            })
            .await?;
            let text = match (text, &db.catalog) {
                (Some(t), _) => t,
                (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| e.to_string())?,
                (None, None) => catalog::BUILT_IN.to_owned(),
            };
            if json {
                println!("{text}");
                return Ok(());
            }
            let parsed = catalog::parse(&text)?;
            println!(
                "{:<8} {:<32} {:<9} {:<24} {:>8} {:<8} {:>8}",
                "CODE", "NAME", "FAMILY", "DENOMINATION", "DISCOUNT", "STATUS", "STOCK"
            );
            for p in parsed.products() {
                let left = stock.iter().find(|(code, _)| *code == p.code).map(|(_, n)| n.to_string());
                println!(
                    "{:<8} {:<32} {:<9} {:<24} {:>8} {:<8} {:>8}",
                    p.code,
                    p.name.chars().take(32).collect::<String>(),
                    format!("{:?}", p.family).to_lowercase(),
                    p.denomination.text().chars().take(24).collect::<String>(),
                    p.discount_text("default"),
                    if p.active { "Active" } else { "Inactive" },
                    left.unwrap_or_else(|| "-".into()),
                );
            }
            Ok(())
        }
        CatalogCommand::Stock { product, set, unlimited } => {
            let remaining = match (set, unlimited) {
                (Some(n), false) => Some(n),
                (None, true) => None,
                _ => return Err("give either --set N or --unlimited".into()),
            };
            let p = product.clone();
            with_engine(db, |e| async move {
                if e.catalog().get(&p).is_none() {
                    return Err(format!("unknown product {p:?}"));
                }
                e.store().set_stock(&p, remaining).await.map_err(|e| e.to_string())
            })
            .await?;
            match remaining {
                Some(n) => println!("stock of {product}: {n}"),
                None => println!("stock of {product}: unlimited"),
            }
            Ok(())
        }
    }
}

fn print_report(v: &serde_json::Value, rows: &str, columns: &[&str], csv: bool) {
    if csv {
        let list = v[rows].as_array().cloned().unwrap_or_default();
        print!("{}", tambah_http::reports::csv(&list, columns));
    } else {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn merchant_json(engine: &Engine, m: &tambah_store::MerchantRow) -> Result<serde_json::Value, String> {
    let balance = engine.balance(m).await.map_err(|e| e.to_string())?;
    Ok(json!({
        "account": m.account,
        "name": m.name,
        "environment": m.environment.as_str(),
        "level": m.level,
        "access": m.access,
        "suspended": m.suspended,
        "api_version": m.api_version,
        "require_api_key_for_topup": m.require_api_key_for_topup,
        "balance": balance.to_cents(),
    }))
}

fn sign(s: SignArgs) -> Result<(), String> {
    let secret = tambah_engine::auth::decode_secret(&s.secret)?;
    let method = s.method.to_ascii_uppercase();
    let query = s.url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let body = s.data.clone().unwrap_or_default();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs()
        .to_string();
    let nonce = tambah_engine::credentials::random_alnum(24);
    let canonical = signing::canonical(&timestamp, &nonce, &method, query, body.as_bytes());
    let signature = signing::sign(&secret, &canonical);
    let headers = [
        format!("X-Api-Key: {}", s.key),
        format!("X-Timestamp: {timestamp}"),
        format!("X-Nonce: {nonce}"),
        format!("X-Signature: {signature}"),
    ];
    if s.headers_only {
        for h in &headers {
            println!("{h}");
        }
        return Ok(());
    }
    let mut line = format!("curl -sS -X {method} '{}'", s.url);
    for h in &headers {
        line.push_str(&format!(" -H '{h}'"));
    }
    if s.data.is_some() {
        line.push_str(&format!(" -H 'Content-Type: application/json' --data-raw '{}'", body.replace('\'', "'\\''")));
    }
    println!("{line}");
    Ok(())
}
