//! The nodes together: the host resolver with failover for one-node
//! requests, the parallel fan-out to many nodes, and the background thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use parking_lot::Mutex;

use crate::address::HostAddress;
use crate::error::{NodeError, NodeFailure};
use crate::node::health::Transition;
use crate::node::{HealthEvent, Node, Operation};
use crate::retry::{
    error_is_retryable, next_wait, random_u64, status_is_retryable, RetryBudget, RetryPolicy,
};
use crate::transport::Response;

/// How a one-node request picks its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HostResolver {
    /// Each call starts at the next healthy node in turn (the default).
    #[default]
    RoundRobin,
    /// Each call starts at a random healthy node.
    Random,
    /// Every call starts at the first healthy node in configured order.
    Fallback,
}

/// A health callback.
pub(crate) type NodeCallback = Arc<dyn Fn(&HostAddress) + Send + Sync + 'static>;

#[derive(Default, Clone)]
pub(crate) struct Callbacks {
    pub on_unhealthy: Option<NodeCallback>,
    pub on_healthy: Option<NodeCallback>,
}

/// Per-call settings.
#[derive(Debug, Clone)]
pub(crate) struct CallOptions {
    pub deadline: Instant,
    pub policy: RetryPolicy,
    /// Compensations do not spend the retry budget.
    pub exempt_from_budget: bool,
}

/// The final outcome of one node in a fan-out.
#[derive(Debug)]
pub(crate) struct NodeOutcome {
    pub node: usize,
    pub outcome: Result<Response, NodeError>,
    pub attempts: u32,
    /// An earlier attempt of this call may have been applied without the
    /// client learning it: sent and never answered, or answered 502/504.
    pub earlier_unknown: bool,
}

/// True when an attempt may have been applied although its outcome did not
/// say so: sent and never answered, or answered 502/504 (a gateway may
/// have forwarded it and lost the node's answer).
pub(crate) fn outcome_unknown(outcome: &Result<Response, NodeError>) -> bool {
    match outcome {
        Ok(r) => matches!(r.status, 502 | 504),
        Err(e) => e.outcome_unknown(),
    }
}

/// What one attempt of a fan-out does on one node.
type AttemptFn = Arc<dyn Fn(&Node, Instant) -> Result<Response, NodeError> + Send + Sync>;

/// How long a call interrupted by `shutdown()` still collects the answers of
/// attempts in flight (their I/O is interrupted, so they end at once).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// A one-node call that got no usable answer from any node.
pub(crate) struct OneNodeFailure {
    pub attempts: Vec<NodeFailure>,
}

/// What every call starts from.
pub(crate) struct CallDefaults {
    pub policy: RetryPolicy,
    pub operation_timeout: Duration,
}

pub(crate) struct Cluster {
    pub nodes: Vec<Arc<Node>>,
    pub defaults: CallDefaults,
    fan_out_threads: usize,
    fan_out_pool: OnceLock<Result<rayon::ThreadPool, String>>,
    pub budget: RetryBudget,
    resolver: HostResolver,
    next: AtomicUsize,
    shut: AtomicBool,
    shutdown_signal: Receiver<()>,
    shutdown_trigger: Mutex<Option<Sender<()>>>,
    pub callbacks: Callbacks,
}

/// Extra wait for fan-out results past the deadline: attempts are bounded by
/// the deadline themselves, this only covers their last steps.
const RESULT_GRACE: Duration = Duration::from_millis(100);

