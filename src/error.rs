//! The crate's errors: one [`Error`] for every public call, and [`NodeError`]
//! for what went wrong on one node.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::address::HostAddress;

/// Why a connection or an exchange failed: readable text, the I/O error
/// kind when there was one, and the underlying error kept as the
/// [`source`](std::error::Error::source).
#[derive(Clone)]
pub struct Cause {
    text: String,
    kind: Option<io::ErrorKind>,
    timed_out: bool,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Cause {
    /// A cause from the error that produced it.
    pub(crate) fn from_error(
        error: impl std::error::Error + Send + Sync + 'static,
        kind: Option<io::ErrorKind>,
        timed_out: bool,
    ) -> Cause {
        Cause {
            text: error.to_string(),
            kind,
            timed_out,
            source: Some(Arc::new(error)),
        }
    }

    /// The I/O error kind (`ConnectionRefused`, `TimedOut`, ...), when the
    /// failure was an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.kind
    }

    /// True when a timeout (connect or the attempt's) ended the exchange.
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }

    /// The text, as shown by `Display`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Cause");
        d.field("text", &self.text);
        if let Some(kind) = self.kind {
            d.field("kind", &kind);
        }
        if self.timed_out {
            d.field("timed_out", &true);
        }
        d.finish()
    }
}

/// Causes are equal when their text, kind and timeout are.
impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        self.text == other.text && self.kind == other.kind && self.timed_out == other.timed_out
    }
}

impl Eq for Cause {}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A cause that is only text: for the crate's own unit tests (scripted
/// nodes), not public API.
#[cfg(test)]
impl From<&str> for Cause {
    fn from(text: &str) -> Cause {
        Cause {
            text: text.to_string(),
            kind: None,
            timed_out: false,
            source: None,
        }
    }
}

/// What went wrong with one node during one call.
///
/// The variant tells whether the request may have reached the node:
/// [`NodeError::Connect`] means it never left, [`NodeError::NoAnswer`] means it
/// was (at least partly) sent and no answer came back, so the node may or may
/// not have applied it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The connection could not be made (refused, connect timeout, DNS); the
    /// request was never sent.
    #[error("connection failed, request not sent: {0}")]
    Connect(#[source] Cause),
    /// The request was sent but no answer came back (timeout, reset).
    #[error("request sent but no answer: {0}")]
    NoAnswer(#[source] Cause),
    /// The node answered with something that is not valid HTTP.
    #[error("invalid HTTP answer: {0}")]
    Protocol(#[source] Cause),
    /// The response body was larger than the configured limit.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The configured limit (`max_response_bytes`).
        limit: usize,
    },
    /// TLS failed (handshake, certificate verification).
    #[error("TLS error: {0}")]
    Tls(#[source] Cause),
    /// The node answered with a status this operation does not accept.
    #[error("unexpected status {status}{}", body_suffix(.body))]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most 200 characters), for diagnosis.
        body: String,
    },
    /// The attempt panicked inside the client (a bug): that node's failure,
    /// never the process's. The request may have been sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// No connection slot of the node became free before the deadline.
    #[error("no free connection to the node before the deadline")]
    PoolTimeout,
    /// The call's deadline (`operation_timeout`) passed before this node answered.
    #[error("deadline exceeded before the node answered")]
    DeadlineExceeded,
    /// The client was shut down.
    #[error("client shut down")]
    Shutdown,
    /// The call was cancelled with its [`CancelToken`](crate::CancelToken)
    /// (the request may have been sent).
    #[error("call cancelled")]
    Cancelled,
}

/// The start of a body as text, for error messages.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl NodeError {
    /// True when the request may have reached the node and been applied
    /// although no answer came back.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            NodeError::NoAnswer(_)
                | NodeError::Protocol(_)
                | NodeError::DeadlineExceeded
                | NodeError::Internal(_)
                | NodeError::Shutdown
                | NodeError::Cancelled
        )
    }

    /// The HTTP status, if the node answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            NodeError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One node and what went wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFailure {
    /// The node.
    pub host: HostAddress,
    /// What went wrong.
    pub error: NodeError,
}

impl fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.host, self.error)
    }
}

