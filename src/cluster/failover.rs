//! One-node calls: the resolver's order, failing over at once on a
//! connection failure or a 503, with backoff otherwise.

use std::sync::Arc;
use std::time::Instant;

use super::fan_out::AttemptFn;
use super::{CallScope, CallSpec, Cluster};
use crate::address::HostAddress;
use crate::error::{body_excerpt, Error, NodeError, NodeFailure};
use crate::node::{Answer, Operation};
use crate::retry::{error_is_retryable, next_wait, status_is_retryable};

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

/// A one-node call that got no usable answer from any node.
pub(crate) struct OneNodeFailure {
    pub attempts: Vec<NodeFailure>,
}

impl Cluster {
    /// Sends one request to a node picked by the resolver (see
    /// [`Cluster::call_one`]) in `scope`. Any status is `Ok`; `Err` when no
    /// node answered, naming every node tried.
    pub fn request_one(
        &self,
        scope: &CallScope,
        method: &str,
        path: String,
        body: Option<Vec<u8>>,
        idempotent: bool,
    ) -> Result<NodeResponse, Error> {
        if let Some(refused) = scope.refused(self) {
            return Err(refused);
        }
        let op = Arc::new(self.operation(method, path, body, idempotent, None));
        match self.call_one(&op, &scope.spec()) {
            Err(NodeError::Cancelled) => Err(Error::Cancelled),
            Err(_) => Err(Error::Shutdown),
            Ok(Ok((idx, answer))) => Ok(NodeResponse {
                host: self.nodes[idx].address.clone(),
                status: answer.status,
                body: answer.body,
            }),
            Ok(Err(failure)) => {
                // An answer over the size limit is an answer: say so.
                let too_large = !failure.attempts.is_empty()
                    && failure
                        .attempts
                        .iter()
                        .all(|a| matches!(a.error, NodeError::BodyTooLarge { .. }));
                let message = if too_large {
                    format!("{method} {}: every answer was too large", op.path)
                } else {
                    format!("{method} {} got no answer from any node", op.path)
                };
                Err(Error::Request {
                    message,
                    attempts: failure.attempts,
                })
            }
        }
    }

    /// Sends `op` to one node picked by the resolver, failing over to the
    /// next at once on a connection failure or a 503, with backoff otherwise.
    /// At most `max(max_attempts, routable nodes)` attempts are made. Any
    /// answer is returned (the last retryable one when all failed); `Err`
    /// only when no node answered at all, naming every node tried (and no
    /// other). The outer `Err` says why the call stopped (shutdown, cancel).
    pub fn call_one(
        &self,
        op: &Arc<Operation>,
        opts: &CallSpec,
    ) -> Result<Result<(usize, Answer), OneNodeFailure>, NodeError> {
        let shared = op.clone();
        let attempt: AttemptFn =
            Arc::new(move |node, deadline, sheltered| node.attempt(&shared, deadline, sheltered));
        let order = self.candidates();
        let limit = (opts.policy.max_attempts() as usize).max(order.len());
        let mut failures: Vec<NodeFailure> = Vec::new();
        let mut last_answer: Option<(usize, Answer)> = None;
        let mut last_retry_after: Option<String> = None;
        let mut move_on_at_once = true;
        for i in 0..limit {
            if let Some(stop) = self.stop_reason(opts) {
                return Err(stop);
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
                        self.deadline_of(opts),
                    ) else {
                        break;
                    };
                    if !self.sleep(wait, opts) {
                        return Err(self.stop_reason(opts).unwrap_or(NodeError::Shutdown));
                    }
                }
            } else if !opts.exempt_from_budget {
                self.budget.deposit();
            }
            let node = &self.nodes[idx];
            last_retry_after = None;
            let outcome = self
                .run_round(&[0], &[idx], &attempt, opts)
                .pop()
                .map_or(Err(NodeError::Shutdown), |(_, o)| o);
            match outcome {
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
                            limit: self.max_response_bytes,
                        },
                    });
                    break;
                }
                Ok(resp) => return Ok(Ok((idx, resp))),
                Err(stop @ (NodeError::Shutdown | NodeError::Cancelled)) => return Err(stop),
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
        if let Some(stop) = self.stop_reason(opts) {
            return Err(stop);
        }
        Ok(match last_answer {
            Some(answer) => Ok(answer),
            None => Err(OneNodeFailure { attempts: failures }),
        })
    }
}