impl Cluster {
    pub fn new(
        nodes: Vec<Arc<Node>>,
        defaults: CallDefaults,
        fan_out_threads: usize,
        budget: RetryBudget,
        resolver: HostResolver,
        callbacks: Callbacks,
    ) -> Cluster {
        let (trigger, signal) = crossbeam_channel::bounded(0);
        Cluster {
            nodes,
            defaults,
            fan_out_threads,
            fan_out_pool: OnceLock::new(),
            budget,
            resolver,
            next: AtomicUsize::new(0),
            shut: AtomicBool::new(false),
            shutdown_signal: signal,
            shutdown_trigger: Mutex::new(Some(trigger)),
            callbacks,
        }
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    /// Stops the background thread, wakes every waiting call, refuses new ones.
    pub fn shutdown(&self) {
        self.shut.store(true, Ordering::Release);
        self.shutdown_trigger.lock().take();
        for n in &self.nodes {
            n.shutdown();
        }
    }

    /// Options for a new call: the default policy, a deadline `operation_timeout` from now.
    pub fn call_options(&self) -> CallOptions {
        CallOptions {
            deadline: Instant::now() + self.defaults.operation_timeout,
            policy: self.defaults.policy.clone(),
            exempt_from_budget: false,
        }
    }

    /// An operation, with `X-Request-Id` if given.
    pub fn operation(
        &self,
        method: &str,
        path: String,
        body: Option<Vec<u8>>,
        idempotent: bool,
        request_id: Option<&str>,
    ) -> Operation {
        Operation {
            method: method.to_string(),
            path,
            body,
            request_id: request_id.map(str::to_string),
            idempotent,
        }
    }

    /// The index of `host`, if it is one of the nodes.
    pub fn index_of(&self, host: &HostAddress) -> Option<usize> {
        self.nodes.iter().position(|n| &n.address == host)
    }

    /// Waits `delay`, or less when the client shuts down (then false).
    fn sleep(&self, delay: Duration) -> bool {
        if delay.is_zero() {
            return !self.is_shut_down();
        }
        matches!(
            self.shutdown_signal.recv_timeout(delay),
            Err(crossbeam_channel::RecvTimeoutError::Timeout)
        )
    }

    fn pool(&self) -> Result<&rayon::ThreadPool, NodeError> {
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
            .map_err(|e| NodeError::Connect(format!("fan-out pool could not start: {e}")))
    }

    /// Sends `op` to every node in `targets` at once and retries the nodes
    /// that failed retryably, in rounds; the backoff between rounds is slept
    /// on the caller's thread. Results come back in `targets` order. After
    /// `shutdown()`, every node keeps what it answered; a node still waiting
    /// for its attempt gets `Shutdown`.
    pub fn fan_out(
        &self,
        targets: &[usize],
        op: Arc<Operation>,
        opts: &CallOptions,
    ) -> Vec<NodeOutcome> {
        let idempotent = op.idempotent;
        let what = format!("{} {}", op.method, op.path);
        let attempt: AttemptFn = Arc::new(move |node, deadline| node.attempt(&op, deadline));
        self.fan_out_with(targets, &what, idempotent, attempt, opts)
    }

    fn fan_out_with(
        &self,
        targets: &[usize],
        what: &str,
        idempotent: bool,
        attempt: AttemptFn,
        opts: &CallOptions,
    ) -> Vec<NodeOutcome> {
        let mut results: Vec<NodeOutcome> = targets
            .iter()
            .map(|&node| NodeOutcome {
                node,
                outcome: Err(NodeError::Shutdown),
                attempts: 0,
                earlier_unknown: false,
            })
            .collect();
        let mut pending: Vec<usize> = (0..targets.len()).collect();
        let mut round: u32 = 0;
        while !pending.is_empty() && !self.is_shut_down() {
            round += 1;
            for &pos in &pending {
                let r = &mut results[pos];
                if r.attempts > 0 {
                    r.earlier_unknown |= outcome_unknown(&r.outcome);
                } else if !opts.exempt_from_budget {
                    self.budget.deposit();
                }
                r.attempts += 1;
            }
            for (pos, outcome) in self.run_round(&pending, targets, &attempt, opts.deadline) {
                results[pos].outcome = outcome;
            }
            if self.is_shut_down() {
                break;
            }
            // Which nodes get another attempt, and how long to wait first.
            let backoff = opts.policy.delay_before_retry(round);
            let now = Instant::now();
            let mut again = Vec::new();
            let mut wait = Duration::ZERO;
            for &pos in &pending {
                let r = &results[pos];
                if r.attempts >= opts.policy.max_attempts() || !retryable(&r.outcome, idempotent) {
                    continue;
                }
                let retry_after = r
                    .outcome
                    .as_ref()
                    .ok()
                    .and_then(|a| a.retry_after.as_deref());
                let Ok(w) = next_wait(&opts.policy, backoff, retry_after, now, opts.deadline)
                else {
                    // The node asks for longer than this call may wait, or no
                    // time is left: its answer stands.
                    continue;
                };
                if !opts.exempt_from_budget && !self.budget.try_withdraw() {
                    log::warn!(
                        "retry budget exhausted: not retrying {} ({})",
                        self.nodes[r.node].address,
                        describe(&r.outcome)
                    );
                    continue;
                }
                wait = wait.max(w);
                again.push(pos);
            }
            if again.is_empty() {
                break;
            }
            for &pos in &again {
                let r = &results[pos];
                log::warn!(
                    "{what} on {} failed ({}), retry {} in {wait:?}",
                    self.nodes[r.node].address,
                    describe(&r.outcome),
                    r.attempts,
                );
            }
            if !self.sleep(wait) {
                break;
            }
            pending = again;
        }
        results
    }

    /// One round: one attempt on each pending node, in parallel on the
    /// fan-out pool. A panic in an attempt is that node's failure. A node
    /// whose answer does not come by the deadline (plus a grace) gets
    /// `DeadlineExceeded`; after `shutdown()`, `Shutdown`.
    fn run_round(
        &self,
        pending: &[usize],
        targets: &[usize],
        attempt: &AttemptFn,
        deadline: Instant,
    ) -> Vec<(usize, Result<Response, NodeError>)> {
        if pending.len() == 1 {
            // One node: no thread hop needed.
            let pos = pending[0];
            return vec![(pos, guarded(attempt, &self.nodes[targets[pos]], deadline))];
        }
        let pool = match self.pool() {
            Ok(p) => p,
            Err(e) => return pending.iter().map(|&p| (p, Err(e.clone()))).collect(),
        };
        let (tx, rx) = crossbeam_channel::bounded(pending.len());
        for &pos in pending {
            let node = self.nodes[targets[pos]].clone();
            let attempt = attempt.clone();
            let tx = tx.clone();
            pool.spawn(move || {
                let out = guarded(&attempt, &node, deadline);
                // The caller may have stopped waiting (deadline, shutdown).
                let _ = tx.send((pos, out));
            });
        }
        drop(tx);
        let mut answers: Vec<(usize, Result<Response, NodeError>)> = Vec::new();
        let mut wait_until = deadline + RESULT_GRACE;
        let mut missing = NodeError::DeadlineExceeded;
        while answers.len() < pending.len() {
            select! {
                recv(rx) -> msg => match msg {
                    Ok(a) => answers.push(a),
                    Err(_) => break,
                },
                recv(self.shutdown_signal) -> _ => {
                    // Attempts in flight are being interrupted: keep what
                    // they still report, briefly.
                    wait_until = wait_until.min(Instant::now() + SHUTDOWN_GRACE);
                    missing = NodeError::Shutdown;
                    while let Ok(a) = rx.recv_deadline(wait_until) {
                        answers.push(a);
                    }
                    break;
                },
                default(wait_until.saturating_duration_since(Instant::now())) => break,
            }
        }
        for &pos in pending {
            if !answers.iter().any(|(p, _)| *p == pos) {
                answers.push((pos, Err(missing.clone())));
            }
        }
        answers
    }

    /// The order in which a one-node call tries nodes.
    fn candidates(&self) -> Vec<usize> {
        let routable: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_healthy())
            .collect();
        // When every node is unhealthy they are tried anyway.
        let pool = if routable.is_empty() {
            (0..self.nodes.len()).collect()
        } else {
            routable
        };
        let start = match self.resolver {
            HostResolver::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % pool.len(),
            HostResolver::Random => (random_u64() % pool.len() as u64) as usize,
            HostResolver::Fallback => 0,
        };
        let mut order = pool[start..].to_vec();
        order.extend_from_slice(&pool[..start]);
        order
    }

