//! Regressions of the adversary review: each test failed on the code before
//! its fix. They check what a user would: the nodes' real state, the
//! returned error, the health state and the metrics.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{
    ClusterClient, Error, GroupApi, GroupEndpoint, HostAddress, HostResolver, NodeError,
    RetryBudget, RetryPolicy, Saga,
};
use common::{fast_builder, host, wait_for};

struct Report {
    failed: Vec<HostAddress>,
    rollback_failed: Vec<HostAddress>,
    orphans: Vec<HostAddress>,
    rollback_failures: Vec<cluster_client::NodeFailure>,
}

fn group_error(err: Error) -> Report {
    match err {
        Error::GroupOperation {
            failed_hosts,
            rollback_failed_hosts,
            possible_orphans,
            rollback_failures,
            ..
        } => Report {
            failed: failed_hosts,
            rollback_failed: rollback_failed_hosts,
            orphans: possible_orphans,
            rollback_failures,
        },
        other => panic!("expected Error::GroupOperation, got {other:?}"),
    }
}

fn post(fault: Fault) -> FaultRule {
    FaultRule::new(fault)
        .method("POST")
        .path_prefix("/v1/group")
}

fn status_fault(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        status,
        retry_after: retry_after.map(str::to_string),
    }
}

// 1. A create answered 502/504 may have been applied: a 409 on the retry
//    may be this saga's own group.

#[test]
fn a_502_then_409_on_a_failed_create_is_a_possible_orphan() {
    for gateway in [502, 504] {
        let nodes = TestCluster::start(3).unwrap();
        nodes.node(1).inject(post(Fault::ApplyThenAnswer {
            status: gateway,
            retry_after: None,
        }));
        nodes.node(2).inject(post(status_fault(400, None)).always());
        let client = fast_builder(&nodes).build().unwrap();
        let r = group_error(client.create_group("g").unwrap_err());
        // The retry on node 1 answered 409: the group is there, made by this saga.
        assert!(nodes.node(1).has_group("g"));
        assert_eq!(r.orphans, vec![host(&nodes, 1)], "{gateway}");
        assert_eq!(r.failed, vec![host(&nodes, 2)], "{gateway}");
        assert!(!nodes.node(0).has_group("g"), "node 0 rolled back");
    }
}

#[test]
fn a_final_502_or_504_is_a_possible_orphan() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(1).inject(
        post(Fault::ApplyThenAnswer {
            status: 504,
            retry_after: None,
        })
        .always(),
    );
    let client = fast_builder(&nodes).build().unwrap();
    let r = group_error(client.create_group("g").unwrap_err());
    assert!(nodes.node(1).has_group("g"));
    assert_eq!(r.failed, vec![host(&nodes, 1)]);
    assert_eq!(r.orphans, vec![host(&nodes, 1)]);
    assert_eq!(nodes.nodes_with_group("g"), vec![1]);
}

#[test]
fn a_409_without_an_unknown_attempt_before_it_is_not_an_orphan() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(0).insert_group("g");
    nodes.node(2).inject(post(status_fault(400, None)).always());
    let client = fast_builder(&nodes).build().unwrap();
    let r = group_error(client.create_group("g").unwrap_err());
    assert!(r.orphans.is_empty());
    assert_eq!(nodes.nodes_with_group("g"), vec![0], "pre-existing kept");
}

// 2. The status line decides a group operation, whatever the body's size.

#[test]
fn a_201_with_an_oversized_body_is_created_and_rolled_back() {
    let nodes = TestCluster::start(3).unwrap();
    nodes
        .node(1)
        .inject(post(Fault::ApplyThenHugeBody(64 * 1024)));
    nodes.node(2).inject(post(status_fault(400, None)).always());
    let client = fast_builder(&nodes)
        .max_response_bytes(4096)
        .build()
        .unwrap();
    let r = group_error(client.create_group("g").unwrap_err());
    assert_eq!(r.failed, vec![host(&nodes, 2)]);
    assert!(r.rollback_failed.is_empty() && r.orphans.is_empty());
    assert!(nodes.nodes_with_group("g").is_empty(), "node 1 rolled back");
    let m = client.cluster_management().connection_pool_metrics()[&host(&nodes, 1)];
    assert_eq!(
        m.connections_created - m.connections_closed,
        m.curr_connections
    );
    assert!(
        m.connections_closed >= 1,
        "the oversized answer's connection was closed: {m:?}"
    );
}

