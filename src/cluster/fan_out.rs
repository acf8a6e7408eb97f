//! One operation on many nodes at once: one job per node on the client's
//! own rayon pool (`spawn`, never `install`), results over a crossbeam
//! channel, retries in rounds with the backoff slept on the caller's thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::select;

use super::{CallSpec, Cluster, NodeSet};
use crate::address::HostAddress;
use crate::error::NodeError;
use crate::node::{Answer, Node, Operation};
use crate::retry::{error_is_retryable, next_wait, status_is_retryable};

/// The final outcome of one node in a fan-out, named by its identity (the
/// address) and by its place in the call's node set.
#[derive(Debug)]
pub(crate) struct NodeOutcome {
    pub host: HostAddress,
    pub node: usize,
    pub outcome: Result<Answer, NodeError>,
    pub attempts: u32,
    /// An earlier attempt of this call may have been applied without the
    /// client learning it: sent and never answered, or answered 502/504.
    pub earlier_unknown: bool,
}

/// True when an attempt may have been applied although its outcome did not
/// say so: sent and never answered, or answered 502/504 (a gateway may
/// have forwarded it and lost the node's answer).
pub(crate) fn outcome_unknown(outcome: &Result<Answer, NodeError>) -> bool {
    match outcome {
        Ok(r) => matches!(r.status, 502 | 504),
        Err(e) => e.outcome_unknown(),
    }
}

/// An operation as log lines name it (`POST /v1/group/`), formatted only
/// when a line is written.
struct What(Arc<Operation>);

impl std::fmt::Display for What {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.method, self.0.path)
    }
}

/// One node's answer in a round, by its position in the targets.
type RoundAnswer = (usize, Result<Answer, NodeError>);

/// What one attempt of a fan-out does on one node (`true`: sheltered, see
/// [`Node::attempt`]).
pub(crate) type AttemptFn =
    Arc<dyn Fn(&Node, Instant, bool) -> Result<Answer, NodeError> + Send + Sync>;

/// How long a call interrupted by `shutdown()` still collects the answers of
/// attempts in flight (their I/O is interrupted, so they end at once).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// How long a cancelled call still collects answers: attempts are not
/// interrupted (the token is one call's, the connections the client's), so
/// only what is about to arrive.
const CANCEL_GRACE: Duration = Duration::from_millis(20);

/// Extra wait for fan-out results past the deadline: attempts are bounded by
/// the deadline themselves, this only covers their last steps.
const RESULT_GRACE: Duration = Duration::from_millis(100);

