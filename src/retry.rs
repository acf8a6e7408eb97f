//! [`RetryPolicy`] (how often and how long to wait), what is retryable, and
//! the client-wide [`RetryBudget`].

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::NodeError;

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
    /// `max_attempts` counts the first try (0 is taken as 1).
    pub fn exponential(max_attempts: u32, initial_delay: Duration, max_delay: Duration) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
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
        self.max_attempts
    }

    /// The longest wait between two attempts.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
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

/// Parses a `Retry-After` value: delta seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders to use.
fn parse_http_date(v: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || !(1..=31).contains(&day) || year < 1970 || hms[0] > 23 || hms[1] > 59 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// A client-wide limit on retries, in the spirit of Finagle's retry budget:
/// every first attempt deposits `percent` of a retry, time deposits
/// `min_per_second` retries a second, and a retry withdraws one. The balance
/// is capped at ten seconds' worth of the floor plus what 100 first attempts
/// deposit. When the cluster fails as a whole, retries add at most `percent`
/// to the load instead of multiplying it. Compensations (rollbacks) are exempt.
pub struct RetryBudget {
    /// Thousandths of a retry deposited per first attempt.
    per_attempt: u64,
    /// Thousandths of a retry deposited per second; `None` = unlimited.
    per_second: Option<u64>,
    /// Thousandths of a retry; first attempts add to it without a lock.
    balance: AtomicU64,
    /// When time last paid into the balance (retries only).
    last_refill: Mutex<Instant>,
}

const UNIT: u64 = 1000;

impl RetryBudget {
    /// Retries may add `percent` (0.0 to 1.0) of first attempts, plus
    /// `min_per_second` retries a second.
    pub fn new(percent: f64, min_per_second: f64) -> Self {
        let percent = if percent.is_finite() {
            percent.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let per_second = if min_per_second.is_infinite() && min_per_second > 0.0 {
            None
        } else if min_per_second.is_finite() {
            Some((min_per_second.clamp(0.0, 1e9) * UNIT as f64).round() as u64)
        } else {
            Some(0)
        };
        RetryBudget {
            per_attempt: (percent * UNIT as f64).round() as u64,
            per_second,
            balance: AtomicU64::new(per_second.map_or(0, |p| p * 10)),
            last_refill: Mutex::new(Instant::now()),
        }
    }

    /// No limit on retries (each call is still bounded by its policy).
    pub fn unlimited() -> Self {
        RetryBudget::new(1.0, f64::INFINITY)
    }

    fn cap(&self, per_second: u64) -> u64 {
        (per_second * 10).max(UNIT) + 100 * self.per_attempt
    }

    fn add(&self, amount: u64, cap: u64) {
        let _ = self
            .balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((b + amount).min(cap))
            });
    }

    /// Records a first attempt.
    pub(crate) fn deposit(&self) {
        if let Some(per_second) = self.per_second {
            let cap = self.cap(per_second);
            // A full budget (the healthy steady state) is only read, so
            // threads do not fight over its cache line.
            if self.balance.load(Ordering::Relaxed) < cap {
                self.add(self.per_attempt, cap);
            }
        }
    }

    /// Takes one retry from the budget; false when none is left.
    pub(crate) fn try_withdraw(&self) -> bool {
        let Some(per_second) = self.per_second else {
            return true;
        };
        {
            let mut last = self.last_refill.lock();
            let now = Instant::now();
            let ms = now.saturating_duration_since(*last).as_millis() as u64;
            let earned = ms.saturating_mul(per_second) / 1000;
            if earned > 0 {
                *last = now;
                self.add(earned, self.cap(per_second));
            }
        }
        self.balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                b.checked_sub(UNIT)
            })
            .is_ok()
    }
}

impl Default for RetryBudget {
    /// 20 % of first attempts plus 10 retries a second.
    fn default() -> Self {
        RetryBudget::new(0.2, 10.0)
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("percent", &(self.per_attempt as f64 / UNIT as f64))
            .field(
                "min_per_second",
                &self.per_second.map(|p| p as f64 / UNIT as f64),
            )
            .finish()
    }
}

/// A small, fast pseudo-random source (xorshift64*), seeded per thread from
/// the clock and a counter; for jitter and random node choice, not for secrets.
pub(crate) fn random_u64() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            (t ^ SEQ.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
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
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
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

    #[test]
    fn budget_limits_retries() {
        let b = RetryBudget::new(0.2, 0.0);
        // Cap is 1 + 20 = 21 and the balance starts at 0.
        assert!(!b.try_withdraw());
        for _ in 0..10 {
            b.deposit();
        }
        assert!(b.try_withdraw());
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
        assert!(RetryBudget::unlimited().try_withdraw());
    }
}