#[test]
fn a_201_with_an_oversized_body_counts_as_created() {
    let nodes = TestCluster::start(2).unwrap();
    nodes
        .node(0)
        .inject(post(Fault::ApplyThenHugeBody(64 * 1024)));
    let client = fast_builder(&nodes)
        .max_response_bytes(4096)
        .build()
        .unwrap();
    client.create_group("g").unwrap();
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1]);
    // The oversized answer's connection is not reused.
    assert_eq!(nodes.node(0).accepted_connections(), 2);
}

// 3. Retry-After values no arithmetic can hold.

const ABSURD_RETRY_AFTER: [&str; 4] = [
    "Sun, 06 Nov 300000000000 08:49:37 GMT",
    "99999999999999999999",
    "18446744073709551615",
    "Fri, 31 Dec 9999 23:59:59 GMT",
];

#[test]
fn an_absurd_retry_after_on_a_create_gives_up_and_rolls_back_without_panicking() {
    for value in ABSURD_RETRY_AFTER {
        let nodes = TestCluster::start(3).unwrap();
        nodes
            .node(1)
            .inject(post(status_fault(503, Some(value))).always());
        let client = fast_builder(&nodes).build().unwrap();
        let start = Instant::now();
        let r = group_error(client.create_group("g").unwrap_err());
        assert!(start.elapsed() < Duration::from_secs(5), "{value}");
        assert_eq!(r.failed, vec![host(&nodes, 1)], "{value}");
        assert!(nodes.nodes_with_group("g").is_empty(), "{value}");
        // It asked for longer than the policy allows: one attempt only.
        assert_eq!(nodes.node(1).count_requests("POST"), 1, "{value}");
    }
}

#[test]
fn an_absurd_retry_after_through_request_returns_the_answer() {
    for value in ABSURD_RETRY_AFTER {
        let nodes = TestCluster::start(2).unwrap();
        for n in nodes.nodes() {
            n.inject(FaultRule::new(status_fault(503, Some(value))).always());
        }
        let client = fast_builder(&nodes).build().unwrap();
        let start = Instant::now();
        let answer = client.request("GET", "/_api/version", None).unwrap();
        assert_eq!(answer.status, 503, "{value}");
        assert!(start.elapsed() < Duration::from_secs(5), "{value}");
    }
}

#[test]
fn a_garbage_or_huge_retry_after_never_panics() {
    let nodes = TestCluster::start(2).unwrap();
    let huge = "7".repeat(10 * 1024);
    let garbage = "\u{1F4A5} soon-ish".to_string();
    for value in [huge, garbage, "1e9".to_string(), "-1".to_string()] {
        nodes.node(0).clear_faults();
        nodes
            .node(0)
            .inject(FaultRule::new(status_fault(503, Some(&value))).times(2));
        let client = fast_builder(&nodes).build().unwrap();
        let _ = client.create_group("g");
        let _ = client.request("GET", "/x", None);
        let _ = client.delete_group("g");
    }
}

// 4. A saga that unwinds runs its compensations.