    /// Sends `op` to one node picked by the resolver, failing over to the
    /// next at once on a connection failure or a 503, with backoff otherwise.
    /// At most `max(max_attempts, routable nodes)` attempts are made. Any
    /// answer is returned (the last retryable one when all failed); `Err`
    /// only when no node answered at all, naming every node tried (and no
    /// other). `None` after shutdown.
    pub fn call_one(
        &self,
        op: &Operation,
        opts: &CallOptions,
    ) -> Option<Result<(usize, Response), OneNodeFailure>> {
        let order = self.candidates();
        let limit = (opts.policy.max_attempts() as usize).max(order.len());
        let mut failures: Vec<NodeFailure> = Vec::new();
        let mut last_answer: Option<(usize, Response)> = None;
        let mut last_retry_after: Option<String> = None;
        let mut move_on_at_once = true;
        for i in 0..limit {
            if self.is_shut_down() {
                return None;
            }
            let idx = order[i % order.len()];
            if i > 0 {
                if !opts.exempt_from_budget && !self.budget.try_withdraw() {
                    log::warn!(
                        "retry budget exhausted: {} {} not tried again",
                        op.method,
                        op.path
                    );
                    break;
                }
                if !move_on_at_once || i >= order.len() {
                    let backoff = opts.policy.delay_before_retry(i as u32);
                    let Ok(wait) = next_wait(
                        &opts.policy,
                        backoff,
                        last_retry_after.as_deref(),
                        Instant::now(),
                        opts.deadline,
                    ) else {
                        break;
                    };
                    if !self.sleep(wait) {
                        return None;
                    }
                }
            } else if !opts.exempt_from_budget {
                self.budget.deposit();
            }
            let node = &self.nodes[idx];
            last_retry_after = None;
            match node.attempt(op, opts.deadline) {
                Ok(resp) if status_is_retryable(resp.status, op.idempotent) => {
                    move_on_at_once = resp.status == 503;
                    failures.push(NodeFailure {
                        host: node.address.clone(),
                        error: NodeError::Status {
                            status: resp.status,
                            body: body_excerpt(&resp.body),
                        },
                    });
                    last_retry_after.clone_from(&resp.retry_after);
                    last_answer = Some((idx, resp));
                }
                Ok(resp) if resp.oversized => {
                    failures.push(NodeFailure {
                        host: node.address.clone(),
                        error: NodeError::BodyTooLarge {
                            limit: resp.body.len(),
                        },
                    });
                    break;
                }
                Ok(resp) => return Some(Ok((idx, resp))),
                Err(NodeError::Shutdown) => return None,
                Err(e) => {
                    let retry = error_is_retryable(&e, op.idempotent);
                    move_on_at_once = matches!(e, NodeError::Connect(_));
                    failures.push(NodeFailure {
                        host: node.address.clone(),
                        error: e,
                    });
                    if !retry {
                        break;
                    }
                }
            }
        }
        if self.is_shut_down() {
            return None;
        }
        Some(match last_answer {
            Some(answer) => Ok(answer),
            None => Err(OneNodeFailure { attempts: failures }),
        })
    }

