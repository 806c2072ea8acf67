//! Request context from the command line and test files, and the one place that reads the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use rampart_policy::Context;

pub const CURRENT_TIME: &str = "acs:CurrentTime";

/// clap value parser for `--context KEY=VALUE`. Only the first `=` splits, because values
/// (tag values, JSON fragments) may contain more.
pub fn parse_pair(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.to_owned(), value.to_owned())),
        Some(_) => Err("the key before '=' is empty".into()),
        None => Err(format!("expected KEY=VALUE, found \"{arg}\"")),
    }
}

/// Builds the context, giving `acs:CurrentTime` the value `now` unless the caller set it: the
/// server always sends it, so a policy with a date condition would otherwise behave differently
/// here than in production. `acs:SecureTransport` is deliberately not filled in, because a
/// default would hide whether a policy depends on it.
pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, now: &str) -> Context {
    let mut context = Context::new();
    for (key, value) in pairs {
        context.insert(key, value);
    }
    if context.get(CURRENT_TIME).is_none() {
        context.insert(CURRENT_TIME, now);
    }
    context
}

/// The current UTC time as `YYYY-MM-DDThh:mm:ssZ`, the format RAM sends `acs:CurrentTime` in.
pub fn now_utc() -> String {
    // A clock before 1970 is broken beyond what a policy check can fix; 1970 is as good as any.
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format_utc(secs)
}

fn format_utc(epoch_secs: u64) -> String {
    let days = i64::try_from(epoch_secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = epoch_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`),
/// so the binary needs no date library for one timestamp.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(format_utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn now_is_well_formed() {
        let now = now_utc();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
        assert!(now.as_str() > "2024-01-01T00:00:00Z", "{now}");
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_pair("acs:RequestTag/k=a=b").unwrap(),
            ("acs:RequestTag/k".into(), "a=b".into())
        );
        assert_eq!(parse_pair("k=").unwrap(), ("k".into(), String::new()));
        assert!(parse_pair("novalue").is_err());
        assert!(parse_pair("=v").is_err());
    }

    #[test]
    fn current_time_is_defaulted_unless_given_and_secure_transport_never() {
        let ctx = build([("acs:SourceIp", "10.0.0.1")], "2030-01-01T00:00:00Z");
        let time = ctx.get("acs:currenttime").unwrap();
        assert_eq!(time[0].text(), "2030-01-01T00:00:00Z");
        assert!(ctx.get("acs:SecureTransport").is_none());

        let ctx = build(
            [("ACS:CurrentTime", "2001-01-01T00:00:00Z")],
            "2030-01-01T00:00:00Z",
        );
        let time = ctx.get(CURRENT_TIME).unwrap();
        assert_eq!(time.len(), 1);
        assert_eq!(time[0].text(), "2001-01-01T00:00:00Z");
    }

    #[test]
    fn repeated_keys_are_multi_valued() {
        let ctx = build([("acs:TagKeys", "a"), ("acs:tagkeys", "b")], "x");
        let values: Vec<&str> = ctx
            .get("acs:TagKeys")
            .unwrap()
            .iter()
            .map(|v| v.text())
            .collect();
        assert_eq!(values, ["a", "b"]);
    }
}