#[test]
fn a_panicking_step_of_a_user_saga_rolls_back_what_earlier_steps_did() {
    let nodes = TestCluster::start(2).unwrap();
    let client = fast_builder(&nodes).build().unwrap();
    let h0 = host(&nodes, 0);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut saga: Saga<'_, String> = Saga::new("user saga");
        saga.step("create on node 0", |comp| {
            client
                .request_to(&h0, "POST", "/v1/group/", Some(br#"{"groupId":"s"}"#))
                .map_err(|e| e.to_string())?;
            comp.push("delete on node 0", || {
                client
                    .request_to(&h0, "DELETE", "/v1/group/", Some(br#"{"groupId":"s"}"#))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            Ok(())
        })
        .unwrap();
        assert!(nodes.node(0).has_group("s"));
        let _: Result<(), String> = saga.step("a step with a bug", |_| panic!("bug"));
    }));
    assert!(outcome.is_err(), "the panic reached the caller");
    assert!(
        !nodes.node(0).has_group("s"),
        "the unwinding saga compensated"
    );
}

// 5. Waiting on the client's own pool is not the node's fault.

#[test]
fn client_side_waiting_does_not_make_a_fast_node_unhealthy() {
    let nodes = TestCluster::start(1).unwrap();
    nodes.node(0).set_latency(Duration::from_millis(50));
    let turned_unhealthy = Arc::new(AtomicUsize::new(0));
    let seen = turned_unhealthy.clone();
    let client = fast_builder(&nodes)
        .max_connections_per_node(1)
        .retry_policy(RetryPolicy::none())
        .operation_timeout(Duration::from_millis(200))
        .on_node_unhealthy(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let h = host(&nodes, 0);
    let errors = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..12 {
            s.spawn(|| {
                for _ in 0..10 {
                    if let Err(e) = client.verify_group(&h, "g") {
                        errors.lock().unwrap().push(e.to_string());
                    }
                }
            });
        }
    });
    let errors = errors.lock().unwrap();
    assert!(
        !errors.is_empty(),
        "with 12 callers on one slot some calls run out of time"
    );
    let m = client.cluster_management().connection_pool_metrics()[&h];
    assert_eq!(m.operations_executed_with_error, 0, "{m:?}; {errors:?}");
    assert!(client.cluster_management().unhealthy_nodes().is_empty());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(turned_unhealthy.load(Ordering::SeqCst), 0);
    assert!(m.operations_waited > 0);
}

#[test]
fn a_truly_hung_node_is_still_marked_unhealthy() {
    let nodes = TestCluster::start(1).unwrap();
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::NeverAnswer).always());
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_millis(100))
        .operation_timeout(Duration::from_millis(100))
        .unhealthy_after(2)
        .build()
        .unwrap();
    let h = host(&nodes, 0);
    for _ in 0..2 {
        assert!(client.verify_group(&h, "g").is_err());
    }
    assert_eq!(
        client.cluster_management().unhealthy_nodes(),
        vec![h.clone()]
    );
    let m = client.cluster_management().connection_pool_metrics()[&h];
    assert_eq!(m.operations_executed_with_error, 2, "{m:?}");
}

// 6. A hanging probe delays neither other probes nor the health callbacks.

#[test]
fn a_hanging_probe_does_not_delay_another_nodes_callback() {
    let nodes = TestCluster::start(3).unwrap();
    // Every GET hangs (probes included); POSTs fail fast with 500.
    for n in nodes.nodes() {
        n.inject(FaultRule::new(Fault::NeverAnswer).method("GET").always());
        n.inject(post(status_fault(500, None)).always());
    }
    let events: Arc<Mutex<Vec<(HostAddress, Instant)>>> = Arc::default();
    let seen = events.clone();
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_secs(3))
        .unhealthy_after(1)
        .probe_interval(Duration::from_millis(10))
        .on_node_unhealthy(move |h| seen.lock().unwrap().push((h.clone(), Instant::now())))
        .build()
        .unwrap();
    let hosts: Vec<HostAddress> = (0..3).map(|i| host(&nodes, i)).collect();
    // Nodes 0 and 1 turn unhealthy; their probes start and hang.
    for h in &hosts[..2] {
        let _ = client.request_to(h, "POST", "/v1/group/", Some(b"{}"));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        nodes.peak_in_flight() >= 2,
        "the two hanging probes run at the same time"
    );
    let turned = Instant::now();
    let _ = client.request_to(&hosts[2], "POST", "/v1/group/", Some(b"{}"));
    assert!(wait_for(Duration::from_secs(2), || events
        .lock()
        .unwrap()
        .len()
        == 3));
    let delay = events.lock().unwrap()[2].1.duration_since(turned);
    assert!(
        delay < Duration::from_millis(1500),
        "the callback waited {delay:?} behind hanging probes"
    );
    client.shutdown();
}

