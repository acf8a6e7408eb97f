//! The saga journal, `recover()` and `repair_group()`: against test nodes,
//! checked on the nodes' real state.

mod common;

use std::path::Path;

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, Error, Intent, NodeRepair};
use common::{fast_builder, host, journal_path};
use proptest::prelude::*;

fn client(nodes: &TestCluster, journal: &Path) -> ClusterClient {
    common::journal_client(nodes, journal)
}

#[test]
fn a_rollback_failure_is_repaired_by_recover_and_compacted_away() {
    let nodes = TestCluster::start(3).unwrap();
    let path = journal_path("rollback");
    nodes
        .node(2)
        .inject(FaultRule::status(400).method("POST").always());
    nodes
        .node(0)
        .inject(FaultRule::status(500).method("DELETE").always());
    let c = client(&nodes, &path);
    let err = c.create_group("g").unwrap_err();
    assert!(
        matches!(&err, Error::GroupOperation { rollback_failed_hosts, .. } if rollback_failed_hosts == &vec![host(&nodes, 0)]),
        "{err}"
    );
    assert_eq!(nodes.nodes_with_group("g"), vec![0]);
    nodes.node(0).clear_faults();
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.repaired.len(), 1);
    assert_eq!(report.repaired[0].host, host(&nodes, 0));
    assert!(nodes.nodes_with_group("g").is_empty());
    // Idempotent: the second run finds nothing to do.
    let again = c.recover().unwrap();
    assert!(
        again.finished.is_empty() && again.repaired.is_empty(),
        "{again:?}"
    );
}

#[test]
fn a_possible_orphan_is_deleted_only_where_the_group_was_missing_before() {
    let nodes = TestCluster::start(4).unwrap();
    let path = journal_path("orphan");
    nodes.node(3).insert_group("g"); // there before: never touched
    nodes
        .node(1)
        .inject(FaultRule::new(Fault::ApplyThenDrop).method("POST").always());
    nodes
        .node(2)
        .inject(FaultRule::status(400).method("POST").always());
    let c = client(&nodes, &path);
    match c.create_group("g").unwrap_err() {
        Error::GroupOperation {
            possible_orphans, ..
        } => assert_eq!(possible_orphans, vec![host(&nodes, 1)]),
        other => panic!("{other:?}"),
    }
    assert_eq!(nodes.nodes_with_group("g"), vec![1, 3]);
    nodes.node(1).clear_faults();
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(nodes.nodes_with_group("g"), vec![3], "{report:?}");
}

#[test]
fn a_journal_is_one_clients() {
    let nodes = TestCluster::start(1).unwrap();
    let path = journal_path("locked");
    let first = client(&nodes, &path);
    match fast_builder(&nodes).journal(&path).build() {
        Err(Error::Journal { reason, .. }) => assert!(reason.contains("in use"), "{reason}"),
        other => panic!("{other:?}"),
    }
    drop(first);
    client(&nodes, &path);
}

#[test]
fn recover_needs_a_journal() {
    let nodes = TestCluster::start(1).unwrap();
    let c = fast_builder(&nodes).build().unwrap();
    assert!(matches!(c.recover(), Err(Error::InvalidConfig(_))));
}

#[test]
fn repair_converges_to_the_intent_and_names_what_it_could_not() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(0).insert_group("g");
    let c = fast_builder(&nodes).build().unwrap();
    let r = c.repair_group("g", Intent::Present).unwrap();
    assert!(r.is_converged(), "{r:?}");
    assert_eq!(r.nodes[0].1, NodeRepair::AlreadyPresent);
    assert_eq!(r.nodes[1].1, NodeRepair::Created);
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
    nodes
        .node(2)
        .inject(FaultRule::status(500).method("DELETE").always());
    let r = c.repair_group("g", Intent::Absent).unwrap();
    assert_eq!(r.failed(), vec![&host(&nodes, 2)]);
    assert_eq!(nodes.nodes_with_group("g"), vec![2]);
    nodes.node(2).clear_faults();
    let r = c.repair_group("g", Intent::Absent).unwrap();
    assert_eq!(r.nodes[0].1, NodeRepair::AlreadyAbsent);
    assert!(r.is_converged());
    assert!(nodes.nodes_with_group("g").is_empty());
    assert!(c
        .repair_group("a/b", Intent::Present)
        .unwrap_err()
        .is_invalid_input());
}

#[test]
fn the_config_file_names_the_journal() {
    let nodes = TestCluster::start(1).unwrap();
    let path = journal_path("config");
    let toml = format!(
        "hosts = [\"{}\"]\n[journal]\npath = {:?}\n",
        nodes.node(0).url(),
        path.display().to_string()
    );
    let config = cluster_client::ClientConfig::from_toml(&toml).unwrap();
    let c = ClusterClient::builder().config(config).build().unwrap();
    c.create_group("g").unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 0);
}

/// A journal with a few finished and unfinished sagas, as bytes.
fn some_journal(nodes: &TestCluster) -> Vec<u8> {
    let path = journal_path("sample");
    nodes
        .node(1)
        .inject(FaultRule::status(400).method("POST").times(1));
    nodes
        .node(0)
        .inject(FaultRule::status(500).method("DELETE").times(2));
    {
        let c = client(nodes, &path);
        let _ = c.create_group("a");
        let _ = c.create_group("b");
        let _ = c.delete_group("b");
    }
    std::fs::read(&path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Truncated and bit-flipped journals open as an error naming the
    /// journal, or as their valid prefix: never a panic.
    #[test]
    fn damaged_journals_are_typed_errors(cut in 0usize..4096, flips in proptest::collection::vec((0usize..4096, 0u8..8), 0..3)) {
        static NODES: std::sync::OnceLock<(TestCluster, Vec<u8>)> = std::sync::OnceLock::new();
        let (nodes, original) = NODES.get_or_init(|| {
            let nodes = TestCluster::start(2).unwrap();
            let bytes = some_journal(&nodes);
            (nodes, bytes)
        });
        let mut bytes = original.clone();
        bytes.truncate(cut.min(bytes.len()));
        for (at, bit) in flips {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= 1 << bit;
            }
        }
        let path = journal_path("damaged");
        std::fs::write(&path, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            match fast_builder(nodes).journal(&path).build() {
                Ok(c) => { let _ = c.recover(); }
                Err(Error::Journal { .. }) => {}
                Err(other) => panic!("not a journal error: {other:?}"),
            }
        });
        prop_assert!(outcome.is_ok());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
