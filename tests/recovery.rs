//! Issue 17's findings, each against test nodes: recover() acts only on
//! what is still true, and the journal survives its own failures. Every
//! assertion is on the nodes' real state, the report, or the file.

mod common;

use std::path::Path;
use std::time::Duration;

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, Error, Intent, JournalErrorKind, SagaKind, SagaOutcome};
use common::{fast_builder, host, journal_path};

fn client(nodes: &TestCluster, journal: &Path) -> ClusterClient {
    common::journal_client(nodes, journal)
}

/// A create that fails on node 2 and cannot roll back on node 0: the
/// group stays on node 0, named in `rollback_failed_hosts`.
fn leave_a_leftover(nodes: &TestCluster, c: &ClusterClient, id: &str) {
    nodes
        .node(2)
        .inject(FaultRule::status(400).method("POST").times(1));
    nodes
        .node(0)
        .inject(FaultRule::status(500).method("DELETE").times(2));
    let err = c.create_group(id).unwrap_err();
    assert!(
        matches!(&err, Error::GroupOperation { rollback_failed_hosts, .. } if rollback_failed_hosts == &vec![host(nodes, 0)]),
        "{err}"
    );
    assert_eq!(nodes.nodes_with_group(id), vec![0]);
    for i in 0..3 {
        nodes.node(i).clear_faults();
    }
}