// 7. An idle client recovers a node by itself.

#[test]
fn an_idle_client_sees_a_restarted_node_healthy_again() {
    let nodes = TestCluster::start(2).unwrap();
    let healed = Arc::new(AtomicUsize::new(0));
    let seen = healed.clone();
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::none())
        .unhealthy_after(1)
        .on_node_healthy(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let h = host(&nodes, 1);
    nodes.node(1).go_down();
    assert!(client.verify_group(&h, "g").is_err());
    assert_eq!(
        client.cluster_management().unhealthy_nodes(),
        vec![h.clone()]
    );
    nodes.node(1).come_up().unwrap();
    // No call reaches the node: only the background probe can heal it.
    assert!(wait_for(Duration::from_secs(5), || client
        .cluster_management()
        .unhealthy_nodes()
        .is_empty()));
    assert!(wait_for(Duration::from_secs(2), || healed
        .load(Ordering::SeqCst)
        == 1));
    assert!(
        nodes
            .node(1)
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/"),
        "the probe is GET /"
    );
    let text = client.cluster_management().prometheus();
    let line = format!("cluster_client_node_healthy{{node=\"{h}\"}} 1");
    assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
}

#[test]
fn a_probe_answered_with_a_5xx_keeps_the_node_unhealthy() {
    let nodes = TestCluster::start(1).unwrap();
    nodes
        .node(0)
        .inject(FaultRule::new(status_fault(500, None)).always());
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::none())
        .unhealthy_after(1)
        .build()
        .unwrap();
    let h = host(&nodes, 0);
    let _ = client.verify_group(&h, "g");
    assert!(wait_for(Duration::from_secs(2), || nodes
        .node(0)
        .requests()
        .iter()
        .filter(|r| r.path == "/")
        .count()
        >= 2));
    assert_eq!(client.cluster_management().unhealthy_nodes(), vec![h]);
}

// 8. Settings that would fail later are refused at build().

#[test]
fn settings_that_would_fail_later_are_refused_at_build() {
    let nodes = TestCluster::start(1).unwrap();
    let builds = |b: cluster_client::ClientBuilder| match b.build() {
        Err(Error::InvalidConfig(why)) => why,
        Err(other) => panic!("expected InvalidConfig, got {other:?}"),
        Ok(_) => panic!("built"),
    };
    for why in [
        builds(fast_builder(&nodes).operation_timeout(Duration::MAX)),
        builds(fast_builder(&nodes).request_timeout(Duration::MAX)),
        builds(fast_builder(&nodes).connect_timeout(Duration::MAX)),
        builds(fast_builder(&nodes).probe_interval(Duration::MAX)),
        builds(fast_builder(&nodes).purge_unused_connections_after(Some(Duration::MAX))),
        builds(fast_builder(&nodes).retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(1),
            Duration::MAX,
        ))),
    ] {
        assert!(why.contains("at most"), "{why}");
    }
    let with_create = |e: GroupEndpoint| GroupApi {
        create: e,
        ..GroupApi::default()
    };
    let bad = [
        GroupEndpoint::new("PUT", "/groups/", false, &[201], &[204]), // no {id}, no body
        GroupEndpoint::new("PUT", "groups/{id}", false, &[201], &[204]), // no leading /
        GroupEndpoint::new("PUT", "/g/{id}/{id}", false, &[201], &[204]), // {id} twice
        GroupEndpoint::new("PUT", "/groups/{id}", false, &[999], &[204]), // not a status
        GroupEndpoint::new("PUT", "/groups/{id}", false, &[], &[204]), // empty done
        GroupEndpoint::new("PUT", "/groups/{id}", false, &[201], &[201, 204]), // both
    ];
    for e in bad {
        let shown = format!("{e:?}");
        let why = builds(fast_builder(&nodes).group_api(with_create(e)));
        assert!(why.contains("group_api.create"), "{shown}: {why}");
    }
    // The presets and a body-carrying endpoint without {id} are fine.
    for api in [GroupApi::reference(), GroupApi::webdav()] {
        fast_builder(&nodes).group_api(api).build().unwrap();
    }
}

