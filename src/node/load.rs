//! A node's load and answer times: what the least-loaded balancer weighs
//! (requests in flight and a peak-sensitive moving average of answer
//! times, after Finagle's PeakEWMA) and what the latency report reads (a
//! histogram of answer times over fixed log buckets).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How fast the average forgets: a sample weighs `1 - exp(-Δt/τ)`, and an
/// unmeasured node's cost halves about every 7 s, so a slow node is tried
/// again now and then.
const DECAY: Duration = Duration::from_secs(10);

/// Upper bounds of the histogram's buckets: 250 µs doubling to ~65 s, then
/// everything longer.
pub(crate) const BUCKETS: usize = 20;

/// The upper bound of bucket `i` (the last is unbounded).
pub(crate) fn bucket_bound(i: usize) -> Duration {
    Duration::from_micros(250u64 << i.min(BUCKETS - 2))
}

fn bucket_of(d: Duration) -> usize {
    (0..BUCKETS - 1)
        .find(|&i| d <= bucket_bound(i))
        .unwrap_or(BUCKETS - 1)
}

/// A node's load.
pub(crate) struct Load {
    in_flight: AtomicU64,
    /// The moving average's cost in nanoseconds (`f64` bits; 0 until
    /// measured) and when it was last updated (nanoseconds after `born`).
    /// Lock-free: two racing updates may lose one sample, which an
    /// estimate can afford; every answer's path stays free of a lock.
    cost_bits: AtomicU64,
    stamp: AtomicU64,
    born: Instant,
    buckets: [AtomicU64; BUCKETS],
    /// Sum of all answer times, in microseconds.
    sum_micros: AtomicU64,
    /// Hedges sent to this node, and those that answered first.
    pub hedges_sent: AtomicU64,
    pub hedges_won: AtomicU64,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            in_flight: AtomicU64::new(0),
            cost_bits: AtomicU64::new(0f64.to_bits()),
            stamp: AtomicU64::new(0),
            born: Instant::now(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
            hedges_sent: AtomicU64::new(0),
            hedges_won: AtomicU64::new(0),
        }
    }
}

/// A request in flight on a node; dropping it ends that.
pub(crate) struct InFlight<'a>(&'a Load);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answer times of one node: how many, and the 50th, 90th and 99th
/// percentiles (the upper bound of the bucket each falls in).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Answers measured.
    pub count: u64,
    /// Half the answers took at most this long.
    pub p50: Duration,
    /// 90 % of the answers took at most this long.
    pub p90: Duration,
    /// 99 % of the answers took at most this long.
    pub p99: Duration,
}

impl Load {
    /// Marks a request in flight until the guard drops.
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Records an answer that took `rtt` in the histogram and, when the
    /// balancer weighs load (`balance`), in the moving average.
    pub fn record(&self, rtt: Duration, now: Instant, balance: bool) {
        self.buckets[bucket_of(rtt)].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        if balance {
            self.observe(rtt, now);
        }
    }

    /// Takes an answer time into the moving average.
    pub fn observe(&self, rtt: Duration, now: Instant) {
        let sample = rtt.as_nanos() as f64;
        let (old, since) = self.estimate();
        let decayed = decay((old, since), now);
        // Peak-sensitive: a slower answer is taken at once, a faster one
        // is averaged in.
        let cost = if sample > decayed {
            sample
        } else {
            let w = weight(since, now);
            decayed * w + sample * (1.0 - w)
        };
        let stamp =
            u64::try_from(now.saturating_duration_since(self.born).as_nanos()).unwrap_or(u64::MAX);
        self.cost_bits.store(cost.to_bits(), Ordering::Relaxed);
        self.stamp.store(stamp, Ordering::Relaxed);
    }

    /// The average and when it was last updated.
    fn estimate(&self) -> (f64, Instant) {
        let cost = f64::from_bits(self.cost_bits.load(Ordering::Relaxed));
        let since = self.born + Duration::from_nanos(self.stamp.load(Ordering::Relaxed));
        (cost, since)
    }

    /// The balancer's cost: the decayed average answer time times the
    /// requests in flight plus one. A node never measured costs 0 and is
    /// tried soon.
    pub fn cost(&self, now: Instant) -> f64 {
        let avg = decay(self.estimate(), now);
        avg * (self.in_flight.load(Ordering::Relaxed) + 1) as f64
    }

    /// Requests in flight now.
    #[cfg(test)]
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The histogram: per bucket counts, and the sum of answer times.
    pub fn histogram(&self) -> ([u64; BUCKETS], Duration) {
        let counts = std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed));
        let sum = Duration::from_micros(self.sum_micros.load(Ordering::Relaxed));
        (counts, sum)
    }

    /// The answer times' summary.
    pub fn summary(&self) -> LatencySummary {
        let (counts, _) = self.histogram();
        let at = |q: f64| percentile(&counts, q).unwrap_or_default();
        LatencySummary {
            count: counts.iter().sum(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
        }
    }
}

/// The `q` quantile (0–1) of a histogram: the upper bound of the bucket it
/// falls in; `None` for an empty histogram.
pub(crate) fn percentile(counts: &[u64; BUCKETS], q: f64) -> Option<Duration> {
    let count: u64 = counts.iter().sum();
    if count == 0 {
        return None;
    }
    let rank = ((count as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(bucket_bound(i));
        }
    }
    Some(bucket_bound(BUCKETS - 1))
}

/// The weight of the old average after `since`: `exp(-Δt/τ)`.
fn weight(since: Instant, now: Instant) -> f64 {
    let dt = now.saturating_duration_since(since).as_secs_f64();
    (-dt / DECAY.as_secs_f64()).exp()
}

/// The average decayed toward 0 for the time since it was last updated.
fn decay((cost, since): (f64, Instant), now: Instant) -> f64 {
    cost * weight(since, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_answer_is_taken_at_once_and_forgotten_slowly() {
        let l = Load::default();
        let t0 = Instant::now();
        assert_eq!(l.cost(t0), 0.0, "never measured: tried soon");
        l.record(Duration::from_millis(5), t0, true);
        l.record(Duration::from_millis(50), t0, true);
        let peak = l.cost(t0);
        assert!((peak - 50e6).abs() < 1e3, "{peak}");
        l.record(
            Duration::from_millis(5),
            t0 + Duration::from_millis(100),
            true,
        );
        assert!(
            l.cost(t0 + Duration::from_millis(100)) > 40e6,
            "one fast answer does not hide a peak"
        );
        let later = l.cost(t0 + Duration::from_secs(30));
        assert!(later < 5e6, "decayed: {later}");
    }

    #[test]
    fn requests_in_flight_raise_the_cost() {
        let l = Load::default();
        let now = Instant::now();
        l.record(Duration::from_millis(10), now, true);
        let one = l.cost(now);
        let _a = l.start();
        let _b = l.start();
        assert!((l.cost(now) / one - 3.0).abs() < 0.01);
        drop(_a);
        assert_eq!(l.in_flight(), 1);
    }

    #[test]
    fn percentiles_come_from_the_buckets() {
        let l = Load::default();
        let now = Instant::now();
        for _ in 0..98 {
            l.record(Duration::from_millis(3), now, true);
        }
        l.record(Duration::from_millis(90), now, true);
        l.record(Duration::from_secs(200), now, true);
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50, Duration::from_millis(4));
        assert_eq!(s.p90, Duration::from_millis(4));
        assert_eq!(s.p99, Duration::from_micros(128_000));
        assert_eq!(bucket_of(Duration::from_secs(200)), BUCKETS - 1);
        assert_eq!(Load::default().summary(), LatencySummary::default());
    }
}
