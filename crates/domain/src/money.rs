//! Money as integers: `Amount` counts RM × 10⁴ ("minor units"), so the 4-decimal
//! balances the live API shows are exact. No floats anywhere on the money path.
//!
//! Rounding rule (the only one): a price is
//! `amount × unit_price × (1 − discount)`, computed exactly in integers and then
//! rounded half-up to one minor unit (RM 0.0001).

use std::fmt;

/// Minor units per ringgit.
pub const MINOR_PER_RM: i64 = 10_000;

/// An amount of money in minor units (RM 0.0001). May be negative only where a
/// signed movement is meant (ledger deltas); wallet balances are never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    Empty,
    NotANumber,
    Negative,
    TooManyDecimals { max: u32 },
    TooLarge,
    NotCanonical,
    Zero,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountError::Empty => write!(f, "amount is empty"),
            AmountError::NotANumber => write!(f, "amount is not a decimal number"),
            AmountError::Negative => write!(f, "amount must not be negative"),
            AmountError::TooManyDecimals { max } => {
                write!(f, "amount has more than {max} decimal places")
            }
            AmountError::TooLarge => write!(f, "amount is too large"),
            AmountError::NotCanonical => write!(
                f,
                "amount is not a decimal number in the one accepted form: digits, then optionally '.' and \
                 the decimals (10, 10.5, 0.50); no sign, exponent, spaces, separators or leading zeros"
            ),
            AmountError::Zero => write!(f, "amount must be greater than 0"),
        }
    }
}

