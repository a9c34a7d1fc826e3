//! Money on the wire: exact JSON numbers, never through a float.

use std::str::FromStr;

use serde_json::{Number, Value};
use tambah_domain::Amount;

/// An amount as an exact JSON number (`151.1`, `48.6333`, `10`).
pub fn money(a: Amount) -> Value {
    Value::Number(money_number(a))
}

/// An amount as an exact JSON number, for typed bodies.
pub fn money_number(a: Amount) -> Number {
    Number::from_str(&a.to_plain()).expect("a plain decimal is a JSON number")
}

/// A unit price in basis points as the seed shows it: `1.0`, `0.97`.
pub fn unit_price_text(bp: u32) -> String {
    let plain = Amount::from_minor(i64::from(bp)).to_plain();
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}
