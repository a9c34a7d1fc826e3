//! The ledger as stored: transfers between accounts, the system accounts of
//! each environment, and the invariant checks of `verify`.

use tambah_domain::chain::Head;
use tambah_domain::{AccountId, Amount, Environment, OrderId, TransferId};

use crate::{BoxFuture, Result};

/// The kinds of ledger transfer. Each moves `amount` from `debit` to `credit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferKind {
    /// funding → wallet
    Deposit,
    /// wallet → holds (pending)
    Hold,
    /// holds → revenue (resolves a hold)
    Post,
    /// holds → wallet (resolves a hold)
    Void,
    /// revenue → wallet (reverses a posted order)
    Refund,
}

impl TransferKind {
    pub fn parse(text: &str) -> Option<TransferKind> {
        [TransferKind::Deposit, TransferKind::Hold, TransferKind::Post, TransferKind::Void, TransferKind::Refund]
            .into_iter()
            .find(|k| k.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Deposit => "DEPOSIT",
            TransferKind::Hold => "HOLD",
            TransferKind::Post => "POST",
            TransferKind::Void => "VOID",
            TransferKind::Refund => "REFUND",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTransfer {
    pub kind: TransferKind,
    pub debit_account: AccountId,
    pub credit_account: AccountId,
    pub amount: Amount,
    pub order_id: Option<OrderId>,
    /// For POST and VOID: the HOLD transfer being resolved.
    pub pending_id: Option<TransferId>,
    pub remarks: String,
    pub created_at_ms: i64,
    /// The balance of the merchant wallet this transfer moves, right after
    /// it (`None` for POST, which moves no wallet). Set by the writer's
    /// ledger; statements read it.
    pub wallet_balance_after: Option<Amount>,
    /// The wallet's statement chain right after this transfer: the entry's
    /// number and hash (`None` for a POST). Set by the writer's ledger.
    pub chain: Option<Head>,
}

impl NewTransfer {
    /// The merchant wallet a transfer moves: the debit of a HOLD, the credit
    /// of a DEPOSIT, VOID or REFUND, none for a POST.
    pub fn wallet_account(&self) -> Option<AccountId> {
        match self.kind {
            TransferKind::Hold => Some(self.debit_account),
            TransferKind::Post => None,
            TransferKind::Deposit | TransferKind::Void | TransferKind::Refund => Some(self.credit_account),
        }
    }
}

/// A ledger account as the writer locks it: its balance and where its
/// statement chain stands (the chain of a system account stays empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountState {
    pub balance: Amount,
    pub head: Head,
    /// The time of the chain's last entry: a wallet's entries are dated in
    /// the order of their numbers (the writer never dates one earlier).
    pub head_at_ms: i64,
}

impl AccountState {
    /// An account with this balance and no chain entries.
    pub fn unchained(balance: Amount) -> AccountState {
        AccountState { balance, head: Head::EMPTY, head_at_ms: 0 }
    }
}

/// The ledger accounts of one environment that are not merchant wallets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemAccounts {
    /// Where deposits come from; the only account allowed below zero.
    pub funding: AccountId,
    /// Money held for accepted orders.
    pub holds: AccountId,
    /// Money of delivered orders.
    pub revenue: AccountId,
}

/// The transfers written together with a new order: its HOLD and, when the
/// outcome is already known, the POST or VOID resolving it. The store fills
/// in `order_id` of both (the new order's id) and the resolution's
/// `pending_id` (the hold's id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderTransfers {
    pub hold: Option<NewTransfer>,
    pub resolution: Option<NewTransfer>,
}

/// What `insert_order_with_transfers` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New {
        order_id: OrderId,
        hold_id: Option<TransferId>,
    },
    /// The merchant already has this refid: nothing was written.
    Exists,
}

/// One check made by `verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    /// Rows examined.
    pub examined: u64,
    /// Human-readable violations (empty when the check holds), the first
    /// [`Check::LIST_MAX`] of them and a line saying how many more.
    pub violations: Vec<String>,
    /// How many violations were found in all.
    pub found: usize,
}

impl Check {
    /// How many violations of one check are listed (all are counted).
    pub const LIST_MAX: usize = 20;

    /// A check from its rule, the rows examined, and the violations in order
    /// (only the first [`Check::LIST_MAX`] are kept; the rest are counted).
    pub fn from_rule(rule: &VerifyRule, examined: u64, violations: impl IntoIterator<Item = String>) -> Check {
        let mut listed = Vec::new();
        let mut count = 0usize;
        for v in violations {
            count += 1;
            if listed.len() < Self::LIST_MAX {
                listed.push(v);
            }
        }
        if count > Self::LIST_MAX {
            listed.push(format!("... and {} more", count - Self::LIST_MAX));
        }
        Check { name: rule.name.to_owned(), examined, violations: listed, found: count }
    }
}

/// One ledger invariant as two queries in a backend's dialect: how many rows
/// it examines, and one text column per row that breaks it.
pub struct VerifyRule {
    pub name: &'static str,
    pub examined: &'static str,
    pub violations: &'static str,
}

/// Balances outside the writer, and the ledger's invariant checks.
pub trait LedgerStore {
    fn system_accounts(&self, environment: Environment) -> BoxFuture<'_, Result<SystemAccounts>>;
    fn balance(&self, account_id: AccountId) -> BoxFuture<'_, Result<Amount>>;
    /// Checks every ledger invariant; see ARCHITECTURE.md.
    fn verify(&self) -> BoxFuture<'_, Result<Vec<Check>>>;
}
