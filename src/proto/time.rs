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

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Unix milliseconds of a server-time value (`YYYY-MM-DDThh:mm:ss.sssZ`;
/// the fraction may have any number of digits, or none). None for anything
/// else, or a date before 1970 or after 9999.
pub fn parse_server_time(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let num = |t: &str, len: usize| -> Option<u32> {
        (t.len() == len && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let mut d = date.split('-');
    let (y, mo, da) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let (h, mi, se) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
    if d.next().is_some() || t.next().is_some() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let days_in = [
        31,
        28 + u32::from(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if y < 1970
        || !(1..=12).contains(&mo)
        || da == 0
        || da > days_in[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || se > 60
    {
        return None;
    }
    let ms: u64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let days = u64::try_from(days_from_civil(i64::from(y), mo, da)).ok()?;
    Some((days * 86400 + u64::from(h * 3600 + mi * 60 + se)) * 1000 + ms)
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
