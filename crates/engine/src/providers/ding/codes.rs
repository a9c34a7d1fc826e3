//! The DingConnect code tables: what each `ErrorCodes` entry (`Code`, with
//! its `Context`) and each transfer `ProcessingState` means for our order.
//! Only the codes Ding documents as refused before anything was debited may
//! end an order (declined) or send it elsewhere (unavailable); `OtherError`,
//! and any code or context not listed here, is unknown: the order waits for a
//! query, never fails on a guess. A reference Ding says it already has
//! (`DuplicateTransactionPrevented`) is looked up, never failed.
//! Sources: Ding's API reference (https://www.dingconnect.com/Api/Description,
//! its swagger "Ding API V1") and FAQ (https://www.dingconnect.com/Api/Faq:
//! the result codes and the UAT test numbers).

use tambah_domain::StatusCode;

use super::super::meaning::{refuse_unless, split_key};
pub use super::super::meaning::{Codes, Meaning};

/// (`Code`, `Context` (`None`: any), meaning), the whole table of error
/// codes. A code listed with contexts only is unknown with any other context.
pub const ERRORS: &[(&str, Option<&str>, Meaning)] = &[
    ("AuthenticationFailed", None, Meaning::Auth),
    ("DuplicateTransactionPrevented", None, Meaning::Duplicate),
    // About the customer's number (the provider refused it, or it fails the
    // provider's pattern): final, and the same at any route.
    ("AccountNumberInvalid", None, Meaning::Declined(StatusCode::INVALID_ACCOUNT)),
    // Checked before the provider is contacted (ValidateOnly checks it too).
    ("InsufficientBalance", None, Meaning::Unavailable),
    // Throttling, or a per-number fraud rule Ding does not tell apart from
    // it: refused before anything was attempted.
    ("RateLimited", None, Meaning::Unavailable),
    // "Treated as a failed transaction and the balance will not be deducted."
    ("TransientProviderError", Some("ProviderTimedOut"), Meaning::Unavailable),
    ("TransientProviderError", Some("ProviderRefusedRequest"), Meaning::Unavailable),
    // The provider failed the transfer (ProcessingState Failed: final, and an
    // Instant transfer is debited only after the provider's success).
    ("ProviderError", Some("ProductUnavailable"), Meaning::Unavailable),
    ("ProviderError", Some("ProviderTemporarilyUnavailable"), Meaning::Unavailable),
    // What it means beyond "not for this product or amount" is not
    // documented: another route may take it.
    ("ProviderError", Some("RechargeNotAllowed"), Meaning::Unavailable),
    ("RechargeNotAllowed", None, Meaning::Unavailable),
    // Our request was refused as malformed: nothing was done.
    ("ParameterMissing", None, Meaning::Unavailable),
    ("ParameterInvalid", None, Meaning::Unavailable),
    ("ParameterOutOfRange", None, Meaning::Unavailable),
    ("ParameterCombinationInvalid", None, Meaning::Unavailable),
    ("TooManyParameters", None, Meaning::Unavailable),
    ("RequestInvalid", None, Meaning::Unavailable),
    // Says nothing about whether the transfer happened.
    ("OtherError", None, Meaning::Pending),
];

/// (`ProcessingState`, meaning). `Failed` and `Cancelled` are final and took
/// nothing (a Batch transfer is refunded); what they were about is read from
/// the error codes that come with them.
pub const STATES: &[(&str, Meaning)] = &[
    ("Submitted", Meaning::Pending),
    ("Processing", Meaning::Pending),
    ("Cancelling", Meaning::Pending),
    ("Complete", Meaning::Delivered),
    ("Failed", Meaning::Unavailable),
    ("Cancelled", Meaning::Unavailable),
];

/// The shipped tables as keys (`error:Code`, `error:Code/Context`,
/// `state:ProcessingState`) and meanings.
pub fn shipped() -> Vec<(String, Meaning)> {
    let errors =
        ERRORS.iter().map(|(c, x, m)| (x.map_or_else(|| format!("error:{c}"), |x| format!("error:{c}/{x}")), *m));
    errors.chain(STATES.iter().map(|(s, m)| (format!("state:{s}"), *m))).collect()
}