    /// Periodic work of the background thread: starts a probe of every
    /// unhealthy node whose probe is due (each on a thread of its own, at
    /// most one in flight per node) and purges idle connections.
    fn maintain(&self, now: Instant) {
        for n in &self.nodes {
            if n.claim_probe(now) {
                let node = n.clone();
                let spawned = std::thread::Builder::new()
                    .name("cluster-client-probe".to_string())
                    .spawn(move || node.probe());
                if let Err(e) = spawned {
                    log::warn!("could not start a probe of {}: {e}", n.address);
                    n.release_probe();
                }
            }
            let purged = n.purge(now);
            if purged > 0 {
                log::debug!("purged {purged} idle connection(s) to {}", n.address);
            }
        }
    }
}

/// Runs one attempt; a panic in it becomes that node's failure.
fn guarded(attempt: &AttemptFn, node: &Node, deadline: Instant) -> Result<Response, NodeError> {
    catch_unwind(AssertUnwindSafe(|| attempt(node, deadline))).unwrap_or_else(|panic| {
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

fn retryable(outcome: &Result<Response, NodeError>, idempotent: bool) -> bool {
    match outcome {
        Ok(r) => status_is_retryable(r.status, idempotent),
        Err(e) => error_is_retryable(e, idempotent),
    }
}

fn describe(outcome: &Result<Response, NodeError>) -> String {
    match outcome {
        Ok(r) => format!("status {}", r.status),
        Err(e) => e.to_string(),
    }
}

/// The start of a body as text, for error messages.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

/// Starts the background thread: it announces health changes, probes
/// unhealthy nodes and purges idle connections. It holds only a `Weak` to the
/// cluster and ends when the cluster is dropped or shut down.
pub(crate) fn start_background(
    cluster: &Arc<Cluster>,
    events: Receiver<HealthEvent>,
    tick: Duration,
) -> std::io::Result<()> {
    let weak: Weak<Cluster> = Arc::downgrade(cluster);
    let shutdown = cluster.shutdown_signal.clone();
    std::thread::Builder::new()
        .name("cluster-client-background".to_string())
        .spawn(move || background_loop(weak, events, shutdown, tick))
        .map(|_| ())
}

fn background_loop(
    weak: Weak<Cluster>,
    events: Receiver<HealthEvent>,
    shutdown: Receiver<()>,
    tick: Duration,
) {
    let ticker = crossbeam_channel::tick(tick);
    loop {
        select! {
            recv(shutdown) -> _ => break,
            recv(events) -> ev => match ev {
                Ok(ev) => announce(&weak, ev),
                Err(_) => break,
            },
            recv(ticker) -> _ => {
                // Health events first, so a callback never waits for a pass.
                while let Ok(ev) = events.try_recv() {
                    announce(&weak, ev);
                }
                let Some(cluster) = weak.upgrade() else { break };
                if cluster.is_shut_down() {
                    break;
                }
                cluster.maintain(Instant::now());
            }
        }
    }
    log::debug!("background thread stopped");
}

fn announce(weak: &Weak<Cluster>, ev: HealthEvent) {
    let (callback, host) = {
        let Some(cluster) = weak.upgrade() else {
            return;
        };
        let cb = match ev.transition {
            Transition::BecameUnhealthy => cluster.callbacks.on_unhealthy.clone(),
            Transition::BecameHealthy => cluster.callbacks.on_healthy.clone(),
        };
        (cb, cluster.nodes[ev.node].address.clone())
    };
    if let Some(cb) = callback {
        if catch_unwind(AssertUnwindSafe(|| cb(&host))).is_err() {
            log::error!("a health callback panicked for node {host}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_fan_out_job_is_that_nodes_failure_not_an_abort() {
        // Nothing listens on these ports: the jobs below never touch the network.
        let client = crate::ClusterClient::builder()
            .hosts([
                "http://127.0.0.1:9",
                "http://127.0.0.1:10",
                "http://127.0.0.1:11",
            ])
            .build()
            .expect("client builds");
        let cluster = &client.inner().cluster;
        let attempt: AttemptFn = Arc::new(|node, _| {
            if node.index == 1 {
                panic!("a bug in an attempt");
            }
            Ok(Response {
                status: 200,
                retry_after: None,
                body: Vec::new(),
                oversized: false,
            })
        });
        let opts = cluster.call_options();
        // Several nodes (jobs on the rayon pool) and one node (on the caller's thread).
        let all = cluster.fan_out_with(&[0, 1, 2], "test", true, attempt.clone(), &opts);
        let one = cluster.fan_out_with(&[1], "test", true, attempt, &opts);
        for outcomes in [&all[1..2], &one[..]] {
            assert!(
                matches!(&outcomes[0].outcome, Err(NodeError::Internal(why)) if why.contains("a bug")),
                "{:?}",
                outcomes[0].outcome
            );
            assert!(outcomes[0]
                .outcome
                .as_ref()
                .is_err_and(NodeError::outcome_unknown));
        }
        assert_eq!(all[0].outcome.as_ref().map(|r| r.status).ok(), Some(200));
        assert_eq!(all[2].outcome.as_ref().map(|r| r.status).ok(), Some(200));
        // The pool survived: it still runs jobs.
        let ok: AttemptFn = Arc::new(|_, _| Err(NodeError::Unhealthy));
        let again = cluster.fan_out_with(&[0, 1], "test", false, ok, &opts);
        assert!(again
            .iter()
            .all(|o| matches!(o.outcome, Err(NodeError::Unhealthy))));
    }

    #[test]
    fn shutdown_keeps_the_answers_that_came() {
        let client = crate::ClusterClient::builder()
            .hosts(["http://127.0.0.1:9", "http://127.0.0.1:10"])
            .build()
            .expect("client builds");
        let cluster = client.inner().cluster.clone();
        let stopper = cluster.clone();
        let attempt: AttemptFn = Arc::new(move |node, deadline| {
            if node.index == 0 {
                Ok(Response {
                    status: 201,
                    retry_after: None,
                    body: Vec::new(),
                    oversized: false,
                })
            } else {
                stopper.shutdown();
                let _ = deadline;
                std::thread::sleep(Duration::from_secs(2));
                Err(NodeError::NoAnswer("hung".into()))
            }
        });
        let opts = cluster.call_options();
        let start = Instant::now();
        let out = cluster.fan_out_with(&[0, 1], "test", true, attempt, &opts);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(out[0].outcome.as_ref().map(|r| r.status).ok(), Some(201));
        assert!(matches!(out[1].outcome, Err(NodeError::Shutdown)));
    }
}
