//! One-node calls: the resolver's order, failing over at once on a
//! connection failure or a 503, with backoff otherwise.

use std::sync::Arc;
use std::time::Instant;

use super::fan_out::AttemptFn;
use super::{position, CallScope, CallSpec, Cluster, NodeSet};
use crate::address::HostAddress;
use crate::error::{body_excerpt, Error, NodeError, NodeFailure};
use crate::node::{Answer, Operation};
use crate::request::{Method, RequestPath};
use crate::retry::{error_is_retryable, status_is_retryable};

/// A node's answer to [`ClusterClient::request`](crate::ClusterClient::request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResponse {
    /// The node that answered.
    pub host: HostAddress,
    /// The HTTP status.
    pub status: u16,
    /// The whole body (at most `max_response_bytes`).
    pub body: Vec<u8>,
}

/// What a one-node call learned so far.
struct Tries {
    failures: Vec<NodeFailure>,
    /// The last retryable answer: returned when every try failed.
    last_answer: Option<(HostAddress, Answer)>,
    last_retry_after: Option<String>,
    move_on_at_once: bool,
}

impl Default for Tries {
    fn default() -> Self {
        Tries {
            failures: Vec::new(),
            last_answer: None,
            last_retry_after: None,
            move_on_at_once: true,
        }
    }
}

/// What a one-node call does after an attempt.
enum Next {
    Answer(Answer),
    Stop(NodeError),
    GiveUp,
    TryAgain,
}

impl Tries {
    fn absorb(
        &mut self,
        cluster: &Cluster,
        view: &NodeSet,
        idx: usize,
        outcome: Result<Answer, NodeError>,
        idempotent: bool,
    ) -> Next {
        let host = view[idx].address.clone();
        self.last_retry_after = None;
        match outcome {
            Ok(resp) if status_is_retryable(resp.status, idempotent) => {
                self.move_on_at_once = resp.status == 503;
                self.failures.push(NodeFailure {
                    host,
                    error: NodeError::Status {
                        status: resp.status,
                        body: body_excerpt(&resp.body),
                    },
                });
                self.last_retry_after.clone_from(&resp.retry_after);
                self.last_answer = Some((view[idx].address.clone(), resp));
                Next::TryAgain
            }
            Ok(resp) if resp.oversized => {
                self.failures.push(NodeFailure {
                    host,
                    error: NodeError::BodyTooLarge {
                        limit: cluster.max_response_bytes,
                    },
                });
                Next::GiveUp
            }
            Ok(resp) => Next::Answer(resp),
            Err(stop @ (NodeError::Shutdown | NodeError::Cancelled)) => Next::Stop(stop),
            Err(e) => {
                let retry = error_is_retryable(&e, idempotent);
                self.move_on_at_once = matches!(e, NodeError::Connect(_));
                self.failures.push(NodeFailure { host, error: e });
                if retry {
                    Next::TryAgain
                } else {
                    Next::GiveUp
                }
            }
        }
    }
}

/// A one-node call that got no usable answer from any node.
pub(crate) struct OneNodeFailure {
    pub attempts: Vec<NodeFailure>,
}

/// How a one-node call ended: a node's answer or every failed attempt;
/// the outer `Err` says why the call stopped (shutdown, cancel).
type OneNodeCall = Result<Result<(HostAddress, Answer), OneNodeFailure>, NodeError>;

/// A one-node call's end as the caller sees it, for `request_one` and
/// `request_to` alike: any answer is `Ok`; no answer is `Error::Request`
/// naming every node tried (an answer over the size limit said so).
fn respond(op: &Operation, call: OneNodeCall) -> Result<NodeResponse, Error> {
    let failure = match call {
        Err(NodeError::Cancelled) => return Err(Error::Cancelled),
        Err(_) => return Err(Error::Shutdown),
        Ok(Ok((host, answer))) => {
            return Ok(NodeResponse {
                host,
                status: answer.status,
                body: answer.body,
            })
        }
        Ok(Err(failure)) => failure,
    };
    let too_large = !failure.attempts.is_empty()
        && failure
            .attempts
            .iter()
            .all(|a| matches!(a.error, NodeError::BodyTooLarge { .. }));
    let message = if too_large {
        format!("{} {}: every answer was too large", op.method, op.path)
    } else {
        format!("{} {} got no answer from any node", op.method, op.path)
    };
    Err(Error::Request {
        message,
        attempts: failure.attempts,
    })
}

impl Cluster {
    /// Sends one request to a node picked by the resolver (see
    /// [`Cluster::call_one`]) in `scope`. Any status is `Ok`; `Err` when no
    /// node answered, naming every node tried. Retried after a lost answer
    /// when the method is idempotent.
    pub fn request_one(
        &self,
        scope: &CallScope,
        method: &Method,
        path: RequestPath,
        body: Option<Vec<u8>>,
    ) -> Result<NodeResponse, Error> {
        scope.check(self)?;
        let op = self.caller_operation(method, path, body);
        let call = self.call_one(&op, &scope.spec());
        respond(&op, call)
    }

