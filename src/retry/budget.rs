//! The client-wide [`RetryBudget`]: retries may add a share of first
//! attempts plus a floor per second, so a failing cluster is not hammered.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

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
    /// Why the arguments were refused, reported by `build()`.
    refused: Option<String>,
}

const UNIT: u64 = 1000;

/// Why a budget's `percent` is refused: it must be a number from 0 to 1.
pub(crate) fn check_percent(percent: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&percent) {
        Ok(())
    } else {
        Err(format!(
            "must be a number from 0 to 1 (a share of first attempts), got {percent}"
        ))
    }
}

/// Why a budget's `min_per_second` is refused: it must be 0 or more (not NaN).
pub(crate) fn check_min_per_second(per_second: f64) -> Result<(), String> {
    if per_second >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "must be a number of retries a second, 0 or more, got {per_second}"
        ))
    }
}

impl RetryBudget {
    /// Retries may add `percent` (0.0 to 1.0) of first attempts, plus
    /// `min_per_second` retries a second.
    ///
    /// A `percent` that is not a number from 0 to 1 (NaN included), or a
    /// `min_per_second` that is NaN or negative, makes the client's
    /// `build()` fail with [`Error::InvalidConfig`](crate::Error::InvalidConfig)
    /// (the config file's `[retry_budget]` refuses the same values).
    pub fn new(percent: f64, min_per_second: f64) -> Self {
        let refused = match (check_percent(percent), check_min_per_second(min_per_second)) {
            (Err(why), _) => Some(format!("percent {why}")),
            (Ok(()), Err(why)) => Some(format!("min_per_second {why}")),
            (Ok(()), Ok(())) => None,
        };
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
            refused,
        }
    }

    /// Why the arguments given to [`RetryBudget::new`] are refused, if they are.
    pub(crate) fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
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

#[cfg(test)]
mod tests {
    use super::*;

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
