//! `tambah serve`: API, dashboard-less for now, and workers in one process;
//! graceful shutdown on SIGTERM/SIGINT (finish in-flight requests, commit, exit).
//! `run` reads as its steps: settings, database and engine, listener, demo
//! merchant, workers, API, shutdown.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::Args as ClapArgs;
use tambah_delivery::mail::SmtpConfig;
use tambah_delivery::{CallbackSender, DeliveryConfig};
use tambah_domain::{Amount, Environment};
use tambah_engine::merchants::MerchantSpec;
use tambah_engine::workers::OrderReconciler;
use tambah_engine::{Config, Engine};
use tambah_http::limits::RateConfig;
use tambah_http::serve::ServeLimits;
use tambah_http::HttpConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::database::{open, redact, DbArgs};

/// The demo merchant's starting balance on an empty database.
const DEMO_DEPOSIT_RM: i64 = 1_000;
/// File descriptors kept out of the connection cap: the database, outgoing
/// callbacks and provider calls, logs.
const FILES_RESERVED: u64 = 256;
/// The connection cap when the open-file limit would allow more.
const MAX_CONNECTIONS_DEFAULT: usize = 16_384;
/// How long in-flight requests have to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(ClapArgs, Debug, Clone)]
#[command(next_help_heading = "Server settings (for serve)")]
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
    /// Time a client has to send a request's headers; also how long a
    /// kept-alive connection may sit idle, in ms.
    #[arg(long, global = true, env = "TAMBAH_HEADER_TIMEOUT_MS", default_value_t = 15_000)]
    pub header_timeout_ms: u64,
    /// Time a client has to send a request's body, in ms (408 beyond).
    #[arg(long, global = true, env = "TAMBAH_BODY_TIMEOUT_MS", default_value_t = 15_000)]
    pub body_timeout_ms: u64,
    /// Time an answer may wait for the client to read it, in ms: a
    /// connection whose answer makes no progress that long is closed (a
    /// client that sends requests and never reads their answers would hold
    /// its connection, and the kernel's buffers, forever).
    #[arg(long, global = true, env = "TAMBAH_WRITE_TIMEOUT_MS", default_value_t = 15_000)]
    pub write_timeout_ms: u64,
    /// Connections open at once at most (one more is answered 503 and
    /// closed); default: what the open-file limit allows, less a reserve
    /// for the database, callbacks and providers, at most 16384.
    #[arg(long, global = true, env = "TAMBAH_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Requests per second per live merchant per node (429 beyond); the
    /// operator may give a merchant its own (`merchant update --rate-limit`).
    #[arg(long, global = true, env = "TAMBAH_RATE_LIVE_PER_S", default_value_t = 100)]
    pub rate_live_per_s: u32,
    /// Requests per second per staging merchant per node.
    #[arg(long, global = true, env = "TAMBAH_RATE_STAGING_PER_S", default_value_t = 25)]
    pub rate_staging_per_s: u32,
    /// Failed authentications per second per address (burst: 10 s worth);
    /// beyond, the address is refused before any check runs.
    #[arg(long, global = true, env = "TAMBAH_RATE_UNAUTHENTICATED_PER_S", default_value_t = 10)]
    pub rate_unauthenticated_per_s: u32,
    /// Log-in attempts per minute: per address, per username from one
    /// address, per username from anywhere.
    #[arg(long, global = true, env = "TAMBAH_LOGINS_PER_MINUTE", value_delimiter = ',', default_value = "20,5,30")]
    pub logins_per_minute: Vec<u32>,
    /// IIMMPACT's per-address block, off unless set: REQUESTS/WINDOW_S/BLOCK_S
    /// (IIMMPACT: 30000/300/14400); an address over it gets 403 for BLOCK_S.
    #[arg(long, global = true, env = "TAMBAH_IP_BLOCK")]
    pub ip_block: Option<tambah_http::limits::IpBlock>,
    /// Addresses of the reverse proxies in front of this node (comma-
    /// separated): from them, the client is the right-most X-Forwarded-For
    /// entry that is not a proxy. Without, limits key on the peer address.
    #[arg(long, global = true, env = "TAMBAH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Commands per group-commit batch at most.
    #[arg(long, global = true, env = "TAMBAH_WRITER_BATCH_MAX", default_value_t = 1024)]
    pub writer_batch_max: usize,
    /// New orders are answered 503 at once while the writer's queue has
    /// stood longer than this for 100 ms (CoDel's test of a standing
    /// queue): past capacity the excess is shed instead of making every
    /// caller wait. 0: never.
    #[arg(long, global = true, env = "TAMBAH_SHED_QUEUE_DELAY_MS", default_value_t = 50)]
    pub shed_queue_delay_ms: u64,
    /// Requests are answered 503 at once, before their body is read, while
    /// the runtime's lag (how long a ready task waits for a core) has stood
    /// above this for 100 ms. 0: never.
    #[arg(long, global = true, env = "TAMBAH_SHED_LAG_MS", default_value_t = 10)]
    pub shed_lag_ms: u64,
    /// Once even the quickest request of 100 ms took longer than this many
    /// ms (a standing queue in the node), the requests it works on at once
    /// are limited to what its best throughput drains in this time, and new
    /// ones past that are answered 503 at once, before their body is read
    /// (requests waiting on a provider do not count). Default: 20 on SQLite,
    /// 50 on PostgreSQL (whose commit alone takes 5–20 ms under load). 0: never.
    #[arg(long, global = true, env = "TAMBAH_SHED_IN_FLIGHT_MS")]
    pub shed_in_flight_ms: Option<u64>,
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
    /// Failures of a provider for a product that take it out of rotation
    /// (a leaky bucket: this many leak away per window).
    #[arg(long, global = true, env = "TAMBAH_PROVIDER_FAILURE_CAPACITY", default_value_t = 5)]
    pub provider_failure_capacity: u32,
    /// The window over which that many failures leak away, in ms.
    #[arg(long, global = true, env = "TAMBAH_PROVIDER_FAILURE_WINDOW_MS", default_value_t = 60_000)]
    pub provider_failure_window_ms: i64,
    /// How long a failing provider stays out of rotation for the product, in ms.
    #[arg(long, global = true, env = "TAMBAH_PROVIDER_OUT_MS", default_value_t = 60_000)]
    pub provider_out_ms: i64,
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
    /// Callbacks in flight at once on this node.
    #[arg(long, global = true, env = "TAMBAH_CALLBACK_CONCURRENCY", default_value_t = 64)]
    pub callback_concurrency: usize,
    /// One merchant's callbacks in flight at once, on all nodes together.
    #[arg(long, global = true, env = "TAMBAH_CALLBACK_MERCHANT_CONCURRENCY", default_value_t = 4)]
    pub callback_merchant_concurrency: u32,
    /// SMTP relay for low-balance e-mails (smtp://host:port); none by default.
    #[arg(long, global = true, env = "TAMBAH_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender address of e-mails.
    #[arg(long, global = true, env = "TAMBAH_SMTP_FROM", default_value = "tambah@localhost")]
    pub smtp_from: String,
    /// Seed of the staging simulator.
    #[arg(long, global = true, env = "TAMBAH_SIMULATOR_SEED", default_value_t = 0)]
    pub simulator_seed: u64,
    /// Refuse self-serve staging sign-ups on the dashboard (accounts are then
    /// created with `tambah merchant create` only).
    #[arg(long, global = true, env = "TAMBAH_NO_SIGNUP")]
    pub no_signup: bool,
    /// The operator's alerts (provider float, reconciliation) are POSTed here as JSON.
    #[arg(long, global = true, env = "TAMBAH_ALERT_WEBHOOK")]
    pub alert_webhook: Option<String>,
    /// The operator's alerts are e-mailed here (needs --smtp-url).
    #[arg(long, global = true, env = "TAMBAH_ALERT_EMAIL")]
    pub alert_email: Option<String>,
    /// How often providers' floats are checked (and yesterday reconciled, once a day), in ms.
    #[arg(long, global = true, env = "TAMBAH_PROVIDER_CHECK_INTERVAL_MS", default_value_t = 300_000)]
    pub provider_check_interval_ms: u64,
}

