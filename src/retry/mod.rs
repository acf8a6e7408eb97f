//! [`RetryPolicy`] (how often and how long to wait), what is retryable, and
//! the client-wide [`RetryBudget`].

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use crate::error::NodeError;

mod budget;

pub use self::budget::RetryBudget;
#[cfg(feature = "config")]
pub(crate) use self::budget::{check_min_per_second, check_percent};

/// How many attempts a per-node call makes and how long it waits between them.
///
/// Delays grow ×2 from `initial_delay`, capped at `max_delay`, with full
/// jitter (each wait is uniformly random between zero and the capped delay),
/// the schedule of the `retry` crate.
///
/// ```
/// use std::time::Duration;
/// use cluster_client::RetryPolicy;
///
/// let p = RetryPolicy::exponential(3, Duration::from_millis(10), Duration::from_millis(50));
/// assert_eq!(p.max_attempts(), 3);
/// assert!(p.delay_before_retry(1) <= Duration::from_millis(10));
/// assert!(p.delay_before_retry(5) <= Duration::from_millis(50));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    jitter: bool,
}

impl RetryPolicy {
    /// `max_attempts` counts the first try. 0 is refused by the client's
    /// `build()` ([`Error::InvalidConfig`](crate::Error::InvalidConfig)), as
    /// the config file's `retry.attempts = 0` and clusterctl's `--retries 0`
    /// are; [`RetryPolicy::max_attempts`] reports it as 1.
    pub fn exponential(max_attempts: u32, initial_delay: Duration, max_delay: Duration) -> Self {
        RetryPolicy {
            max_attempts,
            initial_delay,
            max_delay: max_delay.max(initial_delay),
            jitter: true,
        }
    }

    /// One attempt, no retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            jitter: false,
        }
    }

    /// Waits the full capped delay instead of a random part of it (for
    /// deterministic tests and benchmarks).
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Attempts per call, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The attempts as given (0 included), for `build()` to refuse.
    pub(crate) fn attempts_as_given(&self) -> u32 {
        self.max_attempts
    }

    /// The longest wait between two attempts.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The wait before the first retry (before jitter).
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// Whether waits are jittered (see [`RetryPolicy::without_jitter`]).
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// The wait before retry number `retry` (1 for the wait after the first attempt).
    pub fn delay_before_retry(&self, retry: u32) -> Duration {
        let initial_ms = u64::try_from(self.initial_delay.as_millis()).unwrap_or(u64::MAX);
        let capped = retry::delay::Exponential::from_millis(initial_ms)
            .nth(retry.saturating_sub(1) as usize)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        if self.jitter {
            retry::delay::jitter(capped)
        } else {
            capped
        }
    }
}

impl Default for RetryPolicy {
    /// 3 attempts from 1 s, capped at 10 s (the reference client's policy).
    fn default() -> Self {
        RetryPolicy::exponential(3, Duration::from_secs(1), Duration::from_secs(10))
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("jitter", &self.jitter)
            .finish()
    }
}

/// Whether a failed attempt may be tried again. `idempotent` says whether
/// applying the request twice is harmless (GET, DELETE, group create).
pub(crate) fn error_is_retryable(err: &NodeError, idempotent: bool) -> bool {
    match err {
        NodeError::Connect(_) | NodeError::PoolTimeout => true,
        NodeError::NoAnswer(_) | NodeError::Protocol(_) => idempotent,
        _ => false,
    }
}

/// Whether an answer with this status may be tried again.
pub(crate) fn status_is_retryable(status: u16, idempotent: bool) -> bool {
    match status {
        429 | 503 => true,
        502 | 504 => idempotent,
        _ => false,
    }
}

/// What a `Retry-After` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryAfter {
    /// Wait this long (zero for a date already past).
    After(Duration),
    /// Longer than any wait this crate makes: a number too large for a
    /// duration, or a date past the year 9999.
    TooLong,
}

/// Longest `Retry-After` taken literally; anything longer is [`RetryAfter::TooLong`].
const RETRY_AFTER_CAP: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Parses a `Retry-After` value (delta seconds or an HTTP date) with
/// bounds and checked arithmetic: nothing a node sends can overflow.
/// `None` for a value that is neither (ignored, as if absent).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<RetryAfter> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Any count of digits: too many for a u64 is simply "too long".
        return Some(match v.parse::<u64>() {
            Ok(secs) if Duration::from_secs(secs) <= RETRY_AFTER_CAP => {
                RetryAfter::After(Duration::from_secs(secs))
            }
            _ => RetryAfter::TooLong,
        });
    }
    if v.len() > 64 {
        return None;
    }
    match httpdate::parse_http_date(v) {
        Ok(at) => Some(match at.duration_since(now) {
            Ok(d) if d <= RETRY_AFTER_CAP => RetryAfter::After(d),
            Ok(_) => RetryAfter::TooLong,
            Err(_) => RetryAfter::After(Duration::ZERO),
        }),
        // A well-formed date whose year has more than four digits is in the
        // far future, not garbage.
        Err(_) => v
            .split_whitespace()
            .any(|w| w.len() > 4 && w.bytes().all(|b| b.is_ascii_digit()))
            .then_some(RetryAfter::TooLong),
    }
}

