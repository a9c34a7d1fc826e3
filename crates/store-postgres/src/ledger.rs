//! The ledger on PostgreSQL: system accounts, balances outside the writer, and `verify`.

use tambah_domain::{AccountId, Amount, Environment};
use tambah_store::{BoxFuture, Check, LedgerStore, Result, StoreError, SystemAccounts};

use crate::{verify, PgStore};

impl LedgerStore for PgStore {
    fn system_accounts(&self, environment: Environment) -> BoxFuture<'_, Result<SystemAccounts>> {
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT kind, id FROM ledger_accounts WHERE environment = $1 AND kind <> 'wallet'",
                    &[&environment.as_str()],
                )
                .await?;
            let id = |kind: &str| {
                rows.iter()
                    .find(|r| r.get::<_, &str>(0) == kind)
                    .map(|r| AccountId::new(r.get(1)))
                    .ok_or_else(|| StoreError::Other(format!("system account {kind} missing")))
            };
            Ok(SystemAccounts { funding: id("funding")?, holds: id("holds")?, revenue: id("revenue")? })
        })
    }

    fn balance(&self, account_id: AccountId) -> BoxFuture<'_, Result<Amount>> {
        Box::pin(async move {
            let row =
                self.query_opt("SELECT balance_minor FROM ledger_accounts WHERE id = $1", &[&account_id.get()]).await?;
            row.map(|r| Amount::from_minor(r.get(0)))
                .ok_or_else(|| StoreError::Other(format!("no ledger account {account_id}")))
        })
    }

    fn verify(&self) -> BoxFuture<'_, Result<Vec<Check>>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            verify::run(&conn.client).await
        })
    }
}
