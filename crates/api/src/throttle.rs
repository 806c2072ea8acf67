//! Rate limits per source IP and per AccessKey: token buckets, answered with
//! `Throttling.User` and `x-acs-retry-after` (milliseconds), which the official SDKs turn into
//! a `ThrottlingException` and use as their back-off.
//!
//! The source-IP limit is taken before anything else, so a flood of garbage costs a hash
//! lookup. The AccessKey limit is taken only once the signature verified: a caller who merely
//! names somebody's AccessKeyId must not be able to spend that key's budget.
//!
//! Limits are per server process. Several nodes behind a load balancer each allow the rate.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use rampart_model::Timestamp;
use rampart_wire::ApiError;

/// Requests per second, and how many may come at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl FromStr for Rate {
    type Err = String;

    /// `100` (burst 100) or `100/500`.
    fn from_str(text: &str) -> Result<Self, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("{text:?} is not RATE or RATE/BURST with positive whole numbers")
                })
        };
        let (rate, burst) = match text.split_once('/') {
            Some((rate, burst)) => (number(rate)?, number(burst)?),
            None => {
                let rate = number(text)?;
                (rate, rate)
            }
        };
        Ok(Rate {
            per_second: rate,
            burst,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s, burst {}", self.per_second, self.burst)
    }
}

/// Both limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub per_access_key: Option<Rate>,
    pub per_source_ip: Option<Rate>,
}

/// Buckets kept before idle (full) ones are dropped: a full bucket and a missing one mean the
/// same, so memory follows the callers active in the last burst/rate seconds, not all callers
/// ever seen.
const PRUNE_ABOVE: usize = 50_000;

struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// One limit over many callers.
pub(crate) struct Limiter {
    rate: Rate,
    /// Names the limit in refusals: "source IP", "AccessKey".
    scope: &'static str,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub(crate) fn new(rate: Rate, scope: &'static str) -> Self {
        Self {
            rate,
            scope,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one request of `caller`'s budget, or says how long until one is available.
    pub(crate) fn take(&self, caller: &str, now: Timestamp) -> Result<(), Throttled> {
        let now_ms = now.unix_millis();
        let per_ms = f64::from(self.rate.per_second) / 1000.0;
        let burst = f64::from(self.rate.burst);
        // A poisoned lock only means another request panicked mid-update of a counter.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| refilled(b, now_ms, per_ms, burst) < burst);
        }
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated_ms: now_ms,
        });
        bucket.tokens = refilled(bucket, now_ms, per_ms, burst);
        // A clock that stepped back must not mint tokens when it steps forward again.
        bucket.updated_ms = bucket.updated_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_ms = ((1.0 - bucket.tokens) / per_ms).ceil().max(1.0);
        Err(Throttled {
            retry_after_ms: wait_ms as u64,
            scope: self.scope,
            rate: self.rate,
        })
    }
}

fn refilled(bucket: &Bucket, now_ms: i64, per_ms: f64, burst: f64) -> f64 {
    let elapsed = now_ms.saturating_sub(bucket.updated_ms).max(0) as f64;
    (bucket.tokens + elapsed * per_ms).min(burst)
}

/// A refused request: when to try again, and which limit refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub retry_after_ms: u64,
    scope: &'static str,
    rate: Rate,
}

impl Throttled {
    pub(crate) fn error(&self) -> ApiError {
        ApiError::new(
            "Throttling.User",
            format!(
                "Request was denied due to user flow control: the {} limit is {}; retry after {} ms.",
                self.scope, self.rate, self.retry_after_ms
            ),
            400,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn rates_parse_with_and_without_a_burst() {
        assert_eq!(
            "100".parse(),
            Ok(Rate {
                per_second: 100,
                burst: 100
            })
        );
        assert_eq!(
            "5/20".parse(),
            Ok(Rate {
                per_second: 5,
                burst: 20
            })
        );
        for bad in ["", "0", "-3", "1.5", "10/0", "a/b", "10/"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_then_the_rate_then_a_wait_to_retry() {
        let limiter = Limiter::new("10/3".parse().unwrap(), "AccessKey");
        for _ in 0..3 {
            assert!(limiter.take("k", at(0)).is_ok());
        }
        let refused = limiter.take("k", at(0)).unwrap_err();
        assert_eq!(refused.retry_after_ms, 100, "one token every 100 ms");
        // Other callers have their own buckets.
        assert!(limiter.take("other", at(0)).is_ok());
        // Half-way there: still refused, and told the rest of the wait.
        assert_eq!(limiter.take("k", at(50)).unwrap_err().retry_after_ms, 50);
        assert!(limiter.take("k", at(100)).is_ok());
        assert!(limiter.take("k", at(100)).is_err());
        // A long pause refills only up to the burst.
        for _ in 0..3 {
            assert!(limiter.take("k", at(60_000)).is_ok());
        }
        assert!(limiter.take("k", at(60_000)).is_err());
    }

    #[test]
    fn a_clock_stepping_back_mints_nothing() {
        let limiter = Limiter::new("1/1".parse().unwrap(), "source IP");
        assert!(limiter.take("ip", at(10_000)).is_ok());
        assert!(limiter.take("ip", at(5_000)).is_err());
        assert!(limiter.take("ip", at(10_500)).is_err());
        assert!(limiter.take("ip", at(11_000)).is_ok());
    }

    #[test]
    fn idle_buckets_are_dropped_when_there_are_many() {
        let limiter = Limiter::new("1000/1".parse().unwrap(), "source IP");
        for i in 0..=PRUNE_ABOVE {
            assert!(limiter.take(&format!("ip{i}"), at(0)).is_ok());
        }
        // A second later every bucket is full again, hence forgotten at the next take.
        assert!(limiter.take("late", at(1_000)).is_ok());
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_refusal_is_throttling_user_and_names_the_limit() {
        let limiter = Limiter::new("2/1".parse().unwrap(), "AccessKey");
        limiter.take("k", at(0)).unwrap();
        let e = limiter.take("k", at(0)).unwrap_err().error();
        assert_eq!((e.code(), e.status()), ("Throttling.User", 400));
        assert!(e.message().contains("AccessKey limit is 2/s, burst 1"));
        assert!(e.message().contains("retry after 500 ms"));
    }
}
