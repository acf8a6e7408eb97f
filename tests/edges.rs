//! Issue 18's caller edges against test nodes: shutdown and cancellation
//! in the middle of a create still compensate; cancelled waits end at once;
//! per-handle options apply to every call.

// Closures here return the library's `Error` by value (the variant users
// match on); its size is the library's documented choice.
#![allow(clippy::result_large_err)]

mod common;

use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{
    CallOptions, CancelToken, ClusterClient, Error, HostAddress, NodeError, RetryPolicy,
};
use common::{fast_builder, host, wait_for};

/// Node 2 holds its create answer back; nodes 0 and 1 answer at once.
fn slow_node_2(nodes: &TestCluster) {
    nodes.node(2).inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(700)))
            .method("POST")
            .times(1),
    );
}

fn names(hosts: &[HostAddress]) -> Vec<String> {
    hosts.iter().map(HostAddress::to_string).collect()
}

/// After a stopped create: every node holding the group is named, and the
/// nodes that answered 201 were rolled back.
fn check_stopped_create(nodes: &TestCluster, err: &Error, why: fn(&NodeError) -> bool) {
    let Error::GroupOperation {
        failures,
        rollback_failed_hosts,
        possible_orphans,
        ..
    } = err
    else {
        panic!("not a group error: {err}");
    };
    assert!(
        failures.iter().any(|f| why(&f.error)),
        "the failures say why: {failures:?}"
    );
    assert!(rollback_failed_hosts.is_empty(), "{err}");
    // Let the held-back create land, then look at the nodes.
    std::thread::sleep(Duration::from_millis(900));
    let named = names(possible_orphans);
    for n in nodes.nodes_with_group("g") {
        assert!(
            named.contains(&host(nodes, n).to_string()),
            "node {n} holds the group unnamed: {err}"
        );
    }
    assert!(!nodes.node(0).has_group("g") && !nodes.node(1).has_group("g"));
}

#[test]
fn shutdown_in_the_middle_of_a_create_still_rolls_back() {
    let nodes = TestCluster::start(3).unwrap();
    slow_node_2(&nodes);
    let c = fast_builder(&nodes).build().unwrap();
    let start = Instant::now();
    let err = std::thread::scope(|s| {
        let creating = s.spawn(|| c.create_group("g"));
        assert!(wait_for(Duration::from_secs(5), || nodes
            .nodes_with_group("g")
            .len()
            == 2));
        c.shutdown();
        creating.join().unwrap().unwrap_err()
    });
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    check_stopped_create(&nodes, &err, |e| matches!(e, NodeError::Shutdown));
    assert!(matches!(c.create_group("h"), Err(Error::Shutdown)));
}

#[test]
fn a_cancelled_create_rolls_back_what_it_made() {
    let nodes = TestCluster::start(3).unwrap();
    slow_node_2(&nodes);
    let c = fast_builder(&nodes).build().unwrap();
    let token = CancelToken::new();
    let cancellable = c.with_options(CallOptions::new().cancel_token(token.clone()));
    let err = std::thread::scope(|s| {
        let creating = s.spawn(|| cancellable.create_group("g"));
        assert!(wait_for(Duration::from_secs(5), || nodes
            .nodes_with_group("g")
            .len()
            == 2));
        token.cancel();
        creating.join().unwrap().unwrap_err()
    });
    check_stopped_create(&nodes, &err, |e| matches!(e, NodeError::Cancelled));
    // The token is one handle's: the client goes on.
    c.create_group("after").unwrap();
    assert!(matches!(
        cancellable.create_group("x"),
        Err(Error::Cancelled)
    ));
    assert!(nodes.nodes_with_group("x").is_empty());
}

