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
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
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
}
