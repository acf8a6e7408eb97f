//! After a crash (feature `journal`): [`recover`] finishes the sagas the
//! journal shows unfinished, the safe way.

use std::collections::{BTreeMap, HashMap};

use super::ledger::Ledger;
use super::repair::repair_nodes;
use super::report::{
    Attention, Intent, NodeRepair, RecoveredSaga, RecoveryReport, RepairAction, Repaired, SagaKind,
    SagaOutcome,
};
use super::{delete_failures, presence, send, GroupApi};
use crate::address::HostAddress;
use crate::cluster::{position, CallScope, Cluster, NodeSet};
use crate::error::Error;
use crate::journal::history::{self, Chain, Now};
use crate::journal::{Record, SagaOp};

/// `recover()`: see [`ClusterClient::recover`](crate::ClusterClient::recover).
pub(crate) fn recover(
    cluster: &Cluster,
    api: &GroupApi,
    ledger: &Ledger,
    scope: &CallScope,
) -> Result<RecoveryReport, Error> {
    if !ledger.is_kept() {
        return Err(Error::InvalidConfig(
            "recover() needs a journal (ClientBuilder::journal or [journal] path)".to_string(),
        ));
    }
    scope.check(cluster)?;
    let Some(journal) = ledger.journal() else {
        return Err(Error::Shutdown);
    };
    let _one_at_a_time = ledger.recovering();
    // The chains of groups no saga works on, marked as being recovered.
    let chains = ledger.snapshot(&journal, |records, books| {
        let chains: Vec<Chain> = history::fold(&records, &|s| books.active.contains_key(&s))
            .into_iter()
            .filter(|c| !books.active.values().any(|g| *g == c.group))
            .collect();
        books
            .recovering
            .extend(chains.iter().map(|c| c.group.clone()));
        chains
    })?;
    let mut report = RecoveryReport::default();
    let view = cluster.nodes();
    let mut replaced: Vec<(Vec<u64>, Option<Record>)> = Vec::new();
    for chain in chains {
        let carry = if chain.is_open() && scope.refused(cluster).is_none() {
            recover_chain(cluster, &view, api, scope, &chain, &mut report)
        } else if chain.is_open() {
            Some(chain.carry()) // shut down or cancelled meanwhile: kept as it is
        } else {
            None // settled: compacted away
        };
        ledger.release_group(&chain.group);
        replaced.push((chain.sagas, carry));
    }
    journal.rewrite(|now| splice(now, &replaced))?;
    Ok(report)
}

/// The journal with each settled chain's records replaced by its carry
/// (at the place of the chain's first record), every other record kept.
fn splice(records: Vec<Record>, replaced: &[(Vec<u64>, Option<Record>)]) -> Vec<Record> {
    let mut chain_of: HashMap<u64, usize> = HashMap::new();
    for (i, (sagas, _)) in replaced.iter().enumerate() {
        chain_of.extend(sagas.iter().map(|&s| (s, i)));
    }
    let mut placed = vec![false; replaced.len()];
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        match chain_of.get(&r.saga()) {
            Some(&i) => {
                if !placed[i] {
                    placed[i] = true;
                    out.extend(replaced[i].1.clone());
                }
            }
            None => out.push(r),
        }
    }
    out
}

/// What each node named by the chain says now.
fn check_nodes(
    cluster: &Cluster,
    view: &NodeSet,
    api: &GroupApi,
    scope: &CallScope,
    chain: &Chain,
) -> BTreeMap<String, Now> {
    let mut names: Vec<&String> = chain.nodes.iter().collect();
    names.extend(chain.states.keys());
    names.sort();
    names.dedup();
    let mut now = BTreeMap::new();
    let mut members = Vec::new();
    for name in names {
        match name
            .parse::<HostAddress>()
            .ok()
            .and_then(|h| position(view, &h))
        {
            Some(i) => members.push(i),
            None => {
                now.insert(name.clone(), Now::NotMember);
            }
        }
    }
    let opts = scope.repairing();
    for o in send(
        cluster,
        view,
        &api.verify,
        &chain.group,
        &members,
        &opts,
        Some(&chain.request_id),
    ) {
        let seen = match presence(api, o.outcome) {
            Ok(true) => Now::Holds,
            Ok(false) => Now::Lacks,
            Err(e) => Now::Unchecked(e.to_string()),
        };
        now.insert(o.host.to_string(), seen);
    }
    now
}

