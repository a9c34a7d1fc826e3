//! The documented price rule of the product listing: the cost of a topup is
//! `amount × unit_price × (1 − discount)`, rounded half-up to RM 0.0001,
//! computed exactly on decimal digits.

use crate::money::Amount;

/// A non-negative decimal as `digits / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    digits: i128,
    scale: u32,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || frac.len() > 12 || !format!("{whole}{frac}").bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Decimal { digits: format!("{whole}{frac}").parse().ok()?, scale: u32::try_from(frac.len()).ok()? })
    }
}

/// `amount × unit_price × (1 − discount_percent / 100)`, half-up to the
/// minor unit. `unit_price` is `"1.0"`-style text, `discount` `"3%"`-style.
pub(crate) fn cost(amount: Amount, unit_price: &str, discount: &str) -> Option<Amount> {
    let price = Decimal::parse(unit_price)?;
    let off = Decimal::parse(discount.trim().strip_suffix('%')?)?;
    // (1 − off/100) = (100·10^s − off.digits) / (100·10^s)
    let hundred = 100i128.checked_mul(10i128.checked_pow(off.scale)?)?;
    let keep = hundred.checked_sub(off.digits).filter(|k| *k >= 0)?;
    let numerator = i128::from(amount.minor()).checked_mul(price.digits)?.checked_mul(keep)?;
    let denominator = 10i128.checked_pow(price.scale)?.checked_mul(hundred)?;
    let (quotient, remainder) = (numerator / denominator, numerator % denominator);
    let rounded = if remainder.abs() * 2 >= denominator { quotient + numerator.signum() } else { quotient };
    i64::try_from(rounded).ok().map(Amount::from_minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rm(text: &str) -> Amount {
        Amount::parse(text).unwrap()
    }

    #[test]
    fn applies_price_and_discount_exactly() {
        assert_eq!(cost(rm("10"), "1.0", "3%"), Some(rm("9.7")));
        assert_eq!(cost(rm("10"), "1.0", "0%"), Some(rm("10")));
        assert_eq!(cost(rm("50.13"), "0.97", "2.5%"), Some(rm("47.4104")));
    }

    #[test]
    fn rounds_half_up_to_the_minor_unit() {
        // 0.15 × 1.0 × 0.9667 = 0.145005 → 0.1450; 0.05 × 0.999 = 0.04995 → 0.05
        assert_eq!(cost(rm("0.15"), "1.0", "3.33%"), Some(rm("0.145")));
        assert_eq!(cost(rm("0.05"), "0.999", "0%"), Some(rm("0.05")));
    }

    #[test]
    fn refuses_prices_that_do_not_parse() {
        assert_eq!(cost(rm("10"), "abc", "3%"), None);
        assert_eq!(cost(rm("10"), "1.0", "3"), None);
        assert_eq!(cost(rm("10"), "1.0", "101%"), None);
    }
}
