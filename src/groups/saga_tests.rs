//! The create saga, delete, verify and repair on scripted in-memory nodes
//! (the reference protocol): every rule of the saga, no socket.

use std::sync::Arc;

use super::*;
use crate::cluster::testing::{nodes, scripted};
use crate::cluster::CancelToken;
use crate::node::link::scripted::{ScriptedNode, Step};

struct World {
    nodes: Vec<Arc<ScriptedNode>>,
    cluster: Arc<Cluster>,
    api: GroupApi,
    ledger: Ledger,
    scope: CallScope,
}

fn world(nodes: Vec<Arc<ScriptedNode>>) -> World {
    let cluster = scripted(&nodes, |_| {});
    let scope = cluster.default_scope();
    World {
        nodes,
        cluster,
        api: GroupApi::reference(),
        ledger: Ledger::default(),
        scope,
    }
}

impl World {
    fn create(&self, id: &str) -> Result<(), Error> {
        create_group(&self.cluster, &self.api, &self.ledger, &self.scope, id)
    }

    fn holders(&self, id: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].has_group(id))
            .collect()
    }

    fn host(&self, i: usize) -> HostAddress {
        self.cluster.nodes()[i].address.clone()
    }
}

/// The host lists of a group error: (failed, rollback failed, possible orphans).
fn lists(e: Error) -> (Vec<HostAddress>, Vec<HostAddress>, Vec<HostAddress>) {
    match e {
        Error::GroupOperation {
            failed_hosts,
            rollback_failed_hosts,
            possible_orphans,
            ..
        } => (failed_hosts, rollback_failed_hosts, possible_orphans),
        other => panic!("not a group error: {other}"),
    }
}

#[test]
fn a_create_on_every_node_is_ok_and_verified() {
    let w = world(nodes(3));
    w.create("g").unwrap();
    assert_eq!(w.holders("g"), vec![0, 1, 2]);
    assert!(
        w.nodes.iter().all(|n| n.seen("GET") == 1),
        "verified on each"
    );
}

#[test]
fn a_refusing_node_rolls_back_the_others() {
    let w = world(nodes(3));
    w.nodes[2].then("POST", Step::Status(400));
    let (failed, rollback_failed, orphans) = lists(w.create("g").unwrap_err());
    assert_eq!(failed, vec![w.host(2)]);
    assert!(rollback_failed.is_empty() && orphans.is_empty());
    assert!(w.holders("g").is_empty());
}

#[test]
fn a_node_that_had_the_group_is_never_rolled_back() {
    let w = world(vec![
        ScriptedNode::new().holding("g"),
        ScriptedNode::new(),
        ScriptedNode::new(),
    ]);
    w.nodes[2].then("POST", Step::Status(400));
    assert!(w.create("g").is_err());
    assert_eq!(w.holders("g"), vec![0]);
    assert_eq!(w.nodes[0].seen("DELETE"), 0);
}

#[test]
fn a_create_whose_answer_was_lost_is_a_possible_orphan_never_deleted() {
    let w = world(nodes(3));
    w.nodes[1].then("POST", Step::ApplyThenLost);
    w.nodes[1].then("POST", Step::Lost);
    w.nodes[1].then("POST", Step::Lost);
    let (failed, _, orphans) = lists(w.create("g").unwrap_err());
    assert_eq!(failed, vec![w.host(1)]);
    assert_eq!(orphans, vec![w.host(1)]);
    assert_eq!(
        w.holders("g"),
        vec![1],
        "not deleted: it may have been there"
    );
}

#[test]
fn a_gateway_502_after_applying_is_an_unknown_outcome() {
    let w = world(nodes(2));
    for _ in 0..3 {
        w.nodes[0].then("POST", Step::ApplyThen(502));
    }
    let (_, _, orphans) = lists(w.create("g").unwrap_err());
    assert_eq!(orphans, vec![w.host(0)]);
    assert!(w.nodes[1].seen("DELETE") == 1 && !w.nodes[1].has_group("g"));
}