/// Settles one open chain as far as the nodes allow; what stays open,
/// as one record.
fn recover_chain(
    cluster: &Cluster,
    view: &NodeSet,
    api: &GroupApi,
    scope: &CallScope,
    chain: &Chain,
    report: &mut RecoveryReport,
) -> Option<Record> {
    if chain.latest == Some(SagaOp::RepairPresent) {
        return recover_repair(cluster, view, api, scope, chain, report);
    }
    let operation = match chain.latest {
        Some(SagaOp::Delete) => SagaKind::Delete,
        Some(SagaOp::RepairPresent | SagaOp::RepairAbsent) => SagaKind::Repair,
        _ => SagaKind::Create,
    };
    let mut finished = |outcome: SagaOutcome| {
        report.finished.push(RecoveredSaga {
            group_id: chain.group.clone(),
            operation,
            request_id: chain.request_id.clone(),
            outcome,
        });
    };
    let plan = history::decide(chain, &check_nodes(cluster, view, api, scope, chain));
    if plan.complete {
        finished(SagaOutcome::Completed);
        return None;
    }
    let targets: Vec<usize> = plan
        .delete
        .iter()
        .filter_map(|n| {
            n.parse::<HostAddress>()
                .ok()
                .and_then(|h| position(view, &h))
        })
        .collect();
    let failed = delete_on(cluster, view, api, scope, chain, &targets);
    let deleted = targets.len() - failed.len();
    finished(if operation == SagaKind::Delete {
        SagaOutcome::DeleteCompleted { deleted }
    } else {
        SagaOutcome::RolledBack { deleted }
    });
    let mut open = chain.clone();
    let mut attention: Vec<(String, String)> = plan.attention;
    for &n in &targets {
        let host = &view[n].address;
        match failed.iter().find(|f| &f.host == host) {
            Some(f) => attention.push((host.to_string(), format!("delete failed: {}", f.error))),
            None => report.repaired.push(Repaired {
                group_id: chain.group.clone(),
                host: host.clone(),
                action: RepairAction::Deleted,
            }),
        }
    }
    open.states
        .retain(|n, _| attention.iter().any(|(a, _)| a == n));
    report.needs_attention.extend(
        attention
            .into_iter()
            .filter_map(|(name, reason)| needs_attention(&chain.group, &name, reason)),
    );
    open.is_open().then(|| open.carry())
}

/// The report item for a node the journal names. Reading the journal
/// checks every name is a node address (anything else is damage), so none
/// is left out here; were one ever, its records still stay in the journal.
fn needs_attention(group: &str, name: &str, reason: String) -> Option<Attention> {
    match name.parse::<HostAddress>() {
        Ok(host) => Some(Attention {
            group_id: group.to_string(),
            host,
            reason,
        }),
        Err(e) => {
            log::error!(
                "group {group:?}: the journal names {name:?} ({e}); its records are kept: {reason}"
            );
            None
        }
    }
}

/// An interrupted or unconverged repair to present is run again.
fn recover_repair(
    cluster: &Cluster,
    view: &NodeSet,
    api: &GroupApi,
    scope: &CallScope,
    chain: &Chain,
    report: &mut RecoveryReport,
) -> Option<Record> {
    let nodes = repair_nodes(cluster, view, api, scope, &chain.group, Intent::Present);
    let failed: Vec<&(HostAddress, NodeRepair)> = nodes
        .iter()
        .filter(|(_, r)| matches!(r, NodeRepair::Failed(_)))
        .collect();
    report.finished.push(RecoveredSaga {
        group_id: chain.group.clone(),
        operation: SagaKind::Repair,
        request_id: chain.request_id.clone(),
        outcome: if failed.is_empty() {
            SagaOutcome::Completed
        } else {
            SagaOutcome::RepairIncomplete {
                failed: failed.len(),
            }
        },
    });
    for (host, r) in &failed {
        report.needs_attention.push(Attention {
            group_id: chain.group.clone(),
            host: host.clone(),
            reason: format!("repair to present failed: {r:?}"),
        });
    }
    (!failed.is_empty()).then(|| chain.carry())
}

/// Deletes the chain's group on `targets`; the nodes where that failed.
fn delete_on(
    cluster: &Cluster,
    view: &NodeSet,
    api: &GroupApi,
    scope: &CallScope,
    chain: &Chain,
    targets: &[usize],
) -> Vec<crate::error::NodeFailure> {
    let opts = scope.repairing();
    let outcomes = send(
        cluster,
        view,
        &api.delete,
        &chain.group,
        targets,
        &opts,
        Some(&chain.request_id),
    );
    delete_failures(api, &chain.group, outcomes)
}
