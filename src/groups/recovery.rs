//! After a crash: [`recover`] finishes the sagas the journal shows
//! unfinished, the safe way, and [`repair_group`] converges one group to
//! what the user wants on every node.

use std::collections::BTreeMap;

use super::{delete_failures, presence, send, validate_group_id, GroupApi};
use crate::address::HostAddress;
use crate::cluster::{CallOptions, Cluster};
use crate::error::{body_excerpt, Error, NodeError};
use crate::journal::{Record, SagaEnd, SagaOp};

/// What [`ClusterClient::recover`](crate::ClusterClient::recover) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Sagas the journal showed unfinished (or left with leftovers), now finished.
    pub finished: Vec<RecoveredSaga>,
    /// Nodes where recovery deleted a group an interrupted create had made.
    pub repaired: Vec<Repaired>,
    /// Nodes recovery could not settle: a person should look (see
    /// [`ClusterClient::repair_group`](crate::ClusterClient::repair_group)).
    pub needs_attention: Vec<Attention>,
}

impl RecoveryReport {
    /// True when nothing needs a person.
    pub fn is_clean(&self) -> bool {
        self.needs_attention.is_empty()
    }
}

/// One saga recovery finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredSaga {
    /// The group.
    pub group_id: String,
    /// `"create"` or `"delete"`.
    pub operation: &'static str,
    /// The saga's `X-Request-Id`.
    pub request_id: String,
    /// How it ended, in words.
    pub outcome: String,
}

/// A node recovery repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// The group.
    pub group_id: String,
    /// The node.
    pub host: HostAddress,
    /// What was done (`"deleted"`).
    pub action: &'static str,
}

/// A node recovery could not settle, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// The group.
    pub group_id: String,
    /// The node, as the journal names it.
    pub host: String,
    /// Why a person should look.
    pub reason: String,
}

/// What the user wants of a group on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// The group on every node (created where missing).
    Present,
    /// The group on no node (deleted where present).
    Absent,
}

/// One node's part of a repair.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeRepair {
    /// It held the group already.
    AlreadyPresent,
    /// It lacked the group already.
    AlreadyAbsent,
    /// The group was created there.
    Created,
    /// The group was deleted there.
    Deleted,
    /// The node could not be brought to the intent.
    Failed(NodeError),
}

/// What [`ClusterClient::repair_group`](crate::ClusterClient::repair_group) did, node by node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// The group.
    pub group_id: String,
    /// The intent.
    pub intent: Intent,
    /// Every node, in node order, with what happened there.
    pub nodes: Vec<(HostAddress, NodeRepair)>,
}

impl RepairReport {
    /// True when every node now matches the intent.
    pub fn is_converged(&self) -> bool {
        self.failed().is_empty()
    }

    /// The nodes that could not be brought to the intent.
    pub fn failed(&self) -> Vec<&HostAddress> {
        self.nodes
            .iter()
            .filter(|(_, r)| matches!(r, NodeRepair::Failed(_)))
            .map(|(h, _)| h)
            .collect()
    }
}

/// One saga as the journal tells it.
#[derive(Default)]
struct SagaLog {
    records: Vec<Record>,
    op: Option<SagaOp>,
    group: String,
    request_id: String,
    nodes: Vec<String>,
    /// `(lacked, held)` before any create.
    before: Option<(Vec<String>, Vec<String>)>,
    end: Option<(SagaEnd, Vec<String>)>,
}

