//! The node boundary: how one exchange reaches a node. The engine above
//! (fan-out, failover, retry rounds, the saga) sees only [`Link`], so it
//! runs on the pooled HTTP node in production and on scripted in-memory
//! nodes ([`scripted`]) in unit tests, without a socket.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::pool::Pool;
use super::{Answer, Operation};
use crate::error::NodeError;
use crate::transport::Request;

/// An attempt its caller may give up on (a hedged request's loser): once
/// abandoned, its connection is interrupted and closed, never returned,
/// and its outcome is not held against the node.
#[derive(Default)]
pub(crate) struct Abandon {
    gone: AtomicBool,
    interrupt: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Abandon {
    /// Gives the attempt up: interrupts its I/O if it is under way.
    pub fn abandon(&self) {
        self.gone.store(true, Ordering::Release);
        if let Some(interrupt) = self.interrupt.lock().take() {
            interrupt();
        }
    }

    pub fn is_abandoned(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    /// The exchange is over: its interrupt is let go (the connection may
    /// go back to the pool). True when it was abandoned meanwhile: the
    /// connection is to be closed.
    fn finish(&self) -> bool {
        self.interrupt.lock().take();
        self.is_abandoned()
    }

    /// `interrupt` ends the attempt's I/O: run now if already abandoned.
    fn on_abandon(&self, interrupt: Box<dyn FnOnce() + Send>) {
        let mut slot = self.interrupt.lock();
        if self.is_abandoned() {
            drop(slot);
            interrupt();
        } else {
            *slot = Some(interrupt);
        }
    }
}

/// Why an exchange gave no answer.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// The client gave up before sending (no connection free by the
    /// deadline, or shut down): not the node's doing.
    NotSent(NodeError),
    /// The exchange failed; `timed_out` when a timeout ended it, `given`
    /// the time it had once a connection was there.
    Failed {
        error: NodeError,
        timed_out: bool,
        given: Duration,
    },
}

/// One node as the engine reaches it.
pub(crate) trait Link: Send + Sync {
    /// Sends `op` to `url`, waiting for a connection and the answer until
    /// `deadline`. A `sheltered` exchange (a compensation) goes on after
    /// shutdown; one given an `abandon` token ends when it is tripped.
    fn exchange(
        &self,
        op: &Operation,
        url: &str,
        deadline: Instant,
        sheltered: bool,
        abandon: Option<&Abandon>,
    ) -> Result<Answer, LinkError>;

    /// `GET url` within `bound`: true for any answer below 500.
    fn probe(&self, url: &str, bound: Duration) -> bool;

    /// Closes connections idle past the purge age; how many.
    fn purge(&self, now: Instant) -> usize;

    /// Refuses new exchanges (but sheltered ones) and interrupts those in flight.
    fn shutdown(&self);

    /// True after [`Link::shutdown`].
    fn is_shut(&self) -> bool;
}

impl Link for Pool {
    fn exchange(
        &self,
        op: &Operation,
        url: &str,
        deadline: Instant,
        sheltered: bool,
        abandon: Option<&Abandon>,
    ) -> Result<Answer, LinkError> {
        let lease = if sheltered {
            self.lease_sheltered(deadline)
        } else {
            self.lease(deadline)
        }
        .map_err(LinkError::NotSent)?;
        let request = Request {
            method: op.method.as_str(),
            url,
            request_id: op.request_id.as_deref(),
            body: op.body.as_deref(),
        };
        if let Some(a) = abandon {
            let handle = lease.connection().interrupt_handle();
            a.on_abandon(Box::new(move || handle.interrupt()));
        }
        let given = deadline.saturating_duration_since(Instant::now());
        let sent = lease.connection().send(&request, given);
        if abandon.is_some_and(Abandon::finish) {
            lease.discard();
        }
        sent.map(Answer::from).map_err(|f| LinkError::Failed {
            error: f.error,
            timed_out: f.timed_out,
            given,
        })
    }

    fn probe(&self, url: &str, bound: Duration) -> bool {
        let Ok(lease) = self.lease(Instant::now() + bound) else {
            return false;
        };
        let request = Request {
            method: "GET",
            url,
            request_id: None,
            body: None,
        };
        matches!(lease.connection().send(&request, bound), Ok(r) if r.status < 500)
    }

    fn purge(&self, now: Instant) -> usize {
        Pool::purge(self, now)
    }

    fn shutdown(&self) {
        Pool::shutdown(self);
    }

    fn is_shut(&self) -> bool {
        Pool::is_shut(self)
    }
}

#[cfg(test)]
pub(crate) mod scripted;
