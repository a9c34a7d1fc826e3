//! A topup as this crate's caller sees it: the request (sent again unchanged
//! for the status check) and the response of either v2 shape read into one
//! typed value, with the status code's documented meaning.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::money::Amount;
use crate::wire::{CurrentTopup, OrderFields, SeedTopup, TopupBody};

/// One order. The same request sent again (same refid, product, account and
/// amount) is the status check: it never charges twice. The same refid with
/// another product, account or amount is refused (409, code 54).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopupRequest {
    /// 1–25 characters: letters, digits, `-`, `_`, `.`; unique per merchant.
    pub refid: String,
    pub product: String,
    pub account: String,
    /// Within the product's denomination; at most 2 decimals upstream.
    pub amount: Amount,
    /// At most 100 characters, echoed back.
    pub remarks: Option<String>,
    /// `extras[subproduct_code]` and the like; stored with the order.
    pub extras: BTreeMap<String, String>,
}

impl TopupRequest {
    pub fn new(
        refid: impl Into<String>,
        product: impl Into<String>,
        account: impl Into<String>,
        amount: Amount,
    ) -> Self {
        TopupRequest {
            refid: refid.into(),
            product: product.into(),
            account: account.into(),
            amount,
            remarks: None,
            extras: BTreeMap::new(),
        }
    }

    /// The JSON body, byte for byte what is signed and sent.
    pub(crate) fn body(&self) -> Vec<u8> {
        let body = TopupBody {
            refid: &self.refid,
            product: &self.product,
            account: &self.account,
            amount: self.amount,
            remarks: self.remarks.as_deref(),
            extras: &self.extras,
        };
        serde_json::to_vec(&body).expect("a topup body always serializes")
    }
}

/// Which v2 body came back (the merchant's pinned API version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseShape {
    /// `2023-10-01`: flat, strings, `statuscode`.
    Seed,
    /// `2025-05-20`: under `data`, numbers, `statusCode`, `productName`.
    Current,
}

/// What a status code means, per the contract's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 0 Accepted or 1 Processing: resubmit (status check) later.
    Pending,
    /// 20: delivered; the cost is charged.
    Successful,
    /// A documented failure (40, 41, 43, 44, 45, 47, 48, 52, 54–58, 61):
    /// final, nothing charged.
    Failed,
    /// 53: reversed after success; the cost was returned.
    Refunded,
    /// A code the contract does not list: treat as unknown, not as failure.
    Unrecognized,
}

impl Outcome {
    pub fn of(status_code: u16) -> Outcome {
        match status_code {
            0 | 1 => Outcome::Pending,
            20 => Outcome::Successful,
            53 => Outcome::Refunded,
            40 | 41 | 43 | 44 | 45 | 47 | 48 | 52 | 54..=58 | 61 => Outcome::Failed,
            _ => Outcome::Unrecognized,
        }
    }
}

/// A stored order's state, from an HTTP 200 topup answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopupResponse {
    /// `statuscode` / `statusCode` as a number: 0, 1, 20, 4x–6x, 53.
    pub status_code: u16,
    /// The status word as sent (`Successful`, or `Succesful` in `2025-05-20`).
    pub status: String,
    pub refid: String,
    pub account: String,
    pub product: String,
    /// `2025-05-20` only; empty in `2023-10-01`.
    pub product_name: String,
    pub amount: Amount,
    /// The provider's serial number.
    pub sn: String,
    /// PIN and voucher products: the PIN, its expiry (`yyyymmdd`) and how to
    /// redeem (`note`).
    pub pin: String,
    pub expiry: String,
    pub note: String,
    /// The order's price for the caller. Charged only if it succeeds (20):
    /// a failed order still shows the price that was held and released
    /// (tambah does so; `docs/api.md` is silent), so read the status code,
    /// not this field, to know whether money moved.
    pub cost: Amount,
    /// The caller's wallet after the order.
    pub balance: Amount,
    pub remarks: String,
    /// `yyyy-MM-dd HH:mm:ss`, Malaysia time.
    pub timestamp: String,
    /// `2025-05-20` only (e-SIM QR links and the like).
    pub voucherlink: String,
    pub shape: ResponseShape,
    /// The answer's text exactly as received (for an attempt's record).
    pub raw: String,
}

