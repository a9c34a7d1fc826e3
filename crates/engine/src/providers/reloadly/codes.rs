//! The Reloadly code tables: what each `errorCode` of an error body and each
//! transaction `status` means for our order. Only codes Reloadly documents as
//! raised before anything is attempted may end an order (declined) or send it
//! elsewhere (unavailable); the codes seen on the wire but undocumented, and
//! the ones whose "was anything sent?" is unknown, stay out of the table and so
//! are unknown: the order waits for a query, never fails on a guess.
//! Sources: Reloadly's error-code page
//! (https://raphaelugwu.gitbook.io/airtime/airtime-errors/error-codes) and its
//! status post (https://www.reloadly.com/blog/how-does-the-get-top-up-status-endpoint-work/).

use tambah_domain::StatusCode;

use super::super::meaning::{refuse_unless, split_key};
pub use super::super::meaning::{Codes, Meaning};

/// (`errorCode`, meaning), the whole table of error bodies.
pub const ERRORS: &[(&str, Meaning)] = &[
    ("INVALID_CREDENTIALS", Meaning::Auth),
    ("INVALID_AUDIENCE", Meaning::Auth),
    ("INVALID_TOKEN", Meaning::Auth),
    ("TOKEN_EXPIRED", Meaning::Auth),
    ("MISSING_TOKEN", Meaning::Auth),
    // About the customer's number: final, and the same at any provider.
    ("INVALID_RECIPIENT_PHONE", Meaning::Declined(StatusCode::INVALID_ACCOUNT)),
    ("INVALID_PHONE_NUMBER", Meaning::Declined(StatusCode::INVALID_ACCOUNT)),
    // The same number was topped up under two minutes ago.
    ("PHONE_RECENTLY_RECHARGED", Meaning::Declined(StatusCode::DUPLICATE)),
    // About this route, not the customer: our catalogue accepted the amount,
    // so another provider may take it.
    ("INVALID_SENDER_PHONE", Meaning::Unavailable),
    ("INVALID_AMOUNT", Meaning::Unavailable),
    ("INVALID_AMOUNT_FOR_OPERATOR", Meaning::Unavailable),
    ("INVALID_INPUT_PROVIDED", Meaning::Unavailable),
    ("COUNTRY_NOT_SUPPORTED", Meaning::Unavailable),
    ("COULD_NOT_AUTO_DETECT_OPERATOR", Meaning::Unavailable),
    ("OPERATOR_UNAVAILABLE_OR_CURRENTLY_INACTIVE", Meaning::Unavailable),
    ("OPERATOR_NOT_IN_SERVICE", Meaning::Unavailable),
    ("INSUFFICIENT_BALANCE", Meaning::Unavailable),
    ("MAX_DAILY_TRANSACTION_AMOUNT_REACHED", Meaning::Unavailable),
    ("MAX_DAILY_TRANSACTION_COUNT_REACHED", Meaning::Unavailable),
    ("INACTIVE_ACCOUNT", Meaning::Unavailable),
    ("ACCOUNT_NOT_FOUND", Meaning::Unavailable),
    ("CUSTOM_IDENTIFIER_ALREADY_USED", Meaning::Duplicate),
    // Documented without saying whether anything was recorded: unknown.
    ("TRANSACTION_CANNOT_BE_PROCESSED_AT_THE_MOMENT", Meaning::Pending),
    ("TOPUP_TRANSACTION_FAILED", Meaning::Pending),
];

/// (transaction `status`, meaning). `FAILED` ("funds are not debited") and
/// `REFUNDED` ("not processed", any debit refunded) took nothing.
pub const STATUSES: &[(&str, Meaning)] = &[
    ("PROCESSING", Meaning::Pending),
    ("SUCCESSFUL", Meaning::Delivered),
    ("FAILED", Meaning::Unavailable),
    ("REFUNDED", Meaning::Unavailable),
];

fn find(table: &[(&str, Meaning)], code: &str) -> Meaning {
    table.iter().find(|(c, _)| *c == code).map_or(Meaning::Unknown, |(_, m)| *m)
}

