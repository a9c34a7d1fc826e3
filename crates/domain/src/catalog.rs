//! Products, denominations, account formats and pricing. The catalogue itself is
//! data (loaded at the edge); these are the rules applied to it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::money::{format_percent_bp, Amount};

/// The product families. Each one shapes the purchase request differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Reload,
    Postpaid,
    Utility,
    Pin,
    Gift,
    Data,
    Ptptn,
    Jompay,
    Zakat,
    Esim,
    Test,
}

impl Family {
    pub fn parse(text: &str) -> Result<Family, String> {
        Ok(match text {
            "reload" => Family::Reload,
            "postpaid" => Family::Postpaid,
            "utility" => Family::Utility,
            "pin" => Family::Pin,
            "gift" => Family::Gift,
            "data" => Family::Data,
            "ptptn" => Family::Ptptn,
            "jompay" => Family::Jompay,
            "zakat" => Family::Zakat,
            "esim" => Family::Esim,
            "test" => Family::Test,
            other => return Err(format!("unknown product family {other:?}")),
        })
    }

    /// Families whose orders deliver a PIN or voucher code.
    pub fn delivers_pin(self) -> bool {
        matches!(self, Family::Pin | Family::Gift)
    }
}

/// Which amounts a product accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denomination {
    List(Vec<Amount>),
    Range { min: Amount, max: Amount },
}

impl Denomination {
    /// `"5,10,30"` or `"1-1000"`.
    pub fn parse(text: &str) -> Result<Denomination, String> {
        let parse = |t: &str| Amount::parse_rm(t, 2).map_err(|e| format!("denomination {text:?}: {e}"));
        if let Some((min, max)) = text.split_once('-') {
            let (min, max) = (parse(min)?, parse(max)?);
            if min > max || min == Amount::ZERO {
                return Err(format!("denomination range {text:?} is empty or starts at 0"));
            }
            return Ok(Denomination::Range { min, max });
        }
        let list = text.split(',').map(parse).collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() || list.contains(&Amount::ZERO) {
            return Err(format!("denomination list {text:?} is empty or has 0"));
        }
        Ok(Denomination::List(list))
    }

    pub fn contains(&self, amount: Amount) -> bool {
        match self {
            Denomination::List(list) => list.contains(&amount),
            Denomination::Range { min, max } => *min <= amount && amount <= *max,
        }
    }

    /// Wire form: `5,10,30` or `1-1000`.
    pub fn text(&self) -> String {
        match self {
            Denomination::List(list) => list.iter().map(|a| a.to_plain()).collect::<Vec<_>>().join(","),
            Denomination::Range { min, max } => format!("{}-{}", min.to_plain(), max.to_plain()),
        }
    }
}

/// How an `account` value must look for a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountFormat {
    /// Malaysian mobile number: `01X` + 7–8 digits, or the same with `60` for `0`.
    Msisdn,
    /// Digits only, length in range.
    Digits {
        min: usize,
        max: usize,
    },
    /// Letters and digits, length in range.
    Alnum {
        min: usize,
        max: usize,
    },
    /// MyKad number: 12 digits, `YYMMDD` + place + serial.
    Nric,
    MsisdnOrEmail,
    /// Any printable text without spaces at the ends, length in range.
    Any {
        min: usize,
        max: usize,
    },
}

