//! `tambah merchant`: onboard a merchant, change its settings, show them.

use clap::Subcommand;
use serde_json::json;
use tambah_domain::{Amount, Environment};
use tambah_engine::merchants::{CreatedMerchant, MerchantChanges, MerchantSpec};
use tambah_engine::Engine;
use tambah_store::MerchantRow;

use crate::database::{with_engine, DbArgs};

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
        /// The merchant's own rate limit in requests per second per node, or
        /// "default" for its environment's (TAMBAH_RATE_LIVE_PER_S /
        /// TAMBAH_RATE_STAGING_PER_S).
        #[arg(long)]
        rate_limit: Option<String>,
        /// At most this much of the wallet spent per Malaysia-time day (RM),
        /// or "none"; an order beyond it is refused (54) before any hold.
        #[arg(long)]
        daily_cap_amount: Option<String>,
        /// At most this many orders per Malaysia-time day, or "none".
        #[arg(long)]
        daily_cap_count: Option<String>,
    },
    /// Print a merchant's settings and balance as JSON.
    Show {
        #[arg(long)]
        account: String,
    },
}

pub async fn run(db: &DbArgs, command: MerchantCommand) -> Result<(), String> {
    match command {
        MerchantCommand::Create { name, environment, level, username, password, api_version, json } => {
            let spec = MerchantSpec {
                name,
                environment: Environment::parse(&environment)?,
                level,
                username,
                password,
                api_version,
            };
            create(db, spec, json).await
        }
        MerchantCommand::Update {
            account,
            name,
            level,
            access,
            suspended,
            api_version,
            require_api_key_for_topup,
            email,
            rate_limit,
            daily_cap_amount,
            daily_cap_count,
        } => {
            let rate_limit_per_s = match rate_limit.as_deref() {
                None => None,
                Some("default") => Some(None),
                Some(n) => Some(Some(n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("--rate-limit {n:?}: a whole number of requests per second, or default")
                })?)),
            };
            let daily_cap_amount = match daily_cap_amount.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(a) => Some(Some(
                    Amount::parse_canonical(a, 2)
                        .ok()
                        .filter(|a| *a > Amount::ZERO)
                        .ok_or_else(|| format!("--daily-cap-amount {a:?}: an amount in RM (e.g. 500), or none"))?,
                )),
            };
            let daily_cap_count = match daily_cap_count.as_deref() {
                None => None,
                Some("none") => Some(None),
                Some(n) => Some(Some(
                    n.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("--daily-cap-count {n:?}: a whole number of orders, or none"))?,
                )),
            };
            let changes = MerchantChanges {
                name,
                level,
                access,
                suspended,
                api_version,
                require_api_key_for_topup,
                email,
                rate_limit_per_s,
                daily_cap_amount,
                daily_cap_count,
            };
            if changes == MerchantChanges::default() {
                return Err("nothing to change: give one of --name, --level, --access, --suspended, --api-version, \
                            --require-api-key-for-topup, --email, --rate-limit, --daily-cap-amount, --daily-cap-count (tambah merchant show prints the settings)"
                    .into());
            }
            update(db, account, changes).await
        }
        MerchantCommand::Show { account } => show(db, account).await,
    }
}

async fn create(db: &DbArgs, spec: MerchantSpec, json: bool) -> Result<(), String> {
    let c = with_engine(db, |e| async move { e.create_merchant(&spec).await.map_err(|e| e.to_string()) }).await?;
    if json {
        println!("{}", created_json(&c));
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

/// `merchant create --json`: the new merchant with its one-time credentials.
fn created_json(c: &CreatedMerchant) -> serde_json::Value {
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
}

async fn update(db: &DbArgs, account: String, changes: MerchantChanges) -> Result<(), String> {
    let shown = with_engine(db, |e| async move {
        let m = e.update_merchant(&account, &changes).await.map_err(|e| e.to_string())?;
        merchant_json(&e, &m).await
    })
    .await?;
    println!("{shown}");
    Ok(())
}

async fn show(db: &DbArgs, account: String) -> Result<(), String> {
    let shown = with_engine(db, |e| async move {
        let m = e.merchant_by_account(&account).await.map_err(|e| e.to_string())?;
        merchant_json(&e, &m).await
    })
    .await?;
    println!("{shown}");
    Ok(())
}

/// A merchant's settings and balance, as `update` and `show` print them.
async fn merchant_json(engine: &Engine, m: &MerchantRow) -> Result<serde_json::Value, String> {
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
        "rate_limit_per_s": m.rate_limit_per_s,
        "daily_cap_amount": m.caps.amount.map(|a| a.to_cents()),
        "daily_cap_count": m.caps.count,
        "balance": balance.to_cents(),
    }))
}