/// Why a call stops retrying a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    /// The node asked (`Retry-After`) for longer than the policy's max delay
    /// or than the call has left: its answer stands.
    RetryAfterTooLong,
    /// The wait would reach the call's deadline.
    NoTimeLeft,
}

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GiveUp::RetryAfterTooLong => {
                "its Retry-After asks for longer than the policy or the call allows"
            }
            GiveUp::NoTimeLeft => "the wait would reach the call's deadline",
        })
    }
}

/// The one decision of the next wait, for every kind of call: the backoff,
/// or longer when the node's `Retry-After` asks for it. Gives up when the
/// node asks for more than the policy's max delay or the time left, or when
/// the wait would reach the deadline. Never overflows.
pub(crate) fn next_wait(
    policy: &RetryPolicy,
    backoff: Duration,
    retry_after: Option<&str>,
    now: Instant,
    deadline: Instant,
) -> Result<Duration, GiveUp> {
    let remaining = deadline.saturating_duration_since(now);
    let mut wait = backoff;
    match retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())) {
        Some(RetryAfter::TooLong) => return Err(GiveUp::RetryAfterTooLong),
        Some(RetryAfter::After(after)) => {
            if after > policy.max_delay() || after >= remaining {
                return Err(GiveUp::RetryAfterTooLong);
            }
            wait = wait.max(after);
        }
        None => {}
    }
    if wait >= remaining {
        return Err(GiveUp::NoTimeLeft);
    }
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_doubles_and_caps() {
        let p = RetryPolicy::exponential(5, Duration::from_millis(100), Duration::from_millis(300))
            .without_jitter();
        let d: Vec<u128> = (1..=4)
            .map(|r| p.delay_before_retry(r).as_millis())
            .collect();
        assert_eq!(d, vec![100, 200, 300, 300]);
        let j = RetryPolicy::exponential(5, Duration::from_millis(100), Duration::from_millis(300));
        for r in 1..=4 {
            assert!(j.delay_before_retry(r) <= Duration::from_millis(300));
        }
        assert_eq!(RetryPolicy::none().max_attempts(), 1);
        assert_eq!(
            RetryPolicy::exponential(0, Duration::ZERO, Duration::ZERO).max_attempts(),
            1
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let after = |s| Some(RetryAfter::After(Duration::from_secs(s)));
        assert_eq!(parse_retry_after(" 7 ", now), after(7));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            after(10)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now),
            after(0)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn absurd_retry_after_values_are_too_long_never_a_panic() {
        let now = SystemTime::now();
        let too_long = Some(RetryAfter::TooLong);
        for v in [
            "Sun, 06 Nov 300000000000 08:49:37 GMT",
            "Sun, 06 Nov 99999 08:49:37 GMT",
            "99999999999999999999",
            "18446744073709551615",
            "315360001",
        ] {
            assert_eq!(parse_retry_after(v, now), too_long, "{v}");
        }
        assert_eq!(parse_retry_after(&"9".repeat(10_000), now), too_long);
        assert_eq!(parse_retry_after(&"x".repeat(10_000), now), None);
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            too_long
        );
        assert_eq!(
            parse_retry_after("Mon, 32 Jan 2020 08:49:37 GMT", now),
            None
        );
    }

    #[test]
    fn next_wait_takes_the_longer_of_backoff_and_retry_after_and_gives_up_on_too_long() {
        let p = RetryPolicy::exponential(3, Duration::from_millis(10), Duration::from_secs(2));
        let now = Instant::now();
        let deadline = now + Duration::from_secs(5);
        let ms = Duration::from_millis;
        assert_eq!(next_wait(&p, ms(10), None, now, deadline), Ok(ms(10)));
        assert_eq!(
            next_wait(&p, ms(10), Some("1"), now, deadline),
            Ok(ms(1000))
        );
        assert_eq!(next_wait(&p, ms(10), Some("0"), now, deadline), Ok(ms(10)));
        assert_eq!(
            next_wait(&p, ms(10), Some("junk"), now, deadline),
            Ok(ms(10))
        );
        for v in [
            "3",
            "99999999999999999999",
            "Sun, 06 Nov 300000000000 08:49:37 GMT",
        ] {
            assert_eq!(
                next_wait(&p, ms(10), Some(v), now, deadline),
                Err(GiveUp::RetryAfterTooLong),
                "{v}"
            );
        }
        let close = now + ms(500);
        assert_eq!(
            next_wait(&p, ms(10), Some("1"), now, close),
            Err(GiveUp::RetryAfterTooLong)
        );
        assert_eq!(
            next_wait(&p, ms(600), None, now, close),
            Err(GiveUp::NoTimeLeft)
        );
        assert_eq!(
            next_wait(&p, ms(10), None, close, now),
            Err(GiveUp::NoTimeLeft)
        );
    }

    #[test]
    fn retryability_follows_the_design() {
        assert!(status_is_retryable(503, false));
        assert!(status_is_retryable(429, false));
        assert!(!status_is_retryable(502, false));
        assert!(status_is_retryable(504, true));
        assert!(!status_is_retryable(500, true));
        assert!(!status_is_retryable(404, true));
        assert!(error_is_retryable(
            &NodeError::Connect("refused".into()),
            false
        ));
        assert!(!error_is_retryable(
            &NodeError::NoAnswer("reset".into()),
            false
        ));
        assert!(error_is_retryable(
            &NodeError::NoAnswer("reset".into()),
            true
        ));
        assert!(!error_is_retryable(
            &NodeError::Tls("bad cert".into()),
            true
        ));
    }
}
