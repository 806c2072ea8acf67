//! Request timestamps: the `YYYY-MM-DDThh:mm:ssZ` form the protocol uses, read and written by
//! `rampart_model::Timestamp` (one calendar implementation for the whole server), and the
//! clock-skew check. Callers pass `now` as Unix seconds: this crate reads no clock.

use rampart_model::Timestamp;

use crate::error::RequestError;

/// Parses `YYYY-MM-DDThh:mm:ssZ` (optionally with fractional seconds, which some non-Python
/// SDKs send and which are truncated) into Unix seconds. Anything else, including a numeric
/// offset instead of `Z`, is `InvalidTimeStamp.Format`.
pub fn parse_timestamp(text: &str) -> Result<i64, RequestError> {
    Timestamp::parse(text)
        .map(Timestamp::unix_secs)
        .map_err(|_| RequestError::TimestampFormat(text.to_owned()))
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ`, the only form the credentials library
/// accepts for STS `Expiration`. Times outside 1970–9999 are clamped to that range.
pub fn format_timestamp(unix_secs: i64) -> String {
    let max = Timestamp::parse("9999-12-31T23:59:59Z").map_or(i64::MAX, Timestamp::unix_secs);
    Timestamp::from_unix_secs(unix_secs.clamp(0, max))
        .map(|t| t.to_string())
        .unwrap_or_default()
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
        // Outside the range Timestamp represents, formatting clamps.
        assert_eq!(format_timestamp(-1), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(i64::MAX), "9999-12-31T23:59:59Z");
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