    /// Sends one request to node `host` in `scope`, in rounds of retries as
    /// a fan-out to that node alone. Any status is `Ok`; `Err` when the node
    /// gave no answer, or `host` is not a node.
    pub fn request_to(
        &self,
        scope: &CallScope,
        host: &HostAddress,
        method: &Method,
        path: RequestPath,
        body: Option<Vec<u8>>,
    ) -> Result<NodeResponse, Error> {
        scope.check(self)?;
        let view = self.nodes();
        let idx = position(&view, host).ok_or_else(|| Error::UnknownHost(host.clone()))?;
        let op = self.caller_operation(method, path, body);
        let spec = scope.spec();
        let outcome = self
            .fan_out(&view, &[idx], op.clone(), &spec)
            .pop()
            .map_or(Err(NodeError::Shutdown), |o| o.outcome);
        let call = match (self.stop_reason(&spec), outcome) {
            (Some(stop), _) | (None, Err(stop @ (NodeError::Shutdown | NodeError::Cancelled))) => {
                Err(stop)
            }
            (None, Ok(answer)) if answer.oversized => Ok(Err(OneNodeFailure {
                attempts: vec![NodeFailure {
                    host: host.clone(),
                    error: NodeError::BodyTooLarge {
                        limit: self.max_response_bytes,
                    },
                }],
            })),
            (None, Ok(answer)) => Ok(Ok((host.clone(), answer))),
            (None, Err(error)) => Ok(Err(OneNodeFailure {
                attempts: vec![NodeFailure {
                    host: host.clone(),
                    error,
                }],
            })),
        };
        respond(&op, call)
    }

    /// The operation of a caller's request: its method and path were
    /// checked where they entered; retried after a lost answer when the
    /// method is idempotent.
    fn caller_operation(
        &self,
        method: &Method,
        path: RequestPath,
        body: Option<Vec<u8>>,
    ) -> Arc<Operation> {
        let idempotent = method.is_idempotent();
        Arc::new(self.operation(method.clone(), path.into_string(), body, idempotent, None))
    }

    /// Sends `op` to one node picked by the resolver, failing over to the
    /// next at once on a connection failure or a 503, with backoff otherwise.
    /// At most `max(max_attempts, routable nodes)` attempts are made. Any
    /// answer is returned (the last retryable one when all failed); `Err`
    /// only when no node answered at all, naming every node tried (and no
    /// other). The outer `Err` says why the call stopped (shutdown, cancel).
    pub fn call_one(&self, op: &Arc<Operation>, opts: &CallSpec) -> OneNodeCall {
        let shared = op.clone();
        let attempt: AttemptFn =
            Arc::new(move |node, deadline, sheltered| node.attempt(&shared, deadline, sheltered));
        let view = self.nodes();
        let order = self.candidates(&view);
        let limit = (opts.policy.max_attempts() as usize).max(order.len());
        let mut tries = Tries::default();
        for i in 0..limit {
            if let Some(stop) = self.stop_reason(opts) {
                return Err(stop);
            }
            let idx = order[i % order.len()];
            if i == 0 {
                if !opts.exempt_from_budget {
                    self.budget.deposit();
                }
            } else {
                // A refused connection or a 503 moves to the next node at
                // once; anything else (and a second lap) waits the backoff.
                let backoff = (!tries.move_on_at_once || i >= order.len())
                    .then(|| opts.policy.delay_before_retry(i as u32));
                let retry_after = tries.last_retry_after.as_deref();
                let Some(wait) =
                    self.before_retry(opts, backoff, retry_after, Instant::now(), || {
                        format!("{} {}", op.method, op.path)
                    })
                else {
                    break;
                };
                if !self.sleep(wait, opts) {
                    return Err(self.stop_reason(opts).unwrap_or(NodeError::Shutdown));
                }
            }
            let hedged = (i == 0 && opts.hedge && op.method.is_read() && order.len() > 1)
                .then(|| self.hedged(&view, op, idx, order[1], opts))
                .flatten();
            let (idx, outcome) = hedged.unwrap_or_else(|| {
                let outcome = self
                    .run_round(&view, &[0], &[idx], &attempt, opts)
                    .pop()
                    .map_or(Err(NodeError::Shutdown), |(_, o)| o);
                (idx, outcome)
            });
            match tries.absorb(self, &view, idx, outcome, op.idempotent) {
                Next::Answer(resp) => return Ok(Ok((view[idx].address.clone(), resp))),
                Next::Stop(stop) => return Err(stop),
                Next::GiveUp => break,
                Next::TryAgain => {}
            }
        }
        if let Some(stop) = self.stop_reason(opts) {
            return Err(stop);
        }
        Ok(match tries.last_answer {
            Some(answer) => Ok(answer),
            None => Err(OneNodeFailure {
                attempts: tries.failures,
            }),
        })
    }
}