fn journal_kind(e: &Error) -> Option<JournalErrorKind> {
    match e {
        Error::Journal { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn finding_1a_recover_keeps_a_later_successful_create() {
    let nodes = TestCluster::start(3).unwrap();
    let c = client(&nodes, &journal_path("1a"));
    leave_a_leftover(&nodes, &c, "g");
    c.create_group("g").unwrap();
    let report = c.recover().unwrap();
    assert!(
        report.is_clean() && report.repaired.is_empty(),
        "{report:?}"
    );
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
}

#[test]
fn finding_1b_recover_keeps_a_converged_repair() {
    let nodes = TestCluster::start(3).unwrap();
    let c = client(&nodes, &journal_path("1b"));
    leave_a_leftover(&nodes, &c, "g");
    assert!(c.repair_group("g", Intent::Present).unwrap().is_converged());
    let report = c.recover().unwrap();
    assert!(
        report.is_clean() && report.repaired.is_empty(),
        "{report:?}"
    );
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
}

#[test]
fn finding_1c_recover_keeps_a_create_after_a_partly_failed_delete() {
    let nodes = TestCluster::start(3).unwrap();
    let c = client(&nodes, &journal_path("1c"));
    c.create_group("g").unwrap();
    nodes
        .node(1)
        .inject(FaultRule::status(500).method("DELETE").times(2));
    assert_eq!(c.delete_group("g").unwrap(), vec![host(&nodes, 1)]);
    nodes.node(1).clear_faults();
    c.create_group("g").unwrap();
    let report = c.recover().unwrap();
    assert!(
        report.is_clean() && report.repaired.is_empty(),
        "{report:?}"
    );
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
}

#[test]
fn an_unfinished_delete_is_finished_by_recover() {
    let nodes = TestCluster::start(3).unwrap();
    let c = client(&nodes, &journal_path("delete"));
    c.create_group("g").unwrap();
    nodes
        .node(1)
        .inject(FaultRule::status(500).method("DELETE").times(2));
    assert_eq!(c.delete_group("g").unwrap(), vec![host(&nodes, 1)]);
    nodes.node(1).clear_faults();
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(nodes.nodes_with_group("g").is_empty());
    assert_eq!(report.finished.len(), 1, "{report:?}");
    assert_eq!(report.finished[0].operation, SagaKind::Delete);
    assert_eq!(
        report.finished[0].outcome,
        SagaOutcome::DeleteCompleted { deleted: 1 }
    );
    assert_eq!(report.repaired.len(), 1, "{report:?}");
    assert_eq!(report.repaired[0].host, host(&nodes, 1));
}

#[test]
fn recover_reports_a_rolled_back_create_typed_and_in_the_words_it_had() {
    let nodes = TestCluster::start(3).unwrap();
    let c = client(&nodes, &journal_path("typed-report"));
    leave_a_leftover(&nodes, &c, "g");
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(nodes.nodes_with_group("g").is_empty());
    let f = &report.finished[..];
    assert_eq!(f.len(), 1, "{report:?}");
    assert_eq!(f[0].operation, SagaKind::Create);
    assert_eq!(f[0].outcome, SagaOutcome::RolledBack { deleted: 1 });
    let words = "rolled back: deleted on 1 node(s) where this client's sagas left the group";
    assert_eq!(f[0].outcome, words);
    assert_eq!(f[0].outcome.to_string(), words);
    assert_eq!(report.repaired[0].host, host(&nodes, 0));
    assert_eq!(report.repaired[0].action, "deleted");
}

#[test]
fn finding_2_a_node_that_answered_409_is_never_deleted() {
    let nodes = TestCluster::start(3).unwrap();
    let c = client(&nodes, &journal_path("409"));
    // Node 2 says 409 to the create while its pre-check found no group
    // (someone else made one in between); node 0 cannot roll back.
    nodes
        .node(2)
        .inject(FaultRule::status(409).method("POST").times(1));
    nodes
        .node(0)
        .inject(FaultRule::status(500).method("DELETE").times(2));
    let err = c.create_group("g").unwrap_err();
    assert!(matches!(err, Error::GroupOperation { .. }), "{err}");
    for i in 0..3 {
        nodes.node(i).clear_faults();
    }
    nodes.node(2).insert_group("g"); // the other writer's group
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(nodes.nodes_with_group("g"), vec![2], "{report:?}");
}

#[test]
fn finding_3_an_orphan_of_unknown_origin_is_named_until_settled() {
    let nodes = TestCluster::start(3).unwrap();
    let path = journal_path("3");
    let c = client(&nodes, &path);
    // Node 2's pre-check fails, its create is applied but unanswered, node 1 refuses.
    nodes
        .node(2)
        .inject(FaultRule::status(500).method("GET").times(2));
    nodes
        .node(2)
        .inject(FaultRule::new(Fault::ApplyThenDrop).method("POST").times(1));
    nodes
        .node(1)
        .inject(FaultRule::status(400).method("POST").times(1));
    match c.create_group("g").unwrap_err() {
        Error::GroupOperation {
            possible_orphans, ..
        } => {
            assert_eq!(possible_orphans, vec![host(&nodes, 2)])
        }
        other => panic!("{other}"),
    }
    assert_eq!(nodes.nodes_with_group("g"), vec![2]);
    nodes.node(2).go_down();
    let report = c.recover().unwrap();
    assert_eq!(report.needs_attention.len(), 1, "{report:?}");
    assert_eq!(report.needs_attention[0].host, host(&nodes, 2));
    assert_eq!(
        report.needs_attention[0].host.to_string(),
        nodes.node(2).url()
    );
    assert!(std::fs::metadata(&path).unwrap().len() > 0, "records kept");
    nodes.node(2).come_up().expect("node 2 back");
    let report = c.recover().unwrap();
    assert_eq!(report.needs_attention.len(), 1, "still unknown: {report:?}");
    assert_eq!(nodes.nodes_with_group("g"), vec![2], "never deleted");
    assert!(c.repair_group("g", Intent::Absent).unwrap().is_converged());
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn finding_4_a_flipped_length_is_a_damaged_journal_not_a_truncation() {
    let nodes = TestCluster::start(3).unwrap();
    let path = journal_path("4");
    {
        let c = client(&nodes, &path);
        leave_a_leftover(&nodes, &c, "g");
    }
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();
    let err = fast_builder(&nodes).journal(&path).build().unwrap_err();
    assert_eq!(journal_kind(&err), Some(JournalErrorKind::Damaged), "{err}");
    assert!(
        matches!(
            &err,
            Error::Journal {
                offset: Some(0),
                path: p,
                ..
            } if p == &path
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("journal {}: ", path.display())),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
}

#[test]
fn finding_6_journals_in_one_directory_do_not_collide() {
    let nodes = TestCluster::start(3).unwrap();
    let dir = journal_path("6");
    let dir = dir.parent().unwrap();
    let clients: Vec<ClusterClient> = (1..=2)
        .map(|i| client(&nodes, &dir.join(format!("worker.{i}"))))
        .collect();
    for (i, c) in clients.iter().enumerate() {
        leave_a_leftover(&nodes, c, &format!("g{i}"));
    }
    std::thread::scope(|s| {
        for c in &clients {
            s.spawn(move || {
                for _ in 0..100 {
                    c.recover().expect("recover");
                }
            });
        }
    });
    assert!(nodes.nodes_with_group("g0").is_empty());
    assert!(nodes.nodes_with_group("g1").is_empty());
}

#[test]
fn finding_7_recover_never_removes_a_running_sagas_records() {
    let nodes = TestCluster::start(3).unwrap();
    let path = journal_path("7");
    let c = client(&nodes, &path);
    for round in 0..20 {
        let id = format!("g{round}");
        nodes
            .node(2)
            .inject(FaultRule::status(400).method("POST").times(1));
        nodes.node(0).inject(
            FaultRule::new(Fault::Delay(Duration::from_millis(3)))
                .method("POST")
                .times(1),
        );
        nodes
            .node(0)
            .inject(FaultRule::status(500).method("DELETE").times(2));
        std::thread::scope(|s| {
            s.spawn(|| assert!(c.create_group(&id).is_err()));
            for _ in 0..5 {
                c.recover().expect("recover");
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        for i in 0..3 {
            nodes.node(i).clear_faults();
        }
    }
    // Every leftover is still known to the journal: a client reopened on
    // it (as after a crash) finds and removes them all.
    drop(c);
    let c = client(&nodes, &path);
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    for round in 0..20 {
        assert!(
            nodes.nodes_with_group(&format!("g{round}")).is_empty(),
            "g{round}"
        );
    }
}

#[test]
fn finding_9_a_zero_filled_tail_is_dropped_on_open() {
    let nodes = TestCluster::start(3).unwrap();
    let path = journal_path("9");
    {
        let c = client(&nodes, &path);
        leave_a_leftover(&nodes, &c, "g");
    }
    let len = std::fs::metadata(&path).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0u8; 4096]).unwrap();
    drop(f);
    let c = client(&nodes, &path);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(nodes.nodes_with_group("g").is_empty());
}

#[test]
fn finding_11_the_lock_lives_exactly_as_long_as_the_client() {
    let nodes = TestCluster::start(1).unwrap();
    let path = journal_path("11");
    let c = client(&nodes, &path);
    let management = c.cluster_management();
    let admin = c.cluster();
    let err = fast_builder(&nodes).journal(&path).build().unwrap_err();
    assert_eq!(journal_kind(&err), Some(JournalErrorKind::Locked), "{err}");
    drop(c);
    let second = client(&nodes, &path); // management and admin handles live on
    second.shutdown();
    let third = client(&nodes, &path); // shut down: the lock is let go
    third.create_group("g").unwrap();
    drop((management, admin, second));
}

#[test]
fn a_shut_down_client_refuses_recover() {
    let nodes = TestCluster::start(1).unwrap();
    let c = client(&nodes, &journal_path("shutdown"));
    c.shutdown();
    assert!(matches!(c.recover(), Err(Error::Shutdown)));
    assert!(matches!(c.create_group("g"), Err(Error::Shutdown)));
}

const ENV_FULL_HOSTS: &str = "CLUSTER_CLIENT_FULL_DISK_HOSTS";
const ENV_FULL_JOURNAL: &str = "CLUSTER_CLIENT_FULL_DISK_JOURNAL";

/// The child of finding 5, under a file size limit: creates until the
/// journal refuses, then checks the refused append left no partial record.
#[test]
fn finding_5_child() {
    let (Ok(hosts), Ok(journal)) = (
        std::env::var(ENV_FULL_HOSTS),
        std::env::var(ENV_FULL_JOURNAL),
    ) else {
        return; // not the child
    };
    let build = || {
        ClusterClient::builder()
            .hosts_str(&hosts)
            .journal(&journal)
            .build()
            .expect("the child's client")
    };
    let c = build();
    for i in 0..200 {
        match c.create_group(&format!("child{i}")) {
            Ok(()) => continue,
            Err(e) => {
                assert_eq!(journal_kind(&e), Some(JournalErrorKind::Io), "{e}");
                assert!(std::error::Error::source(&e).is_some(), "{e}");
                let len = std::fs::metadata(&journal).unwrap().len();
                drop(c);
                let _reopened = build(); // cuts a torn tail, if one were left
                let after = std::fs::metadata(&journal).unwrap().len();
                assert_eq!(len, after, "the refused append was cut back");
                println!("journal refused at {len} bytes");
                return;
            }
        }
    }
    panic!("the file size limit was never reached");
}

#[test]
fn finding_5_a_full_disk_leaves_no_partial_record() {
    if std::env::var_os(ENV_FULL_HOSTS).is_some() {
        return;
    }
    let bash = Path::new("/bin/bash");
    if !bash.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs bash"
        );
        eprintln!("skipped: no /bin/bash for the file size limit");
        return;
    }
    let nodes = TestCluster::start(3).unwrap();
    let path = journal_path("5");
    {
        let c = client(&nodes, &path);
        leave_a_leftover(&nodes, &c, "pre");
    }
    let blocks = std::fs::metadata(&path).unwrap().len() / 1024 + 3;
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(bash)
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" --exact finding_5_child --test-threads=1 --nocapture"
        ))
        .arg(&exe)
        .env(ENV_FULL_HOSTS, nodes.hosts_csv())
        .env(ENV_FULL_JOURNAL, &path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("journal refused at"), "{text}");
    // Space is back: the journal works, and recovery finds every saga.
    let c = client(&nodes, &path);
    c.create_group("after").unwrap();
    let report = c.recover().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(nodes.nodes_with_group("pre").is_empty());
    assert_eq!(nodes.nodes_with_group("after"), vec![0, 1, 2]);
}

#[test]
fn a_create_while_recover_settles_its_group_waits_and_keeps_its_group() {
    let nodes = TestCluster::start(3).unwrap();
    let c = client(&nodes, &journal_path("wait"));
    leave_a_leftover(&nodes, &c, "g");
    nodes.node(0).inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(300)))
            .method("DELETE")
            .times(1),
    );
    std::thread::scope(|s| {
        let recovering = s.spawn(|| c.recover().expect("recover"));
        std::thread::sleep(Duration::from_millis(60));
        c.create_group("g")
            .expect("the create, after recovery let the group go");
        assert!(recovering.join().unwrap().is_clean());
    });
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
}
