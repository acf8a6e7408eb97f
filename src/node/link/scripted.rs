//! A scripted in-memory node for unit tests of the engine: it speaks the
//! reference group protocol over a set of groups, and a script of the
//! next answers (each applied or not, answered or lost) overrides it —
//! the testkit's fault model without a socket.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Abandon, Link, LinkError};
use crate::error::{Cause, NodeError};
use crate::node::{Answer, Operation};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Answers this status without applying the request.
    Status(u16),
    /// Applies the request, then answers this status.
    ApplyThen(u16),
    /// Applies the request; the answer is lost.
    ApplyThenLost,
    /// Not applied, no answer (a reset before the node read it).
    Lost,
    /// The connection is refused: nothing sent.
    Refused,
    /// Answers `503` with this `Retry-After`.
    RetryAfter(String),
    /// Panics inside the exchange (a bug below the engine).
    Panic,
}

#[derive(Default)]
struct State {
    groups: BTreeSet<String>,
    script: VecDeque<(&'static str, Step)>,
    /// (method, path) of every request that reached the node.
    seen: Vec<(String, String)>,
    down: bool,
    shut: bool,
}

/// A scripted node; clone the `Arc` to keep a handle for the test.
#[derive(Default)]
pub(crate) struct ScriptedNode {
    state: Mutex<State>,
}

impl ScriptedNode {
    pub fn new() -> Arc<ScriptedNode> {
        Arc::new(ScriptedNode::default())
    }

    /// The node holds `id`.
    pub fn holding(self: &Arc<Self>, id: &str) -> Arc<Self> {
        self.state.lock().groups.insert(id.to_string());
        self.clone()
    }

    /// The next `method` request gets `step` (in the order scripted).
    pub fn then(self: &Arc<Self>, method: &'static str, step: Step) -> Arc<Self> {
        self.state.lock().script.push_back((method, step));
        self.clone()
    }

    /// Every connection is refused while down.
    pub fn set_down(&self, down: bool) {
        self.state.lock().down = down;
    }

    pub fn has_group(&self, id: &str) -> bool {
        self.state.lock().groups.contains(id)
    }

    /// Requests of `method` that reached the node.
    pub fn seen(&self, method: &str) -> usize {
        self.state
            .lock()
            .seen
            .iter()
            .filter(|(m, _)| m == method)
            .count()
    }

    fn id_of(op: &Operation) -> Option<String> {
        if let Some(body) = &op.body {
            let v: serde_json::Value = serde_json::from_slice(body).ok()?;
            return v.get("groupId")?.as_str().map(str::to_string);
        }
        let rest = op.path.strip_prefix("/v1/group/")?;
        Some(rest.trim_end_matches('/').to_string())
    }

    /// The reference group service (and `GET /_admin/server/id`).
    fn serve(state: &mut State, op: &Operation) -> Answer {
        let id = ScriptedNode::id_of(op);
        let status = match (op.method.as_str(), op.path.as_str(), id) {
            ("POST", "/v1/group/", Some(id)) => {
                if state.groups.insert(id) {
                    201
                } else {
                    409
                }
            }
            ("DELETE", "/v1/group/", Some(id)) => match state.groups.remove(&id) {
                true => 200,
                false => 404,
            },
            ("GET", p, Some(id)) if p.starts_with("/v1/group/") => {
                match state.groups.contains(&id) {
                    true => 200,
                    false => 404,
                }
            }
            ("GET", "/_admin/server/id", _) => return answer(200, br#"{"id":"CRDN-1"}"#),
            _ => 404,
        };
        answer(status, b"")
    }
}

fn answer(status: u16, body: &[u8]) -> Answer {
    Answer {
        status,
        retry_after: None,
        body: body.to_vec(),
        oversized: false,
    }
}

fn failed(error: NodeError) -> LinkError {
    LinkError::Failed {
        error,
        timed_out: false,
        given: Duration::from_secs(10),
    }
}

impl Link for ScriptedNode {
    fn exchange(
        &self,
        op: &Operation,
        _url: &str,
        _deadline: Instant,
        sheltered: bool,
        _abandon: Option<&Abandon>,
    ) -> Result<Answer, LinkError> {
        let mut st = self.state.lock();
        if st.shut && !sheltered {
            return Err(LinkError::NotSent(NodeError::Shutdown));
        }
        if st.down {
            return Err(failed(NodeError::Connect(Cause::from("refused"))));
        }
        let at = st.script.iter().position(|(m, _)| *m == op.method.as_str());
        let step = at.and_then(|i| st.script.remove(i)).map(|(_, s)| s);
        if !matches!(step, Some(Step::Refused)) {
            st.seen.push((op.method.to_string(), op.path.clone()));
        }
        match step {
            None => Ok(ScriptedNode::serve(&mut st, op)),
            Some(Step::Status(s)) => Ok(answer(s, b"")),
            Some(Step::ApplyThen(s)) => {
                ScriptedNode::serve(&mut st, op);
                Ok(answer(s, b""))
            }
            Some(Step::ApplyThenLost) => {
                ScriptedNode::serve(&mut st, op);
                Err(failed(NodeError::NoAnswer(Cause::from("lost"))))
            }
            Some(Step::Lost) => Err(failed(NodeError::NoAnswer(Cause::from("lost")))),
            Some(Step::Refused) => Err(failed(NodeError::Connect(Cause::from("refused")))),
            Some(Step::RetryAfter(v)) => Ok(Answer {
                retry_after: Some(v),
                ..answer(503, b"")
            }),
            Some(Step::Panic) => {
                drop(st);
                panic!("a scripted bug");
            }
        }
    }

    fn probe(&self, _url: &str, _bound: Duration) -> bool {
        !self.state.lock().down
    }

    fn purge(&self, _now: Instant) -> usize {
        0
    }

    fn shutdown(&self) {
        self.state.lock().shut = true;
    }

    fn is_shut(&self) -> bool {
        self.state.lock().shut
    }
}
