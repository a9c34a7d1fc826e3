//! What an upstream's code means for our order: the vocabulary every
//! connector's code table (`codes.rs`) is written in, and the operator's
//! changes to a table (`tambah provider code`), kept on the provider's row
//! and read by its connector before the table shipped with the build.

use std::collections::BTreeMap;

use tambah_domain::StatusCode;

/// What one upstream code or transaction state means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// Recorded and still being worked on, or sent and not settled: ask
    /// again later.
    Pending,
    Delivered,
    /// Refused for good about the customer's number, with our code.
    Declined(StatusCode),
    /// The provider could not take the order and nothing was debited there:
    /// it may go to another route.
    Unavailable,
    /// Our credentials (API key, bearer token) were refused: nothing was done.
    Auth,
    /// The provider says it has a request under our reference already: that
    /// one may have been paid, so the order is looked up, never failed.
    Duplicate,
    /// Delivered, then reversed upstream (IIMMPACT's 53).
    Reversed,
    /// Not in the table: unknown, never a failure.
    Unknown,
}

impl Meaning {
    /// The words of `tambah provider code`: `pending`, `delivered`,
    /// `declined:NN` (NN one of our status codes), `unavailable`, `auth`,
    /// `duplicate`, `reversed`, `unknown`.
    pub fn parse(text: &str) -> Result<Meaning, String> {
        let simple = [
            ("pending", Meaning::Pending),
            ("delivered", Meaning::Delivered),
            ("unavailable", Meaning::Unavailable),
            ("auth", Meaning::Auth),
            ("duplicate", Meaning::Duplicate),
            ("reversed", Meaning::Reversed),
            ("unknown", Meaning::Unknown),
        ];
        if let Some((_, m)) = simple.iter().find(|(word, _)| *word == text) {
            return Ok(*m);
        }
        let declined = text.strip_prefix("declined:").and_then(|code| code.parse::<u8>().ok());
        match declined.and_then(StatusCode::from_u8) {
            Some(code) if code.is_failure() => Ok(Meaning::Declined(code)),
            _ => Err(format!(
                "meaning {text:?}: one of pending, delivered, declined:NN (NN a failure code of ours, \
                 e.g. declined:43), unavailable, auth, duplicate, reversed, unknown"
            )),
        }
    }

    pub fn text(self) -> String {
        match self {
            Meaning::Pending => "pending".into(),
            Meaning::Delivered => "delivered".into(),
            Meaning::Declined(code) => format!("declined:{}", code.code()),
            Meaning::Unavailable => "unavailable".into(),
            Meaning::Auth => "auth".into(),
            Meaning::Duplicate => "duplicate".into(),
            Meaning::Reversed => "reversed".into(),
            Meaning::Unknown => "unknown".into(),
        }
    }
}

/// The operator's changes to a connector's code table: key (as the
/// connector names its codes, e.g. `error:InsufficientBalance`) to meaning.
/// A key not here is answered by the table shipped with the build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Codes {
    changes: BTreeMap<String, Meaning>,
}

impl Codes {
    /// The changes as stored on the provider's row: a JSON object of key to
    /// meaning word.
    pub fn from_json(json: &str) -> Result<Codes, String> {
        let words: BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| format!("code-table changes: {e}"))?;
        let changes = words.into_iter().map(|(k, w)| Meaning::parse(&w).map(|m| (k, m))).collect::<Result<_, _>>()?;
        Ok(Codes { changes })
    }

    pub fn to_json(&self) -> String {
        let words: BTreeMap<&str, String> = self.changes.iter().map(|(k, m)| (k.as_str(), m.text())).collect();
        serde_json::to_string(&words).expect("a map of strings serializes")
    }

    /// The operator's meaning of a key, if changed.
    pub fn changed(&self, key: &str) -> Option<Meaning> {
        self.changes.get(key).copied()
    }

    pub fn set(&mut self, key: &str, meaning: Option<Meaning>) {
        match meaning {
            Some(m) => self.changes.insert(key.to_owned(), m),
            None => self.changes.remove(key),
        };
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Meaning)> {
        self.changes.iter().map(|(k, m)| (k.as_str(), *m))
    }
}

/// Splits a key of a connector that names its codes by kind
/// (`error:CODE`, `status:STATE`) and checks it: a kind it knows, a code of
/// 1-100 characters without spaces. A code may be new to the shipped table:
/// that is what changing the table is for.
pub fn split_key<'k>(key: &'k str, kinds: &[&str]) -> Result<(&'k str, &'k str), String> {
    let split = key.split_once(':').filter(|(kind, code)| {
        kinds.contains(kind) && !code.is_empty() && code.len() <= 100 && !code.chars().any(char::is_whitespace)
    });
    split.ok_or_else(|| {
        let forms: Vec<String> = kinds.iter().map(|k| format!("{k}:CODE")).collect();
        format!("key {key:?}: one of {}", forms.join(", "))
    })
}

/// Refuses a meaning that a kind of code cannot have.
pub fn refuse_unless(ok: bool, kind: &str, meaning: Meaning) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("{kind} codes cannot mean {}", meaning.text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_meaning_reads_back_from_its_words() {
        let all = [
            Meaning::Pending,
            Meaning::Delivered,
            Meaning::Declined(StatusCode::INVALID_ACCOUNT),
            Meaning::Unavailable,
            Meaning::Auth,
            Meaning::Duplicate,
            Meaning::Reversed,
            Meaning::Unknown,
        ];
        for m in all {
            assert_eq!(Meaning::parse(&m.text()), Ok(m));
        }
        for bad in ["declined:20", "declined:0", "declined:53", "declined:99", "declined:", "Pending", ""] {
            assert!(Meaning::parse(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn changes_round_trip_through_json_and_bad_words_are_refused() {
        let mut codes = Codes::default();
        codes.set("error:New", Some(Meaning::Unavailable));
        codes.set("42", Some(Meaning::Declined(StatusCode::INVALID_ACCOUNT)));
        assert_eq!(Codes::from_json(&codes.to_json()), Ok(codes.clone()));
        codes.set("42", None);
        assert_eq!(codes.changed("42"), None);
        assert!(Codes::from_json(r#"{"x":"maybe"}"#).is_err());
        assert!(Codes::from_json("[]").is_err());
        assert_eq!(Codes::from_json("{}"), Ok(Codes::default()));
    }
}
