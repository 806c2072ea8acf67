//! UTC timestamps in the `YYYY-MM-DDThh:mm:ssZ` form the protocol uses, without a date crate
//! and without reading the clock: callers pass `now` as Unix seconds.

use crate::error::RequestError;

/// Parses `YYYY-MM-DDThh:mm:ssZ` (optionally with fractional seconds, which some non-Python
/// SDKs send and which are truncated) into Unix seconds. Anything else, including a numeric
/// offset instead of `Z`, is `InvalidTimeStamp.Format`.
pub fn parse_timestamp(text: &str) -> Result<i64, RequestError> {
    let bad = || RequestError::TimestampFormat(text.to_owned());
    let b = text.as_bytes();
    let main = b.get(..19).ok_or_else(bad)?;
    let tail = b.get(19..).ok_or_else(bad)?;
    let tail_ok = match tail {
        [b'Z'] => true,
        [b'.', digits @ .., b'Z'] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !tail_ok {
        return Err(bad());
    }
    let field = |range: std::ops::Range<usize>| -> Result<i64, RequestError> {
        let digits = main.get(range).ok_or_else(bad)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| main.get(i) != Some(&c)) {
        return Err(bad());
    }
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ`, the only form the credentials library
/// accepts for STS `Expiration`.
pub fn format_timestamp(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Checks a request timestamp against `now`: at most `max_skew_secs` off in either direction
/// (the boundary itself is accepted). Returns the parsed time.
pub fn check_timestamp(text: &str, now_unix: i64, max_skew_secs: i64) -> Result<i64, RequestError> {
    let at = parse_timestamp(text)?;
    if at.abs_diff(now_unix) > max_skew_secs.unsigned_abs() {
        return Err(RequestError::TimestampExpired);
    }
    Ok(at)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms (public domain), proleptic Gregorian.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// 2024-01-01T12:00:00Z, the time pinned in every SDK capture.
    const PINNED: i64 = 1_704_110_400;

    #[test]
    fn parses_the_sdk_form() {
        assert_eq!(parse_timestamp("2024-01-01T12:00:00Z"), Ok(PINNED));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_timestamp("2024-02-29T00:00:00Z"), Ok(1_709_164_800));
        assert_eq!(parse_timestamp("2024-01-01T12:00:00.999Z"), Ok(PINNED));
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01T12:00:00",
            "2024-01-01T12:00:00+08:00",
            "2024-01-01 12:00:00Z",
            "2024-01-01T12:00:00z",
            "2024-01-01T12:00:00.Z",
            "2024-13-01T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2024-04-31T12:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T12:60:00Z",
            "2024-01-01T12:00:60Z",
            "+024-01-01T12:00:00Z",
            "2024-01-01T12:00:00ZZ",
            "1704110400",
            "Mon, 01 Jan 2024 12:00:00 GMT",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(RequestError::TimestampFormat(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(format_timestamp(PINNED), "2024-01-01T12:00:00Z");
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59Z");
        for t in [
            0,
            PINNED,
            951_782_400,
            4_102_444_799,
            1_709_164_800 + 86_399,
        ] {
            assert_eq!(parse_timestamp(&format_timestamp(t)), Ok(t));
        }
    }

    #[test]
    fn window_edges() {
        let ts = "2024-01-01T12:00:00Z";
        let window = 15 * 60;
        assert_eq!(check_timestamp(ts, PINNED + window, window), Ok(PINNED));
        assert_eq!(check_timestamp(ts, PINNED - window, window), Ok(PINNED));
        assert_eq!(
            check_timestamp(ts, PINNED + window + 1, window),
            Err(RequestError::TimestampExpired)
        );
        assert_eq!(
            check_timestamp(ts, PINNED - window - 1, window),
            Err(RequestError::TimestampExpired)
        );
        assert_eq!(
            check_timestamp("yesterday", PINNED, window),
            Err(RequestError::TimestampFormat("yesterday".into()))
        );
    }
}