/// The shipped tables as keys (`error:CODE`, `status:STATUS`) and meanings.
pub fn shipped() -> Vec<(String, Meaning)> {
    let errors = ERRORS.iter().map(|(c, m)| (format!("error:{c}"), *m));
    errors.chain(STATUSES.iter().map(|(s, m)| (format!("status:{s}"), *m))).collect()
}

/// Whether the operator may set a key to a meaning: an `errorCode` can mean
/// anything but a delivery or a reversal; a transaction status only
/// pending, delivered, unavailable (nothing debited) or unknown.
pub fn check(key: &str, meaning: Meaning) -> Result<(), String> {
    match split_key(key, &["error", "status"])?.0 {
        "error" => refuse_unless(!matches!(meaning, Meaning::Delivered | Meaning::Reversed), "Reloadly error", meaning),
        _ => refuse_unless(
            matches!(meaning, Meaning::Pending | Meaning::Delivered | Meaning::Unavailable | Meaning::Unknown),
            "Reloadly status",
            meaning,
        ),
    }
}

/// The shipped tables with the operator's changes.
#[derive(Clone, Debug, Default)]
pub struct Table {
    changes: Codes,
}

impl Table {
    pub fn new(changes: Codes) -> Table {
        Table { changes }
    }

    pub fn error_meaning(&self, code: &str) -> Meaning {
        self.changes.changed(&format!("error:{code}")).unwrap_or_else(|| find(ERRORS, code))
    }

    pub fn status_meaning(&self, status: &str) -> Meaning {
        self.changes.changed(&format!("status:{status}")).unwrap_or_else(|| find(STATUSES, status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_meaning(code: &str) -> Meaning {
        Table::default().error_meaning(code)
    }

    fn status_meaning(status: &str) -> Meaning {
        Table::default().status_meaning(status)
    }

    #[test]
    fn the_operators_changes_come_before_the_shipped_tables() {
        let mut changes = Codes::default();
        changes.set("error:PHONE_BANNED_BY_OPERATOR", Some(Meaning::Declined(StatusCode::BARRED)));
        changes.set("status:FAILED", Some(Meaning::Pending));
        let table = Table::new(changes);
        assert_eq!(table.error_meaning("PHONE_BANNED_BY_OPERATOR"), Meaning::Declined(StatusCode::BARRED));
        assert_eq!(table.status_meaning("FAILED"), Meaning::Pending);
        assert_eq!(table.status_meaning("SUCCESSFUL"), Meaning::Delivered);
        assert_eq!(table.error_meaning("NEVER_SEEN"), Meaning::Unknown);
        assert!(check("error:NEW_ONE", Meaning::Unavailable).is_ok());
        assert!(check("error:NEW_ONE", Meaning::Delivered).is_err());
        assert!(check("status:SUCCESSFUL", Meaning::Declined(StatusCode::BARRED)).is_err());
        assert!(check("state:SUCCESSFUL", Meaning::Delivered).is_err());
        assert!(check("error:", Meaning::Unavailable).is_err());
        assert!(check("error:TWO WORDS", Meaning::Unavailable).is_err());
    }

    #[test]
    fn unlisted_codes_and_statuses_are_unknown() {
        assert_eq!(error_meaning("PHONE_BANNED_BY_OPERATOR"), Meaning::Unknown);
        assert_eq!(error_meaning(""), Meaning::Unknown);
        assert_eq!(status_meaning("successful"), Meaning::Unknown);
        assert_eq!(status_meaning("SUCCESSFUL"), Meaning::Delivered);
        assert_eq!(error_meaning("CUSTOM_IDENTIFIER_ALREADY_USED"), Meaning::Duplicate);
    }

    #[test]
    fn no_code_is_listed_twice() {
        for table in [ERRORS, STATUSES] {
            let mut codes: Vec<&str> = table.iter().map(|(c, _)| *c).collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), table.len());
        }
    }
}
