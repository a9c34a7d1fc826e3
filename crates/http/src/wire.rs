//! Wire helpers: the two response versions, money as exact JSON numbers, and
//! Malaysia-time stamps.

use std::str::FromStr;

use axum::http::HeaderMap;
use serde_json::{Number, Value};
use tambah_domain::time::MytDateTime;
use tambah_domain::Amount;

use crate::error::ApiError;

/// The response format a request is answered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    /// `2023-10-01`: the seed document's format (flat, strings).
    Seed,
    /// `2025-05-20`: the live API's current format (`data`, numbers).
    Current,
}

impl ApiVersion {
    pub fn parse(text: &str) -> Option<ApiVersion> {
        match text {
            "2023-10-01" => Some(ApiVersion::Seed),
            "2025-05-20" => Some(ApiVersion::Current),
            _ => None,
        }
    }

    /// The merchant's pinned version, unless `X-Api-Version` overrides it.
    pub fn for_request(headers: &HeaderMap, pinned: &str) -> Result<ApiVersion, ApiError> {
        if let Some(v) = headers.get("x-api-version") {
            let text = v.to_str().unwrap_or("");
            return ApiVersion::parse(text.trim()).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_api_version",
                message: format!("X-Api-Version {text:?} is not one of 2023-10-01, 2025-05-20"),
            });
        }
        Ok(ApiVersion::parse(pinned).unwrap_or(ApiVersion::Seed))
    }
}

/// An amount as an exact JSON number (`151.1`, `48.6333`, `10`).
pub fn money(a: Amount) -> Value {
    Value::Number(Number::from_str(&a.to_plain()).expect("a plain decimal is a JSON number"))
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

pub fn myt(ms: i64) -> MytDateTime {
    MytDateTime::from_unix_millis(ms)
}
