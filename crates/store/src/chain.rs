//! The wallets' statement chains as stored (`tambah_domain::chain` has the
//! rule): each wallet entry's number and hash on its transfer row, each
//! wallet's head on its account row. Shared by both backends: the one-time
//! chaining of entries written before the chains existed, and `verify`'s
//! recomputation of every chain.

use std::collections::HashMap;

use tambah_domain::chain::{to_hex, Entry, Head};
use tambah_domain::{AccountId, Amount, TransferId};

use crate::{Check, TransferKind};

/// One wallet entry as read back, in its wallet's order.
#[derive(Clone, Debug)]
pub struct ChainRow {
    pub transfer_id: TransferId,
    pub wallet: AccountId,
    /// The stored number and hash (`None` before the entry was chained).
    pub seq: Option<i64>,
    pub hash: Option<Vec<u8>>,
    pub at_ms: i64,
    pub kind: TransferKind,
    /// The transfer's (positive) amount.
    pub amount: Amount,
    pub balance_after: Amount,
    /// The order's refid; empty for a deposit.
    pub refid: String,
}

impl ChainRow {
    /// The wallet's signed change.
    pub fn signed_minor(&self) -> i64 {
        if self.kind == TransferKind::Hold {
            -self.amount.minor()
        } else {
            self.amount.minor()
        }
    }

    fn entry(&self, seq: u64) -> Entry<'_> {
        Entry {
            seq,
            at_ms: self.at_ms,
            kind: self.kind.as_str(),
            amount_minor: self.signed_minor(),
            balance_minor: self.balance_after.minor(),
            refid: &self.refid,
        }
    }
}

/// Each wallet's chain head with its last entry's time.
pub type Heads = HashMap<AccountId, (Head, i64)>;

/// Chains entries written before the chains existed: `rows` in each wallet's
/// order (by transfer id), answered with each entry's number and hash, and
/// each wallet's head.
pub fn chain_unchained(rows: &[ChainRow]) -> (Vec<(TransferId, Head)>, Heads) {
    let mut heads: HashMap<AccountId, (Head, i64)> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (head, at) = heads.entry(row.wallet).or_insert((Head::EMPTY, 0));
        let next = row.entry(head.seq + 1).append_to(head);
        (*head, *at) = (next, row.at_ms);
        out.push((row.transfer_id, next));
    }
    (out, heads)
}

/// `verify`'s recomputation of every chain, fed each wallet's entries in
/// order of their stored numbers, then the heads the accounts record.
#[derive(Default)]
pub struct ChainCheck {
    examined: u64,
    violations: Vec<String>,
    /// Where each wallet's recomputed chain stands.
    chains: HashMap<AccountId, Head>,
}

impl ChainCheck {
    pub const NAME: &'static str = "every wallet's statement chain recomputes, entry by entry, to its recorded head";

    /// The next stored entry of its wallet.
    pub fn entry(&mut self, row: &ChainRow) {
        self.examined += 1;
        let head = self.chains.entry(row.wallet).or_insert(Head::EMPTY);
        let expected = head.seq + 1;
        let name = format!("wallet {} entry {} (transfer {})", row.wallet, row.seq.unwrap_or(0), row.transfer_id);
        let Some(seq) = row.seq.and_then(|s| u64::try_from(s).ok()) else {
            self.violations.push(format!("wallet {} transfer {} has no chain entry", row.wallet, row.transfer_id));
            return;
        };
        if seq < expected {
            self.violations.push(format!("{name}: number {seq} appears again after entry {}", head.seq));
        } else if seq > expected {
            let missing = if seq == expected + 1 {
                format!("entry {expected} is")
            } else {
                format!("entries {expected}-{} are", seq - 1)
            };
            self.violations.push(format!("{name}: {missing} missing"));
        }
        // Recomputed on what is there, after the recomputed entry before it.
        let recomputed = Head { seq, hash: row.entry(seq).hash(&head.hash) };
        let stored = row.hash.as_deref().and_then(|h| <[u8; 32]>::try_from(h).ok());
        if stored != Some(recomputed.hash) && seq == expected {
            self.violations.push(format!(
                "{name}: its hash does not match its fields after entry {}: stored {}, recomputed {}",
                head.seq,
                stored.map_or("none".to_owned(), |h| to_hex(&h)),
                to_hex(&recomputed.hash)
            ));
        }
        // Continue from the stored hash, so that one edited entry is named
        // once and the entries after it are checked against what they hold.
        *head = Head { seq, hash: stored.unwrap_or(recomputed.hash) };
    }

    /// A wallet's recorded head; after every entry was fed.
    pub fn head(&mut self, wallet: AccountId, recorded: Head) {
        let chain = self.chains.get(&wallet).copied().unwrap_or(Head::EMPTY);
        if chain != recorded {
            self.violations.push(format!(
                "wallet {wallet} records head {} at entry {}, its entries end at entry {} with {}",
                to_hex(&recorded.hash),
                recorded.seq,
                chain.seq,
                to_hex(&chain.hash)
            ));
        }
    }

    pub fn finish(self) -> Check {
        let rule = crate::VerifyRule { name: Self::NAME, examined: "", violations: "" };
        Check::from_rule(&rule, self.examined, self.violations)
    }
}
