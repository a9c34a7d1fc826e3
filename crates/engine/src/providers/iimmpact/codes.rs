//! The IIMMPACT status code table: what each upstream code means for our
//! order. IIMMPACT's codes are the contract's own, so most map to
//! themselves; the ones that say the upstream could not take the order at
//! all (out of stock, unavailable, our account there suspended or short of
//! credit) mean "not delivered, nothing charged there" and may go to another
//! route. A code not in the table is unknown: the order waits for a query.

use tambah_domain::StatusCode;

pub use super::super::meaning::{Codes, Meaning};

/// (upstream code, meaning), the whole table.
pub const TABLE: &[(u16, Meaning)] = &[
    (0, Meaning::Pending),
    (1, Meaning::Pending),
    (20, Meaning::Delivered),
    (40, Meaning::Declined(StatusCode::INVALID_ACCOUNT)),
    (41, Meaning::Unavailable),
    (43, Meaning::Unavailable),
    (44, Meaning::Declined(StatusCode::INVALID_FORMAT)),
    (45, Meaning::Unavailable),
    (47, Meaning::Unavailable),
    (48, Meaning::Declined(StatusCode::REJECTED)),
    (52, Meaning::Declined(StatusCode::BARRED)),
    (53, Meaning::Reversed),
    (54, Meaning::Declined(StatusCode::DUPLICATE)),
    (55, Meaning::Declined(StatusCode::TIMEOUT)),
    (56, Meaning::Declined(StatusCode::BLACKLISTED)),
    (57, Meaning::Declined(StatusCode::ACTIVATED)),
    (58, Meaning::Declined(StatusCode::INVALID_DENOMINATION)),
    (61, Meaning::Declined(StatusCode::INVALID_AMOUNT)),
];

/// The meaning of a code in the shipped table alone.
pub fn meaning(code: u16) -> Meaning {
    TABLE.iter().find(|(c, _)| *c == code).map_or(Meaning::Unknown, |(_, m)| *m)
}

/// The shipped table as keys (the code's digits) and meanings.
pub fn shipped() -> Vec<(String, Meaning)> {
    TABLE.iter().map(|(c, m)| (c.to_string(), *m)).collect()
}

/// Whether the operator may set a key to a meaning: a key is a status code
/// (digits), and an IIMMPACT answer can mean anything but a refusal of our
/// credentials (a 401, read apart) or a duplicate reference (a 409, which
/// always waits).
pub fn check(key: &str, meaning: Meaning) -> Result<(), String> {
    if key.is_empty() || key.len() > 3 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("key {key:?}: an IIMMPACT status code, e.g. 42"));
    }
    if matches!(meaning, Meaning::Auth | Meaning::Duplicate) {
        return Err(format!("an IIMMPACT status code cannot mean {}", meaning.text()));
    }
    Ok(())
}

/// The shipped table with the operator's changes.
#[derive(Clone, Debug, Default)]
pub struct Table {
    changes: Codes,
}

impl Table {
    pub fn new(changes: Codes) -> Table {
        Table { changes }
    }

    pub fn meaning(&self, code: u16) -> Meaning {
        self.changes.changed(&code.to_string()).unwrap_or_else(|| meaning(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_code_has_a_meaning_and_others_are_unknown() {
        for code in StatusCode::ALL {
            assert_ne!(meaning(u16::from(code.code())), Meaning::Unknown, "code {code}");
        }
        assert_eq!(meaning(99), Meaning::Unknown);
        assert_eq!(meaning(42), Meaning::Unknown);
    }

    #[test]
    fn the_operators_changes_come_before_the_shipped_table() {
        let mut changes = Codes::default();
        changes.set("42", Some(Meaning::Unavailable));
        changes.set("48", Some(Meaning::Pending));
        let table = Table::new(changes);
        assert_eq!(table.meaning(42), Meaning::Unavailable);
        assert_eq!(table.meaning(48), Meaning::Pending);
        assert_eq!(table.meaning(20), Meaning::Delivered);
        assert_eq!(table.meaning(99), Meaning::Unknown);
        assert!(check("42", Meaning::Unavailable).is_ok());
        assert!(check("x42", Meaning::Unavailable).is_err());
        assert!(check("4200", Meaning::Unavailable).is_err());
        assert!(check("42", Meaning::Duplicate).is_err());
    }
}
