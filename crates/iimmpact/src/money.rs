//! `Amount`: ringgit as an exact count of RM 0.0001 (the API's finest unit),
//! read from and written to the wire as decimal text, never through a float.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Minor units in one ringgit: the API prices to four decimals.
const MINOR_PER_RM: i64 = 10_000;
const DECIMALS: usize = 4;

/// An exact amount of ringgit, RM × 10⁴.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

/// Why a text is not an amount of at most four decimals.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an exact amount of at most 4 decimals: {0:?}")]
pub struct AmountError(pub String);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// `minor` in RM 0.0001: `Amount::from_minor(97_000)` is RM 9.70.
    pub const fn from_minor(minor: i64) -> Amount {
        Amount(minor)
    }

    /// Whole ringgit.
    pub const fn from_rm(rm: i64) -> Amount {
        Amount(rm * MINOR_PER_RM)
    }

    /// The amount in RM 0.0001.
    pub const fn minor(self) -> i64 {
        self.0
    }

    /// Reads `"10"`, `"9.70"`, `"-48.6333"`, `"1e1"` exactly. More than four
    /// significant decimals, or anything that is not a decimal, is an error:
    /// rounding money silently is how sen go missing.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        let err = || AmountError(text.to_owned());
        let (negative, unsigned) = match text.trim() {
            t if t.starts_with('-') => (true, &t[1..]),
            t => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().map_err(|_| err())?),
            None => (unsigned, 0),
        };
        let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits_ok(whole) || !digits_ok(frac) {
            return Err(err());
        }
        // All digits as one integer, then the decimal point moved by the
        // exponent: value = digits × 10^(exponent − frac.len()).
        let digits = format!("{whole}{frac}");
        let shift = i64::from(exponent) - frac.len() as i64 + DECIMALS as i64;
        let minor = scale(digits.trim_start_matches('0'), shift).ok_or_else(err)?;
        Ok(Amount(if negative { -minor } else { minor }))
    }

    /// The shortest exact text: `10`, `9.7`, `48.6333` (what a request sends).
    pub fn to_plain(self) -> String {
        self.format(0)
    }

    /// Two to four decimals: `9.70`, `151.10`, `48.6333` (as the seed
    /// version's topup strings show money).
    pub fn to_cents(self) -> String {
        self.format(2)
    }

    fn format(self, min_decimals: usize) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / MINOR_PER_RM as u64, abs % MINOR_PER_RM as u64);
        let mut decimals = format!("{frac:04}");
        while decimals.len() > min_decimals && decimals.ends_with('0') {
            decimals.pop();
        }
        if decimals.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{decimals}")
        }
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

/// `digits × 10^shift` as an i64, or `None` when it overflows or would drop a
/// non-zero digit.
fn scale(digits: &str, shift: i64) -> Option<i64> {
    if digits.is_empty() {
        return Some(0);
    }
    if shift >= 0 {
        let zeros = usize::try_from(shift).ok().filter(|z| digits.len() + z <= 19)?;
        return format!("{digits}{}", "0".repeat(zeros)).parse().ok();
    }
    let cut = usize::try_from(-shift).ok()?;
    if cut > digits.len() {
        return None;
    }
    let (kept, dropped) = digits.split_at(digits.len() - cut);
    if dropped.bytes().any(|b| b != b'0') {
        return None;
    }
    if kept.is_empty() {
        Some(0)
    } else {
        kept.parse().ok()
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_cents())
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Amount, AmountError> {
        Amount::parse(s)
    }
}

/// Sent as a JSON string (`"10"`): the API reads strings and numbers alike,
/// and a string cannot be rounded by anyone's float parser on the way.
impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_plain())
    }
}

/// Read from a JSON string (`"9.70"`) or number (`9.7`); with serde_json's
/// `arbitrary_precision` the number's own digits are kept, so nothing passes
/// through a float.
impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => Amount::parse(&s).map_err(D::Error::custom),
            Value::Number(n) => Amount::parse(&n.to_string()).map_err(D::Error::custom),
            other => Err(D::Error::custom(format!("expected an amount, got {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Amount::parse("10").unwrap(), Amount::from_rm(10));
        assert_eq!(Amount::parse("9.70").unwrap().minor(), 97_000);
        assert_eq!(Amount::parse("48.6333").unwrap().minor(), 486_333);
        assert_eq!(Amount::parse("-0.0001").unwrap().minor(), -1);
        assert_eq!(Amount::parse("0.50000").unwrap().minor(), 5_000);
        assert_eq!(Amount::parse("1e1").unwrap(), Amount::from_rm(10));
        assert_eq!(Amount::parse("15E-1").unwrap().minor(), 15_000);
        assert_eq!(Amount::parse(".5").unwrap().minor(), 5_000);
        assert_eq!(Amount::parse("0").unwrap(), Amount::ZERO);
    }

    #[test]
    fn refuses_what_is_not_exact() {
        for bad in ["", "-", ".", "abc", "1.2.3", "0.00001", "1e-5", "9.7x", "99999999999999999999", "1e30"] {
            assert!(Amount::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_plain_and_cents() {
        assert_eq!(Amount::from_minor(97_000).to_plain(), "9.7");
        assert_eq!(Amount::from_minor(97_000).to_cents(), "9.70");
        assert_eq!(Amount::from_rm(10).to_plain(), "10");
        assert_eq!(Amount::from_rm(10).to_cents(), "10.00");
        assert_eq!(Amount::from_minor(486_333).to_cents(), "48.6333");
        assert_eq!(Amount::from_minor(-5).to_plain(), "-0.0005");
    }

    #[test]
    fn json_numbers_keep_their_digits() {
        let v: Vec<Amount> = serde_json::from_str(r#"[9.7, "151.10", 0.1, 1234567.8901]"#).unwrap();
        assert_eq!(v.iter().map(|a| a.minor()).collect::<Vec<_>>(), [97_000, 1_511_000, 1_000, 12_345_678_901]);
        assert_eq!(serde_json::to_string(&Amount::from_minor(97_000)).unwrap(), r#""9.7""#);
    }
}
