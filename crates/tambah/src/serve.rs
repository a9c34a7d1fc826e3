//! `tambah serve`: API, dashboard-less for now, and workers in one process;
//! graceful shutdown on SIGTERM/SIGINT (finish in-flight requests, commit, exit).

use std::io::Write;
use std::time::Duration;

use tambah_delivery::{CallbackSender, DeliveryConfig};
use tambah_domain::{Amount, Environment};
use tambah_engine::merchants::MerchantSpec;
use tambah_engine::workers::OrderReconciler;
use tambah_engine::Config;
use tambah_http::HttpConfig;
use tokio::sync::watch;

use crate::cli::{open, DbArgs, ServeArgs};

/// The demo merchant's starting balance on an empty database.
const DEMO_DEPOSIT_RM: i64 = 1_000;

pub async fn run(db: &DbArgs, args: ServeArgs) -> Result<(), String> {
    let environment = args.environment.as_deref().map(Environment::parse).transpose()?;
    let config = Config {
        topup_wait_ms: args.topup_wait_ms,
        token_ttl_s: args.token_ttl_seconds,
        writer_batch_max: args.writer_batch_max.max(1),
        environment,
        simulator_seed: args.simulator_seed,
        lease_ms: args.lease_ms.max(100),
        query_after_ms: args.query_after_ms.max(100),
        node_id: args.node_id.clone().unwrap_or_else(default_node_id),
        ..Config::default()
    };
    let opened = open(db, config).await?;
    let engine = opened.engine.clone();

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{addr}");

    if engine.store().merchant_count().await.map_err(|e| e.to_string())? == 0 {
        create_demo(&engine, &base).await?;
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let reconciler = OrderReconciler::new(engine.clone());
    let mut stop_workers = stop_rx.clone();
    let interval = Duration::from_millis(args.reconcile_interval_ms.max(10));
    let workers = tokio::spawn(async move {
        reconciler
            .run(interval, async move {
                let _ = stop_workers.wait_for(|s| *s).await;
            })
            .await
    });

    let smtp = match &args.smtp_url {
        Some(url) => Some(tambah_delivery::mail::SmtpConfig::parse(url, &args.smtp_from)?),
        None => None,
    };
    let sender = CallbackSender::new(
        engine.clone(),
        DeliveryConfig {
            retry_delay_ms: args.callback_retry_delay_ms.max(0),
            max_retries: args.callback_max_retries,
            timeout_ms: args.callback_timeout_ms.max(1),
            allow_private_networks: args.callback_allow_private_networks,
            smtp,
            lease_ms: (args.callback_timeout_ms as i64).saturating_mul(2).max(args.lease_ms),
            public_url: args.public_url.clone().unwrap_or_else(|| base.clone()),
        },
    );
    let mut stop_sender = stop_rx.clone();
    let callback_interval = Duration::from_millis(args.callback_interval_ms.max(10));
    let sender_task = tokio::spawn(async move {
        sender
            .run(callback_interval, async move {
                let _ = stop_sender.wait_for(|s| *s).await;
            })
            .await
    });

    // Catalogue changes imported by `tambah catalog import` reach every node.
    let mut stop_catalog = stop_rx.clone();
    let watcher = engine.clone();
    let catalog_task = tokio::spawn(async move {
        loop {
            match watcher.reload_catalog().await {
                Ok(true) => tracing::info!("catalogue reloaded"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "catalogue reload failed; keeping the current one"),
            }
            tokio::select! {
                _ = stop_catalog.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    });

    let http = HttpConfig {
        body_limit_bytes: args.body_limit_bytes,
        public_url: args.public_url.clone().unwrap_or_else(|| base.clone()),
        callback_allow_private_networks: args.callback_allow_private_networks,
        max_in_flight: args.max_in_flight,
    };
    let app = tambah_http::router(engine.clone(), http);
    println!("tambah listening on {base} (database {})", crate::cli::redact(&db.database));
    let _ = std::io::stdout().flush();
    // Answers go out at once (no Nagle delay on small responses).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;

    tracing::info!("shutting down: in-flight requests done; stopping workers and writer");
    let _ = stop_tx.send(true);
    let _ = workers.await;
    let _ = sender_task.await;
    let _ = catalog_task.await;
    opened.runner.shutdown(&engine).await;
    tracing::info!("stopped");
    Ok(())
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
async fn create_demo(engine: &tambah_engine::Engine, base: &str) -> Result<(), String> {
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
  tambah sign --key {key} --secret '{secret}' --method POST --url {base}/v2/topup \\
    --data '{{\"refid\":\"DEMO-2\",\"product\":\"D\",\"account\":\"0123456789\",\"amount\":\"10\"}}' | sh
",
        account = c.merchant.account,
        user = c.username,
        pass = c.password,
        key = c.api_key,
        secret = c.api_secret,
    );
    Ok(())
}
