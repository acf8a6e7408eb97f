//! The saga policy: what the journal's records say is still open, group by
//! group. Pure functions over records, so the rules `recover()` and
//! compaction follow are tested without files or nodes.
//!
//! The records of one group's sagas are folded in journal order into one
//! [`Chain`]: each node's [`NodeState`] and the latest operation still
//! open. A saga that reached what it was asked (a create or repair that
//! left the group on every node, a delete that left it on none) settles
//! its nodes: what earlier sagas left there is superseded, never undone.

use std::collections::{BTreeMap, HashMap};

use super::kinds::{CreateOutcome, SagaEnd, SagaOp};
use super::record::{NodeState, Record};

/// What is open for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    /// The group.
    pub group: String,
    /// The sagas folded into this chain.
    pub sagas: Vec<u64>,
    /// The latest operation still open (`None`: everything settled).
    pub latest: Option<SagaOp>,
    /// The latest saga's id and request id.
    pub saga: u64,
    pub request_id: String,
    /// The latest saga's nodes.
    pub nodes: Vec<String>,
    /// Each node the chain knows of.
    pub states: BTreeMap<String, NodeState>,
    /// True when the latest saga wrote its end (false: it was interrupted).
    pub finished: bool,
}

impl Chain {
    fn new(group: &str) -> Chain {
        Chain {
            group: group.to_string(),
            sagas: Vec::new(),
            latest: None,
            saga: 0,
            request_id: String::new(),
            nodes: Vec::new(),
            states: BTreeMap::new(),
            finished: true,
        }
    }

    /// True when recovery has something to do or to report.
    pub fn is_open(&self) -> bool {
        self.latest == Some(SagaOp::RepairPresent) || !self.open_nodes().is_empty()
    }

    /// The nodes whose group recovery may remove or must report.
    pub fn open_nodes(&self) -> Vec<(&String, NodeState)> {
        self.states
            .iter()
            .filter(|(_, s)| {
                matches!(
                    s,
                    NodeState::Ours | NodeState::MaybeOurs | NodeState::Unknown
                )
            })
            .map(|(n, s)| (n, *s))
            .collect()
    }

    /// The chain as one record, keeping only its open nodes.
    pub fn carry(&self) -> Record {
        Record::Carry {
            saga: self.saga,
            group: self.group.clone(),
            request_id: self.request_id.clone(),
            latest: self.latest.unwrap_or(SagaOp::Create),
            nodes: self.nodes.clone(),
            states: self
                .open_nodes()
                .into_iter()
                .map(|(n, s)| (n.clone(), s))
                .collect(),
        }
    }

    fn settle(&mut self, nodes: &[String]) {
        for n in nodes {
            self.states.remove(n);
        }
        if self.open_nodes().is_empty() {
            self.latest = None;
        }
    }

    fn apply(&mut self, saga: &Saga<'_>) {
        self.sagas.push(saga.id);
        match saga.head {
            Head::Carry {
                latest,
                nodes,
                states,
                request_id,
            } => {
                self.latest = Some(*latest);
                self.saga = saga.id;
                self.request_id.clone_from(request_id);
                self.nodes.clone_from(nodes);
                self.finished = true;
                self.states.extend(states.iter().cloned());
            }
            Head::Begin {
                op,
                nodes,
                request_id,
            } => {
                let end = saga.end();
                if matches!(end, Some(SagaEnd::Ok)) {
                    return self.settle(nodes);
                }
                let changed = match op {
                    SagaOp::Create => self.apply_create(saga, nodes),
                    SagaOp::Delete | SagaOp::RepairAbsent => {
                        self.apply_removal(saga, nodes);
                        true
                    }
                    SagaOp::RepairPresent => {
                        // The user wants the group everywhere: where it is,
                        // it is wanted (all nodes, if the repair was cut short).
                        let left = saga.left().cloned().unwrap_or_default();
                        let done: Vec<String> = nodes
                            .iter()
                            .filter(|n| !left.contains(n))
                            .cloned()
                            .collect();
                        self.settle(&done);
                        true
                    }
                };
                if changed {
                    self.latest = Some(*op);
                    self.saga = saga.id;
                    self.request_id.clone_from(request_id);
                    self.nodes.clone_from(nodes);
                    self.finished = end.is_some();
                }
            }
        }
    }

