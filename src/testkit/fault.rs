//! Fault injection rules: what a node does instead of (or around) its normal
//! answer, and which requests a rule applies to.

use std::time::Duration;

/// What a node does to one request instead of answering it normally.
///
/// "Applied" means the operation takes effect on the node (e.g. the group is
/// created) as if the request had been handled normally.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a small JSON error body (and a `Retry-After`
    /// header when given). The operation is not applied.
    Status {
        /// The status code to answer.
        status: u16,
        /// The `Retry-After` header value to send, if any.
        retry_after: Option<String>,
    },
    /// Apply the operation, then answer this status (with a JSON error body)
    /// instead of the normal answer.
    ApplyThenStatus(u16),
    /// Apply the operation, then answer this status (with a JSON error body
    /// and a `Retry-After` header when given) instead of the normal answer:
    /// a gateway that forwarded the request and lost the node's answer.
    ApplyThenAnswer {
        /// The status code to answer.
        status: u16,
        /// The `Retry-After` header value to send, if any.
        retry_after: Option<String>,
    },
    /// Apply the operation and answer its normal status, with a body of this
    /// many bytes (`Content-Length` set): an answer over the client's limit
    /// whose status line still tells what happened.
    ApplyThenHugeBody(usize),
    /// Write exactly these bytes, then close the connection. Not applied.
    /// (For fuzzing what the client parses: status lines, headers, bodies.)
    Raw(Vec<u8>),
    /// Apply the operation, then write exactly these bytes and close.
    ApplyThenRaw(Vec<u8>),
    /// Read the request, then close the connection without any answer. Not
    /// applied.
    Drop,
    /// Apply the operation, then close the connection without answering (the
    /// "client never heard" case).
    ApplyThenDrop,
    /// Sleep this long, then handle the request normally (a latency spike for
    /// one request).
    Delay(Duration),
    /// Answer 200 with a body of this many bytes (`Content-Length` set),
    /// written in chunks. Not applied.
    HugeBody(usize),
    /// Answer 200 headers with `Content-Length: 1000`, then write one body
    /// byte per interval; stops when the client goes away or the node goes
    /// down. Not applied.
    Drip(Duration),
    /// Write bytes that are not HTTP, then close. Not applied.
    Garbage,
    /// Write headers with `Content-Length: 100` and 10 bytes of body, then
    /// close. Not applied.
    CloseMidBody,
    /// Apply the operation and answer its normal status, but with
    /// `Content-Type: text/html` and an HTML body.
    WrongContentType,
    /// Apply the operation and answer its normal status with
    /// `Content-Type: application/json` and the truncated body `{"id": `.
    InvalidJson,
    /// Answer exactly this status, content type and body. Not applied.
    Respond {
        /// The status code.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body.
        body: Vec<u8>,
    },
    /// Read the request and never answer: the socket stays open until the
    /// client closes it, the node goes down or the node is dropped. Not
    /// applied.
    NeverAnswer,
}

/// A fault plus the requests it applies to and how many times.
///
/// Rules are checked in the order they were injected; the first one that
/// matches a request and has a remaining count above zero is used for that
/// request and its count decremented (`usize::MAX` never decrements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Only requests with this method (ASCII case-insensitive); `None` = any.
    pub method: Option<String>,
    /// Only requests whose target starts with this prefix (checked against
    /// the raw target and against the path with any `/_db/<name>` prefix
    /// removed); `None` = any.
    pub path_prefix: Option<String>,
    /// Remaining number of requests this rule applies to; `usize::MAX` means
    /// forever.
    pub count: usize,
    /// What to do.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule for any method and path, applying once.
    pub fn new(fault: Fault) -> Self {
        FaultRule {
            method: None,
            path_prefix: None,
            count: 1,
            fault,
        }
    }

    /// A rule answering `status` (no `Retry-After`) once; the operation is
    /// not applied.
    pub fn status(status: u16) -> Self {
        FaultRule::new(Fault::Status {
            status,
            retry_after: None,
        })
    }

    /// Restricts the rule to one method.
    pub fn method(mut self, m: &str) -> Self {
        self.method = Some(m.to_string());
        self
    }

    /// Restricts the rule to targets starting with `p`.
    pub fn path_prefix(mut self, p: &str) -> Self {
        self.path_prefix = Some(p.to_string());
        self
    }

    /// Applies the rule to `n` requests.
    pub fn times(mut self, n: usize) -> Self {
        self.count = n;
        self
    }

    /// Applies the rule to every matching request, forever.
    pub fn always(self) -> Self {
        self.times(usize::MAX)
    }

    /// Whether the rule applies to a request (ignoring the count).
    fn matches(&self, method: &str, target: &str, path: &str) -> bool {
        let method_ok = match &self.method {
            None => true,
            Some(m) => m.eq_ignore_ascii_case(method),
        };
        let path_ok = match &self.path_prefix {
            None => true,
            Some(p) => target.starts_with(p.as_str()) || path.starts_with(p.as_str()),
        };
        method_ok && path_ok
    }
}

/// Consumes the first rule matching a request and returns its fault.
/// `path` is the target with any `/_db/<name>` prefix removed.
pub(super) fn take_fault(
    rules: &mut Vec<FaultRule>,
    method: &str,
    target: &str,
    path: &str,
) -> Option<Fault> {
    let index = rules
        .iter()
        .position(|r| r.count > 0 && r.matches(method, target, path))?;
    let rule = &mut rules[index];
    let fault = rule.fault.clone();
    if rule.count != usize::MAX {
        rule.count -= 1;
    }
    if rule.count == 0 {
        rules.remove(index);
    }
    Some(fault)
}