impl ServeArgs {
    /// The engine's settings; out-of-range intervals are raised to a floor
    /// rather than refused.
    fn engine_config(&self) -> Result<Config, String> {
        let environment = self.environment.as_deref().map(Environment::parse).transpose()?;
        Ok(Config {
            topup_wait_ms: self.topup_wait_ms,
            token_ttl_s: self.token_ttl_seconds,
            writer_batch_max: self.writer_batch_max.max(1),
            shed_queue_delay: Duration::from_millis(self.shed_queue_delay_ms),
            environment,
            simulator_seed: self.simulator_seed,
            lease_ms: self.lease_ms.max(100),
            query_after_ms: self.query_after_ms.max(100),
            node_id: self.node_id.clone().unwrap_or_else(default_node_id),
            provider_bucket: tambah_store::Bucket {
                capacity: self.provider_failure_capacity.max(1),
                window_ms: self.provider_failure_window_ms.max(1),
                out_ms: self.provider_out_ms.max(0),
            },
            signup: !self.no_signup,
            ..Config::default()
        })
    }

    /// Where the operator's alerts go (none: the provider watch does not run).
    fn alert_config(&self) -> Result<tambah_delivery::alerts::AlertConfig, String> {
        let email = match (&self.alert_email, &self.smtp_url) {
            (Some(to), Some(url)) => Some((SmtpConfig::parse(url, &self.smtp_from)?, to.clone())),
            (Some(_), None) => return Err("--alert-email needs --smtp-url".into()),
            (None, _) => None,
        };
        Ok(tambah_delivery::alerts::AlertConfig { webhook: self.alert_webhook.clone(), email })
    }

