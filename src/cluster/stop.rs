//! What ends a call before its deadline — the client's `shutdown()` and
//! the caller's [`CancelToken`] — and the grace a compensation gets after
//! either, so a create that already made groups still rolls them back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use parking_lot::Mutex;

use super::Cluster;
use crate::error::{Error, NodeError};
use crate::retry::RetryPolicy;

/// How long compensations go on after `shutdown()` (a cancelled call's
/// compensations get the same bound): what they cannot settle by then is
/// named in the error (and stays in the journal, if one is kept).
pub const COMPENSATION_GRACE: Duration = Duration::from_secs(5);

/// A per-call cancellation token: trip it from any thread with
/// [`cancel`](Self::cancel), and the calls of a client made with it
/// ([`CallOptions::cancel_token`](crate::CallOptions::cancel_token)) end
/// their waits at once, as after `shutdown()`: a call not yet started
/// returns [`Error::Cancelled`]; a `create_group` that already created
/// groups first rolls them back (within [`COMPENSATION_GRACE`]) and returns
/// [`Error::GroupOperation`] whose failures say cancelled. Cheap to clone;
/// every clone is the same token.
///
/// ```
/// use cluster_client::{CallOptions, CancelToken, ClusterClient, Error};
/// use cluster_client::testkit::TestCluster;
///
/// let nodes = TestCluster::start(2)?;
/// let client = ClusterClient::new(nodes.urls())?;
/// let token = CancelToken::new();
/// let cancellable = client.with_options(CallOptions::new().cancel_token(token.clone()));
/// token.cancel(); // e.g. from a Ctrl-C handler on another thread
/// assert!(matches!(cancellable.create_group("g"), Err(Error::Cancelled)));
/// assert!(nodes.nodes_with_group("g").is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CancelToken {
    inner: Arc<TokenState>,
}

struct TokenState {
    cancelled: AtomicBool,
    /// Dropped on cancel: every waiter on `signal` wakes.
    trigger: Mutex<Option<Sender<()>>>,
    signal: Receiver<()>,
}

impl CancelToken {
    /// A token not yet tripped.
    pub fn new() -> CancelToken {
        let (trigger, signal) = crossbeam_channel::bounded(0);
        CancelToken {
            inner: Arc::new(TokenState {
                cancelled: AtomicBool::new(false),
                trigger: Mutex::new(Some(trigger)),
                signal,
            }),
        }
    }

