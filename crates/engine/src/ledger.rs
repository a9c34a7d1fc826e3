//! Money movements inside one writer batch. Balances of the accounts a batch
//! touches are read (and locked) once at its start, kept here, checked by every
//! command, and written back once at the end: a hot wallet is updated once per
//! batch, not once per order. A command's movements are staged and merged only
//! when the command succeeds, so a failing command leaves no trace.

use std::collections::HashMap;

use tambah_domain::chain::{Entry, Head};
use tambah_domain::{AccountId, Amount, Environment, TransferId};
use tambah_store::{AccountState, CallbackKind, NewCallback, NewTransfer, StoreError, SystemAccounts, Writer};

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

/// A wallet's last entry dated this far ahead of the clock is worth a
/// warning: a node's clock is ahead, and later entries take its date.
const CLOCK_AHEAD_WARN_MS: i64 = 5_000;

pub(crate) struct BatchLedger {
    /// Balances and chain heads as the batch's kept commands left them.
    accounts: HashMap<AccountId, AccountState>,
    /// Accounts that may go below zero (the funding accounts).
    overdraft: Vec<AccountId>,
    /// Signed changes of the command being applied.
    staged: Vec<(AccountId, Amount)>,
    /// Wallet chain entries of the command being applied: the head after
    /// each, with its time.
    staged_heads: Vec<(AccountId, Head, i64)>,
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
        let accounts = w.lock_balances(&ids)?.into_iter().collect();
        Ok(BatchLedger {
            accounts,
            overdraft: systems.values().map(|s| s.funding).collect(),
            staged: Vec::new(),
            staged_heads: Vec::new(),
            dirty: Vec::new(),
            systems: systems.clone(),
        })
    }

    pub(crate) fn system(&self, environment: Environment) -> SystemAccounts {
        self.systems[&environment]
    }

    /// The balance as this command sees it: batch state plus its own staged moves.
    pub(crate) fn balance(&self, account: AccountId) -> Amount {
        let base = self.accounts.get(&account).expect("account was locked at batch start").balance;
        self.staged.iter().filter(|(a, _)| *a == account).fold(base, |sum, (_, delta)| add(sum, *delta))
    }

    /// Where a wallet's chain stands as this command sees it, with the time
    /// of its last entry.
    fn head(&self, wallet: AccountId) -> (Head, i64) {
        match self.staged_heads.iter().rev().find(|(a, _, _)| *a == wallet) {
            Some(&(_, head, at_ms)) => (head, at_ms),
            None => {
                let state = self.accounts.get(&wallet).expect("account was locked at batch start");
                (state.head, state.head_at_ms)
            }
        }
    }

    /// Checks a transfer against the balances, stages its effect, and
    /// records on it the balance of its wallet after it and the wallet's
    /// next chain entry (`refid`: the order's, empty for a deposit); the
    /// caller writes it (alone, or together with its order). An entry is
    /// never dated before the wallet's last one, so a wallet's entries are
    /// in the same order by time as by number.
    pub(crate) fn stage(&mut self, t: &mut NewTransfer, refid: &str) -> Result<(), LedgerError> {
        assert!(t.amount > Amount::ZERO, "transfers move a positive amount");
        assert_ne!(t.debit_account, t.credit_account);
        let after = self.balance(t.debit_account).checked_sub(t.amount).expect("balances stay far inside i64");
        if after < Amount::ZERO && !self.overdraft.contains(&t.debit_account) {
            return Err(LedgerError::Insufficient);
        }
        let debit = Amount::ZERO.checked_sub(t.amount).expect("a transfer's amount is bounded");
        self.staged.push((t.debit_account, debit));
        self.staged.push((t.credit_account, t.amount));
        t.wallet_balance_after = None;
        t.chain = None;
        if let Some(wallet) = t.wallet_account() {
            let balance = self.balance(wallet);
            if cfg!(feature = "bench-unchained") {
                // Placeholders where the columns must be set: no hash is
                // computed and no head moves.
                t.wallet_balance_after = Some(balance);
                t.chain = Some(Head::EMPTY);
                return Ok(());
            }
            let (previous, previous_at_ms) = self.head(wallet);
            if previous_at_ms > t.created_at_ms + CLOCK_AHEAD_WARN_MS {
                // Another node (or the CLI's host) dated the wallet's last
                // entry ahead of this clock: this one takes that date.
                tracing::warn!(
                    wallet = %wallet,
                    ahead_ms = previous_at_ms - t.created_at_ms,
                    "a wallet entry is dated after its wallet's last entry, which is ahead of this node's clock"
                );
            }
            t.created_at_ms = t.created_at_ms.max(previous_at_ms);
            let signed = if wallet == t.debit_account { debit } else { t.amount };
            let entry = Entry {
                seq: previous.seq + 1,
                at_ms: t.created_at_ms,
                kind: t.kind.as_str(),
                amount_minor: signed.minor(),
                balance_minor: balance.minor(),
                refid,
            };
            let head = entry.append_to(&previous);
            self.staged_heads.push((wallet, head, t.created_at_ms));
            t.wallet_balance_after = Some(balance);
            t.chain = Some(head);
        }
        Ok(())
    }

    /// Records one transfer and stages its effect on both balances.
    pub(crate) fn transfer(
        &mut self,
        w: &mut dyn Writer,
        t: &NewTransfer,
        refid: &str,
    ) -> Result<TransferId, LedgerError> {
        let mut t = t.clone();
        self.stage(&mut t, refid)?;
        Ok(w.insert_transfer(&t)?)
    }

    /// The command succeeded: its movements become part of the batch.
    pub(crate) fn keep_command(&mut self) {
        for (account, delta) in self.staged.drain(..) {
            let state = self.accounts.get_mut(&account).expect("locked");
            state.balance = add(state.balance, delta);
            if !self.dirty.contains(&account) {
                self.dirty.push(account);
            }
        }
        for (account, head, at_ms) in self.staged_heads.drain(..) {
            let state = self.accounts.get_mut(&account).expect("locked");
            (state.head, state.head_at_ms) = (head, at_ms);
        }
    }

    /// The command failed: forget its movements.
    pub(crate) fn drop_command(&mut self) {
        self.staged.clear();
        self.staged_heads.clear();
    }

    /// Writes every changed balance once, and queues a low-balance notice
    /// for each wallet that went below its merchant's threshold (once per
    /// crossing: the mark clears when the balance is back at or above it).
    /// Returns the balances written.
    pub(crate) fn flush(&mut self, w: &mut dyn Writer, now_ms: i64) -> Result<Vec<(AccountId, Amount)>, StoreError> {
        debug_assert!(self.staged.is_empty() && self.staged_heads.is_empty());
        self.dirty.sort_unstable();
        for watch in w.low_balance_watch(&self.dirty)? {
            let balance = self.accounts[&watch.wallet_id].balance;
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
            let state = self.accounts[&account];
            w.set_balance(account, &state)?;
            written.push((account, state.balance));
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
