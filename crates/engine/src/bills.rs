//! Bill presentment: checking a bill account before paying it. Each biller of
//! the contract's table returns some of customer name, outstanding amount and
//! due date; a per-account monthly payment count (a real biller rule, e.g.
//! TNB's) decides `transaction_validity`, and topup enforces it with 54.
//!
//! Staging answers are derived from the account number [ours]: accounts
//! ending in `0000` are invalid, accounts ending in `9999` find the biller
//! unavailable, any other valid account has a bill.

use sha2::{Digest, Sha256};
use tambah_domain::{Amount, Environment, Family, Product};
use tambah_store::MerchantRow;

use crate::Engine;

/// A biller of the bill presentment table: which details it returns.
#[derive(Clone, Copy, Debug)]
pub struct Biller {
    pub name: &'static str,
    pub product: &'static str,
    pub customer_name: bool,
    pub outstanding: bool,
    pub due_date: bool,
}

const fn b(
    name: &'static str,
    product: &'static str,
    customer_name: bool,
    outstanding: bool,
    due_date: bool,
) -> Biller {
    Biller { name, product, customer_name, outstanding, due_date }
}

/// The contract's table, row for row.
pub const BILLERS: &[Biller] = &[
    b("Air Selangor", "SYABAS", true, true, true),
    b("Air Kelantan", "ASKB", true, true, true),
    b("Astro", "ASB", true, false, false),
    b("Indah Water Konsortium", "IW", false, true, false),
    b("Pengurusan Air Pahang", "PAIP", true, true, false),
    b("Perak Water Board", "PWB", false, false, false),
    b("Kuching Water Board", "KWB", false, false, false),
    b("Ranhill SAJ", "SAJ", false, false, false),
    b("Syarikat Air Darul Aman", "SADA", false, false, false),
    b("Syarikat Air Negeri Sembilan", "SAINS", false, false, false),
    b("Sabah Electricity", "SESB", true, true, true),
    b("Tenaga Nasional Berhad", "TNB", false, true, true),
    b("Celcom Postpaid", "CB", false, true, false),
    b("Redone Postpaid", "RB", true, true, false),
    b("Maxis Postpaid", "MB", false, false, false),
    b("XOX Postpaid", "XB", true, true, true),
    b("Digi Postpaid", "DB", false, false, false),
    b("Maxis Prepaid", "M", false, false, false),
    b("Redone Prepaid", "RO", true, false, false),
    b("Celcom Prepaid", "C", false, false, false),
    b("Digi Prepaid", "D", false, false, false),
    b("Majlis Daerah Kuala Langat", "MDKL", true, true, true),
    b("Majlis Perbandaran Sepang", "MPSS", true, true, true),
    b("Majlis Perbandaran Subang Jaya", "MPSJ", true, true, true),
];

/// Payments per account per month a biller accepts [ours: TNB's rule].
pub fn monthly_limit(product: &str) -> Option<u32> {
    match product {
        "TNB" => Some(2),
        _ => None,
    }
}

pub const VALID: &str = "Account no is valid";
pub const UNAVAILABLE_FOR_PRODUCT: &str = "Bill presentment is unavailable for this product";
pub const SERVICE_UNAVAILABLE: &str = "Service unavailable. Please try again later";
pub const INVALID: &str = "Invalid account no";

/// What presentment found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Presentment {
    pub message: &'static str,
    pub customer_name: String,
    pub outstanding: Option<Amount>,
    /// `dd/MM/yyyy`, empty when the biller gives none.
    pub due_date: String,
    pub biller_name: String,
    /// Whether a payment would be accepted now, and why not.
    pub transaction_validity: bool,
    pub transaction_message: String,
    /// With `Invalid account no`: what is wrong.
    pub error_message: Option<String>,
}

const NAMES: &[&str] = &[
    "AHMAD FAIZAL BIN ABDULLAH",
    "NUR AISYAH BINTI MOHD RAZALI",
    "TAN WEI MING",
    "LIM SIEW LING",
    "RAJESH A/L SUBRAMANIAM",
    "KAVITHA A/P RAMASAMY",
    "MUHAMMAD HAZIQ BIN ISMAIL",
    "SITI NORHAYATI BINTI HASSAN",
];

impl Engine {
    /// Checks a bill account (and, for JomPAY, its biller).
    pub async fn present_bill(
        &self,
        merchant: &MerchantRow,
        product: &Product,
        account: &str,
        biller_code: Option<&str>,
    ) -> Result<Presentment, String> {
        let (biller_name, has) = match (product.family, BILLERS.iter().find(|b| b.product == product.code)) {
            (Family::Jompay, _) => {
                let code = biller_code.ok_or("biller_code is required for JomPAY")?;
                let biller = self
                    .families()
                    .billers()
                    .iter()
                    .find(|b| b.code == code)
                    .ok_or_else(|| format!("biller_code {code:?} is not a JomPAY biller"))?;
                (biller.name.clone(), (true, true, false))
            }
            (_, Some(b)) => (b.name.to_owned(), (b.customer_name, b.outstanding, b.due_date)),
            (_, None) => {
                return Ok(Presentment {
                    message: UNAVAILABLE_FOR_PRODUCT,
                    biller_name: product.name.clone(),
                    transaction_validity: true,
                    ..Presentment::default()
                })
            }
        };
        let base = Presentment { biller_name, ..Presentment::default() };
        if let Err(why) = product.account_format.check(account) {
            return Ok(Presentment { message: INVALID, error_message: Some(why), ..base });
        }
        if merchant.environment == Environment::Live {
            // No live biller connection is configured yet.
            return Ok(Presentment { message: SERVICE_UNAVAILABLE, ..base });
        }
        if account.ends_with("0000") {
            return Ok(Presentment {
                message: INVALID,
                error_message: Some(format!("account {account} does not exist at the biller")),
                ..base
            });
        }
        if account.ends_with("9999") {
            return Ok(Presentment { message: SERVICE_UNAVAILABLE, ..base });
        }
        let d: [u8; 32] = Sha256::digest(format!("bill:{}:{account}", product.code).as_bytes()).into();
        let (name, outstanding, due) = has;
        let now = self.now_ms();
        let mut p = base;
        p.message = VALID;
        if name {
            p.customer_name = NAMES[d[0] as usize % NAMES.len()].to_owned();
        }
        if outstanding {
            let sen = 1_000 + (u32::from(d[1]) << 8 | u32::from(d[2])) % 49_000;
            p.outstanding = Some(Amount::from_minor(i64::from(sen) * 100));
        }
        if due {
            let t = tambah_domain::time::MytDateTime::from_unix_millis(now + (7 + i64::from(d[3] % 21)) * 86_400_000);
            p.due_date = format!("{:02}/{:02}/{:04}", t.day, t.month, t.year);
        }
        p.transaction_validity = true;
        if let Some(limit) = monthly_limit(&product.code) {
            let month = month_of(now);
            let paid = self.store().bill_payments(&product.code, account, month).await.map_err(|e| e.to_string())?;
            if paid >= u64::from(limit) {
                p.transaction_validity = false;
                p.transaction_message = format!("{} Maximum count per acc/month exceeded", product.code);
            }
        }
        Ok(p)
    }
}

/// `yyyymm` of an instant, Malaysia time (the month of a biller's limit).
pub(crate) fn month_of(unix_ms: i64) -> i64 {
    let t = tambah_domain::time::MytDateTime::from_unix_millis(unix_ms);
    t.year * 100 + i64::from(t.month)
}