impl Cluster {
    pub(super) fn pool(&self) -> Result<&rayon::ThreadPool, NodeError> {
        let threads = self.fan_out_threads;
        self.fan_out_pool
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("cluster-client-fanout-{i}"))
                    // Jobs catch their own panics; this is the last line
                    // against rayon's default, which aborts the process.
                    .panic_handler(|_| log::error!("a fan-out job panicked"))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| NodeError::Internal(format!("the fan-out pool could not start: {e}")))
    }

    /// Sends `op` to every node in `targets` at once and retries the nodes
    /// that failed retryably, in rounds; the backoff between rounds is slept
    /// on the caller's thread. Results come back in `targets` order. After
    /// `shutdown()`, every node keeps what it answered; a node still waiting
    /// for its attempt gets `Shutdown`.
    pub fn fan_out(
        &self,
        view: &NodeSet,
        targets: &[usize],
        op: Arc<Operation>,
        opts: &CallSpec,
    ) -> Vec<NodeOutcome> {
        let idempotent = op.idempotent;
        let what = What(op.clone());
        let attempt: AttemptFn =
            Arc::new(move |node, deadline, sheltered| node.attempt(&op, deadline, sheltered));
        self.fan_out_with(view, targets, &what, idempotent, attempt, opts)
    }

    fn fan_out_with(
        &self,
        view: &NodeSet,
        targets: &[usize],
        what: &dyn std::fmt::Display,
        idempotent: bool,
        attempt: AttemptFn,
        opts: &CallSpec,
    ) -> Vec<NodeOutcome> {
        // Until a node's first attempt reports, its outcome is why the call
        // stopped before it (if it did).
        let unsent = self.stop_reason(opts).unwrap_or(NodeError::Shutdown);
        let mut results: Vec<NodeOutcome> = targets
            .iter()
            .map(|&node| NodeOutcome {
                host: view[node].address.clone(),
                node,
                outcome: Err(unsent.clone()),
                attempts: 0,
                earlier_unknown: false,
            })
            .collect();
        let mut pending: Vec<usize> = (0..targets.len()).collect();
        let mut round: u32 = 0;
        while !pending.is_empty() && self.stop_reason(opts).is_none() {
            round += 1;
            self.count_round(&mut results, &pending, opts);
            for (pos, outcome) in self.run_round(view, &pending, targets, &attempt, opts) {
                results[pos].outcome = outcome;
            }
            if self.stop_reason(opts).is_some() {
                break;
            }
            let (again, wait) = self.plan_retries(&results, &pending, round, idempotent, opts);
            if again.is_empty() {
                break;
            }
            for &pos in &again {
                let r = &results[pos];
                log::warn!(
                    "{what} on {} failed ({}), retry {} in {wait:?}",
                    r.host,
                    describe(&r.outcome),
                    r.attempts,
                );
            }
            if !self.sleep(wait, opts) {
                break;
            }
            pending = again;
        }
        results
    }

    /// Before a round: each pending node's attempt is counted, a first
    /// attempt deposits into the retry budget, and a retry remembers
    /// whether the attempt before it may have been applied.
    fn count_round(&self, results: &mut [NodeOutcome], pending: &[usize], opts: &CallSpec) {
        for &pos in pending {
            let r = &mut results[pos];
            if r.attempts > 0 {
                r.earlier_unknown |= outcome_unknown(&r.outcome);
            } else if !opts.exempt_from_budget {
                self.budget.deposit();
            }
            r.attempts += 1;
        }
    }

    /// After a round: which nodes get another attempt, and how long to
    /// wait first (the longest any of them needs). The backoff is drawn
    /// only when some node is retried (jitter costs a random number).
    fn plan_retries(
        &self,
        results: &[NodeOutcome],
        pending: &[usize],
        round: u32,
        idempotent: bool,
        opts: &CallSpec,
    ) -> (Vec<usize>, Duration) {
        let mut backoff: Option<Duration> = None;
        // Read the clock only when a node is retried (most calls retry none).
        let mut now: Option<Instant> = None;
        let mut again = Vec::new();
        let mut wait = Duration::ZERO;
        for &pos in pending {
            let r = &results[pos];
            if r.attempts >= opts.policy.max_attempts() || !retryable(&r.outcome, idempotent) {
                continue;
            }
            let retry_after = r
                .outcome
                .as_ref()
                .ok()
                .and_then(|a| a.retry_after.as_deref());
            let backoff = *backoff.get_or_insert_with(|| opts.policy.delay_before_retry(round));
            let node = &r.host;
            let now = *now.get_or_insert_with(Instant::now);
            if let Some(w) = self.before_retry(opts, Some(backoff), retry_after, now, || {
                format!("{node} ({})", describe(&r.outcome))
            }) {
                wait = wait.max(w);
                again.push(pos);
            }
        }
        (again, wait)
    }

    /// The one decision before any retry (a fan-out round, a one-node
    /// failover): how long to wait first — `backoff` (none: at once) or
    /// the node's `Retry-After` — within the call's deadline, and whether
    /// the retry budget allows it. `None`: no retry, the answer stands (the
    /// node asks for longer than the call may wait, no time is left, or the
    /// budget is spent).
    pub(crate) fn before_retry(
        &self,
        opts: &CallSpec,
        backoff: Option<Duration>,
        retry_after: Option<&str>,
        now: Instant,
        what: impl FnOnce() -> String,
    ) -> Option<Duration> {
        let wait = match backoff {
            Some(b) => match next_wait(&opts.policy, b, retry_after, now, self.deadline_of(opts)) {
                Ok(wait) => wait,
                Err(why) => {
                    log::debug!("not retrying {}: {why}", what());
                    return None;
                }
            },
            None => Duration::ZERO,
        };
        if !opts.exempt_from_budget && !self.budget.try_withdraw() {
            log::warn!("retry budget exhausted: not retrying {}", what());
            return None;
        }
        Some(wait)
    }

    /// One round: one attempt on each pending node, in parallel on the
    /// fan-out pool. A panic in an attempt is that node's failure. A node
    /// whose answer does not come by the deadline (plus a grace) gets
    /// `DeadlineExceeded`; after `shutdown()`, `Shutdown` (a sheltered call
    /// waits on, within the grace); after a cancel, `Cancelled`.
    pub(crate) fn run_round(
        &self,
        view: &NodeSet,
        pending: &[usize],
        targets: &[usize],
        attempt: &AttemptFn,
        opts: &CallSpec,
    ) -> Vec<RoundAnswer> {
        let deadline = self.attempt_deadline(opts);
        let sheltered = opts.sheltered;
        if pending.len() == 1 && opts.cancel.is_none() {
            // One node, nothing to cancel it: no thread hop needed.
            let pos = pending[0];
            let node = &view[targets[pos]];
            return vec![(pos, guarded(attempt, node, deadline, sheltered))];
        }
        let pool = match self.pool() {
            Ok(p) => p,
            Err(e) => return pending.iter().map(|&p| (p, Err(e.clone()))).collect(),
        };
        let (tx, rx) = crossbeam_channel::bounded(pending.len());
        for &pos in pending {
            let node = view[targets[pos]].clone();
            let attempt = attempt.clone();
            let tx = tx.clone();
            pool.spawn(move || {
                let out = guarded(&attempt, &node, deadline, sheltered);
                // The caller may have stopped waiting (deadline, shutdown).
                let _ = tx.send((pos, out));
            });
        }
        drop(tx);
        let (answers, missing) = self.collect(&rx, pending.len(), deadline, opts);
        let mut answers = answers;
        for &pos in pending {
            if !answers.iter().any(|(p, _)| *p == pos) {
                answers.push((pos, Err(missing.clone())));
            }
        }
        answers
    }

    /// Collects up to `count` answers until the deadline (plus a grace),
    /// shutdown or cancel; what a node that did not answer gets.
    fn collect(
        &self,
        rx: &crossbeam_channel::Receiver<RoundAnswer>,
        count: usize,
        deadline: Instant,
        opts: &CallSpec,
    ) -> (Vec<RoundAnswer>, NodeError) {
        let mut answers = Vec::new();
        let mut wait_until = deadline + RESULT_GRACE;
        while answers.len() < count {
            let (shutdown, cancel) = self.wakers(opts);
            let stop_after = select! {
                recv(rx) -> msg => match msg {
                    Ok(a) => {
                        answers.push(a);
                        continue;
                    }
                    Err(_) => break,
                },
                recv(shutdown) -> _ => {
                    if opts.sheltered {
                        // Compensations go on, within the grace.
                        wait_until = wait_until.min(self.deadline_of(opts) + RESULT_GRACE);
                        continue;
                    }
                    // Attempts in flight are being interrupted: keep what
                    // they still report, briefly.
                    (SHUTDOWN_GRACE, NodeError::Shutdown)
                },
                recv(cancel) -> _ => (CANCEL_GRACE, NodeError::Cancelled),
                default(wait_until.saturating_duration_since(Instant::now())) => break,
            };
            let (grace, missing) = stop_after;
            let until = wait_until.min(Instant::now() + grace);
            while answers.len() < count {
                match rx.recv_deadline(until) {
                    Ok(a) => answers.push(a),
                    Err(_) => break,
                }
            }
            return (answers, missing);
        }
        (answers, NodeError::DeadlineExceeded)
    }
}

/// Runs one attempt; a panic in it becomes that node's failure.
fn guarded(
    attempt: &AttemptFn,
    node: &Node,
    deadline: Instant,
    sheltered: bool,
) -> Result<Answer, NodeError> {
    catch_unwind(AssertUnwindSafe(|| attempt(node, deadline, sheltered))).unwrap_or_else(|panic| {
        let why = panic_message(panic.as_ref());
        log::error!("an attempt on {} panicked: {why}", node.address);
        Err(NodeError::Internal(format!("the attempt panicked: {why}")))
    })
}

/// The text of a panic's payload, when it has one.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

fn retryable(outcome: &Result<Answer, NodeError>, idempotent: bool) -> bool {
    match outcome {
        Ok(r) => status_is_retryable(r.status, idempotent),
        Err(e) => error_is_retryable(e, idempotent),
    }
}

fn describe(outcome: &Result<Answer, NodeError>) -> String {
    match outcome {
        Ok(r) => format!("status {}", r.status),
        Err(e) => e.to_string(),
    }
}

#[cfg(test)]
#[path = "fan_out_tests.rs"]
mod tests;