#[test]
fn a_cancelled_wait_ends_at_once() {
    let nodes = TestCluster::start(2).unwrap();
    for n in nodes.nodes() {
        n.inject(FaultRule::new(Fault::NeverAnswer).always());
    }
    // Without the cancel, each call below would wait 20 s or more.
    let c = fast_builder(&nodes)
        .request_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let h = host(&nodes, 0);
    type Call = fn(&ClusterClient, &HostAddress) -> Result<(), Error>;
    let calls: [(&str, Call); 6] = [
        ("request", |c, _| c.request("GET", "/", None).map(|_| ())),
        ("request_to", |c, h| {
            c.request_to(h, "GET", "/", None).map(|_| ())
        }),
        ("server_id", |c, _| c.cluster().server_id().map(|_| ())),
        ("verify_group", |c, h| c.verify_group(h, "g").map(|_| ())),
        ("verify_group_everywhere", |c, _| {
            c.verify_group_everywhere("g").map(|_| ())
        }),
        ("delete_group", |c, _| c.delete_group("g").map(|_| ())),
    ];
    for (name, call) in calls {
        let token = CancelToken::new();
        let handle = c.with_options(CallOptions::new().cancel_token(token.clone()));
        let start = Instant::now();
        let out = std::thread::scope(|s| {
            let running = s.spawn(|| call(&handle, &h));
            std::thread::sleep(Duration::from_millis(100));
            token.cancel();
            running.join().unwrap()
        });
        assert!(matches!(out, Err(Error::Cancelled)), "{name}: {out:?}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name}: {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn a_cancel_ends_a_backoff_sleep() {
    let nodes = TestCluster::start(1).unwrap();
    nodes.node(0).inject(FaultRule::status(503).always());
    let c = fast_builder(&nodes)
        .retry_policy(RetryPolicy::exponential(
            5,
            Duration::from_secs(20),
            Duration::from_secs(20),
        ))
        .operation_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let token = CancelToken::new();
    let handle = c.with_options(CallOptions::new().cancel_token(token.clone()));
    let start = Instant::now();
    let out = std::thread::scope(|s| {
        let running = s.spawn(|| handle.delete_group("g"));
        assert!(wait_for(Duration::from_secs(5), || nodes
            .node(0)
            .request_count()
            >= 1));
        token.cancel();
        running.join().unwrap()
    });
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        nodes.node(0).request_count(),
        1,
        "no retry after the cancel"
    );
}

#[test]
fn a_call_cancelled_before_it_starts_sends_nothing() {
    let nodes = TestCluster::start(2).unwrap();
    let c = fast_builder(&nodes).build().unwrap();
    let token = CancelToken::new();
    token.cancel();
    let handle = c.with_options(CallOptions::new().cancel_token(token));
    assert!(matches!(handle.create_group("g"), Err(Error::Cancelled)));
    assert!(matches!(
        handle.request("GET", "/", None),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        handle.cluster().server_role(),
        Err(Error::Cancelled)
    ));
    for n in nodes.nodes() {
        assert_eq!(n.request_count(), 0);
    }
}

#[test]
fn options_apply_to_every_call_of_their_handle_only() {
    let nodes = TestCluster::start(1).unwrap();
    nodes.node(0).inject(FaultRule::status(503).always());
    let c = fast_builder(&nodes).build().unwrap(); // 3 attempts
    let once = c.with_options(CallOptions::new().retry_policy(RetryPolicy::none()));
    let _ = once.request("GET", "/", None);
    assert_eq!(nodes.node(0).request_count(), 1);
    let _ = once.cluster().server_id();
    assert_eq!(nodes.node(0).request_count(), 2);
    let _ = c.request("GET", "/", None);
    assert_eq!(
        nodes.node(0).request_count(),
        5,
        "the original keeps its policy"
    );
    nodes.node(0).clear_faults();
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::NeverAnswer).always());
    let quick = c.with_options(CallOptions::new().operation_timeout(Duration::from_millis(300)));
    let start = Instant::now();
    assert!(quick.create_group("g").is_err());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn shutdown_during_a_journaled_create_leaves_what_the_grace_missed_to_recover() {
    let nodes = TestCluster::start(3).unwrap();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("edges-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sagas.journal");
    let _ = std::fs::remove_file(&path);
    slow_node_2(&nodes);
    nodes
        .node(0)
        .inject(FaultRule::status(500).method("DELETE").always());
    let c = fast_builder(&nodes).journal(&path).build().unwrap();
    let err = std::thread::scope(|s| {
        let creating = s.spawn(|| c.create_group("g"));
        assert!(wait_for(Duration::from_secs(5), || nodes
            .nodes_with_group("g")
            .len()
            == 2));
        c.shutdown();
        creating.join().unwrap().unwrap_err()
    });
    match &err {
        Error::GroupOperation {
            rollback_failed_hosts,
            ..
        } => assert_eq!(rollback_failed_hosts, &vec![host(&nodes, 0)]),
        other => panic!("{other}"),
    }
    assert!(nodes.node(0).has_group("g") && !nodes.node(1).has_group("g"));
    std::thread::sleep(Duration::from_millis(900));
    nodes.node(0).clear_faults();
    drop(c);
    // A later client on the same journal finishes what the grace could not.
    let later = fast_builder(&nodes).journal(&path).build().unwrap();
    let report = later.recover().unwrap();
    assert!(nodes.nodes_with_group("g").is_empty(), "{report:?}");
}

#[test]
fn a_handles_request_timeout_bounds_each_attempt() {
    let nodes = TestCluster::start(1).unwrap();
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::NeverAnswer).always());
    let c = fast_builder(&nodes)
        .request_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let quick = c.with_options(
        CallOptions::new()
            .request_timeout(Duration::from_millis(200))
            .retry_policy(RetryPolicy::none()),
    );
    let start = Instant::now();
    assert!(quick.request("GET", "/", None).is_err());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}
