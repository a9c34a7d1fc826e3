//! Malaysia time (UTC+08:00, no daylight saving) formatting from Unix time.
//! The clock is read by callers and passed in.

pub const MYT_OFFSET_SECONDS: i64 = 8 * 3600;

/// A civil date-time in Malaysia time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MytDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl MytDateTime {
    pub fn from_unix_millis(unix_ms: i64) -> MytDateTime {
        let local_ms = unix_ms + MYT_OFFSET_SECONDS * 1000;
        let secs = local_ms.div_euclid(1000);
        let millis = local_ms.rem_euclid(1000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        MytDateTime {
            year,
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: (sod % 3600 / 60) as u32,
            second: (sod % 60) as u32,
            millis,
        }
    }

    /// `yyyy-MM-dd HH:mm:ss` (topup responses).
    pub fn seconds_text(&self) -> String {
        // Every topup answer carries one: written digit by digit, without
        // the formatting machinery (a year outside 0..=9999 takes it).
        let Ok(year @ 0..=9999) = u32::try_from(self.year) else {
            return format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                self.year, self.month, self.day, self.hour, self.minute, self.second
            );
        };
        let mut text = String::with_capacity(19);
        let parts =
            [("", year), ("-", self.month), ("-", self.day), (" ", self.hour), (":", self.minute), (":", self.second)];
        for (before, value) in parts {
            // The year (first, nothing before it) has four digits.
            text.push_str(before);
            push_padded(&mut text, value, if before.is_empty() { 4 } else { 2 });
        }
        text
    }

    /// `yyyy-MM-dd HH:mm:ss.fff` (transactions, statements).
    pub fn millis_text(&self) -> String {
        format!("{}.{:03}", self.seconds_text(), self.millis)
    }

    /// `dd-MM-yyyy HH:mm:ss` (metadata `last_updated`).
    pub fn metadata_text(&self) -> String {
        format!(
            "{:02}-{:02}-{:04} {:02}:{:02}:{:02}",
            self.day, self.month, self.year, self.hour, self.minute, self.second
        )
    }
}

/// A Malaysia-time calendar day, as days since 1970-01-01.
pub type Day = i64;

/// (year, month, day) to days since 1970-01-01 (proleptic Gregorian).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Day {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `yyyy-MM-dd` to a day, checking that the date exists.
pub fn parse_date(text: &str) -> Result<Day, String> {
    let bad = || format!("{text:?} is not a date (yyyy-MM-dd)");
    // One form only: digits and hyphens, no sign, no spaces.
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(bad());
    }
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (year, month, day): (i64, u32, u32) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if !(1..=12).contains(&month) || day == 0 {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    if civil_from_days(days) != (year, month, day) {
        return Err(bad());
    }
    Ok(days)
}

/// `yyyy-MM-dd` or `yyyy-MM-dd - yyyy-MM-dd` (inclusive, in either order) to
/// the Unix-ms range [start of the first day, start of the day after the
/// last) in Malaysia time.
pub fn parse_date_range(text: &str) -> Result<(i64, i64), String> {
    let (a, b) = match text.split_once(" - ") {
        Some((a, b)) => (parse_date(a)?, parse_date(b)?),
        None => {
            let d = parse_date(text)?;
            (d, d)
        }
    };
    Ok((day_start_ms(a.min(b)), day_start_ms(a.max(b) + 1)))
}

/// Unix ms at the start (00:00 Malaysia time) of a day.
pub fn day_start_ms(day: Day) -> i64 {
    day * 86_400_000 - MYT_OFFSET_SECONDS * 1000
}

/// The Malaysia-time day of a Unix-ms instant.
pub fn day_of(unix_ms: i64) -> Day {
    (unix_ms + MYT_OFFSET_SECONDS * 1000).div_euclid(86_400_000)
}

/// `yyyy-MM-dd`.
pub fn date_text(day: Day) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `yyyy-MM` to the Unix-ms range of that month in Malaysia time.
pub fn parse_month(text: &str) -> Result<(i64, i64), String> {
    let bad = || format!("{text:?} is not a month (yyyy-MM)");
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(bad());
    }
    let (y, m) = text.split_once('-').ok_or_else(bad)?;
    let (year, month): (i64, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
        return Err(bad());
    }
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    Ok((day_start_ms(days_from_civil(year, month, 1)), day_start_ms(days_from_civil(ny, nm, 1))))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `value` in decimal, zero-padded to `width` digits (more if it needs them).
fn push_padded(text: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let (mut v, mut at) = (value, digits.len());
    while v > 0 || at == digits.len() {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let from = at.min(digits.len() - width.min(digits.len()));
    text.extend(digits[from..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_malaysia_time() {
        // 2023-09-30T16:11:54Z is 2023-10-01 00:11:54 in Kuala Lumpur.
        let t = MytDateTime::from_unix_millis(1_696_090_314_123);
        assert_eq!(t.seconds_text(), "2023-10-01 00:11:54");
        assert_eq!(t.millis_text(), "2023-10-01 00:11:54.123");
        assert_eq!(t.metadata_text(), "01-10-2023 00:11:54");
        assert_eq!(MytDateTime::from_unix_millis(0).seconds_text(), "1970-01-01 08:00:00");
        // Leap day.
        assert_eq!(MytDateTime::from_unix_millis(1_709_164_800_000).seconds_text(), "2024-02-29 08:00:00");
    }

    #[test]
    fn dates_and_ranges_in_malaysia_time() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(date_text(days_from_civil(2024, 2, 29)), "2024-02-29");
        assert_eq!(parse_date("2023-10-01").unwrap(), days_from_civil(2023, 10, 1));
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2023-1-01").is_err());
        assert!(parse_date("yesterday").is_err());
        // 2023-10-01 00:00 MYT is 2023-09-30 16:00 UTC.
        let (from, to) = parse_date_range("2023-10-01").unwrap();
        assert_eq!(from, 1_696_089_600_000);
        assert_eq!(to - from, 86_400_000);
        let (from2, to2) = parse_date_range("2023-10-01 - 2023-10-03").unwrap();
        assert_eq!((from2, to2 - from2), (from, 3 * 86_400_000));
        // A range given backwards is the same days.
        assert_eq!(parse_date_range("2023-10-03 - 2023-10-01").unwrap(), (from2, to2));
        // One form only: no sign, no spaces, ASCII digits.
        for bad in ["+023-10-01", " 2023-10-01", "2023-10-01 ", "２023-10-01", "2023-+1-01"] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
        assert!(parse_month("+023-12").is_err() && parse_month(" 2023-12").is_err());
        assert_eq!(day_of(from - 1), day_of(from) - 1);
        let (m0, m1) = parse_month("2023-12").unwrap();
        assert_eq!((date_text(day_of(m0)), date_text(day_of(m1))), ("2023-12-01".into(), "2024-01-01".into()));
    }

    #[test]
    fn seconds_text_is_what_the_formatting_machinery_wrote() {
        let reference = |t: MytDateTime| {
            format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second)
        };
        let mut ms = -70_000_000_000_000_i64;
        while ms < 300_000_000_000_000 {
            let t = MytDateTime::from_unix_millis(ms);
            assert_eq!(t.seconds_text(), reference(t), "{ms}");
            ms += 3_999_999_937;
        }
        let far = MytDateTime { year: 12_345, month: 1, day: 2, hour: 3, minute: 4, second: 5, millis: 0 };
        assert_eq!(far.seconds_text(), "12345-01-02 03:04:05");
    }
}