    /// A create's effect on each node; false when it sent nothing.
    fn apply_create(&mut self, saga: &Saga<'_>, nodes: &[String]) -> bool {
        let Some((lacked, held)) = saga.before() else {
            return false; // interrupted before its intent was written: nothing sent
        };
        let outcomes = saga.outcomes();
        for n in nodes {
            let prev = self.states.get(n).copied();
            let ours_before = matches!(prev, Some(NodeState::Ours | NodeState::MaybeOurs));
            let pre = if lacked.contains(n) {
                NodeState::Absent
            } else if held.contains(n) {
                match prev {
                    _ if ours_before => NodeState::Ours,
                    // Still a possible orphan of unknown origin.
                    Some(NodeState::Unknown) => NodeState::Unknown,
                    _ => NodeState::Foreign,
                }
            } else {
                match prev {
                    Some(NodeState::Ours) => NodeState::Ours,
                    Some(NodeState::MaybeOurs) => NodeState::MaybeOurs,
                    Some(NodeState::Foreign) => NodeState::Foreign,
                    _ => NodeState::Unknown,
                }
            };
            let sent = |pre: NodeState| match pre {
                NodeState::Absent | NodeState::MaybeOurs => NodeState::MaybeOurs,
                other => other,
            };
            let post = match outcomes.get(n.as_str()) {
                Some(CreateOutcome::Created) => NodeState::Ours,
                Some(CreateOutcome::WasThere) => match pre {
                    NodeState::Ours | NodeState::MaybeOurs => NodeState::Ours,
                    NodeState::Absent | NodeState::Foreign => NodeState::Foreign,
                    NodeState::Unknown => NodeState::Unknown,
                },
                Some(CreateOutcome::Unknown) => sent(pre),
                Some(CreateOutcome::Failed) => pre,
                // Outcomes are written together: a node without one was
                // never sent a create, unless none were written at all.
                None if !outcomes.is_empty() => pre,
                None => sent(pre),
            };
            self.states.insert(n.clone(), post);
        }
        for (n, ok) in saga.compensated() {
            if ok {
                self.states.insert(n.to_string(), NodeState::Absent);
            }
        }
        true
    }

    /// A delete (or repair to absent) the user asked for: until it is
    /// known done on a node, the group there is to be removed.
    fn apply_removal(&mut self, saga: &Saga<'_>, nodes: &[String]) {
        let left = saga.left();
        for n in nodes {
            let state = match &left {
                Some(left) if !left.contains(n) => NodeState::Absent,
                _ => NodeState::Ours,
            };
            self.states.insert(n.clone(), state);
        }
    }
}

/// What a saga's first record says.
enum Head<'a> {
    Begin {
        op: &'a SagaOp,
        nodes: &'a Vec<String>,
        request_id: &'a String,
    },
    Carry {
        latest: &'a SagaOp,
        nodes: &'a Vec<String>,
        states: &'a Vec<(String, NodeState)>,
        request_id: &'a String,
    },
}

/// One saga's records.
struct Saga<'a> {
    id: u64,
    head: Head<'a>,
    records: Vec<&'a Record>,
}

impl<'a> Saga<'a> {
    fn before(&self) -> Option<(&'a Vec<String>, &'a Vec<String>)> {
        self.records.iter().find_map(|r| match r {
            Record::Before { lacked, held, .. } => Some((lacked, held)),
            _ => None,
        })
    }

    fn outcomes(&self) -> HashMap<&'a str, CreateOutcome> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Outcome { node, outcome, .. } => Some((node.as_str(), *outcome)),
                _ => None,
            })
            .collect()
    }

    fn compensated(&self) -> Vec<(&'a str, bool)> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Compensated { node, ok, .. } => Some((node.as_str(), *ok)),
                _ => None,
            })
            .collect()
    }

    fn finish(&self) -> Option<(SagaEnd, &'a Vec<String>)> {
        self.records.iter().find_map(|r| match r {
            Record::Finish { end, left, .. } => Some((*end, left)),
            _ => None,
        })
    }

    fn end(&self) -> Option<SagaEnd> {
        self.finish().map(|(end, _)| end)
    }

    fn left(&self) -> Option<&'a Vec<String>> {
        self.finish().map(|(_, left)| left)
    }
}

