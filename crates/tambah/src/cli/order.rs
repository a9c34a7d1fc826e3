//! `tambah order`: operator actions on orders: refund a delivered one, list
//! the ones whose outcome is still unknown, and settle one by hand.

use clap::Subcommand;
use serde_json::json;
use tambah_engine::unknowns::{HandResolution, PendingOrder};
use tambah_engine::Engine;
use tambah_store::MerchantRow;

use crate::database::{with_engine, DbArgs};

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
    /// One order with every attempt at sending it upstream, as JSON.
    Show {
        refid: String,
        #[arg(long)]
        account: Option<String>,
    },
    /// Orders still Accepted or Processing after an age (outcomes still unknown).
    Pending {
        /// `30m`, `2h`, `45s` or milliseconds.
        #[arg(long, default_value = "30m")]
        older_than: String,
        #[arg(long)]
        json: bool,
    },
    /// Settle a pending order by hand, with the reason on record.
    Resolve {
        refid: String,
        #[arg(long)]
        account: Option<String>,
        /// The provider delivered it.
        #[arg(long, conflicts_with = "failed")]
        delivered: bool,
        /// Its serial number, as the provider gave it.
        #[arg(long, requires = "delivered")]
        sn: Option<String>,
        /// The provider did not deliver it: the hold is released (48).
        #[arg(long, requires = "reason")]
        failed: bool,
        #[arg(long)]
        reason: Option<String>,
    },
}

pub async fn run(db: &DbArgs, command: OrderCommand) -> Result<(), String> {
    match command {
        OrderCommand::Refund { refid, account, reason } => refund(db, refid, account, reason).await,
        OrderCommand::Pending { older_than, json } => pending(db, &older_than, json).await,
        OrderCommand::Show { refid, account } => show(db, refid, account).await,
        OrderCommand::Resolve { refid, account, delivered, sn, failed, reason } => {
            let resolution = match (delivered, failed) {
                (true, false) => HandResolution::Delivered { sn: sn.unwrap_or_default() },
                (false, true) => HandResolution::Failed { reason: reason.unwrap_or_default() },
                _ => return Err("give --delivered [--sn SN] or --failed --reason TEXT".into()),
            };
            resolve(db, refid, account, resolution).await
        }
    }
}

async fn refund(db: &DbArgs, refid: String, account: Option<String>, reason: String) -> Result<(), String> {
    let order = with_engine(db, |e| async move {
        let m = match account {
            Some(account) => e.merchant_by_account(&account).await.map_err(|e| e.to_string())?,
            None => merchant_of_refid(&e, &refid).await?,
        };
        e.refund(&m, &refid, &reason).await.map_err(|e| e.to_string())
    })
    .await?;
    println!("order {} refunded: status {}, RM {} returned", order.refid, order.status, order.cost.to_cents());
    Ok(())
}

/// The merchant whose order has this refid, when `--account` is left out:
/// refids are unique per merchant only, so several owners is an error
/// naming their accounts.
async fn merchant_of_refid(e: &Engine, refid: &str) -> Result<MerchantRow, String> {
    let mut merchants = e.merchants_with_refid(refid).await.map_err(|e| e.to_string())?;
    match merchants.len() {
        0 => Err(format!("no transaction with refid {refid:?}")),
        1 => Ok(merchants.remove(0)),
        _ => {
            let accounts: Vec<String> = merchants.into_iter().map(|m| m.account).collect();
            Err(format!("refid {refid:?} was used by several merchants ({}): add --account", accounts.join(", ")))
        }
    }
}

/// `30m`, `2h`, `45s`, `1d` or plain milliseconds.
fn duration_ms(text: &str) -> Result<i64, String> {
    let bad = || format!("--older-than {text:?}: use 30m, 2h, 45s, 1d or milliseconds");
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let per = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(per).ok_or_else(bad)
}

fn pending_json(p: &PendingOrder) -> serde_json::Value {
    let o = &p.order;
    json!({"account": p.merchant_account, "refid": o.refid, "trxid": o.id.get(), "product": o.product,
           "target": o.account, "amount": o.amount.to_plain(), "status_code": o.status.code(),
           "provider": o.provider, "created_at_ms": o.created_at_ms,
           "upstream_ref": p.attempt.as_ref().map(|a| a.upstream_ref.clone()),
           "attempt_outcome": p.attempt.as_ref().map(|a| a.outcome.as_str())})
}

async fn pending(db: &DbArgs, older_than: &str, json: bool) -> Result<(), String> {
    let older_than_ms = duration_ms(older_than)?;
    let list =
        with_engine(db, |e| async move { e.pending_orders(older_than_ms).await.map_err(|e| e.to_string()) }).await?;
    if json {
        println!("{}", serde_json::Value::Array(list.iter().map(pending_json).collect()));
        return Ok(());
    }
    println!("{:<8} {:<26} {:<8} {:>6} {:<16} UPSTREAM REF", "ACCOUNT", "REFID", "PRODUCT", "STATUS", "PROVIDER");
    for p in &list {
        let upstream = p.attempt.as_ref().map_or("-", |a| a.upstream_ref.as_str());
        let o = &p.order;
        println!(
            "{:<8} {:<26} {:<8} {:>6} {:<16} {upstream}",
            p.merchant_account, o.refid, o.product, o.status, o.provider
        );
    }
    Ok(())
}

async fn resolve(
    db: &DbArgs,
    refid: String,
    account: Option<String>,
    resolution: HandResolution,
) -> Result<(), String> {
    let order = with_engine(db, |e| async move {
        let m = match account {
            Some(account) => e.merchant_by_account(&account).await.map_err(|e| e.to_string())?,
            None => merchant_of_refid(&e, &refid).await?,
        };
        e.resolve_by_hand(&m, &refid, &resolution).await.map_err(|e| e.to_string())
    })
    .await?;
    println!("order {} resolved: status {}", order.refid, order.status);
    Ok(())
}

async fn show(db: &DbArgs, refid: String, account: Option<String>) -> Result<(), String> {
    let r = refid.clone();
    let found = with_engine(db, |e| async move {
        let m = match account {
            Some(account) => e.merchant_by_account(&account).await.map_err(|e| e.to_string())?,
            None => merchant_of_refid(&e, &r).await?,
        };
        e.order_attempts(&m, &r).await.map_err(|e| e.to_string())
    })
    .await?;
    let (o, attempts) = found.ok_or_else(|| format!("no transaction with refid {refid:?}"))?;
    let attempts: Vec<serde_json::Value> = attempts
        .iter()
        .map(|v| {
            let a = &v.attempt;
            json!({"attempt": a.attempt, "provider": v.provider, "upstream_ref": a.upstream_ref,
                   "upstream_product": a.upstream_product, "sent_at_ms": a.sent_at_ms, "outcome": a.outcome.as_str(),
                   "upstream_code": a.upstream_code, "answer": a.answer_excerpt, "answered_at_ms": a.answered_at_ms,
                   "cost": a.cost.map(|c| c.to_plain())})
        })
        .collect();
    println!(
        "{}",
        json!({"refid": o.refid, "trxid": o.id.get(), "product": o.product, "account": o.account,
               "amount": o.amount.to_plain(), "cost": o.cost.to_plain(), "status_code": o.status.code(),
               "provider": o.provider, "sn": o.sn, "attempts": attempts})
    );
    Ok(())
}
