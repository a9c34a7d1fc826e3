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

/// The first value of a parameter as given, empty included: for the
/// parameters with one form (a date, an enum), where `name=` is refused
/// rather than read as absent.
pub(crate) fn given(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Whether a repeatable parameter was given once with an empty value.
pub(crate) fn any_empty(query: &str, name: &str) -> bool {
    let bracketed = format!("{name}[]");
    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| (k == name || k == bracketed) && v.is_empty())
}

/// The first non-empty value of a parameter.
pub(crate) fn first_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Pages run to `i32::MAX` (so `offset` arithmetic can never overflow), and
/// offsets to `i64::MAX`, as the description's `int32`/`int64` say.
pub(crate) const PAGE_NUMBER_MAX: u64 = i32::MAX as u64;
pub(crate) const OFFSET_MAX: u64 = i64::MAX as u64;

/// A whole-number parameter within `range`, `None` when absent. Present but
/// empty (`page=`), signed, or out of range is refused with `error`: one
/// form, as the OpenAPI description says.
pub(crate) fn number(
    query: &str,
    name: &str,
    error: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ApiError> {
    let Some(text) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v) else {
        return Ok(None);
    };
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u64>().ok().filter(|n| digits && range.contains(n)) {
        Some(n) => Ok(Some(n)),
        None => Err(ApiError::bad_request(
            error,
            format!("{name} {text:?} is not a whole number from {} to {}", range.start(), range.end()),
        )),
    }
}

pub(crate) fn limit_offset(query: &str) -> Result<(u32, u64), ApiError> {
    let limit = number(query, "limit", "invalid_limit", 1..=u64::from(PAGE_MAX))?.unwrap_or(u64::from(PAGE_DEFAULT));
    let offset = number(query, "offset", "invalid_offset", 0..=OFFSET_MAX)?.unwrap_or(0);
    Ok((u32::try_from(limit).expect("at most PAGE_MAX"), offset))
}

/// `date=yyyy-MM-dd[ - yyyy-MM-dd]` as [from, to) instants; both `None`
/// without it.
pub(crate) fn date_range(query: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
    // `date=` is no date filter: IIMMPACT's v1 SDK requires the argument, so
    // its callers send "" to list everything.
    match first_value(query, "date") {
        Some(text) => {
            let (from, to) = time::parse_date_range(&text).map_err(|m| ApiError::bad_request("invalid_date", m))?;
            Ok((Some(from), Some(to)))
        }
        None => Ok((None, None)),
    }
}
