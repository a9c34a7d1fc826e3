//! The hash chain of a wallet's statement. Every movement of a merchant
//! wallet (a deposit, an order's hold, its release, a refund) is an entry
//! with a sequence number from 1, and
//!
//! ```text
//! hash(n) = SHA-256( hash(n-1) ‖ "seq|at_ms|kind|amount|balance|refid" )
//! ```
//!
//! where `hash(0)` is 32 zero bytes, `‖` joins bytes, and the text is ASCII:
//! the entry's number, its time in milliseconds since the Unix epoch, its
//! ledger kind (`DEPOSIT`, `HOLD`, `VOID`, `REFUND`), the signed change of the
//! wallet and its balance right after it in minor units (RM × 10,000), and
//! the order's refid (empty for a deposit), joined by `|`. A merchant who
//! kept the hash of entry n can check that nothing up to it was changed,
//! removed, added or reordered since (docs/ledger.md has the algorithm).

use sha2::{Digest, Sha256};

/// The hash before a wallet's first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// Where a wallet's chain stands: how many entries, and the last one's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl Head {
    /// A wallet with no entries yet.
    pub const EMPTY: Head = Head { seq: 0, hash: GENESIS };

    /// A head as a database stores it. A hash that is not 32 bytes (a
    /// broken row) reads as all ones, which no entry hashes to: `verify`
    /// then names it.
    pub fn stored(seq: i64, hash: Vec<u8>) -> Head {
        Head { seq: u64::try_from(seq).unwrap_or(u64::MAX), hash: hash.try_into().unwrap_or([0xff; 32]) }
    }
}

/// The fields of one entry that its hash covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub seq: u64,
    pub at_ms: i64,
    /// The ledger kind: `DEPOSIT`, `HOLD`, `VOID` or `REFUND`.
    pub kind: &'a str,
    /// Signed: what the wallet gained (+) or lost (−), in minor units.
    pub amount_minor: i64,
    pub balance_minor: i64,
    /// The order's refid; empty for a deposit.
    pub refid: &'a str,
}

impl Entry<'_> {
    /// The bytes hashed after the previous hash.
    pub fn canonical(&self) -> String {
        format!("{}|{}|{}|{}|{}|{}", self.seq, self.at_ms, self.kind, self.amount_minor, self.balance_minor, self.refid)
    }

    /// This entry's hash after `previous`.
    pub fn hash(&self, previous: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(previous);
        h.update(self.canonical().as_bytes());
        h.finalize().into()
    }

    /// The head after this entry, which must come right after `previous`.
    pub fn append_to(&self, previous: &Head) -> Head {
        debug_assert_eq!(self.seq, previous.seq + 1);
        Head { seq: self.seq, hash: self.hash(&previous.hash) }
    }
}

/// Lowercase hexadecimal, as hashes are shown and stored.
pub fn to_hex(hash: &[u8; 32]) -> String {
    use std::fmt::Write;
    hash.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A hash from 64 hexadecimal digits (either case).
pub fn from_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first entry of a chain, computed independently with
    /// `printf '1|1700000000000|DEPOSIT|1000000|1000000|' | cat <(head -c 32 /dev/zero) - | sha256sum`.
    #[test]
    fn the_first_entry_hashes_as_documented() {
        let e = Entry {
            seq: 1,
            at_ms: 1_700_000_000_000,
            kind: "DEPOSIT",
            amount_minor: 1_000_000,
            balance_minor: 1_000_000,
            refid: "",
        };
        assert_eq!(e.canonical(), "1|1700000000000|DEPOSIT|1000000|1000000|");
        assert_eq!(to_hex(&e.hash(&GENESIS)), EXPECTED_FIRST);
    }

    const EXPECTED_FIRST: &str = "3df085ae9750a0824d0da49315d9d40f98a63599cb67a9035f8ada849aaf2b8f";

    #[test]
    fn hex_round_trips_and_rejects_bad_text() {
        let h = Entry { seq: 2, at_ms: 5, kind: "HOLD", amount_minor: -97_000, balance_minor: 3, refid: "a-1" }
            .hash(&GENESIS);
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex(&to_hex(&h).to_uppercase()), Some(h));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }
}