/// The largest amount accepted anywhere: RM 100,000,000.
pub const MAX_MINOR: i64 = 100_000_000 * MINOR_PER_RM;

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub const fn from_minor(minor: i64) -> Amount {
        Amount(minor)
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    pub const fn from_rm(rm: i64) -> Amount {
        Amount(rm * MINOR_PER_RM)
    }

    /// Parses an exact, non-negative decimal in ringgit (`"10"`, `"9.70"`,
    /// `"48.6333"`) with at most `max_decimals` (≤ 4) decimal places.
    pub fn parse_rm(text: &str, max_decimals: u32) -> Result<Amount, AmountError> {
        debug_assert!(max_decimals <= 4);
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if text.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(AmountError::NotANumber);
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotANumber);
        }
        if text.contains('.') && frac.is_empty() {
            return Err(AmountError::NotANumber);
        }
        let frac_trimmed = frac.trim_end_matches('0');
        if frac_trimmed.len() as u32 > max_decimals {
            return Err(AmountError::TooManyDecimals { max: max_decimals });
        }
        let whole_digits = whole.trim_start_matches('0');
        if whole_digits.len() > 12 {
            return Err(AmountError::TooLarge);
        }
        let whole_value: i64 =
            if whole_digits.is_empty() { 0 } else { whole_digits.parse().map_err(|_| AmountError::NotANumber)? };
        let mut frac_value: i64 = 0;
        for (i, b) in frac_trimmed.bytes().enumerate() {
            frac_value += i64::from(b - b'0') * 10_i64.pow(3 - i as u32);
        }
        let minor = whole_value
            .checked_mul(MINOR_PER_RM)
            .and_then(|w| w.checked_add(frac_value))
            .ok_or(AmountError::TooLarge)?;
        if minor > MAX_MINOR {
            return Err(AmountError::TooLarge);
        }
        Ok(Amount(minor))
    }

    /// Parses an amount in RM written in the one form the API and the
    /// operator's CLI accept: `0`, or digits not starting with `0`, then
    /// optionally `.` and 1 to `max_decimals` (≤ 4) digits — `10`, `10.5`,
    /// `10.50`, `0.50`. Nothing else: no sign, exponent, spaces, leading
    /// zeros (`010`, `00.5`), bare point (`.5`, `10.`), separators
    /// (`1,000`), hex, NaN or infinity; at most RM 100,000,000.
    pub fn parse_canonical(text: &str, max_decimals: u32) -> Result<Amount, AmountError> {
        debug_assert!(max_decimals <= 4);
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if text.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let (whole, frac) = match text.split_once('.') {
            Some((whole, frac)) => (whole, Some(frac)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || frac.is_some_and(|f| !digits(f)) || (whole.len() > 1 && whole.starts_with('0')) {
            return Err(AmountError::NotCanonical);
        }
        if frac.map_or(0, str::len) > max_decimals as usize {
            return Err(AmountError::TooManyDecimals { max: max_decimals });
        }
        Amount::parse_rm(text, max_decimals)
    }

    /// [`Amount::parse_canonical`], and more than zero: for amounts where
    /// zero means nothing (an order, a deposit, a threshold).
    pub fn parse_positive(text: &str, max_decimals: u32) -> Result<Amount, AmountError> {
        match Amount::parse_canonical(text, max_decimals)? {
            Amount::ZERO => Err(AmountError::Zero),
            amount => Ok(amount),
        }
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    pub fn is_whole_ringgit(self) -> bool {
        self.0 % MINOR_PER_RM == 0
    }

    /// `self × unit_price × (1 − discount)`, rounded half-up to one minor unit.
    /// Both factors are in basis points (1.0 = 10_000 bp, 3% = 300 bp).
    pub fn priced(self, unit_price_bp: u32, discount_bp: u32) -> Amount {
        debug_assert!(discount_bp <= 10_000);
        let numerator = i128::from(self.0) * i128::from(unit_price_bp) * i128::from(10_000 - discount_bp);
        let denominator: i128 = 100_000_000;
        let rounded = (numerator + denominator / 2) / denominator;
        Amount(i64::try_from(rounded).expect("price fits in i64 for bounded amounts"))
    }

    /// Shortest exact decimal: `10`, `10.5`, `48.6333`. For JSON numbers.
    pub fn to_plain(self) -> String {
        self.format(0)
    }

    /// At least two decimals, up to four: `9.70`, `151.10`, `48.6333`.
    pub fn to_cents(self) -> String {
        self.format(2)
    }

    fn format(self, min_decimals: usize) -> String {
        // In every answer, several times: built without the formatting
        // machinery's allocations.
        let abs = self.0.unsigned_abs();
        let (whole, frac) = (abs / MINOR_PER_RM as u64, abs % MINOR_PER_RM as u64);
        let mut text = String::with_capacity(24);
        if self.0 < 0 {
            text.push('-');
        }
        let _ = fmt::Write::write_fmt(&mut text, format_args!("{whole}"));
        let digits = [frac / 1000, frac / 100 % 10, frac / 10 % 10, frac % 10];
        let mut kept = digits.len();
        while kept > min_decimals && digits[kept - 1] == 0 {
            kept -= 1;
        }
        if kept > 0 {
            text.push('.');
            text.extend(digits[..kept].iter().map(|&d| char::from(b'0' + d as u8)));
        }
        text
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_cents())
    }
}

/// Parses a percentage such as `"3"` or `"2.5"` into basis points.
pub fn parse_percent_bp(text: &str) -> Result<u32, AmountError> {
    let amount = Amount::parse_rm(text, 2)?;
    let bp = amount.minor() / 100;
    if bp > 10_000 {
        return Err(AmountError::TooLarge);
    }
    Ok(bp as u32)
}

/// Formats basis points as a percent string: 300 → `3%`, 250 → `2.5%`.
pub fn format_percent_bp(bp: u32) -> String {
    format!("{}%", Amount::from_minor(i64::from(bp) * 100).to_plain())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Amount::parse_rm("10", 4).unwrap().minor(), 100_000);
        assert_eq!(Amount::parse_rm("9.70", 2).unwrap().minor(), 97_000);
        assert_eq!(Amount::parse_rm("48.6333", 4).unwrap().minor(), 486_333);
        assert_eq!(Amount::parse_rm("0.5", 4).unwrap().minor(), 5_000);
        assert_eq!(Amount::parse_rm(".5", 4).unwrap().minor(), 5_000);
        assert_eq!(Amount::parse_rm("10.000", 0).unwrap().minor(), 100_000);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Amount::parse_rm("", 4), Err(AmountError::Empty));
        assert_eq!(Amount::parse_rm("-1", 4), Err(AmountError::Negative));
        assert_eq!(Amount::parse_rm("1e3", 4), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse_rm("10.", 4), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse_rm("1.23456", 4), Err(AmountError::TooManyDecimals { max: 4 }));
        assert_eq!(Amount::parse_rm("10.5", 0), Err(AmountError::TooManyDecimals { max: 0 }));
        assert_eq!(Amount::parse_rm("99999999999999", 4), Err(AmountError::TooLarge));
        assert_eq!(Amount::parse_rm("NaN", 4), Err(AmountError::NotANumber));
    }

    #[test]
    fn the_canonical_form_is_the_only_one() {
        for (text, minor) in [("10", 100_000), ("10.5", 105_000), ("10.50", 105_000), ("0.50", 5_000), ("0", 0)] {
            assert_eq!(Amount::parse_canonical(text, 2).map(Amount::minor), Ok(minor), "{text}");
        }
        assert_eq!(Amount::parse_canonical("0.0001", 4).unwrap().minor(), 1);
        assert_eq!(Amount::parse_canonical("100000000", 2).unwrap(), Amount::from_rm(100_000_000));
        for text in [
            "+10", " 10", "10 ", "1 0", "010", "00", "00.5", ".5", "10.", "1e3", "1E3", "10e0", "0x10", "1,000", "NaN",
            "nan", "inf", "Infinity", "١٠", "１０", "10.5.0", "10,50", "+0", "RM10", "10\n",
        ] {
            assert_eq!(Amount::parse_canonical(text, 2), Err(AmountError::NotCanonical), "{text:?}");
        }
        assert_eq!(Amount::parse_canonical("", 2), Err(AmountError::Empty));
        assert_eq!(Amount::parse_canonical("-1", 2), Err(AmountError::Negative));
        assert_eq!(Amount::parse_canonical("-0", 2), Err(AmountError::Negative));
        assert_eq!(Amount::parse_canonical("10.000", 2), Err(AmountError::TooManyDecimals { max: 2 }));
        assert_eq!(Amount::parse_canonical("10.001", 2), Err(AmountError::TooManyDecimals { max: 2 }));
        assert_eq!(Amount::parse_canonical("100000000.01", 2), Err(AmountError::TooLarge));
        assert_eq!(Amount::parse_canonical("9999999999999", 2), Err(AmountError::TooLarge));
        assert_eq!(Amount::parse_positive("0.00", 2), Err(AmountError::Zero));
        assert_eq!(Amount::parse_positive("0", 2), Err(AmountError::Zero));
        assert_eq!(Amount::parse_positive("0.01", 2).unwrap().minor(), 100);
    }

    #[test]
    fn prices_round_half_up_to_one_minor_unit() {
        // RM 10 at 3% discount = RM 9.70 exactly.
        assert_eq!(Amount::from_rm(10).priced(10_000, 300).to_cents(), "9.70");
        // RM 0.0005 at 3% = 0.000485 → 0.0005 (half-up on the 5th decimal).
        assert_eq!(Amount::from_minor(5).priced(10_000, 300).minor(), 5);
        // RM 50.13 at 2.99% = 48.631113 → 48.6311.
        assert_eq!(Amount::parse_rm("50.13", 2).unwrap().priced(10_000, 299).to_plain(), "48.6311");
    }

    #[test]
    fn formats() {
        assert_eq!(Amount::parse_rm("151.1", 4).unwrap().to_cents(), "151.10");
        assert_eq!(Amount::parse_rm("151.1", 4).unwrap().to_plain(), "151.1");
        assert_eq!(Amount::from_rm(10).to_plain(), "10");
        assert_eq!(Amount::from_minor(-5).to_plain(), "-0.0005");
        assert_eq!(format_percent_bp(250), "2.5%");
        assert_eq!(parse_percent_bp("3.5").unwrap(), 350);
    }

    #[test]
    fn formats_as_the_formatting_machinery_did() {
        fn reference(minor: i64, min_decimals: usize) -> String {
            let sign = if minor < 0 { "-" } else { "" };
            let (whole, frac) = (minor.unsigned_abs() / 10_000, minor.unsigned_abs() % 10_000);
            let mut digits = format!("{frac:04}");
            while digits.len() > min_decimals && digits.ends_with('0') {
                digits.pop();
            }
            if digits.is_empty() {
                format!("{sign}{whole}")
            } else {
                format!("{sign}{whole}.{digits}")
            }
        }
        let edges = [0, 1, 9, 10, 99, 100, 999, 1_000, 9_999, 10_000, 10_001, 97_000, 486_333, MAX_MINOR, i64::MAX];
        let samples = (-30_000..30_000).chain(edges).chain(edges.map(|e| -e)).chain([i64::MIN]);
        for minor in samples {
            let a = Amount::from_minor(minor);
            assert_eq!(a.to_plain(), reference(minor, 0), "{minor}");
            assert_eq!(a.to_cents(), reference(minor, 2), "{minor}");
        }
    }
}
