//! The IIMMPACT status code table: what each upstream code means for our
//! order. IIMMPACT's codes are the contract's own, so most map to
//! themselves; the ones that say the upstream could not take the order at
//! all (out of stock, unavailable, our account there suspended or short of
//! credit) mean "not delivered, nothing charged there" and may go to another
//! route. A code not in the table is unknown: the order waits for a query.

use tambah_domain::StatusCode;

/// What an upstream status code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// Still being worked on: ask again later.
    Pending,
    Delivered,
    /// Refused for good, with our code.
    Declined(StatusCode),
    /// The upstream could not take the order; nothing was charged there.
    Unavailable,
    /// Delivered, then reversed upstream.
    Reversed,
    /// Not in the table: unknown, never a failure.
    Unknown,
}

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

pub fn meaning(code: u16) -> Meaning {
    TABLE.iter().find(|(c, _)| *c == code).map_or(Meaning::Unknown, |(_, m)| *m)
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
}
