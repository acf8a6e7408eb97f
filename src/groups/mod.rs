//! Group operations across the cluster: the create saga (create
//! everywhere, verify everywhere, roll back exactly what this saga created
//! when anything fails), delete and verify. The wire protocol is in [`api`].

mod api;
mod create;
#[cfg(feature = "journal")]
mod ledger;
#[cfg(feature = "journal")]
mod recovery;
mod repair;
mod report;
#[cfg(feature = "journal")]
mod trail;
#[cfg(not(feature = "journal"))]
mod unjournaled;

use std::fmt;
use std::sync::Arc;

pub use self::api::{GroupApi, GroupEndpoint};
#[cfg(feature = "journal")]
pub(crate) use self::recovery::recover;
pub(crate) use self::repair::repair_group;
#[cfg(feature = "journal")]
pub use self::report::{
    Attention, RecoveredSaga, RecoveryReport, RepairAction, Repaired, SagaKind, SagaOutcome,
};
pub use self::report::{Intent, NodeRepair, RepairReport};

pub(crate) use self::create::create_group;
#[cfg(feature = "journal")]
pub(crate) use self::ledger::Ledger;
#[cfg(feature = "journal")]
use self::trail::Trail;
#[cfg(not(feature = "journal"))]
pub(crate) use self::unjournaled::Ledger;
#[cfg(not(feature = "journal"))]
use self::unjournaled::Trail;
use crate::journal::{SagaEnd, SagaOp};

use crate::address::{validate_group_id, HostAddress};
use crate::cluster::{position, CallScope, CallSpec, Cluster, NodeOutcome, NodeSet};
use crate::error::{body_excerpt, Error, NodeError, NodeFailure};
use crate::node::Answer;
use crate::random::random_u64;
use crate::request::Method;

pub(super) fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let x = random_u64();
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[((x >> (60 - 4 * i)) & 15) as usize];
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// Per-node failures, the error type of the saga's steps.
struct Failures(Vec<NodeFailure>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::error::join_failures(&self.0))
    }
}

/// Sends one group operation to `targets` (positions in `view`, the node
/// set the call works on).
fn send(
    cluster: &Cluster,
    view: &NodeSet,
    endpoint: &GroupEndpoint,
    id: &str,
    targets: &[usize],
    opts: &CallSpec,
    request_id: Option<&str>,
) -> Vec<NodeOutcome> {
    let op = Arc::new(cluster.operation(
        Method::of_endpoint(&endpoint.method),
        endpoint.path_for(id),
        endpoint.body_for(id),
        true,
        request_id,
    ));
    cluster.fan_out(view, targets, op, opts)
}

fn unexpected(status: u16, body: &[u8]) -> NodeError {
    NodeError::Status {
        status,
        body: body_excerpt(body),
    }
}

/// Deletes the group on `targets` as a compensation: its own deadline, no
/// retry budget, unhealthy nodes tried like any other, and it goes on after
/// shutdown or cancel (within the grace).
fn rollback(
    cluster: &Cluster,
    view: &NodeSet,
    api: &GroupApi,
    scope: &CallScope,
    id: &str,
    targets: &[usize],
    request_id: &str,
) -> Vec<NodeFailure> {
    let opts = scope.compensation();
    delete_failures(
        api,
        id,
        send(
            cluster,
            view,
            &api.delete,
            id,
            targets,
            &opts,
            Some(request_id),
        ),
    )
}

/// What a delete did on one node, in node order
/// ([`ClusterClient::delete_group_outcomes`](crate::ClusterClient::delete_group_outcomes)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeDeletion {
    /// It answered a `done` status: it held the group and deleted it.
    Deleted,
    /// It answered an `unchanged` status (404 for both presets): it did
    /// not hold the group.
    AlreadyAbsent,
    /// It answered `unchanged` after an earlier attempt of this call got
    /// no answer (or 502/504): the group is gone, but whether this call
    /// deleted it is unknown.
    Gone,
    /// It could not delete the group.
    Failed(NodeError),
}

/// What one delete answer says.
fn deletion(api: &GroupApi, o: NodeOutcome) -> NodeDeletion {
    match o.outcome {
        Ok(r) if api.delete.done.contains(&r.status) => NodeDeletion::Deleted,
        Ok(r) if api.delete.unchanged.contains(&r.status) && o.earlier_unknown => {
            NodeDeletion::Gone
        }
        Ok(r) if api.delete.unchanged.contains(&r.status) => NodeDeletion::AlreadyAbsent,
        Ok(r) => NodeDeletion::Failed(unexpected(r.status, &r.body)),
        Err(e) => NodeDeletion::Failed(e),
    }
}

/// Each node's deletion, the failures logged.
fn deletions(
    api: &GroupApi,
    id: &str,
    outcomes: Vec<NodeOutcome>,
) -> Vec<(HostAddress, NodeDeletion)> {
    outcomes
        .into_iter()
        .map(|o| {
            let host = o.host.clone();
            let d = deletion(api, o);
            if let NodeDeletion::Failed(error) = &d {
                log::error!("group {id:?}: delete failed on {host}: {error}");
            }
            (host, d)
        })
        .collect()
}

