//! The transaction status codes of the wire contract and what each means.

/// A status code as the API reports it (`statuscode` / `statusCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusCode(u8);

/// A status code shows as its number, as on the wire (`20`).
impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl StatusCode {
    pub const ACCEPTED: StatusCode = StatusCode(0);
    pub const PROCESSING: StatusCode = StatusCode(1);
    pub const SUCCESSFUL: StatusCode = StatusCode(20);
    pub const INVALID_ACCOUNT: StatusCode = StatusCode(40);
    pub const SUSPENDED: StatusCode = StatusCode(41);
    pub const INSUFFICIENT_CREDIT: StatusCode = StatusCode(43);
    pub const INVALID_FORMAT: StatusCode = StatusCode(44);
    pub const OUT_OF_STOCK: StatusCode = StatusCode(45);
    pub const UNAVAILABLE: StatusCode = StatusCode(47);
    pub const REJECTED: StatusCode = StatusCode(48);
    pub const BARRED: StatusCode = StatusCode(52);
    pub const REFUND: StatusCode = StatusCode(53);
    pub const DUPLICATE: StatusCode = StatusCode(54);
    pub const TIMEOUT: StatusCode = StatusCode(55);
    pub const BLACKLISTED: StatusCode = StatusCode(56);
    pub const ACTIVATED: StatusCode = StatusCode(57);
    pub const INVALID_DENOMINATION: StatusCode = StatusCode(58);
    pub const INVALID_AMOUNT: StatusCode = StatusCode(61);

    /// Every code the contract defines.
    pub const ALL: [StatusCode; 18] = [
        Self::ACCEPTED,
        Self::PROCESSING,
        Self::SUCCESSFUL,
        Self::INVALID_ACCOUNT,
        Self::SUSPENDED,
        Self::INSUFFICIENT_CREDIT,
        Self::INVALID_FORMAT,
        Self::OUT_OF_STOCK,
        Self::UNAVAILABLE,
        Self::REJECTED,
        Self::BARRED,
        Self::REFUND,
        Self::DUPLICATE,
        Self::TIMEOUT,
        Self::BLACKLISTED,
        Self::ACTIVATED,
        Self::INVALID_DENOMINATION,
        Self::INVALID_AMOUNT,
    ];

    pub fn from_u8(code: u8) -> Option<StatusCode> {
        Self::ALL.into_iter().find(|c| c.0 == code)
    }

    pub const fn code(self) -> u8 {
        self.0
    }

    /// A failure code (4x–6x): final, the hold released.
    pub fn is_failure(self) -> bool {
        self.0 >= 40 && self.0 != 53
    }

    /// Final: resubmitting will not change it (except 20 → 53 by a refund).
    pub fn is_final(self) -> bool {
        self.0 >= 20
    }

    /// The seed format's `status` word.
    pub fn status_word(self) -> &'static str {
        match self.0 {
            0 => "Accepted",
            1 => "Processing",
            20 => "Successful",
            53 => "Refund",
            _ => "Failed",
        }
    }

    /// What the code means, for `remarks` and logs.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            0 => "Transaction accepted and will be sent for processing",
            1 => "Transaction is still being processed",
            20 => "Transaction is successful",
            40 | 52 => "Invalid account number or mobile number, or the number is barred or terminated",
            41 => "Merchant account suspended or unauthorized access",
            43 => "Insufficient credit in the merchant's wallet",
            44 => "Incorrect format or invalid product",
            45 => "Product out of stock",
            47 => "Service currently unavailable, try again later",
            48 => "Transaction rejected by provider",
            53 => "Transaction reversed after success, the cost is returned",
            54 => "Duplicate transaction or daily limit per account reached",
            55 => "Transaction failed due to timeout",
            56 => "Account blacklisted",
            57 => "Customer's mobile number activated",
            _ => "Invalid denomination or amount",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(!StatusCode::ACCEPTED.is_final());
        assert!(!StatusCode::PROCESSING.is_final());
        assert!(StatusCode::SUCCESSFUL.is_final() && !StatusCode::SUCCESSFUL.is_failure());
        assert!(StatusCode::REFUND.is_final() && !StatusCode::REFUND.is_failure());
        for code in [40, 41, 43, 44, 45, 47, 48, 52, 54, 55, 56, 57, 58, 61] {
            let c = StatusCode::from_u8(code).unwrap();
            assert!(c.is_failure() && c.is_final(), "{code}");
            assert_eq!(c.status_word(), "Failed");
        }
        assert_eq!(StatusCode::from_u8(42), None);
    }
}