impl TopupResponse {
    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.status_code)
    }

    /// True for every code but 0 and 1 (a 53 can still follow a 20 later).
    pub fn is_final(&self) -> bool {
        self.outcome() != Outcome::Pending
    }

    /// Reads a 200 body of either shape; `Err` names what did not fit.
    pub(crate) fn parse(raw: &str) -> Result<TopupResponse, String> {
        let value: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
        if value.get("data").is_some() {
            let current: CurrentTopup =
                serde_json::from_value(value).map_err(|e| format!("not a 2025-05-20 topup body: {e}"))?;
            let d = current.data;
            Ok(assemble(d.status_code, d.status, d.product_name, d.voucherlink, d.order, ResponseShape::Current, raw))
        } else {
            let seed: SeedTopup =
                serde_json::from_value(value).map_err(|e| format!("not a 2023-10-01 topup body: {e}"))?;
            Ok(assemble(
                seed.statuscode,
                seed.status,
                String::new(),
                String::new(),
                seed.order,
                ResponseShape::Seed,
                raw,
            ))
        }
    }
}

fn assemble(
    status_code: u16,
    status: String,
    product_name: String,
    voucherlink: String,
    o: OrderFields,
    shape: ResponseShape,
    raw: &str,
) -> TopupResponse {
    TopupResponse {
        status_code,
        status,
        refid: o.refid,
        account: o.account,
        product: o.product,
        product_name,
        amount: o.amount,
        sn: o.sn,
        pin: o.pin,
        expiry: o.expiry,
        note: o.note,
        cost: o.cost,
        balance: o.balance,
        remarks: o.remarks,
        timestamp: o.timestamp,
        voucherlink,
        shape,
        raw: raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The bodies of `docs/api.md` (Topup, Responses).
    const SEED: &str = r#"{"statuscode": "20", "status": "Successful", "account": "0113242124", "product": "C", "amount": "10",
 "sn": "123456", "pin": "", "expiry": "", "cost": "9.70", "balance": "151.10", "remarks": "",
 "refid": "UID-123", "timestamp": "2023-10-01 00:11:54", "note": ""}"#;
    const CURRENT: &str = r#"{"data": {"statusCode": 20, "status": "Succesful", "account": "0113242124", "product": "C",
 "productName": "Celcom Prepaid", "amount": 10, "sn": "123456", "pin": "", "expiry": "", "cost": 9.7,
 "balance": 151.1, "remarks": "", "refid": "UID-123", "timestamp": "2023-10-01 00:11:54", "note": "",
 "voucherlink": ""}}"#;

    #[test]
    fn both_documented_shapes_read_the_same() {
        let seed = TopupResponse::parse(SEED).unwrap();
        let current = TopupResponse::parse(CURRENT).unwrap();
        for r in [&seed, &current] {
            assert_eq!(r.status_code, 20);
            assert_eq!(r.outcome(), Outcome::Successful);
            assert_eq!((r.refid.as_str(), r.account.as_str(), r.product.as_str()), ("UID-123", "0113242124", "C"));
            assert_eq!(
                (r.amount, r.cost, r.balance),
                (Amount::from_rm(10), Amount::from_minor(97_000), Amount::from_minor(1_511_000))
            );
            assert_eq!(r.sn, "123456");
        }
        assert_eq!(seed.shape, ResponseShape::Seed);
        assert_eq!(current.shape, ResponseShape::Current);
        assert_eq!(current.product_name, "Celcom Prepaid");
        assert_eq!(seed.raw, SEED);
    }

    #[test]
    fn a_body_missing_money_does_not_parse() {
        assert!(TopupResponse::parse(r#"{"statuscode": "20", "refid": "X"}"#).is_err());
        assert!(TopupResponse::parse("<html>502</html>").is_err());
    }

    #[test]
    fn the_request_body_is_exact_json() {
        let mut r = TopupRequest::new("R-1", "D", "0123456789", Amount::parse("10.50").unwrap());
        assert_eq!(r.body(), br#"{"refid":"R-1","product":"D","account":"0123456789","amount":"10.5"}"#);
        r.remarks = Some("hi".into());
        r.extras.insert("subproduct_code".into(), "X1".into());
        assert_eq!(
            String::from_utf8(r.body()).unwrap(),
            r#"{"refid":"R-1","product":"D","account":"0123456789","amount":"10.5","remarks":"hi","extras":{"subproduct_code":"X1"}}"#
        );
    }

    #[test]
    fn codes_map_to_the_documented_outcomes() {
        assert_eq!(Outcome::of(0), Outcome::Pending);
        assert_eq!(Outcome::of(1), Outcome::Pending);
        assert_eq!(Outcome::of(43), Outcome::Failed);
        assert_eq!(Outcome::of(54), Outcome::Failed);
        assert_eq!(Outcome::of(53), Outcome::Refunded);
        assert_eq!(Outcome::of(46), Outcome::Unrecognized);
        assert_eq!(Outcome::of(99), Outcome::Unrecognized);
    }
}
