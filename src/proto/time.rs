//! Time formatting without a date crate: the IRCv3 server-time tag value
//! (`2026-11-22T02:51:31.123Z`) and the human form used in numerics.

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDThh:mm:ss.sssZ` for a unix time in milliseconds.
pub fn server_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86400) as i64);
    let s = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        unix_ms % 1000
    )
}

/// (year, month, day) to days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Unix milliseconds from a server-time value, `YYYY-MM-DDThh:mm:ss.sssZ`
/// (the fraction may have 1 to 9 digits, or be left out); None for anything
/// else, a date before 1970 or a day that does not exist.
pub fn parse_server_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = s.get(19..)?;
    let ms = match rest.strip_suffix('Z')? {
        "" => 0,
        frac => {
            let digits = frac.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let mut ms = 0;
            for (i, c) in digits.bytes().take(3).enumerate() {
                ms += u64::from(c - b'0') * [100, 10, 1][i];
            }
            ms
        }
    };
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let max_day = if mo == 2 && leap {
        29
    } else {
        *month_days.get(mo.checked_sub(1)? as usize)?
    };
    if y < 1970 || d == 0 || d > max_day || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86400 + i64::from(h * 3600 + mi * 60 + sec);
    u64::try_from(secs).ok().map(|s| s * 1000 + ms)
}

/// "Sun Nov 22 2026 at 02:17:00 UTC" from a unix time.
pub fn human(unix: u64) -> String {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{} {} {d} {y} at {:02}:{:02}:{:02} UTC",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(server_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(server_time(1_795_320_000_123), "2026-11-22T04:00:00.123Z");
        assert_eq!(human(0), "Thu Jan 1 1970 at 00:00:00 UTC");
        assert_eq!(human(1_795_320_000), "Sun Nov 22 2026 at 04:00:00 UTC");
    }

    #[test]
    fn parses_what_it_formats() {
        for ms in [0, 1_795_320_000_123, 951_782_400_000, 1_546_612_406_123] {
            assert_eq!(parse_server_time(&server_time(ms)), Some(ms), "{ms}");
        }
        assert_eq!(
            parse_server_time("2019-01-04T14:33:26.123Z"),
            Some(1_546_612_406_123)
        );
        assert_eq!(
            parse_server_time("2019-01-04T14:33:26Z"),
            Some(1_546_612_406_000)
        );
        assert_eq!(
            parse_server_time("2019-01-04T14:33:26.5Z"),
            Some(1_546_612_406_500)
        );
        for bad in [
            "",
            "*",
            "not-a-timestamp",
            "2019-01-04T14:33:26.123",
            "2019-01-04 14:33:26.123Z",
            "2019-02-29T00:00:00.000Z",
            "2019-13-01T00:00:00.000Z",
            "2019-00-01T00:00:00.000Z",
            "1969-12-31T23:59:59.000Z",
            "2019-01-04T24:00:00.000Z",
            "2019-01-04T14:33:26.Z",
            "2019-01-04T14:33:26.1234567890Z",
            "+019-01-04T14:33:26.123Z",
            "2019-01-04T14:33:26.12aZ",
        ] {
            assert_eq!(parse_server_time(bad), None, "{bad}");
        }
        assert!(parse_server_time("2020-02-29T00:00:00.000Z").is_some());
        for ms in [0, 1_795_320_000_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_server_time(&server_time(ms)), Some(ms), "{ms}");
        }
        assert_eq!(
            parse_server_time("2020-01-01T00:00:00Z"),
            Some(1_577_836_800_000)
        );
        assert_eq!(
            parse_server_time("2020-01-01T00:00:00.5Z"),
            Some(1_577_836_800_500)
        );
        assert_eq!(
            parse_server_time("2020-01-01T00:00:00.123456Z"),
            Some(1_577_836_800_123)
        );
        for bad in [
            "",
            "Z",
            "2020-01-01",
            "2020-01-01T00:00:00",
            "2020-13-01T00:00:00.000Z",
            "2021-02-29T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "2020-01-01T24:00:00.000Z",
            "2020-1-01T00:00:00.000Z",
            "+020-01-01T00:00:00.000Z",
            "2020-01-01T00:00:00.x1Z",
            "2020-01-01T00:00:00.000ZZ",
            "2020-01-01-01T00:00:00Z",
            "२०२०-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_server_time(bad), None, "{bad:?}");
        }
    }
}
