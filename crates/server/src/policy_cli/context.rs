//! Request context from the command line and test files, and the one place that reads the clock.

use rampart_model::{Clock, SystemClock};

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
    SystemClock.now().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

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