impl AccountFormat {
    /// `msisdn`, `digits:12-12`, `alnum:1-30`, `nric`, `msisdn_or_email`, `any:1-50`.
    pub fn parse(text: &str) -> Result<AccountFormat, String> {
        let range = |r: &str| -> Result<(usize, usize), String> {
            let (a, b) = r.split_once('-').ok_or_else(|| format!("account format {text:?}: range MIN-MAX expected"))?;
            let min = a.parse().map_err(|_| format!("account format {text:?}: bad minimum"))?;
            let max = b.parse().map_err(|_| format!("account format {text:?}: bad maximum"))?;
            if min == 0 || min > max || max > 100 {
                return Err(format!("account format {text:?}: bad range"));
            }
            Ok((min, max))
        };
        Ok(match text.split_once(':') {
            None if text == "msisdn" => AccountFormat::Msisdn,
            None if text == "nric" => AccountFormat::Nric,
            None if text == "msisdn_or_email" => AccountFormat::MsisdnOrEmail,
            Some(("digits", r)) => {
                let (min, max) = range(r)?;
                AccountFormat::Digits { min, max }
            }
            Some(("alnum", r)) => {
                let (min, max) = range(r)?;
                AccountFormat::Alnum { min, max }
            }
            Some(("any", r)) => {
                let (min, max) = range(r)?;
                AccountFormat::Any { min, max }
            }
            _ => return Err(format!("unknown account format {text:?}")),
        })
    }

    /// Checks an account value, saying what is wrong.
    pub fn check(&self, account: &str) -> Result<(), String> {
        let len = account.chars().count();
        let all_digits = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
        match self {
            AccountFormat::Msisdn => {
                if is_msisdn(account) {
                    Ok(())
                } else {
                    Err(format!(
                        "account {account:?} is not a Malaysian mobile number (01X and 7-8 digits, or 601X...)"
                    ))
                }
            }
            AccountFormat::Digits { min, max } => {
                if all_digits && (*min..=*max).contains(&len) {
                    Ok(())
                } else if min == max {
                    Err(format!("account {account:?} must be {min} digits"))
                } else {
                    Err(format!("account {account:?} must be {min} to {max} digits"))
                }
            }
            AccountFormat::Alnum { min, max } => {
                if account.chars().all(|c| c.is_ascii_alphanumeric()) && (*min..=*max).contains(&len) {
                    Ok(())
                } else {
                    Err(format!("account {account:?} must be {min} to {max} letters or digits"))
                }
            }
            AccountFormat::Nric => {
                if is_nric(account) {
                    Ok(())
                } else {
                    Err(format!("account {account:?} is not an NRIC number (12 digits, YYMMDD first)"))
                }
            }
            AccountFormat::MsisdnOrEmail => {
                if is_msisdn(account) || is_email(account) {
                    Ok(())
                } else {
                    Err(format!("account {account:?} is neither a Malaysian mobile number nor an e-mail address"))
                }
            }
            AccountFormat::Any { min, max } => {
                if (*min..=*max).contains(&len) && account.trim() == account && !account.chars().any(|c| c.is_control())
                {
                    Ok(())
                } else {
                    Err(format!("account must be {min} to {max} printable characters"))
                }
            }
        }
    }
}

pub fn is_msisdn(text: &str) -> bool {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let national = match text.strip_prefix("60") {
        Some(rest) => format!("0{rest}"),
        None => text.to_owned(),
    };
    national.starts_with("01") && (10..=11).contains(&national.len())
}

