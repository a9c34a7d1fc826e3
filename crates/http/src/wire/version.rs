//! The two response versions (`X-Api-Version`, or the merchant's pinned one).

use axum::http::HeaderMap;

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
