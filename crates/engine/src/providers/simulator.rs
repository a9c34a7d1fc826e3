//! The staging provider. Honours the simulation account numbers of the
//! contract, runs scripted scenarios, and otherwise succeeds with serials and
//! PINs derived deterministically from its seed and the order.
//!
//! Scenario accounts [ours] (`NN` = seconds, 01–99):
//! - `601234501NN`: Processing for NN s, then Successful.
//! - `601234502NN`: Successful, then reversed (53 Refund) after NN s.
//! - `601234503NN`: Processing for NN s, then Failed 48.

use sha2::{Digest, Sha256};
use tambah_domain::{Family, Product, StatusCode};

use super::{Answer, BoxFuture, Delivery, Outcome, Provider, ProviderOrder};

/// What a simulation number asks for before any provider is involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precheck {
    /// 41: behaves as a suspended merchant account would (HTTP 403, nothing stored).
    Suspended,
    /// 43: behaves as an empty wallet would (final, nothing held).
    InsufficientCredit,
}

/// The forced failure codes of the contract's simulation table.
const FORCED: &[(&str, u8)] = &[
    ("60123450044", 44),
    ("60123450045", 45),
    ("60123450047", 47),
    ("60123450048", 48),
    ("60123450052", 52),
    ("60123450464", 54),
    ("60123450055", 55),
    ("60123450056", 56),
    ("60123450057", 57),
    ("60123450861", 61),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    ProcessingThenSuccess { after_ms: i64 },
    SuccessThenRefund { after_ms: i64 },
    ProcessingThenFail { after_ms: i64 },
}

fn scenario(account: &str) -> Option<Scenario> {
    let rest = account.strip_prefix("60123450")?;
    if rest.len() != 3 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kind = rest.as_bytes()[0];
    let seconds: i64 = rest[1..].parse().ok()?;
    if seconds == 0 {
        return None;
    }
    let after_ms = seconds * 1000;
    match kind {
        b'1' => Some(Scenario::ProcessingThenSuccess { after_ms }),
        b'2' => Some(Scenario::SuccessThenRefund { after_ms }),
        b'3' => Some(Scenario::ProcessingThenFail { after_ms }),
        _ => None,
    }
}

pub struct Simulator {
    seed: u64,
}

impl Simulator {
    /// The simulator's name on orders it handles.
    pub const NAME: &'static str = "simulator";

    pub fn new(seed: u64) -> Simulator {
        Simulator { seed }
    }

    /// Whether an account is a simulation or scenario number (their forced
    /// outcomes say nothing about the provider's health).
    pub fn is_simulation(account: &str) -> bool {
        account.starts_with("6012345")
    }

    pub fn precheck(account: &str) -> Option<Precheck> {
        match account {
            "60123450041" => Some(Precheck::Suspended),
            "60123450043" => Some(Precheck::InsufficientCredit),
            _ => None,
        }
    }

    fn digits(&self, order: &ProviderOrder, what: &str, n: usize) -> String {
        let mut h = Sha256::new();
        h.update(self.seed.to_le_bytes());
        h.update(order.merchant_id.get().to_le_bytes());
        h.update(order.refid.as_bytes());
        h.update(what.as_bytes());
        let digest = h.finalize();
        digest.iter().cycle().take(n).map(|b| char::from(b'0' + b % 10)).collect()
    }

    fn delivery(&self, order: &ProviderOrder, product: &Product) -> Delivery {
        let mut d = Delivery { sn: self.digits(order, "sn", 12), ..Delivery::default() };
        match product.family {
            Family::Pin | Family::Gift => {
                d.pin = self.digits(order, "pin", 16);
                d.expiry = expiry_after(order.created_at_ms, 365);
                d.note = product.note.clone();
            }
            Family::Esim => {
                // An activation code for the SM-DP+ server, the ICCID (with
                // its Luhn digit), and the QR code the HTTP edge renders.
                let code: String = self.digits(order, "esim", 24).chars().collect();
                d.pin = format!("LPA:1$smdp.tambah.test${}-{}-{}", &code[..8], &code[8..16], &code[16..]);
                d.sn = iccid(&format!("8960{}", self.digits(order, "iccid", 14)));
                d.expiry = expiry_after(order.created_at_ms, 30);
                d.voucherlink = format!("/v2/esim/qr/{}", order.refid);
                d.note = "Scan the QR code (or enter the activation code) in Settings > Mobile > Add eSIM \
                          before the expiry date; the plan starts when the eSIM first connects abroad."
                    .into();
            }
            Family::Zakat => {
                d.sn = format!("ZKT{}", self.digits(order, "receipt", 10));
                d.note = "Keep this receipt number: zakat paid is a tax rebate (LHDN).".into();
            }
            Family::Ptptn => d.sn = format!("PTPTN{}", self.digits(order, "receipt", 10)),
            Family::Jompay => d.sn = format!("JP{}", self.digits(order, "receipt", 12)),
            _ => d.note = product.note.clone(),
        }
        d
    }