    /// Trips the token: calls using it end their waits. Idempotent.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Release);
        self.inner.trigger.lock().take();
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn signal(&self) -> Receiver<()> {
        self.inner.signal.clone()
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// One call's settings, fixed when it starts.
#[derive(Debug, Clone)]
pub(crate) struct CallSpec {
    pub deadline: Instant,
    pub policy: RetryPolicy,
    /// Compensations do not spend the retry budget.
    pub exempt_from_budget: bool,
    /// Ends the call's waits when tripped.
    pub cancel: Option<CancelToken>,
    /// A compensation: goes on after shutdown (within the grace), is not
    /// interrupted by it, and ignores the cancel token of the call it undoes.
    pub sheltered: bool,
    /// A hedgeable one-node read may be hedged (when the client hedges).
    pub hedge: bool,
    /// Each attempt's own bound, when shorter than the client's.
    pub request_timeout: Option<Duration>,
}

/// What a client handle's calls start from: its policy, its operation
/// timeout and its cancel token.
#[derive(Debug, Clone)]
pub(crate) struct CallScope {
    pub policy: RetryPolicy,
    pub operation_timeout: Duration,
    pub cancel: Option<CancelToken>,
    /// One-node reads may be hedged (when the client hedges).
    pub hedge: bool,
    /// Each attempt's bound, when this handle sets one.
    pub request_timeout: Option<Duration>,
}

impl CallScope {
    /// A new call: the policy, a deadline `operation_timeout` from now.
    pub fn spec(&self) -> CallSpec {
        CallSpec {
            deadline: Instant::now() + self.operation_timeout,
            policy: self.policy.clone(),
            exempt_from_budget: false,
            cancel: self.cancel.clone(),
            sheltered: false,
            hedge: self.hedge,
            request_timeout: self.request_timeout,
        }
    }

    /// A call that repairs (`recover()`, `repair_group`): exempt from the
    /// retry budget, like a compensation, but the caller's to cancel.
    pub fn repairing(&self) -> CallSpec {
        CallSpec {
            exempt_from_budget: true,
            ..self.spec()
        }
    }

    /// A compensation: its own deadline, exempt
    /// from the retry budget, sheltered from shutdown and cancellation
    /// (bounded by the grace after them), so rollback is never starved.
    pub fn compensation(&self) -> CallSpec {
        let deadline = match &self.cancel {
            Some(t) if t.is_cancelled() => Instant::now() + COMPENSATION_GRACE,
            _ => Instant::now() + self.operation_timeout,
        };
        CallSpec {
            deadline,
            exempt_from_budget: true,
            cancel: None,
            sheltered: true,
            ..self.spec()
        }
    }

    /// `Err` when the call must not go on: shut down or cancelled.
    pub fn check(&self, cluster: &Cluster) -> Result<(), Error> {
        self.refused(cluster).map_or(Ok(()), Err)
    }

    /// The error for a call that must not start: shut down or cancelled.
    pub fn refused(&self, cluster: &Cluster) -> Option<Error> {
        cluster.halted(self.cancel.as_ref()).map(|why| match why {
            NodeError::Cancelled => Error::Cancelled,
            _ => Error::Shutdown,
        })
    }
}

impl Cluster {
    /// Why the call of `spec` must stop now, if it must.
    pub(crate) fn stop_reason(&self, spec: &CallSpec) -> Option<NodeError> {
        if spec.sheltered {
            let over = self
                .shut_at
                .get()
                .is_some_and(|at| Instant::now() >= *at + COMPENSATION_GRACE);
            return over.then_some(NodeError::Shutdown);
        }
        self.halted(spec.cancel.as_ref())
    }

    /// `Shutdown` after `shutdown()`, else `Cancelled` once `cancel` is
    /// tripped: the one check behind [`Cluster::stop_reason`] and
    /// [`CallScope::refused`].
    fn halted(&self, cancel: Option<&CancelToken>) -> Option<NodeError> {
        if self.is_shut_down() {
            Some(NodeError::Shutdown)
        } else if cancel.is_some_and(CancelToken::is_cancelled) {
            Some(NodeError::Cancelled)
        } else {
            None
        }
    }

    /// The deadline of the call's attempts: a sheltered call's ends the
    /// grace after shutdown at the latest.
    pub(crate) fn deadline_of(&self, spec: &CallSpec) -> Instant {
        match self.shut_at.get() {
            Some(at) if spec.sheltered => spec.deadline.min(*at + COMPENSATION_GRACE),
            _ => spec.deadline,
        }
    }

    /// The deadline of one attempt starting now: the call's, or sooner
    /// when the call sets its own request timeout.
    pub(crate) fn attempt_deadline(&self, spec: &CallSpec) -> Instant {
        let call = self.deadline_of(spec);
        match spec.request_timeout {
            Some(t) => call.min(Instant::now() + t),
            None => call,
        }
    }

    /// The channels that wake a waiting call: shutdown (unless the call is
    /// sheltered and the client already shut down) and its cancel token.
    pub(crate) fn wakers(&self, spec: &CallSpec) -> (Receiver<()>, Receiver<()>) {
        let shutdown = if spec.sheltered && self.is_shut_down() {
            crossbeam_channel::never()
        } else {
            self.shutdown_signal.clone()
        };
        let cancel = spec
            .cancel
            .as_ref()
            .map_or_else(crossbeam_channel::never, CancelToken::signal);
        (shutdown, cancel)
    }

    /// Waits `delay` (less when the call's deadline comes first); false
    /// when the call must stop instead.
    pub(crate) fn sleep(&self, delay: Duration, spec: &CallSpec) -> bool {
        let end = Instant::now() + delay;
        loop {
            if self.stop_reason(spec).is_some() {
                return false;
            }
            let until = end.min(self.deadline_of(spec));
            let now = Instant::now();
            if now >= until {
                return now >= end;
            }
            let (shutdown, cancel) = self.wakers(spec);
            select! {
                recv(shutdown) -> _ => {},
                recv(cancel) -> _ => {},
                default(until - now) => {},
            }
        }
    }
}
