//! `tambah order`: operator actions on one order (refund).

use clap::Subcommand;
use tambah_engine::disputes::DisputeError;
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
}

pub async fn run(db: &DbArgs, command: OrderCommand) -> Result<(), String> {
    match command {
        OrderCommand::Refund { refid, account, reason } => refund(db, refid, account, reason).await,
    }
}

async fn refund(db: &DbArgs, refid: String, account: Option<String>, reason: String) -> Result<(), String> {
    let order = with_engine(db, |e| async move {
        let m = match account {
            Some(account) => e.merchant_by_account(&account).await.map_err(|e| e.to_string())?,
            None => merchant_of_refid(&e, &refid).await?,
        };
        e.refund(&m, &refid, &reason).await.map_err(|e| match e {
            DisputeError::NotFound(m) | DisputeError::Failed(m) => m,
            DisputeError::NotRefundable(o) => {
                format!("order {} has status {}: only successful (20) orders can be refunded", o.refid, o.status)
            }
        })
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
