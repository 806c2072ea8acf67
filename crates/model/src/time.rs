//! Instants, their Alibaba text form, and the clocks that produce them.
//!
//! Nothing in Rampart reads the system time directly: it asks a [`Clock`], so tests move
//! time with a [`ManualClock`] instead of sleeping.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59.999Z in Unix milliseconds: the last instant with a four-digit year.
const MAX_MILLIS: i64 = 253_402_300_799_999;

/// An instant in UTC with millisecond precision, between 1970-01-01T00:00:00Z and
/// 9999-12-31T23:59:59.999Z.
///
/// Stored as Unix milliseconds; shown as Alibaba writes times, `YYYY-MM-DDThh:mm:ssZ`
/// (milliseconds are dropped from the text, never rounded up).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(
    // INVARIANT: 0 <= millis <= MAX_MILLIS, so every value formats with a four-digit year
    // and every `Duration` arithmetic below stays far from i64 overflow.
    i64,
);

/// A time value that Rampart cannot represent or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("time {millis} ms after the Unix epoch is outside 1970-01-01..=9999-12-31")]
    OutOfRange { millis: i64 },
    #[error("time {0:?} is not of the form YYYY-MM-DDThh:mm:ssZ")]
    Format(String),
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);
    /// 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(MAX_MILLIS);

    pub fn from_unix_millis(millis: i64) -> Result<Self, TimestampError> {
        if (0..=MAX_MILLIS).contains(&millis) {
            Ok(Self(millis))
        } else {
            Err(TimestampError::OutOfRange { millis })
        }
    }

    pub fn from_unix_secs(secs: i64) -> Result<Self, TimestampError> {
        let millis = secs
            .checked_mul(1000)
            .ok_or(TimestampError::OutOfRange { millis: i64::MAX })?;
        Self::from_unix_millis(millis)
    }

    pub fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (milliseconds truncated).
    pub fn unix_secs(self) -> i64 {
        self.0 / 1000
    }

    /// `None` past 9999-12-31T23:59:59.999Z.
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let millis = i64::try_from(d.as_millis()).ok()?;
        Self::from_unix_millis(self.0.checked_add(millis)?).ok()
    }

    /// Adds, stopping at [`Timestamp::MAX`]: an expiry that far out never arrives anyway.
    pub fn saturating_add(self, d: Duration) -> Self {
        self.checked_add(d).unwrap_or(Self::MAX)
    }

    /// Subtracts, stopping at the epoch.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let millis = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(millis).max(0))
    }

    /// How long after `earlier` this is; `None` if it is before `earlier`.
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        let diff = self.0.checked_sub(earlier.0)?;
        u64::try_from(diff).ok().map(Duration::from_millis)
    }

    /// Reads `YYYY-MM-DDThh:mm:ssZ` (UTC). Fractional seconds (`…:00.123Z`), which some
    /// non-Python SDKs send in request timestamps, are accepted and truncated; no other form is.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let bad = || TimestampError::Format(truncated(text));
        let b = text.as_bytes();
        let tail_ok = match b.get(19..) {
            Some([b'Z']) => true,
            Some([b'.', digits @ .., b'Z']) => {
                !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
        if !tail_ok {
            return Err(bad());
        }
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if separators.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
            return Err(bad());
        }
        let field = |from: usize, to: usize| -> Result<i64, TimestampError> {
            let digits = b.get(from..to).ok_or_else(bad)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            Ok(digits
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
        };
        let (year, month, day) = (field(0, 4)?, field(5, 7)?, field(8, 10)?);
        let (hour, minute, second) = (field(11, 13)?, field(14, 16)?, field(17, 19)?);
        if year < 1970
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(bad());
        }
        let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        Self::from_unix_secs(secs)
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDThh:mm:ssZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.unix_secs();
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let in_day = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            in_day / 3600,
            in_day % 3600 / 60,
            in_day % 60
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self}+{}ms)", self.0 % 1000)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn truncated(text: &str) -> String {
    text.chars().take(64).collect()
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

// Howard Hinnant's civil-calendar algorithms (public domain), proleptic Gregorian.
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

/// The source of "now" for everything time-dependent: signature skew, nonce expiry, STS
/// expiry, password age, TOTP windows, and the dates stored on entities.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The operating system's wall clock. A time before 1970 (a badly set host clock) reads as
/// the epoch rather than failing: every timestamp comparison then fails closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(MAX_MILLIS))
            .unwrap_or(0);
        Timestamp(millis.clamp(0, MAX_MILLIS))
    }
}

