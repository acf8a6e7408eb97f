//! Hedged one-node reads (after Dean & Barroso's hedged requests and
//! Finagle's backup requests): when an idempotent one-node request has no
//! answer after a delay, the same request goes to a second node; the first
//! answer wins and the other attempt is abandoned. A token bucket keeps
//! hedges to a share of requests, so a slow cluster never doubles its load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::select;
use parking_lot::Mutex;

use super::{CallSpec, Cluster, NodeSet};
use crate::error::NodeError;
use crate::node::link::Abandon;
use crate::node::load::{percentile, BUCKETS};
use crate::node::{Answer, Operation};

/// When a hedge is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum HedgeDelay {
    /// After this percentile (1–99) of the client's answer times so far
    /// (no hedge until 20 answers were measured).
    Percentile(u8),
    /// After a fixed time.
    After(Duration),
}

/// Hedged one-node reads, opt-in: `request()` with GET, HEAD or OPTIONS
/// and the administration reads. Group operations never hedge.
///
/// ```
/// use std::time::Duration;
/// use cluster_client::{ClusterClient, Hedging};
///
/// let client = ClusterClient::builder()
///     .hosts(["http://127.0.0.1:8000", "http://127.0.0.1:8001"])
///     .hedging(Hedging::after_percentile(95).budget_percent(5))
///     .build()?;
/// # Ok::<(), cluster_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Hedging {
    delay: HedgeDelay,
    budget_percent: f64,
}

impl Hedging {
    /// Hedge after the `p`th percentile (clamped to 1–99) of answer times;
    /// budget 5 % of requests.
    pub fn after_percentile(p: u8) -> Hedging {
        Hedging {
            delay: HedgeDelay::Percentile(p.clamp(1, 99)),
            budget_percent: 5.0,
        }
    }

    /// Hedge after `delay`; budget 5 % of requests.
    pub fn after(delay: Duration) -> Hedging {
        Hedging {
            delay: HedgeDelay::After(delay),
            budget_percent: 5.0,
        }
    }

    /// Hedges are at most this share of requests (0–100; `build()`
    /// refuses anything else).
    pub fn budget_percent(mut self, percent: impl Into<f64>) -> Hedging {
        self.budget_percent = percent.into();
        self
    }

    /// When a hedge is sent.
    pub fn delay(&self) -> HedgeDelay {
        self.delay
    }

    /// The budget, in percent of requests.
    pub fn budget(&self) -> f64 {
        self.budget_percent
    }
}

/// How many hedges were sent and how many won.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HedgeCounts {
    /// Second requests sent.
    pub sent: u64,
    /// Second requests whose answer came first and was used.
    pub won: u64,
}

/// The client's hedging: the policy, its token bucket, its counters.
pub(crate) struct Hedger {
    policy: Hedging,
    /// Tokens: each request adds `budget_percent / 100`, a hedge takes 1.
    tokens: Mutex<f64>,
    sent: AtomicU64,
    won: AtomicU64,
}

impl Hedger {
    pub fn new(policy: Hedging) -> Hedger {
        Hedger {
            policy,
            tokens: Mutex::new(1.0),
            sent: AtomicU64::new(0),
            won: AtomicU64::new(0),
        }
    }

    /// A request was made: the bucket fills a little (at most 10 tokens).
    fn deposit(&self) {
        let mut t = self.tokens.lock();
        *t = (*t + self.policy.budget_percent / 100.0).min(10.0);
    }

