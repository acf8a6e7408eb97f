//! [`repair_group`] converges one group to what the user wants on every
//! node (with a journal, as a saga `recover()` can run again).

use super::report::{Intent, NodeRepair, RepairReport};
use super::{presence, send, validate_group_id, GroupApi, Ledger, Trail};
use crate::address::HostAddress;
use crate::cluster::{CallScope, Cluster, NodeSet};
use crate::error::{body_excerpt, Error, NodeError};
use crate::journal::{SagaEnd, SagaOp};

/// `repair_group`: see [`ClusterClient::repair_group`](crate::ClusterClient::repair_group).
/// Journaled as a saga: a repair that converges supersedes what earlier
/// sagas of the group left, and one interrupted is run again by `recover()`.
pub(crate) fn repair_group(
    cluster: &Cluster,
    api: &GroupApi,
    ledger: &Ledger,
    scope: &CallScope,
    id: &str,
    intent: Intent,
) -> Result<RepairReport, Error> {
    validate_group_id(id, api.allow_slash_in_id)?;
    scope.check(cluster)?;
    let op = match intent {
        Intent::Present => SagaOp::RepairPresent,
        Intent::Absent => SagaOp::RepairAbsent,
    };
    let request_id = super::new_request_id();
    let view = cluster.nodes();
    let trail = Trail::begin(ledger, &view, op, id, &request_id, scope.spec().deadline)?;
    let nodes = repair_nodes(cluster, &view, api, scope, id, intent);
    // Stopped part way: the journal (if kept) holds the repair, unfinished.
    scope.check(cluster)?;
    let left: Vec<String> = nodes
        .iter()
        .filter(|(_, r)| matches!(r, NodeRepair::Failed(_)))
        .map(|(h, _)| h.to_string())
        .collect();
    let end = if left.is_empty() {
        SagaEnd::Ok
    } else {
        SagaEnd::Leftovers
    };
    trail.finish(end, left);
    Ok(RepairReport {
        group_id: id.to_string(),
        intent,
        nodes,
    })
}

/// Converges every node to `intent`: what happened on each, in node order.
pub(super) fn repair_nodes(
    cluster: &Cluster,
    view: &NodeSet,
    api: &GroupApi,
    scope: &CallScope,
    id: &str,
    intent: Intent,
) -> Vec<(HostAddress, NodeRepair)> {
    let opts = scope.repairing();
    let all: Vec<usize> = (0..view.len()).collect();
    let mut nodes: Vec<(HostAddress, Option<NodeRepair>)> = Vec::new();
    let mut todo = Vec::new();
    for o in send(cluster, view, &api.verify, id, &all, &opts, None) {
        let host = o.host.clone();
        let done = match (presence(api, o.outcome), intent) {
            (Ok(true), Intent::Present) => Some(NodeRepair::AlreadyPresent),
            (Ok(false), Intent::Absent) => Some(NodeRepair::AlreadyAbsent),
            // Create and delete are idempotent (409 / 404): a node whose
            // presence is unknown is simply sent the change.
            _ => {
                todo.push(o.node);
                None
            }
        };
        nodes.push((host, done));
    }
    let endpoint = match intent {
        Intent::Present => &api.create,
        Intent::Absent => &api.delete,
    };
    for o in send(cluster, view, endpoint, id, &todo, &opts, None) {
        let repair = match o.outcome {
            Ok(a)
                if endpoint.done.contains(&a.status) || endpoint.unchanged.contains(&a.status) =>
            {
                match intent {
                    Intent::Present => NodeRepair::Created,
                    Intent::Absent => NodeRepair::Deleted,
                }
            }
            Ok(a) => NodeRepair::Failed(NodeError::Status {
                status: a.status,
                body: body_excerpt(&a.body),
            }),
            Err(e) => NodeRepair::Failed(e),
        };
        let host = &o.host;
        if let Some(slot) = nodes.iter_mut().find(|(h, _)| h == host) {
            slot.1 = Some(repair);
        }
    }
    nodes
        .into_iter()
        .map(|(h, r)| (h, r.unwrap_or(NodeRepair::Failed(NodeError::Shutdown))))
        .collect()
}