/// `recover()`: see [`ClusterClient::recover`](crate::ClusterClient::recover).
pub(crate) fn recover(cluster: &Cluster, api: &GroupApi) -> Result<RecoveryReport, Error> {
    let Some(journal) = cluster.journal.as_ref() else {
        return Err(Error::InvalidConfig(
            "recover() needs a journal (ClientBuilder::journal or [journal] path)".to_string(),
        ));
    };
    if cluster.is_shut_down() {
        return Err(Error::Shutdown);
    }
    let active = cluster.active_sagas();
    let mut sagas: BTreeMap<u64, (usize, SagaLog)> = BTreeMap::new();
    for (i, r) in journal.read_all()?.into_iter().enumerate() {
        let entry = sagas
            .entry(r.saga())
            .or_insert_with(|| (i, SagaLog::default()));
        let log = &mut entry.1;
        match &r {
            Record::Begin {
                op,
                group,
                nodes,
                request_id,
                ..
            } => {
                log.op = Some(*op);
                log.group.clone_from(group);
                log.nodes.clone_from(nodes);
                log.request_id.clone_from(request_id);
            }
            Record::Before { lacked, held, .. } => {
                log.before = Some((lacked.clone(), held.clone()));
            }
            Record::Finish { end, left, .. } => log.end = Some((*end, left.clone())),
            Record::Outcome { .. } | Record::Compensated { .. } => {}
        }
        log.records.push(r);
    }
    // In the order the sagas began.
    let mut ordered: Vec<(usize, u64, SagaLog)> = sagas
        .into_iter()
        .map(|(id, (first, log))| (first, id, log))
        .collect();
    ordered.sort_by_key(|(first, _, _)| *first);
    let mut report = RecoveryReport::default();
    let mut keep: Vec<Record> = Vec::new();
    let mut settled = std::collections::HashSet::new();
    for (_, id, log) in ordered {
        if active.contains(&id) {
            continue; // in flight in this client: not ours to settle
        }
        settled.insert(id);
        let Some(op) = log.op else {
            log::warn!("journal: records of saga {id:016x} without its beginning; dropped");
            continue;
        };
        if matches!(log.end, Some((SagaEnd::Ok | SagaEnd::RolledBack, _))) {
            continue; // finished: compacted away
        }
        let before = report.needs_attention.len();
        match op {
            SagaOp::Create => recover_create(cluster, api, &log, &mut report),
            SagaOp::Delete => recover_delete(cluster, api, &log, &mut report),
        }
        let open: Vec<String> = report.needs_attention[before..]
            .iter()
            .map(|a| a.host.clone())
            .collect();
        if !open.is_empty() {
            // Kept, reduced to what a later recovery needs.
            keep.extend(
                log.records
                    .iter()
                    .filter(|r| matches!(r, Record::Begin { .. } | Record::Before { .. }))
                    .cloned(),
            );
            keep.push(Record::Finish {
                saga: id,
                end: SagaEnd::Leftovers,
                left: open,
            });
        }
    }
    journal.replace(&settled, &keep)?;
    Ok(report)
}

/// The indices of journal-named nodes that are nodes of this client; the
/// others are reported.
fn resolve_nodes(
    cluster: &Cluster,
    log: &SagaLog,
    names: &[String],
    report: &mut RecoveryReport,
) -> Vec<usize> {
    let mut out = Vec::new();
    for name in names {
        match name
            .parse::<HostAddress>()
            .ok()
            .and_then(|h| cluster.index_of(&h))
        {
            Some(i) => out.push(i),
            None => report.needs_attention.push(Attention {
                group_id: log.group.clone(),
                host: name.clone(),
                reason: "not a node of this client: recover with a client for that cluster"
                    .to_string(),
            }),
        }
    }
    out
}

fn recover_create(cluster: &Cluster, api: &GroupApi, log: &SagaLog, report: &mut RecoveryReport) {
    let finished = |outcome: &str, report: &mut RecoveryReport| {
        report.finished.push(RecoveredSaga {
            group_id: log.group.clone(),
            operation: "create",
            request_id: log.request_id.clone(),
            outcome: outcome.to_string(),
        });
    };
    let Some((lacked, held)) = &log.before else {
        finished(
            "interrupted before any create was sent: nothing to undo",
            report,
        );
        return;
    };
    let nodes = resolve_nodes(cluster, log, &log.nodes, report);
    let lacked = resolve_nodes(cluster, log, lacked, &mut RecoveryReport::default());
    let held = resolve_nodes(cluster, log, held, &mut RecoveryReport::default());
    let opts = cluster.compensation_options();
    let now: Vec<(usize, Result<bool, NodeError>)> = send(
        cluster,
        &api.verify,
        &log.group,
        &nodes,
        &opts,
        Some(&log.request_id),
    )
    .into_iter()
    .map(|o| (o.node, presence(api, o.outcome)))
    .collect();
    if log.end.is_none() && now.iter().all(|(_, p)| matches!(p, Ok(true))) {
        finished("completed: the group is on every node", report);
        return;
    }
    // Roll back: delete exactly where the group was missing before and is there now.
    let targets: Vec<usize> = now
        .iter()
        .filter(|(n, p)| matches!(p, Ok(true)) && lacked.contains(n))
        .map(|(n, _)| *n)
        .collect();
    let attention = |host: &HostAddress, reason: String, report: &mut RecoveryReport| {
        report.needs_attention.push(Attention {
            group_id: log.group.clone(),
            host: host.to_string(),
            reason,
        });
    };
    for (n, p) in &now {
        let host = &cluster.nodes[*n].address;
        match p {
            Ok(true) if !lacked.contains(n) && !held.contains(n) => attention(
                host,
                "holds the group; whether it did before the saga is unknown".to_string(),
                report,
            ),
            Err(e) if lacked.contains(n) => {
                attention(host, format!("could not be verified: {e}"), report);
            }
            _ => {}
        }
    }
    let failed = delete_on(cluster, api, log, &targets, &opts);
    for n in &targets {
        let host = &cluster.nodes[*n].address;
        match failed.iter().find(|f| &f.host == host) {
            Some(f) => attention(host, format!("rollback failed: {}", f.error), report),
            None => report.repaired.push(Repaired {
                group_id: log.group.clone(),
                host: host.clone(),
                action: "deleted",
            }),
        }
    }
    finished(
        &format!(
            "rolled back: deleted on {} node(s) that lacked the group before",
            targets.len() - failed.len()
        ),
        report,
    );
}