/// Whether the operator may set a key to a meaning: an error code (alone or
/// `Code/Context`) can mean anything but a delivery or a reversal; a
/// processing state only pending, delivered, unavailable (took nothing) or
/// unknown.
pub fn check(key: &str, meaning: Meaning) -> Result<(), String> {
    match split_key(key, &["error", "state"])?.0 {
        "error" => refuse_unless(!matches!(meaning, Meaning::Delivered | Meaning::Reversed), "Ding error", meaning),
        _ => refuse_unless(
            matches!(meaning, Meaning::Pending | Meaning::Delivered | Meaning::Unavailable | Meaning::Unknown),
            "Ding processing state",
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

    /// The meaning of one error code in its context: the code with exactly
    /// that context (changed, then shipped), then the code in any context
    /// (changed, then shipped).
    pub fn error_meaning(&self, code: &str, context: Option<&str>) -> Meaning {
        let changed = |key: String| self.changes.changed(&key);
        let exact = context.and_then(|x| {
            changed(format!("error:{code}/{x}"))
                .or_else(|| ERRORS.iter().find(|(c, k, _)| *c == code && *k == Some(x)).map(|(_, _, m)| *m))
        });
        let any = || {
            changed(format!("error:{code}"))
                .or_else(|| ERRORS.iter().find(|(c, k, _)| *c == code && k.is_none()).map(|(_, _, m)| *m))
        };
        exact.or_else(any).unwrap_or(Meaning::Unknown)
    }

    /// The meaning of a list of error codes together: a duplicate first
    /// (look it up), then anything unknown (wait), then a refusal of our key,
    /// then a refusal about the number; only codes that all took nothing are
    /// "unavailable". No codes at all is unknown.
    pub fn errors_meaning<'a>(&self, codes: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Meaning {
        let meanings: Vec<Meaning> = codes.into_iter().map(|(c, x)| self.error_meaning(c, x)).collect();
        let any = |wanted: fn(&Meaning) -> bool| meanings.iter().copied().find(wanted);
        if meanings.is_empty() {
            return Meaning::Unknown;
        }
        any(|m| *m == Meaning::Duplicate)
            .or_else(|| {
                any(|m| matches!(m, Meaning::Unknown | Meaning::Pending | Meaning::Delivered | Meaning::Reversed))
                    .map(|_| Meaning::Unknown)
            })
            .or_else(|| any(|m| *m == Meaning::Auth))
            .or_else(|| any(|m| matches!(m, Meaning::Declined(_))))
            .unwrap_or(Meaning::Unavailable)
    }

    pub fn state_meaning(&self, state: &str) -> Meaning {
        let shipped = || STATES.iter().find(|(s, _)| *s == state).map_or(Meaning::Unknown, |(_, m)| *m);
        self.changes.changed(&format!("state:{state}")).unwrap_or_else(shipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_meaning(code: &str, context: Option<&str>) -> Meaning {
        Table::default().error_meaning(code, context)
    }

    fn errors_meaning<'a>(codes: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Meaning {
        Table::default().errors_meaning(codes)
    }

    fn state_meaning(state: &str) -> Meaning {
        Table::default().state_meaning(state)
    }

    #[test]
    fn the_operators_changes_come_before_the_shipped_tables() {
        let mut changes = Codes::default();
        changes.set("error:TransientProviderError/SomethingNew", Some(Meaning::Unavailable));
        changes.set("error:ProviderError", Some(Meaning::Declined(StatusCode::BARRED)));
        changes.set("state:Complete", Some(Meaning::Pending));
        let table = Table::new(changes);
        assert_eq!(table.error_meaning("TransientProviderError", Some("SomethingNew")), Meaning::Unavailable);
        assert_eq!(table.error_meaning("TransientProviderError", Some("Other")), Meaning::Unknown);
        // The shipped exact context still comes before a changed any-context.
        assert_eq!(table.error_meaning("ProviderError", Some("ProductUnavailable")), Meaning::Unavailable);
        assert_eq!(table.error_meaning("ProviderError", Some("Other")), Meaning::Declined(StatusCode::BARRED));
        assert_eq!(table.state_meaning("Complete"), Meaning::Pending);
        assert!(check("error:X/Y", Meaning::Unavailable).is_ok());
        assert!(check("state:Complete", Meaning::Auth).is_err());
        assert!(check("status:Complete", Meaning::Delivered).is_err());
    }

    #[test]
    fn contexts_narrow_a_code_and_unlisted_ones_are_unknown() {
        assert_eq!(error_meaning("TransientProviderError", Some("ProviderTimedOut")), Meaning::Unavailable);
        assert_eq!(error_meaning("TransientProviderError", Some("SomethingNew")), Meaning::Unknown);
        assert_eq!(error_meaning("TransientProviderError", None), Meaning::Unknown);
        assert_eq!(error_meaning("ProviderError", Some("ProviderUnknownError")), Meaning::Unknown);
        assert_eq!(
            error_meaning("AccountNumberInvalid", Some("AccountNumberFailedRegex")),
            Meaning::Declined(StatusCode::INVALID_ACCOUNT)
        );
        assert_eq!(error_meaning("OtherError", None), Meaning::Pending);
        assert_eq!(error_meaning("insufficientbalance", None), Meaning::Unknown);
        assert_eq!(state_meaning("Completed"), Meaning::Unknown);
        assert_eq!(state_meaning("Complete"), Meaning::Delivered);
    }

    #[test]
    fn a_list_of_codes_is_as_unsettled_as_its_least_settled_code() {
        assert_eq!(errors_meaning([]), Meaning::Unknown);
        assert_eq!(errors_meaning([("InsufficientBalance", None), ("OtherError", None)]), Meaning::Unknown);
        assert_eq!(
            errors_meaning([("InsufficientBalance", None), ("DuplicateTransactionPrevented", None)]),
            Meaning::Duplicate
        );
        assert_eq!(
            errors_meaning([("InsufficientBalance", None), ("AccountNumberInvalid", None)]),
            Meaning::Declined(StatusCode::INVALID_ACCOUNT)
        );
        assert_eq!(errors_meaning([("RateLimited", None)]), Meaning::Unavailable);
    }

    #[test]
    fn no_entry_is_listed_twice() {
        let mut errors: Vec<(&str, Option<&str>)> = ERRORS.iter().map(|(c, x, _)| (*c, *x)).collect();
        errors.sort_unstable();
        errors.dedup();
        assert_eq!(errors.len(), ERRORS.len());
        let mut states: Vec<&str> = STATES.iter().map(|(s, _)| *s).collect();
        states.sort_unstable();
        states.dedup();
        assert_eq!(states.len(), STATES.len());
    }
}
