//! The ledger on SQLite: system accounts, balances outside the writer, and
//! `verify` (its rules are in `verify.rs`).

use rusqlite::{params, Connection};
use tambah_domain::{AccountId, Amount, Environment};
use tambah_store::{ready, BoxFuture, Check, LedgerStore, Result, SystemAccounts};

use crate::{verify, SqliteStore};

/// One account's balance (the writer locks balances with the same statement).
pub(crate) const BALANCE: &str = "SELECT balance_minor FROM ledger_accounts WHERE id = ?1";

pub(crate) fn balance_of(conn: &Connection, account_id: AccountId) -> rusqlite::Result<Amount> {
    conn.prepare_cached(BALANCE)?.query_row([account_id.get()], |r| r.get(0).map(Amount::from_minor))
}

impl LedgerStore for SqliteStore {
    fn system_accounts(&self, environment: Environment) -> BoxFuture<'_, Result<SystemAccounts>> {
        ready(self.read(|c| {
            let id = |kind: &str| -> rusqlite::Result<AccountId> {
                c.query_row(
                    "SELECT id FROM ledger_accounts WHERE environment = ?1 AND kind = ?2",
                    params![environment.as_str(), kind],
                    |r| r.get(0).map(AccountId::new),
                )
            };
            Ok(SystemAccounts { funding: id("funding")?, holds: id("holds")?, revenue: id("revenue")? })
        }))
    }

    fn balance(&self, account_id: AccountId) -> BoxFuture<'_, Result<Amount>> {
        ready(self.read(|c| balance_of(c, account_id)))
    }

    fn verify(&self) -> BoxFuture<'_, Result<Vec<Check>>> {
        ready(self.read(verify::run))
    }
}