    /// `base` is the address actually bound: the public URL unless one is
    /// given; `postgres`: the node runs on PostgreSQL.
    fn http_config(&self, base: &str, postgres: bool) -> HttpConfig {
        HttpConfig {
            body_limit_bytes: self.body_limit_bytes,
            public_url: self.public_url.clone().unwrap_or_else(|| base.to_owned()),
            callback_allow_private_networks: self.callback_allow_private_networks,
            max_in_flight: self.max_in_flight,
            body_timeout: Duration::from_millis(self.body_timeout_ms.max(1)),
            rates: self.rates(),
            trusted_proxies: self.trusted_proxies.clone(),
            mail: self
                .smtp_url
                .as_deref()
                .and_then(|url| SmtpConfig::parse(url, &self.smtp_from).ok())
                .map(|smtp| tambah_http::Mail(Arc::new(SmtpMailer(smtp)) as Arc<dyn tambah_http::Mailer>)),
            shed_lag: Duration::from_millis(self.shed_lag_ms),
            shed_in_flight: Duration::from_millis(self.shed_in_flight_ms.unwrap_or(if postgres { 50 } else { 20 })),
        }
    }

    fn rates(&self) -> RateConfig {
        let login = |i: usize, default: u32| self.logins_per_minute.get(i).copied().unwrap_or(default);
        RateConfig {
            live_per_s: self.rate_live_per_s,
            staging_per_s: self.rate_staging_per_s,
            unauthenticated_per_s: self.rate_unauthenticated_per_s,
            logins_per_ip_per_min: login(0, 20),
            logins_per_user_net_per_min: login(1, 5),
            logins_per_user_per_min: login(2, 30),
            ip_block: self.ip_block,
        }
    }

