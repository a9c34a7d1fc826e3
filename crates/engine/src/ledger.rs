//! Money movements inside one writer batch. Balances of the accounts a batch
//! touches are read (and locked) once at its start, kept here, checked by every
//! command, and written back once at the end: a hot wallet is updated once per
//! batch, not once per order. A command's movements are staged and merged only
//! when the command succeeds, so a failing command leaves no trace.

use std::collections::HashMap;

use tambah_domain::{AccountId, Amount, Environment, TransferId};
use tambah_store::{CallbackKind, NewCallback, NewTransfer, StoreError, SystemAccounts, Writer};

#[derive(Debug)]
pub(crate) enum LedgerError {
    /// The debit would take a non-funding account below zero.
    Insufficient,
    Store(StoreError),
}

impl LedgerError {
    /// For callers that have checked the balance first: running short here
    /// is a broken invariant, reported as a constraint failure.
    pub(crate) fn into_store(self, what: &str) -> StoreError {
        match self {
            LedgerError::Store(e) => e,
            LedgerError::Insufficient => StoreError::Constraint(format!("{what}: an account would go below zero")),
        }
    }
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::Store(e)
    }
}

pub(crate) struct BatchLedger {
    balances: HashMap<AccountId, Amount>,
    /// Accounts that may go below zero (the funding accounts).
    overdraft: Vec<AccountId>,
    /// Signed changes of the command being applied.
    staged: Vec<(AccountId, Amount)>,
    dirty: Vec<AccountId>,
    systems: HashMap<Environment, SystemAccounts>,
}

impl BatchLedger {
    /// Locks `accounts` (plus every system account) and loads their balances.
    pub(crate) fn open(
        w: &mut dyn Writer,
        systems: &HashMap<Environment, SystemAccounts>,
        accounts: impl IntoIterator<Item = AccountId>,
    ) -> Result<BatchLedger, StoreError> {
        let mut ids: Vec<AccountId> = accounts.into_iter().collect();
        for s in systems.values() {
            ids.extend([s.funding, s.holds, s.revenue]);
        }
        ids.sort_unstable();
        ids.dedup();
        let balances = w.lock_balances(&ids)?.into_iter().collect();
        Ok(BatchLedger {
            balances,
            overdraft: systems.values().map(|s| s.funding).collect(),
            staged: Vec::new(),
            dirty: Vec::new(),
            systems: systems.clone(),
        })
    }

    pub(crate) fn system(&self, environment: Environment) -> SystemAccounts {
        self.systems[&environment]
    }

    /// The balance as this command sees it: batch state plus its own staged moves.
    pub(crate) fn balance(&self, account: AccountId) -> Amount {
        let base = *self.balances.get(&account).expect("account was locked at batch start");
        self.staged.iter().filter(|(a, _)| *a == account).fold(base, |sum, (_, delta)| add(sum, *delta))
    }

    /// Checks a transfer against the balances, stages its effect, and
    /// records on it the balance of its wallet after it; the caller writes
    /// it (alone, or together with its order).
    pub(crate) fn stage(&mut self, t: &mut NewTransfer) -> Result<(), LedgerError> {
        assert!(t.amount > Amount::ZERO, "transfers move a positive amount");
        assert_ne!(t.debit_account, t.credit_account);
        let after = self.balance(t.debit_account).checked_sub(t.amount).expect("balances stay far inside i64");
        if after < Amount::ZERO && !self.overdraft.contains(&t.debit_account) {
            return Err(LedgerError::Insufficient);
        }
        let debit = Amount::ZERO.checked_sub(t.amount).expect("a transfer's amount is bounded");
        self.staged.push((t.debit_account, debit));
        self.staged.push((t.credit_account, t.amount));
        t.wallet_balance_after = t.wallet_account().map(|wallet| self.balance(wallet));
        Ok(())
    }

    /// Records one transfer and stages its effect on both balances.
    pub(crate) fn transfer(&mut self, w: &mut dyn Writer, t: &NewTransfer) -> Result<TransferId, LedgerError> {
        let mut t = t.clone();
        self.stage(&mut t)?;
        Ok(w.insert_transfer(&t)?)
    }

    /// The command succeeded: its movements become part of the batch.
    pub(crate) fn keep_command(&mut self) {
        for (account, delta) in self.staged.drain(..) {
            let balance = self.balances.get_mut(&account).expect("locked");
            *balance = add(*balance, delta);
            if !self.dirty.contains(&account) {
                self.dirty.push(account);
            }
        }
    }

    /// The command failed: forget its movements.
    pub(crate) fn drop_command(&mut self) {
        self.staged.clear();
    }

    /// Writes every changed balance once, and queues a low-balance notice
    /// for each wallet that went below its merchant's threshold (once per
    /// crossing: the mark clears when the balance is back at or above it).
    /// Returns the balances written.
    pub(crate) fn flush(&mut self, w: &mut dyn Writer, now_ms: i64) -> Result<Vec<(AccountId, Amount)>, StoreError> {
        debug_assert!(self.staged.is_empty());
        self.dirty.sort_unstable();
        for watch in w.low_balance_watch(&self.dirty)? {
            let balance = self.balances[&watch.wallet_id];
            let below = balance < watch.threshold;
            if below && !watch.notified {
                w.insert_callback(&NewCallback {
                    merchant_id: watch.merchant_id,
                    kind: CallbackKind::LowBalance,
                    order_id: None,
                    status: None,
                    balance,
                    created_at_ms: now_ms,
                })?;
                w.set_low_balance_notified(watch.merchant_id, true)?;
            } else if !below && watch.notified {
                w.set_low_balance_notified(watch.merchant_id, false)?;
            }
        }
        let mut written = Vec::with_capacity(self.dirty.len());
        for account in self.dirty.drain(..) {
            let balance = self.balances[&account];
            w.set_balance(account, balance)?;
            written.push((account, balance));
        }
        Ok(written)
    }
}

/// Adds a signed change to a balance. Balances and amounts are bounded far
/// inside `i64` (`money::MAX_MINOR` per amount), so an overflow is a broken
/// invariant.
fn add(balance: Amount, delta: Amount) -> Amount {
    balance.checked_add(delta).expect("balances stay far inside i64")
}