    fn take(&self) -> bool {
        let mut t = self.tokens.lock();
        if *t >= 1.0 {
            *t -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn counts(&self) -> HedgeCounts {
        HedgeCounts {
            sent: self.sent.load(Ordering::Relaxed),
            won: self.won.load(Ordering::Relaxed),
        }
    }
}

/// One attempt that can be abandoned, on the fan-out pool.
type Tried = (usize, Result<Answer, NodeError>);

impl Cluster {
    /// How long to wait before hedging, or `None` for no hedge now.
    fn hedge_delay(&self, view: &NodeSet, hedger: &Hedger) -> Option<Duration> {
        match hedger.policy.delay {
            HedgeDelay::After(d) => Some(d),
            HedgeDelay::Percentile(p) => {
                let mut counts = [0u64; BUCKETS];
                for n in view.iter() {
                    for (c, x) in counts.iter_mut().zip(n.load.histogram().0) {
                        *c += x;
                    }
                }
                if counts.iter().sum::<u64>() < 20 {
                    return None;
                }
                percentile(&counts, f64::from(p) / 100.0)
            }
        }
    }

    /// The first attempt of a hedgeable one-node call: on node `first`,
    /// and, if no answer came after the hedge delay and the budget allows,
    /// on `second` too. The first usable answer wins; the other attempt is
    /// abandoned (interrupted, its connection closed, not held against its
    /// node). `None` when hedging does not apply (the caller attempts as usual).
    pub(super) fn hedged(
        &self,
        view: &NodeSet,
        op: &Arc<Operation>,
        first: usize,
        second: usize,
        opts: &CallSpec,
    ) -> Option<Tried> {
        let hedger = self.hedger.as_ref()?;
        hedger.deposit();
        let delay = self.hedge_delay(view, hedger)?;
        let pool = self.pool().ok()?;
        let deadline = self.attempt_deadline(opts);
        let (tx, rx) = crossbeam_channel::bounded::<Tried>(2);
        let abandons = [Arc::new(Abandon::default()), Arc::new(Abandon::default())];
        let spawn = |idx: usize, abandon: Arc<Abandon>| {
            let (node, op, tx) = (view[idx].clone(), op.clone(), tx.clone());
            let sheltered = opts.sheltered;
            pool.spawn(move || {
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    node.attempt_abandonable(&op, deadline, sheltered, Some(&abandon))
                }))
                .unwrap_or_else(|_| Err(NodeError::Internal("the attempt panicked".into())));
                let _ = tx.send((idx, out));
            });
        };
        spawn(first, abandons[0].clone());
        let (shutdown, cancel) = self.wakers(opts);
        let early = select! {
            recv(rx) -> a => a.ok(),
            recv(shutdown) -> _ => Some((first, Err(NodeError::Shutdown))),
            recv(cancel) -> _ => Some((first, Err(NodeError::Cancelled))),
            default(delay.min(deadline.saturating_duration_since(Instant::now()))) => None,
        };
        if let Some(done) = early {
            abandons[0].abandon();
            return Some(done);
        }
        let hedging = hedger.take();
        if hedging {
            hedger.sent.fetch_add(1, Ordering::Relaxed);
            view[second]
                .load
                .hedges_sent
                .fetch_add(1, Ordering::Relaxed);
            spawn(second, abandons[1].clone());
        }
        drop(tx);
        let out = self.first_answer(&rx, if hedging { 2 } else { 1 }, first, deadline, opts);
        for a in &abandons {
            a.abandon();
        }
        if hedging && out.0 == second && out.1.is_ok() {
            hedger.won.fetch_add(1, Ordering::Relaxed);
            view[second].load.hedges_won.fetch_add(1, Ordering::Relaxed);
        }
        Some(out)
    }

    /// The first usable answer of `count` attempts (or the last failure;
    /// a stop or the deadline is charged to `first`).
    fn first_answer(
        &self,
        rx: &crossbeam_channel::Receiver<Tried>,
        count: usize,
        first: usize,
        deadline: Instant,
        opts: &CallSpec,
    ) -> Tried {
        let mut last: Option<Tried> = None;
        for _ in 0..count {
            let (shutdown, cancel) = self.wakers(opts);
            let got = select! {
                recv(rx) -> a => a.ok(),
                recv(shutdown) -> _ => return (first, Err(NodeError::Shutdown)),
                recv(cancel) -> _ => return (first, Err(NodeError::Cancelled)),
                default(deadline.saturating_duration_since(Instant::now())) => None,
            };
            match got {
                Some((idx, Ok(a))) => return (idx, Ok(a)),
                Some(failed) => last = Some(failed),
                None => break,
            }
        }
        last.unwrap_or((first, Err(NodeError::DeadlineExceeded)))
    }
}