/// A clock that only moves when told to. Clones share one time, so a test can hand a clone
/// to the code under test and advance it from outside.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(start.0)),
        }
    }

    pub fn set(&self, to: Timestamp) {
        self.millis.store(to.0, Ordering::SeqCst);
    }

    /// Moves time forward, stopping at [`Timestamp::MAX`].
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(MAX_MILLIS);
        // fetch_update retries on contention, so concurrent advances all count.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(by).min(MAX_MILLIS))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.millis.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// 2024-01-01T12:00:00Z, the instant pinned in the SDK captures.
    const PINNED_SECS: i64 = 1_704_110_400;

    #[test]
    fn formats_and_parses_the_alibaba_form() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (PINNED_SECS, "2024-01-01T12:00:00Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ];
        for (secs, text) in cases {
            let t = Timestamp::from_unix_secs(secs).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(Timestamp::parse(text), Ok(t), "{text}");
            assert_eq!(text.parse::<Timestamp>(), Ok(t));
        }
    }

    #[test]
    fn milliseconds_are_kept_but_not_printed() {
        let t = Timestamp::from_unix_millis(PINNED_SECS * 1000 + 999).unwrap();
        assert_eq!(t.to_string(), "2024-01-01T12:00:00Z");
        assert_eq!(t.unix_secs(), PINNED_SECS);
        assert_eq!(t.unix_millis() % 1000, 999);
        assert_eq!(format!("{t:?}"), "Timestamp(2024-01-01T12:00:00Z+999ms)");
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01T12:00:00",
            "2024-01-01T12:00:00.Z",
            "2024-01-01T12:00:00.1",
            "2024-01-01T12:00:00+08:00",
            "2024-01-01 12:00:00Z",
            "2024-01-01T12:00:00z",
            "2024-13-01T12:00:00Z",
            "2024-00-01T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "1900-02-29T12:00:00Z",
            "2024-04-31T12:00:00Z",
            "2024-01-00T12:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T12:60:00Z",
            "2024-01-01T12:00:60Z",
            "1969-12-31T23:59:59Z",
            "+024-01-01T12:00:00Z",
            "2024-01-01T12:00:0\u{0663}Z",
            "２０２４-01-01T12:00:00Z",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(TimestampError::Format(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn fractional_seconds_are_truncated() {
        let whole = Timestamp::parse("2024-01-01T12:00:00Z").unwrap();
        assert_eq!(Timestamp::parse("2024-01-01T12:00:00.999Z").unwrap(), whole);
        assert_eq!(Timestamp::parse("2024-01-01T12:00:00.0Z").unwrap(), whole);
    }

    #[test]
    fn every_day_round_trips() {
        // Every day of four centuries, which covers every leap-year rule.
        let start = Timestamp::parse("1970-01-01T00:00:00Z")
            .unwrap()
            .unix_secs()
            / 86_400;
        for day in start..start + 146_097 {
            let t = Timestamp::from_unix_secs(day * 86_400 + 3723).unwrap();
            assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn range_is_enforced() {
        assert!(Timestamp::from_unix_millis(-1).is_err());
        assert!(Timestamp::from_unix_millis(MAX_MILLIS + 1).is_err());
        assert!(Timestamp::from_unix_secs(i64::MAX).is_err());
        assert_eq!(Timestamp::MAX.checked_add(Duration::from_millis(1)), None);
        assert_eq!(Timestamp::MAX.saturating_add(Duration::MAX), Timestamp::MAX);
        assert_eq!(
            Timestamp::UNIX_EPOCH.saturating_sub(Duration::from_secs(1)),
            Timestamp::UNIX_EPOCH
        );
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::from_unix_secs(PINNED_SECS).unwrap();
        let later = t.checked_add(Duration::from_secs(900)).unwrap();
        assert_eq!(later.duration_since(t), Some(Duration::from_secs(900)));
        assert_eq!(t.duration_since(later), None);
        assert_eq!(later.saturating_sub(Duration::from_secs(900)), t);
    }

    #[test]
    fn manual_clock_is_shared_and_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_unix_secs(PINNED_SECS).unwrap());
        let handle: Arc<dyn Clock> = Arc::new(clock.clone());
        assert_eq!(handle.now().unix_secs(), PINNED_SECS);
        clock.advance(Duration::from_secs(61));
        assert_eq!(handle.now().to_string(), "2024-01-01T12:01:01Z");
        clock.set(Timestamp::UNIX_EPOCH);
        assert_eq!(handle.now(), Timestamp::UNIX_EPOCH);
        clock.set(Timestamp::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(handle.now(), Timestamp::MAX);
    }

    #[test]
    fn system_clock_is_after_this_code_was_written() {
        let now = SystemClock.now();
        assert!(now > Timestamp::parse("2024-01-01T00:00:00Z").unwrap());
    }
}
