//! Query-string parameters of the listing resources: single and repeatable
//! values, pages (`limit`/`offset`) and Malaysia-time date ranges.

use tambah_domain::time;

use crate::error::ApiError;

/// Rows per page when `limit` is absent, and at most.
pub(crate) const PAGE_DEFAULT: u32 = 50;
pub(crate) const PAGE_MAX: u32 = 500;

/// Every value of a repeatable query parameter (`status=A&status=B`,
/// `status[]=A`, or `status=A,B`).
pub(crate) fn all_values(query: &str, name: &str) -> Vec<String> {
    let bracketed = format!("{name}[]");
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name || *k == bracketed)
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The first non-empty value of a parameter.
pub(crate) fn first_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

pub(crate) fn limit_offset(query: &str) -> Result<(u32, u64), ApiError> {
    let limit = match first_value(query, "limit") {
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request("invalid_limit", format!("limit {v:?} is not a number")))?,
        None => PAGE_DEFAULT,
    };
    if limit == 0 || limit > PAGE_MAX {
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be 1 to {PAGE_MAX}")));
    }
    let offset = match first_value(query, "offset") {
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("invalid_offset", format!("offset {v:?} is not a number")))?,
        None => 0,
    };
    Ok((limit, offset))
}

/// `date=yyyy-MM-dd[ - yyyy-MM-dd]` as [from, to) instants; both `None`
/// without it.
pub(crate) fn date_range(query: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
    match first_value(query, "date") {
        Some(text) => {
            let (from, to) = time::parse_date_range(&text).map_err(|m| ApiError::bad_request("invalid_date", m))?;
            Ok((Some(from), Some(to)))
        }
        None => Ok((None, None)),
    }
}