/// Deletes the saga's group on `targets`; the nodes where that failed.
fn delete_on(
    cluster: &Cluster,
    api: &GroupApi,
    log: &SagaLog,
    targets: &[usize],
    opts: &CallOptions,
) -> Vec<crate::error::NodeFailure> {
    let outcomes = send(
        cluster,
        &api.delete,
        &log.group,
        targets,
        opts,
        Some(&log.request_id),
    );
    delete_failures(cluster, api, &log.group, outcomes)
}

fn recover_delete(cluster: &Cluster, api: &GroupApi, log: &SagaLog, report: &mut RecoveryReport) {
    let nodes = resolve_nodes(cluster, log, &log.nodes, report);
    let opts = cluster.compensation_options();
    let failed = delete_on(cluster, api, log, &nodes, &opts);
    for f in &failed {
        report.needs_attention.push(Attention {
            group_id: log.group.clone(),
            host: f.host.to_string(),
            reason: format!("delete failed: {}", f.error),
        });
    }
    report.finished.push(RecoveredSaga {
        group_id: log.group.clone(),
        operation: "delete",
        request_id: log.request_id.clone(),
        outcome: if failed.is_empty() {
            "completed: deleted on every node".to_string()
        } else {
            format!("{} node(s) still hold the group", failed.len())
        },
    });
}

/// `repair_group`: see [`ClusterClient::repair_group`](crate::ClusterClient::repair_group).
pub(crate) fn repair_group(
    cluster: &Cluster,
    api: &GroupApi,
    id: &str,
    intent: Intent,
) -> Result<RepairReport, Error> {
    validate_group_id(id, api.allow_slash_in_id)?;
    if cluster.is_shut_down() {
        return Err(Error::Shutdown);
    }
    let opts = cluster.compensation_options();
    let all: Vec<usize> = (0..cluster.nodes.len()).collect();
    let mut nodes: Vec<(HostAddress, NodeRepair)> = Vec::new();
    let mut todo = Vec::new();
    for o in send(cluster, &api.verify, id, &all, &opts, None) {
        let host = cluster.nodes[o.node].address.clone();
        match (presence(api, o.outcome), intent) {
            (Ok(true), Intent::Present) => nodes.push((host, NodeRepair::AlreadyPresent)),
            (Ok(false), Intent::Absent) => nodes.push((host, NodeRepair::AlreadyAbsent)),
            // Create and delete are idempotent (409 / 404): a node whose
            // presence is unknown is simply sent the change.
            _ => {
                todo.push(o.node);
                nodes.push((host, NodeRepair::Failed(NodeError::Shutdown)));
            }
        }
    }
    let endpoint = match intent {
        Intent::Present => &api.create,
        Intent::Absent => &api.delete,
    };
    for o in send(cluster, endpoint, id, &todo, &opts, None) {
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
        if let Some(slot) = nodes
            .iter_mut()
            .find(|(h, _)| *h == cluster.nodes[o.node].address)
        {
            slot.1 = repair;
        }
    }
    if cluster.is_shut_down() {
        return Err(Error::Shutdown);
    }
    Ok(RepairReport {
        group_id: id.to_string(),
        intent,
        nodes,
    })
}