// 9. Shutdown mid-create, and a spent retry budget.

/// The rule changed with issue 18: a create that already made groups rolls
/// them back first (within the grace), instead of naming them as rollback
/// failures.
#[test]
fn shutdown_mid_create_rolls_back_the_created_nodes_first() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(2).inject(post(Fault::NeverAnswer));
    let client = fast_builder(&nodes).build().unwrap();
    let stopper = client.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stopper.shutdown();
    });
    let start = Instant::now();
    let r = group_error(client.create_group("g").unwrap_err());
    t.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(r.rollback_failed.is_empty(), "{:?}", r.rollback_failures);
    assert!(!nodes.node(0).has_group("g") && !nodes.node(1).has_group("g"));
    assert_eq!(r.failed, vec![host(&nodes, 2)]);
    assert_eq!(r.orphans, vec![host(&nodes, 2)]);
    // Every node holding the group is named.
    for i in nodes.nodes_with_group("g") {
        let h = host(&nodes, i);
        assert!(r.rollback_failed.contains(&h) || r.orphans.contains(&h));
    }
}

#[test]
fn request_with_a_spent_budget_names_only_the_nodes_it_tried() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(0).go_down();
    let client = fast_builder(&nodes)
        .host_resolver(HostResolver::Fallback)
        .retry_budget(RetryBudget::new(0.0, 0.0))
        .build()
        .unwrap();
    match client.request("GET", "/_api/version", None).unwrap_err() {
        Error::Request { attempts, .. } => {
            let tried: Vec<&HostAddress> = attempts.iter().map(|a| &a.host).collect();
            assert_eq!(tried, vec![&host(&nodes, 0)], "{attempts:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        nodes.node(1).request_count() + nodes.node(2).request_count(),
        0
    );
}

#[test]
fn a_fresh_client_after_shutdown_of_another_is_unaffected() {
    let nodes = TestCluster::start(2).unwrap();
    let a = fast_builder(&nodes).build().unwrap();
    a.shutdown();
    assert!(matches!(a.create_group("g"), Err(Error::Shutdown)));
    let b: ClusterClient = fast_builder(&nodes).build().unwrap();
    b.create_group("g").unwrap();
}

// Restructure: node errors keep their cause.

#[test]
fn a_refused_connect_keeps_its_io_kind_and_source() {
    let nodes = TestCluster::start(1).unwrap();
    nodes.node(0).go_down();
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    match client.verify_group(&host(&nodes, 0), "g").unwrap_err() {
        Error::Request { attempts, .. } => match &attempts[0].error {
            NodeError::Connect(cause) => {
                assert_eq!(
                    cause.io_kind(),
                    Some(std::io::ErrorKind::ConnectionRefused),
                    "{cause:?}"
                );
                assert!(std::error::Error::source(cause).is_some());
                assert!(std::error::Error::source(&attempts[0].error).is_some());
                assert!(!cause.is_timeout());
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_malformed_request_is_invalid_input_not_a_setting() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fast_builder(&nodes).build().unwrap();
    for (method, path) in [("G T", "/"), ("GET", "no-slash")] {
        let e = client.request(method, path, None).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
        assert!(e.is_invalid_input());
    }
    assert_eq!(nodes.node(0).request_count(), 0);
}