    /// The listener's limits; raises the open-file limit to what the system
    /// allows first, and derives the connection cap from it.
    fn serve_limits(&self) -> ServeLimits {
        let files = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read or raise the open-file limit: assuming 1024");
                1024
            }
        };
        let derived = usize::try_from(files.saturating_sub(FILES_RESERVED)).unwrap_or(usize::MAX);
        let max_connections = self.max_connections.unwrap_or_else(|| derived.clamp(16, MAX_CONNECTIONS_DEFAULT));
        tracing::info!(open_files = files, max_connections, "connection cap");
        ServeLimits {
            max_connections,
            header_timeout: Duration::from_millis(self.header_timeout_ms.max(1)),
            write_timeout: Duration::from_millis(self.write_timeout_ms.max(1)),
            drain_timeout: DRAIN_TIMEOUT,
        }
    }

    fn delivery_config(&self, base: &str) -> Result<DeliveryConfig, String> {
        let smtp = match &self.smtp_url {
            Some(url) => Some(SmtpConfig::parse(url, &self.smtp_from)?),
            None => None,
        };
        Ok(DeliveryConfig {
            retry_delay_ms: self.callback_retry_delay_ms.max(0),
            max_retries: self.callback_max_retries,
            timeout_ms: self.callback_timeout_ms.max(1),
            allow_private_networks: self.callback_allow_private_networks,
            smtp,
            // A delivery may take its whole timeout: keep the lease past it.
            lease_ms: (self.callback_timeout_ms as i64).saturating_mul(2).max(self.lease_ms),
            public_url: self.public_url.clone().unwrap_or_else(|| base.to_owned()),
            concurrency: self.callback_concurrency.max(1),
            per_merchant: self.callback_merchant_concurrency.max(1),
        })
    }
}

pub async fn run(db: &DbArgs, args: ServeArgs) -> Result<(), String> {
    let opened = open(db, args.engine_config()?).await?;
    let engine = opened.engine.clone();
    let (listener, base) = bind(&args.listen).await?;
    if engine.merchant_count().await.map_err(|e| e.to_string())? == 0 {
        create_demo(&engine, &base).await?;
    }
    let workers = Workers::start(&engine, &args, &base)?;
    let postgres = matches!(crate::database::Database::parse(&db.database), Ok(crate::database::Database::Postgres(_)));
    serve_api(listener, &engine, (args.http_config(&base, postgres), args.serve_limits()), &base, db).await;

    tracing::info!("shutting down: in-flight requests done; stopping workers and writer");
    workers.stop().await;
    opened.runner.shutdown(&engine).await;
    tracing::info!("stopped");
    Ok(())
}

/// The listener and the base URL it answers on (the bound port, when
/// `--listen` asked for port 0).
async fn bind(listen: &str) -> Result<(TcpListener, String), String> {
    let listener = TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, format!("http://{addr}")))
}

/// Serves the API until SIGTERM/SIGINT, then lets in-flight requests finish.
async fn serve_api(
    listener: TcpListener,
    engine: &Arc<Engine>,
    (http, limits): (HttpConfig, ServeLimits),
    base: &str,
    db: &DbArgs,
) {
    let app = tambah_http::router(engine.clone(), http);
    // Scripts and the tests wait for this line: the node is ready.
    println!("tambah listening on {base} (database {})", redact(&db.database));
    let _ = std::io::stdout().flush();
    tambah_http::serve::serve(listener, app, limits, shutdown_signal()).await;
}