pub fn is_nric(text: &str) -> bool {
    if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let month: u32 = text[2..4].parse().unwrap_or(0);
    let day: u32 = text[4..6].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && text.len() <= 254
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// One product of the catalogue.
#[derive(Clone, Debug)]
pub struct Product {
    pub code: String,
    pub name: String,
    pub display_name: String,
    pub operator_code: String,
    pub family: Family,
    pub category: String,
    pub category_code: String,
    pub product_group: String,
    pub group_type: String,
    pub denomination: Denomination,
    pub common_denominations: String,
    /// `Integer` products refuse decimal amounts.
    pub integer_only: bool,
    pub unit_price_bp: u32,
    pub default_discount_bp: u32,
    pub level_discount_bp: HashMap<String, u32>,
    pub account_label: String,
    pub account_type: String,
    pub keyboard_type: String,
    pub account_format: AccountFormat,
    pub api_parameter: String,
    pub update_time: String,
    pub note: String,
    pub has_subproduct: bool,
    pub is_refundable: bool,
    pub active: bool,
}

/// Why an amount does not fit a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountRejection(pub String);

impl Product {
    pub fn discount_bp(&self, level: &str) -> u32 {
        self.level_discount_bp.get(level).copied().unwrap_or(self.default_discount_bp)
    }

    pub fn discount_text(&self, level: &str) -> String {
        format_percent_bp(self.discount_bp(level))
    }

    /// The merchant's cost of `amount` at their pricing level: never below
    /// one minor unit, so that every accepted order holds something.
    pub fn cost(&self, amount: Amount, level: &str) -> Amount {
        amount.priced(self.unit_price_bp, self.discount_bp(level)).max(Amount::from_minor(1))
    }

    pub fn datatype(&self) -> &'static str {
        if self.integer_only {
            "Integer"
        } else {
            "Decimal"
        }
    }

    /// Checks an amount against the datatype and the denomination.
    pub fn check_amount(&self, amount: Amount) -> Result<(), AmountRejection> {
        if self.integer_only && !amount.is_whole_ringgit() {
            return Err(AmountRejection(format!("product {} takes whole ringgit amounts only (Integer)", self.code)));
        }
        if !self.denomination.contains(amount) {
            return Err(AmountRejection(format!(
                "amount {} is not a denomination of product {} ({})",
                amount.to_plain(),
                self.code,
                self.denomination.text()
            )));
        }
        Ok(())
    }
}

/// The whole catalogue, shared read-only and swapped as a whole on change.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    products: Vec<Arc<Product>>,
    by_code: HashMap<String, usize>,
}

impl Catalog {
    pub fn new(products: Vec<Product>) -> Result<Catalog, String> {
        let mut by_code = HashMap::with_capacity(products.len());
        for (i, p) in products.iter().enumerate() {
            if by_code.insert(p.code.clone(), i).is_some() {
                return Err(format!("product code {} appears twice", p.code));
            }
        }
        Ok(Catalog { products: products.into_iter().map(Arc::new).collect(), by_code })
    }

    pub fn get(&self, code: &str) -> Option<&Arc<Product>> {
        self.by_code.get(code).map(|&i| &self.products[i])
    }

    pub fn products(&self) -> &[Arc<Product>] {
        &self.products
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denominations() {
        let list = Denomination::parse("5,10,15").unwrap();
        assert!(list.contains(Amount::from_rm(10)));
        assert!(!list.contains(Amount::from_rm(11)));
        assert_eq!(list.text(), "5,10,15");
        let range = Denomination::parse("1-1000").unwrap();
        assert!(range.contains(Amount::parse_rm("999.99", 2).unwrap()));
        assert!(!range.contains(Amount::parse_rm("0.99", 2).unwrap()));
        assert!(!range.contains(Amount::parse_rm("1000.01", 2).unwrap()));
        assert!(Denomination::parse("10-1").is_err());
        assert!(Denomination::parse("a,b").is_err());
    }

    #[test]
    fn account_formats() {
        let m = AccountFormat::parse("msisdn").unwrap();
        assert!(m.check("0113242124").is_ok());
        assert!(m.check("0123456789").is_ok());
        assert!(m.check("60123450041").is_ok());
        assert!(m.check("0212345678").is_err());
        assert!(m.check("011324212").is_err());
        assert!(m.check("01132421245").is_ok());
        assert!(m.check("011324212456").is_err());
        let tnb = AccountFormat::parse("digits:12-12").unwrap();
        assert!(tnb.check("220012345678").is_ok());
        assert!(tnb.check("22001234567").unwrap_err().contains("must be 12 digits"));
        assert!(AccountFormat::Nric.check("900101145678").is_ok());
        assert!(AccountFormat::Nric.check("901301145678").is_err());
        assert!(AccountFormat::MsisdnOrEmail.check("a@b.my").is_ok());
        assert!(AccountFormat::MsisdnOrEmail.check("a@b").is_err());
        assert!(AccountFormat::parse("digits:0-3").is_err());
        assert!(AccountFormat::parse("phone").is_err());
    }
}