/// The failed nodes among `deletions`.
fn failures_of(deletions: Vec<(HostAddress, NodeDeletion)>) -> Vec<NodeFailure> {
    deletions
        .into_iter()
        .filter_map(|(host, d)| match d {
            NodeDeletion::Failed(error) => Some(NodeFailure { host, error }),
            _ => None,
        })
        .collect()
}

fn delete_failures(api: &GroupApi, id: &str, outcomes: Vec<NodeOutcome>) -> Vec<NodeFailure> {
    failures_of(deletions(api, id, outcomes))
}

/// `delete_group_report`: every node that could not delete the group.
pub(crate) fn delete_group(
    cluster: &Cluster,
    api: &GroupApi,
    ledger: &Ledger,
    scope: &CallScope,
    id: &str,
) -> Result<Vec<NodeFailure>, Error> {
    delete_group_outcomes(cluster, api, ledger, scope, id).map(failures_of)
}

/// `delete_group_outcomes`: what the delete did on every node, in node order.
pub(crate) fn delete_group_outcomes(
    cluster: &Cluster,
    api: &GroupApi,
    ledger: &Ledger,
    scope: &CallScope,
    id: &str,
) -> Result<Vec<(HostAddress, NodeDeletion)>, Error> {
    validate_group_id(id, api.allow_slash_in_id)?;
    scope.check(cluster)?;
    let request_id = new_request_id();
    let opts = scope.spec();
    let view = cluster.nodes();
    let trail = Trail::begin(
        ledger,
        &view,
        SagaOp::Delete,
        id,
        &request_id,
        opts.deadline,
    )?;
    let all: Vec<usize> = (0..view.len()).collect();
    let outcomes = send(
        cluster,
        &view,
        &api.delete,
        id,
        &all,
        &opts,
        Some(&request_id),
    );
    // Stopped part way: the journal (if kept) holds an unfinished delete
    // for `recover()` to complete.
    scope.check(cluster)?;
    let result = deletions(api, id, outcomes);
    let left: Vec<String> = result
        .iter()
        .filter(|(_, d)| matches!(d, NodeDeletion::Failed(_)))
        .map(|(h, _)| h.to_string())
        .collect();
    if left.is_empty() {
        trail.finish(SagaEnd::Ok, Vec::new());
    } else {
        trail.finish(SagaEnd::Leftovers, left);
    }
    Ok(result)
}

/// Whether each node holds a group, in node order: `Ok(true)` holds,
/// `Ok(false)` does not, `Err` gave no usable answer.
pub type GroupPresence = Vec<(HostAddress, Result<bool, NodeError>)>;

/// `verify_group` on every node at once, in node order.
pub(crate) fn verify_group_everywhere(
    cluster: &Cluster,
    api: &GroupApi,
    scope: &CallScope,
    id: &str,
) -> Result<GroupPresence, Error> {
    validate_group_id(id, api.allow_slash_in_id)?;
    scope.check(cluster)?;
    let view = cluster.nodes();
    let all: Vec<usize> = (0..view.len()).collect();
    let outcomes = send(
        cluster,
        &view,
        &api.verify,
        id,
        &all,
        &scope.spec(),
        Some(&new_request_id()),
    );
    scope.check(cluster)?;
    Ok(outcomes
        .into_iter()
        .map(|o| (o.host.clone(), presence(api, o.outcome)))
        .collect())
}

/// What a verify answer says: holds, does not hold, or no usable answer.
fn presence(api: &GroupApi, outcome: Result<Answer, NodeError>) -> Result<bool, NodeError> {
    match outcome {
        Ok(r) if api.verify.done.contains(&r.status) => Ok(true),
        Ok(r) if api.verify.unchanged.contains(&r.status) => Ok(false),
        Ok(r) => Err(unexpected(r.status, &r.body)),
        Err(e) => Err(e),
    }
}

/// `verify_group` on one node.
pub(crate) fn verify_group(
    cluster: &Cluster,
    api: &GroupApi,
    scope: &CallScope,
    host: &HostAddress,
    id: &str,
) -> Result<bool, Error> {
    validate_group_id(id, api.allow_slash_in_id)?;
    scope.check(cluster)?;
    let view = cluster.nodes();
    let node = position(&view, host).ok_or_else(|| Error::UnknownHost(host.clone()))?;
    // One request to one node: there is nothing to tie together, so no request id.
    let opts = scope.spec();
    let outcome = send(cluster, &view, &api.verify, id, &[node], &opts, None)
        .pop()
        .map_or(Err(NodeError::Shutdown), |o| o.outcome);
    match presence(api, outcome) {
        Ok(holds) => Ok(holds),
        Err(NodeError::Shutdown) => Err(Error::Shutdown),
        Err(NodeError::Cancelled) => Err(Error::Cancelled),
        Err(error) => Err(Error::Request {
            message: format!("verify group {id:?}"),
            attempts: vec![NodeFailure {
                host: host.clone(),
                error,
            }],
        }),
    }
}

#[cfg(test)]
#[path = "saga_tests.rs"]
mod saga_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_16_hex_digits() {
        assert_eq!(new_request_id().len(), 16);
        assert!(new_request_id().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