/// The node's background tasks, stopped together once the API has closed.
struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    fn start(engine: &Arc<Engine>, args: &ServeArgs, base: &str) -> Result<Workers, String> {
        let (stop, stop_rx) = watch::channel(false);
        let reconciler = OrderReconciler::new(engine.clone());
        let interval = Duration::from_millis(args.reconcile_interval_ms.max(10));
        let reconciler = tokio::spawn(reconciler.run(interval, stopped(stop_rx.clone())));
        // A bad SMTP URL ends start-up here; dropping `stop` ends the reconciler.
        let sender = CallbackSender::new(engine.clone(), args.delivery_config(base)?);
        let interval = Duration::from_millis(args.callback_interval_ms.max(10));
        let sender = tokio::spawn(sender.run(interval, stopped(stop_rx.clone())));
        let catalog = tokio::spawn(watch_catalog(engine.clone(), stop_rx.clone()));
        let mut tasks = vec![reconciler, sender, catalog];
        // Floats are read for routing even when no alert goes anywhere (then
        // alerts are only logged).
        let alerts = tambah_delivery::alerts::Alerts::new(args.alert_config()?);
        let every = Duration::from_millis(args.provider_check_interval_ms.max(100));
        tasks.push(tokio::spawn(crate::watch::watch_providers(engine.clone(), alerts, every, stop_rx)));
        Ok(Workers { stop, tasks })
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Completes when the stop flag is raised (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Catalogue changes imported by `tambah catalog import`, and provider and
/// route changes (`tambah provider|route ...`), reach every node.
async fn watch_catalog(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        match engine.reload_catalog().await {
            Ok(true) => tracing::info!("catalogue reloaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "catalogue reload failed; keeping the current one"),
        }
        if let Err(e) = engine.reload_providers().await {
            tracing::warn!(error = %e, "provider reload failed; keeping the current routes");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// `node-PID@HOST`: unique among the nodes of one database.
fn default_node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!("node-{}@{}", std::process::id(), host.trim())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// On an empty database: a staging merchant with RM 1,000 and its credentials.
async fn create_demo(engine: &Engine, base: &str) -> Result<(), String> {
    let spec = MerchantSpec {
        name: "Demo Sdn Bhd".into(),
        environment: Environment::Staging,
        level: None,
        username: Some("demo".into()),
        password: None,
        api_version: None,
    };
    let c = engine.create_merchant(&spec).await.map_err(|e| e.to_string())?;
    engine
        .deposit(&c.merchant.account, Amount::from_rm(DEMO_DEPOSIT_RM), "demo opening balance")
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "\nEmpty database: created a staging demo merchant with RM {DEMO_DEPOSIT_RM}.00.
  account:    {account}
  username:   {user}
  password:   {pass}
  API key:    {key}
  API secret: {secret}
  (the secret and password are shown once: store them now)

Try it (token):
  TOKEN=$(curl -s -X POST {base}/v2/token -d username={user} -d password={pass} | sed -E 's/.*\"IdToken\":\"([^\"]+)\".*/\\1/')
  curl -s -H \"Authorization: Bearer $TOKEN\" {base}/v2/balance
  curl -s -H \"Authorization: Bearer $TOKEN\" {base}/v2/topup -d refid=DEMO-1 -d product=D -d account=0123456789 -d amount=10

Try it (signed with the API key):
  {me} sign --key {key} --secret '{secret}' --method POST --url {base}/v2/topup \\
    --data '{{\"refid\":\"DEMO-2\",\"product\":\"D\",\"account\":\"0123456789\",\"amount\":\"10\"}}' | sh
",
        account = c.merchant.account,
        user = c.username,
        pass = c.password,
        key = c.api_key,
        secret = c.api_secret,
        me = this_binary(),
    );
    Ok(())
}

/// How to run this binary again from the user's shell: `tambah` when that
/// name on the PATH is this very file, else its full path (after `cargo run`
/// it lives under `target/` and is on no PATH).
fn this_binary() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "tambah".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("tambah").canonicalize().is_ok_and(|p| p == me))
    });
    if on_path {
        "tambah".to_owned()
    } else {
        let text = me.display().to_string();
        if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._+,:@=-".contains(c)) {
            text
        } else {
            format!("'{}'", text.replace('\'', "'\\''"))
        }
    }
}

/// The dashboard's e-mails through the operator's SMTP relay.
struct SmtpMailer(SmtpConfig);

impl tambah_http::Mailer for SmtpMailer {
    fn send(
        &self,
        to: String,
        subject: String,
        body: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
        let smtp = self.0.clone();
        Box::pin(async move { tambah_delivery::mail::send(&smtp, &to, &subject, &body).await })
    }
}