#[test]
fn a_failed_rollback_is_named_and_the_group_left_there() {
    let w = world(nodes(3));
    w.nodes[2].then("POST", Step::Status(400));
    w.nodes[0].then("DELETE", Step::Status(500));
    let (_, rollback_failed, _) = lists(w.create("g").unwrap_err());
    assert_eq!(rollback_failed, vec![w.host(0)]);
    assert_eq!(w.holders("g"), vec![0]);
}

#[test]
fn a_verify_that_fails_rolls_back_what_was_created() {
    let w = world(nodes(2));
    w.nodes[1].then("GET", Step::Status(404));
    let (failed, _, _) = lists(w.create("g").unwrap_err());
    assert_eq!(failed, vec![w.host(1)]);
    assert!(w.holders("g").is_empty());
}

#[test]
fn a_known_unhealthy_node_is_tried_alone_first_and_nothing_is_created() {
    let n = nodes(3);
    let cluster = scripted(&n, |s| s.unhealthy_after = 1);
    let w = World {
        scope: cluster.default_scope(),
        nodes: n,
        cluster,
        api: GroupApi::reference(),
        ledger: Ledger::default(),
    };
    w.nodes[2].set_down(true);
    assert!(w.create("warm").is_err()); // marks node 2 unhealthy
    assert!(!w.cluster.nodes()[2].is_healthy());
    let before: Vec<usize> = w.nodes.iter().map(|n| n.seen("POST")).collect();
    assert!(w.create("g").is_err());
    assert!(w.holders("g").is_empty());
    assert_eq!(w.nodes[0].seen("POST"), before[0], "nothing sent to node 0");
}

#[test]
fn delete_names_the_nodes_where_it_failed_and_404_is_deleted() {
    let w = world(vec![
        ScriptedNode::new().holding("g"),
        ScriptedNode::new().holding("g"),
        ScriptedNode::new(),
    ]);
    w.nodes[1].then("DELETE", Step::Status(500));
    let failed = delete_group(&w.cluster, &w.api, &w.ledger, &w.scope, "g").unwrap();
    assert_eq!(
        failed.iter().map(|f| f.host.clone()).collect::<Vec<_>>(),
        vec![w.host(1)]
    );
    assert_eq!(w.holders("g"), vec![1]);
}

#[test]
fn verify_everywhere_reports_each_node_in_order() {
    let w = world(vec![
        ScriptedNode::new(),
        ScriptedNode::new().holding("g"),
        ScriptedNode::new(),
    ]);
    w.nodes[2].set_down(true);
    let p = verify_group_everywhere(&w.cluster, &w.api, &w.scope, "g").unwrap();
    assert!(matches!(p[0].1, Ok(false)));
    assert!(matches!(p[1].1, Ok(true)));
    assert!(p[2].1.is_err());
    assert_eq!(p[2].0, w.host(2));
}

#[test]
fn repair_converges_to_the_intent() {
    let w = world(vec![
        ScriptedNode::new().holding("g"),
        ScriptedNode::new(),
        ScriptedNode::new(),
    ]);
    let r = repair_group(
        &w.cluster,
        &w.api,
        &w.ledger,
        &w.scope,
        "g",
        Intent::Present,
    )
    .unwrap();
    assert!(r.is_converged());
    assert_eq!(r.nodes[0].1, NodeRepair::AlreadyPresent);
    assert_eq!(w.holders("g"), vec![0, 1, 2]);
    let r = repair_group(&w.cluster, &w.api, &w.ledger, &w.scope, "g", Intent::Absent).unwrap();
    assert!(r.is_converged() && w.holders("g").is_empty());
}

#[test]
fn a_cancelled_create_sends_nothing() {
    let mut w = world(nodes(2));
    let token = CancelToken::new();
    token.cancel();
    w.scope.cancel = Some(token);
    assert!(matches!(w.create("g"), Err(Error::Cancelled)));
    assert_eq!(w.nodes[0].seen("POST") + w.nodes[1].seen("POST"), 0);
}

#[test]
fn a_bad_id_is_refused_before_anything_is_sent() {
    let w = world(nodes(2));
    for id in ["", "a/b", "..", "a\u{0}b"] {
        assert!(
            matches!(w.create(id), Err(Error::InvalidGroupId { .. })),
            "{id:?}"
        );
    }
    assert_eq!(w.nodes[0].seen("GET") + w.nodes[0].seen("POST"), 0);
}