pub(crate) fn join_failures(failures: &[NodeFailure]) -> String {
    if failures.is_empty() {
        return "none".to_string();
    }
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `[a, b]`, or `none` (no brackets) for an empty list.
pub(crate) fn join_hosts(hosts: &[HostAddress]) -> String {
    if hosts.is_empty() {
        return "none".to_string();
    }
    format!(
        "[{}]",
        hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// What kind of [`Error::Journal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalErrorKind {
    /// Another client (in this or another process) holds the journal.
    Locked,
    /// A record failed its checksum or could not be read: the file is
    /// left as it is for a person to look at (`offset` says where).
    Damaged,
    /// The file system refused a read, write, sync or rename.
    Io,
    /// `recover()` was settling the group for longer than the call's
    /// operation timeout: nothing was sent; try again.
    Busy,
}

/// Every error a call of this crate can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No host was given (an empty list, an empty string, or `HOSTS` unset or empty).
    #[error("no hosts configured")]
    NoHosts,
    /// A host string is not a valid `http://` or `https://` node address.
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost {
        /// The host as given (any credentials in it are replaced by `***`).
        host: String,
        /// Why it was refused.
        reason: String,
    },
    /// A group id was refused before any request was sent.
    #[error("invalid group id {id:?}: {reason}")]
    InvalidGroupId {
        /// The id as given, shortened to 64 characters.
        id: String,
        /// Why it was refused.
        reason: String,
    },
    /// A setting (builder, config file) is out of range or malformed.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A request given to [`ClusterClient::request`](crate::ClusterClient::request)
    /// or `request_to` is malformed (method, path); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A group operation did not hold on every node (the reference client's
    /// `GroupOperationException`).
    #[error(
        "group {group_id:?}: failed on {}; rollback failed on {}; possible orphans on {} (request id {request_id}; reasons: {})",
        join_hosts(failed_hosts),
        join_hosts(rollback_failed_hosts),
        join_hosts(possible_orphans),
        join_failures(failures)
    )]
    GroupOperation {
        /// The group id.
        group_id: String,
        /// Nodes where the create or the verification failed.
        failed_hosts: Vec<HostAddress>,
        /// Nodes where this saga created the group and the rollback could not
        /// delete it: the group is still there.
        rollback_failed_hosts: Vec<HostAddress>,
        /// Nodes whose state is unknown: a create was sent and never
        /// answered, or answered 409 after an unanswered attempt (not deleted,
        /// since the group may have been there before), or an unanswered
        /// attempt preceded the 201 that was rolled back (the node may still
        /// apply that attempt later).
        possible_orphans: Vec<HostAddress>,
        /// Why each node in `failed_hosts` failed.
        failures: Vec<NodeFailure>,
        /// Why each node in `rollback_failed_hosts` could not be rolled back.
        rollback_failures: Vec<NodeFailure>,
        /// The `X-Request-Id` every request of this saga carried.
        request_id: String,
    },
    /// A request got no usable answer from any node tried (the reference
    /// client's `RequestErrorException`). Every node tried is listed.
    #[error("{message}: {}", join_failures(attempts))]
    Request {
        /// What was being done.
        message: String,
        /// Every attempt, in order, with its node and reason.
        attempts: Vec<NodeFailure>,
    },
    /// The node answered with an ArangoDB error body.
    #[error("{host}{path}: ArangoDB error {error_num} (HTTP {status}): {message}")]
    Arango {
        /// The node that answered.
        host: HostAddress,
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// ArangoDB's `errorNum`.
        error_num: i64,
        /// ArangoDB's `errorMessage`.
        message: String,
    },
    /// The node answered, but not with what the call expects (wrong status,
    /// malformed JSON, wrong types).
    #[error("{host}{path}: unexpected answer (HTTP {status}): {reason}")]
    UnexpectedResponse {
        /// The node that answered.
        host: HostAddress,
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong.
        reason: String,
    },
    /// The host is not one of this client's nodes.
    #[error("{0} is not a node of this cluster")]
    UnknownHost(HostAddress),
    /// The client was shut down with [`ClusterClient::shutdown`](crate::ClusterClient::shutdown).
    #[error("client shut down")]
    Shutdown,
    /// The call's [`CancelToken`](crate::CancelToken) was tripped before
    /// it started or while it waited (nothing left undone: a create that
    /// had made groups returns [`Error::GroupOperation`] instead).
    #[error("call cancelled")]
    Cancelled,
    /// The saga journal could not be opened, written or read: locked by
    /// another client, damaged (with the offset of the damage), or an I/O
    /// error (kept as the [`source`](std::error::Error::source)). Creates
    /// refuse to start when their intent cannot be journaled.
    #[error("journal {}: {reason}{}", path.display(), offset.map(|o| format!(" (at offset {o})")).unwrap_or_default())]
    Journal {
        /// The journal's path.
        path: PathBuf,
        /// Where the damage starts, for a damaged journal.
        offset: Option<u64>,
        /// What went wrong.
        reason: String,
        /// What kind of failure, to match on.
        kind: JournalErrorKind,
        /// The I/O error, when there was one.
        #[source]
        source: Option<io::Error>,
    },
    /// The operating system refused what the client needs (e.g. starting
    /// its background thread): not a setting, so not [`Error::InvalidConfig`].
    #[error("{context}: {source}")]
    Os {
        /// What the client was doing.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// True when the call was refused for its input or configuration before
    /// anything was sent (bad host, group id, setting); false for failures
    /// of the operation itself.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::NoHosts
                | Error::InvalidHost { .. }
                | Error::InvalidGroupId { .. }
                | Error::InvalidConfig(_)
                | Error::InvalidRequest(_)
                | Error::UnknownHost(_)
        )
    }

    /// The nodes this error names as failed (for a group operation, its
    /// `failed_hosts`; for a request, every node tried).
    pub fn failed_hosts(&self) -> Vec<HostAddress> {
        match self {
            Error::GroupOperation { failed_hosts, .. } => failed_hosts.clone(),
            Error::Request { attempts, .. } => {
                let mut hosts: Vec<HostAddress> = Vec::new();
                for a in attempts {
                    if !hosts.contains(&a.host) {
                        hosts.push(a.host.clone());
                    }
                }
                hosts
            }
            Error::Arango { host, .. } | Error::UnexpectedResponse { host, .. } => {
                vec![host.clone()]
            }
            _ => Vec::new(),
        }
    }
}