    fn decide(&self, order: &ProviderOrder, product: &Product, now_ms: i64) -> Outcome {
        if let Some(&(_, code)) = FORCED.iter().find(|(account, _)| *account == order.account) {
            let code = StatusCode::from_u8(code).expect("simulation codes are contract codes");
            return Outcome::Declined { code, reason: format!("simulation number {}", order.account) };
        }
        match scenario(&order.account) {
            None => Outcome::Delivered(self.delivery(order, product)),
            Some(Scenario::ProcessingThenSuccess { after_ms }) => {
                let due = order.created_at_ms + after_ms;
                if now_ms >= due {
                    Outcome::Delivered(self.delivery(order, product))
                } else {
                    Outcome::Pending { recheck_at_ms: due }
                }
            }
            Some(Scenario::ProcessingThenFail { after_ms }) => {
                let due = order.created_at_ms + after_ms;
                if now_ms >= due {
                    Outcome::Declined {
                        code: StatusCode::REJECTED,
                        reason: "scenario: rejected after processing".into(),
                    }
                } else {
                    Outcome::Pending { recheck_at_ms: due }
                }
            }
            Some(Scenario::SuccessThenRefund { after_ms }) => {
                let due = order.created_at_ms + after_ms;
                if order.status == StatusCode::SUCCESSFUL && now_ms >= due {
                    Outcome::Reversed { reason: "scenario: reversed after success".into() }
                } else {
                    let mut d = self.delivery(order, product);
                    d.recheck_at_ms = Some(due);
                    Outcome::Delivered(d)
                }
            }
        }
    }
}

impl Provider for Simulator {
    fn name(&self) -> &str {
        Simulator::NAME
    }

    fn decide_inline(&self, order: &ProviderOrder, product: &Product) -> Option<Outcome> {
        match scenario(&order.account) {
            Some(_) => None,
            None => Some(self.decide(order, product, order.created_at_ms)),
        }
    }

    fn submit<'a>(&'a self, order: &'a ProviderOrder, product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer> {
        Box::pin(async move { self.decide(order, product, now_ms).into() })
    }

    fn query<'a>(&'a self, order: &'a ProviderOrder, product: &'a Product, now_ms: i64) -> BoxFuture<'a, Answer> {
        Box::pin(async move { self.decide(order, product, now_ms).into() })
    }
}

/// `yyyymmdd` a number of days after `created_at_ms`, Malaysia time.
fn expiry_after(created_at_ms: i64, days: i64) -> String {
    let t = tambah_domain::time::MytDateTime::from_unix_millis(created_at_ms + days * 86_400_000);
    format!("{:04}{:02}{:02}", t.year, t.month, t.day)
}

/// Appends the Luhn check digit (ICCIDs carry one).
fn iccid(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iccid_has_a_valid_luhn_digit() {
        // 79927398713 is the textbook Luhn example.
        assert_eq!(iccid("7992739871"), "79927398713");
        let id = iccid("896012345678901234");
        assert_eq!(id.len(), 19);
    }

    #[test]
    fn scenarios_parse() {
        assert_eq!(scenario("60123450105"), Some(Scenario::ProcessingThenSuccess { after_ms: 5000 }));
        assert_eq!(scenario("60123450230"), Some(Scenario::SuccessThenRefund { after_ms: 30_000 }));
        assert_eq!(scenario("60123450301"), Some(Scenario::ProcessingThenFail { after_ms: 1000 }));
        assert_eq!(scenario("60123450100"), None);
        assert_eq!(scenario("60123450041"), None);
        assert_eq!(scenario("0113242124"), None);
    }
}