/// The sagas in `records` in the order they began, each with its group;
/// records of a saga without its first record are left out (and logged).
fn sagas<'a>(records: &'a [Record], skip: &dyn Fn(u64) -> bool) -> Vec<(&'a str, Saga<'a>)> {
    let mut order: Vec<u64> = Vec::new();
    let mut by_id: HashMap<u64, Vec<&Record>> = HashMap::new();
    for r in records {
        let id = r.saga();
        if skip(id) {
            continue;
        }
        by_id
            .entry(id)
            .or_insert_with(|| {
                order.push(id);
                Vec::new()
            })
            .push(r);
    }
    let mut out = Vec::new();
    for id in order {
        let records = by_id.remove(&id).unwrap_or_default();
        let head = records.iter().find_map(|r| match r {
            Record::Begin {
                op,
                group,
                nodes,
                request_id,
                ..
            } => Some((
                group.as_str(),
                Head::Begin {
                    op,
                    nodes,
                    request_id,
                },
            )),
            Record::Carry {
                group,
                latest,
                nodes,
                states,
                request_id,
                ..
            } => Some((
                group.as_str(),
                Head::Carry {
                    latest,
                    nodes,
                    states,
                    request_id,
                },
            )),
            _ => None,
        });
        match head {
            Some((group, head)) => out.push((group, Saga { id, head, records })),
            None => log::warn!("journal: records of saga {id:016x} without its beginning; ignored"),
        }
    }
    out
}

/// Folds the records (less the sagas `skip` names) into one chain per
/// group, in the order the groups first appear.
pub(crate) fn fold(records: &[Record], skip: &dyn Fn(u64) -> bool) -> Vec<Chain> {
    let mut chains: Vec<Chain> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (group, saga) in sagas(records, skip) {
        let i = *index.entry(group.to_string()).or_insert_with(|| {
            chains.push(Chain::new(group));
            chains.len() - 1
        });
        chains[i].apply(&saga);
    }
    chains
}

/// The journal compacted: one [`Record::Carry`] per group left open, then
/// every record of the sagas `keep` names (sagas in flight), in order.
pub(crate) fn compact(records: &[Record], keep: &dyn Fn(u64) -> bool) -> Vec<Record> {
    let mut out: Vec<Record> = fold(records, keep)
        .iter()
        .filter(|c| c.is_open())
        .map(Chain::carry)
        .collect();
    out.extend(records.iter().filter(|r| keep(r.saga())).cloned());
    out
}

/// What a node says now, as recovery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Now {
    Holds,
    Lacks,
    /// No usable answer (the reason).
    Unchecked(String),
    /// Not a node of this client.
    NotMember,
}

/// What recovery does for one chain, decided from what the nodes say now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The latest create is complete: the group is on every node.
    pub complete: bool,
    /// Nodes where the chain's own group is to be deleted.
    pub delete: Vec<String>,
    /// Nodes left open, with why.
    pub attention: Vec<(String, String)>,
}

/// The rule: never delete where the group was there before (or may have
/// been); delete the chain's own group where it is there now; report every
/// open node that cannot be checked; a create whose group is now on every
/// node is complete.
pub(crate) fn decide(chain: &Chain, now: &BTreeMap<String, Now>) -> Plan {
    let mut plan = Plan::default();
    let holds = |n: &String| now.get(n) == Some(&Now::Holds);
    if chain.latest == Some(SagaOp::Create)
        && !chain.nodes.is_empty()
        && chain.nodes.iter().all(holds)
    {
        plan.complete = true;
        return plan;
    }
    for (node, state) in chain.open_nodes() {
        let why = match (now.get(node), state) {
            (Some(Now::Holds), NodeState::Ours | NodeState::MaybeOurs) => {
                plan.delete.push(node.clone());
                continue;
            }
            (Some(Now::Lacks), _) => continue,
            (Some(Now::Holds), _) => {
                "holds the group; whether it did before the saga is unknown".to_string()
            }
            (Some(Now::NotMember) | None, _) => {
                "not a node of this client: recover with a client for that cluster".to_string()
            }
            (Some(Now::Unchecked(e)), _) => format!("could not be checked: {e}"),
        };
        plan.attention.push((node.clone(), why));
    }
    plan
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
