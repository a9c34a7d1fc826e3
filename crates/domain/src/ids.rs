//! Identifiers: refids (validated), environments, and the typed ids of
//! stored rows, so that a merchant's id cannot be passed where an order's or
//! a ledger account's is meant.

use std::fmt;

/// A typed id of a stored row. Ids are assigned by the database; these types
/// only keep one kind from being used as another.
macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> $name {
                $name(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

row_id!(
    /// A merchant (its public account number is `10000 + id`).
    MerchantId
);
row_id!(
    /// A ledger account: a merchant's wallet or a system account.
    AccountId
);
row_id!(
    /// An order (the API's `trxid`).
    OrderId
);
row_id!(
    /// A ledger transfer.
    TransferId
);
row_id!(
    /// A user who signs in for tokens.
    UserId
);
row_id!(
    /// A queued callback (outbox row).
    CallbackId
);
row_id!(
    /// A dispute case.
    DisputeId
);
row_id!(
    /// An upstream provider (connector) configured by the operator.
    ProviderId
);

/// The merchant's id for one transaction: 1–25 characters of letters, digits,
/// `-`, `_`, `.`; unique per merchant account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RefId(String);

pub const REFID_MAX_CHARS: usize = 25;

impl RefId {
    pub fn parse(text: &str) -> Result<RefId, String> {
        if text.is_empty() {
            return Err("refid is required".into());
        }
        if text.len() > REFID_MAX_CHARS {
            return Err(format!("refid is longer than {REFID_MAX_CHARS} characters"));
        }
        if let Some(bad) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
            return Err(format!("refid contains {bad:?}; only letters, digits, '-', '_' and '.' are allowed"));
        }
        Ok(RefId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every merchant, key and wallet belongs to exactly one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    Staging,
    Live,
}

impl Environment {
    pub fn parse(text: &str) -> Result<Environment, String> {
        match text {
            "staging" => Ok(Environment::Staging),
            "live" => Ok(Environment::Live),
            other => Err(format!("unknown environment {other:?}: use staging or live")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Staging => "staging",
            Environment::Live => "live",
        }
    }

    /// The API key prefix: `tbh_test_` for staging, `tbh_live_` for live.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Environment::Staging => "tbh_test_",
            Environment::Live => "tbh_live_",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refid_rules() {
        assert!(RefId::parse("UID-123").is_ok());
        assert!(RefId::parse("a.b_c-1").is_ok());
        assert!(RefId::parse(&"x".repeat(25)).is_ok());
        assert!(RefId::parse(&"x".repeat(26)).unwrap_err().contains("longer than 25"));
        assert!(RefId::parse("").unwrap_err().contains("required"));
        assert!(RefId::parse("a b").unwrap_err().contains("' '"));
    }
}
