//! Cluster management: health, probing back, events, resolvers, pools and
//! metrics, shutdown — against in-process test nodes over real sockets.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{Error, HostAddress, HostResolver, NodeError, RetryPolicy};
use common::{fast_builder, fast_client, host, wait_for};

fn version_requests(nodes: &TestCluster, i: usize) -> usize {
    nodes.node(i).count_requests_to("GET", "/_api/version")
}

#[test]
fn a_down_node_turns_unhealthy_and_comes_back_with_one_event_each_way() {
    let nodes = TestCluster::start(3).unwrap();
    let down = Arc::new(AtomicUsize::new(0));
    let up = Arc::new(AtomicUsize::new(0));
    let (d, u) = (down.clone(), up.clone());
    let client = fast_builder(&nodes)
        .unhealthy_after(2)
        .on_node_unhealthy(move |_| {
            d.fetch_add(1, Ordering::SeqCst);
        })
        .on_node_healthy(move |_| {
            u.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let m = client.cluster_management();
    assert_eq!(m.healthy_nodes().len(), 3);
    nodes.node(1).go_down();
    // Three attempts (the policy) on node 1, each refused.
    assert!(client.create_group("g").is_err());
    assert_eq!(m.unhealthy_nodes(), vec![host(&nodes, 1)]);
    assert_eq!(m.healthy_nodes(), vec![host(&nodes, 0), host(&nodes, 2)]);
    assert!(wait_for(Duration::from_secs(5), || down
        .load(Ordering::SeqCst)
        == 1));
    nodes.node(1).come_up().unwrap();
    // The probe makes it half-open; the next request routed to it decides.
    assert!(wait_for(Duration::from_secs(10), || {
        let _ = client.request("GET", "/_api/version", None);
        m.unhealthy_nodes().is_empty()
    }));
    assert!(wait_for(Duration::from_secs(5), || up
        .load(Ordering::SeqCst)
        == 1));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(down.load(Ordering::SeqCst), 1);
    assert_eq!(up.load(Ordering::SeqCst), 1);
    // Probe connects count like any connect: the metrics match the node's accepts.
    let x = m.connection_pool_metrics()[&host(&nodes, 1)];
    assert_eq!(
        x.connections_created,
        nodes.node(1).accepted_connections(),
        "{x:?}"
    );
    assert!(x.connections_created_with_error >= 3, "{x:?}");
    assert_eq!(
        x.connections_created - x.connections_closed,
        x.curr_connections
    );
}

#[test]
fn create_fails_fast_on_a_node_known_to_be_down() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_builder(&nodes).unhealthy_after(1).build().unwrap();
    nodes.node(2).go_down();
    assert!(client.create_group("first").is_err());
    assert_eq!(
        client.cluster_management().unhealthy_nodes(),
        vec![host(&nodes, 2)]
    );
    for n in nodes.nodes() {
        n.clear_requests();
    }
    let err = client.create_group("second").unwrap_err();
    match err {
        Error::GroupOperation {
            failed_hosts,
            possible_orphans,
            ..
        } => {
            assert_eq!(failed_hosts, vec![host(&nodes, 2)]);
            assert!(possible_orphans.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        nodes.node(0).request_count(),
        0,
        "nothing touched on healthy nodes"
    );
    assert_eq!(nodes.node(1).request_count(), 0);
}

#[test]
fn round_robin_spreads_evenly_and_skips_a_down_node() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_builder(&nodes).unhealthy_after(1).build().unwrap();
    for _ in 0..30 {
        assert_eq!(
            client.request("GET", "/_api/version", None).unwrap().status,
            200
        );
    }
    for i in 0..3 {
        assert_eq!(version_requests(&nodes, i), 10);
    }
    nodes.node(2).go_down();
    for n in nodes.nodes() {
        n.clear_requests();
    }
    for _ in 0..30 {
        let r = client.request("GET", "/_api/version", None).unwrap();
        assert_ne!(r.host, host(&nodes, 2));
    }
    assert_eq!(
        version_requests(&nodes, 0) + version_requests(&nodes, 1),
        30
    );
    assert!(version_requests(&nodes, 0) >= 14 && version_requests(&nodes, 1) >= 14);
}

#[test]
fn random_touches_every_node() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_builder(&nodes)
        .host_resolver(HostResolver::Random)
        .build()
        .unwrap();
    for _ in 0..300 {
        client.request("GET", "/_api/version", None).unwrap();
    }
    for i in 0..3 {
        assert!(version_requests(&nodes, i) > 0, "node {i} never picked");
    }
}

#[test]
fn fallback_sticks_to_the_first_healthy_node() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_builder(&nodes)
        .host_resolver(HostResolver::Fallback)
        .build()
        .unwrap();
    for _ in 0..20 {
        assert_eq!(
            client.request("GET", "/_api/version", None).unwrap().host,
            host(&nodes, 0)
        );
    }
    nodes.node(0).go_down();
    for _ in 0..20 {
        assert_eq!(
            client.request("GET", "/_api/version", None).unwrap().host,
            host(&nodes, 1)
        );
    }
    assert_eq!(version_requests(&nodes, 2), 0);
}

#[test]
fn a_503_fails_over_and_503_everywhere_returns_the_last_answer() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_builder(&nodes)
        .host_resolver(HostResolver::Fallback)
        .build()
        .unwrap();
    nodes.node(0).fail_next("GET", 1, 503);
    let r = client.request("GET", "/_api/version", None).unwrap();
    assert_eq!((r.host, r.status), (host(&nodes, 1), 200));
    for n in nodes.nodes() {
        n.inject(FaultRule::status(503).always());
    }
    let r = client.request("GET", "/_api/version", None).unwrap();
    assert_eq!(r.status, 503);
}

#[test]
fn all_nodes_down_is_an_error_naming_every_node() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_client(&nodes);
    for n in nodes.nodes() {
        n.go_down();
    }
    for _ in 0..3 {
        let err = client.request("GET", "/_api/version", None).unwrap_err();
        let text = err.to_string();
        for i in 0..3 {
            assert!(text.contains(&nodes.node(i).url()), "{text}");
        }
        match err {
            Error::Request { attempts, .. } => {
                assert!(attempts.len() <= 3, "bounded: {attempts:?}");
                assert!(attempts
                    .iter()
                    .all(|a| matches!(a.error, NodeError::Connect(_))));
            }
            other => panic!("{other:?}"),
        }
    }
    // All unhealthy now: still tried rather than failing without a try.
    assert_eq!(client.cluster_management().healthy_nodes().len(), 0);
    nodes.node(1).come_up().unwrap();
    assert!(wait_for(Duration::from_secs(5), || client
        .request("GET", "/_api/version", None)
        .is_ok()));
}

#[test]
fn purge_closes_idle_connections_down_to_the_minimum() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fast_builder(&nodes)
        .max_connections_per_node(4)
        .min_connections_per_node(1)
        .purge_unused_connections_after(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    // The four requests are held at the node until all four are in flight,
    // so the pool needs four connections at once.
    nodes.hold_until_in_flight(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let c = client.clone();
            s.spawn(move || c.request("GET", "/_api/version", None).unwrap());
        }
    });
    let h = host(&nodes, 0);
    let metrics = || client.cluster_management().connection_pool_metrics()[&h];
    assert_eq!(metrics().connections_created, 4);
    assert!(wait_for(Duration::from_secs(5), || metrics()
        .curr_connections
        == 1));
    let m = metrics();
    assert_eq!(m.connections_purged, 3, "{m:?}");
    assert_eq!(m.connections_closed, 3);
    assert!(wait_for(Duration::from_secs(2), || nodes
        .node(0)
        .open_connections()
        == 1));
}

#[test]
fn a_busy_pool_makes_callers_wait_and_never_exceeds_its_size() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fast_builder(&nodes)
        .max_connections_per_node(2)
        .build()
        .unwrap();
    let h = host(&nodes, 0);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut max_seen = 0;
            while !done.load(Ordering::SeqCst) {
                let m = client.cluster_management().connection_pool_metrics()[&h];
                max_seen = max_seen.max(m.curr_connections);
                std::thread::sleep(Duration::from_millis(1));
            }
            max_seen
        });
        let workers: Vec<_> = (0..16)
            .map(|_| {
                let c = client.clone();
                s.spawn(move || {
                    for _ in 0..100 {
                        c.request("GET", "/_api/version", None).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        assert!(sampler.join().unwrap() <= 2);
    });
    let m = client.cluster_management().connection_pool_metrics()[&h];
    assert!(m.operations_waited > 0, "{m:?}");
    assert_eq!(m.operations_executed, 1600);
    assert!(m.curr_connections <= 2);
    assert_eq!(
        m.connections_created - m.connections_closed,
        m.curr_connections
    );
    assert_eq!(m.connections_created, nodes.node(0).accepted_connections());
}

#[test]
fn waiters_for_a_busy_slot_give_up_by_their_deadline() {
    let nodes = TestCluster::start(1).unwrap();
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::NeverAnswer).always());
    let client = fast_builder(&nodes)
        .max_connections_per_node(1)
        .operation_timeout(Duration::from_millis(300))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let start = Instant::now();
    let errors: Vec<Error> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..4)
            .map(|_| {
                let c = client.clone();
                s.spawn(move || c.request("GET", "/_api/version", None).unwrap_err())
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    for e in &errors {
        match e {
            Error::Request { attempts, .. } => assert!(
                matches!(
                    attempts[0].error,
                    NodeError::PoolTimeout | NodeError::NoAnswer(_) | NodeError::DeadlineExceeded
                ),
                "{attempts:?}"
            ),
            other => panic!("{other:?}"),
        }
    }
    let m = client.cluster_management().connection_pool_metrics()[&host(&nodes, 0)];
    assert!(m.operations_waited >= 1, "{m:?}");
    assert!(m.curr_connections <= 1, "one slot: {m:?}");
    assert_eq!(
        m.connections_created - m.connections_closed,
        m.curr_connections
    );
}

#[test]
fn callbacks_may_call_back_into_the_client_and_may_panic() {
    let nodes = TestCluster::start(2).unwrap();
    let seen = Arc::new(parking_lot_free::Slot::default());
    let s2 = seen.clone();
    let client_slot: Arc<std::sync::Mutex<Option<cluster_client::ClusterManagement>>> =
        Arc::default();
    let cs = client_slot.clone();
    let client = fast_builder(&nodes)
        .unhealthy_after(1)
        .on_node_unhealthy(move |h| {
            let healthy = cs.lock().unwrap().as_ref().map(|m| m.healthy_nodes().len());
            s2.set(format!("{h} {healthy:?}"));
            panic!("a callback that panics must not take the client down");
        })
        .build()
        .unwrap();
    *client_slot.lock().unwrap() = Some(client.cluster_management());
    nodes.node(0).go_down();
    let _ = client.create_group("g");
    assert!(wait_for(Duration::from_secs(5), || seen.get().is_some()));
    assert_eq!(
        seen.get().unwrap(),
        format!("{} Some(1)", nodes.node(0).url())
    );
    // The background thread survived the panic: probing still works.
    nodes.node(0).come_up().unwrap();
    assert!(wait_for(Duration::from_secs(10), || {
        let _ = client.request("GET", "/_api/version", None);
        client.cluster_management().unhealthy_nodes().is_empty()
    }));
    client_slot.lock().unwrap().take();
}

/// A tiny shared cell (keeps the test free of extra crates).
mod parking_lot_free {
    #[derive(Default)]
    pub struct Slot(std::sync::Mutex<Option<String>>);
    impl Slot {
        pub fn set(&self, v: String) {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
        }
        pub fn get(&self) -> Option<String> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }
}

#[test]
fn shutdown_ends_calls_in_flight_and_refuses_later_ones() {
    let nodes = TestCluster::start(2).unwrap();
    nodes
        .node(1)
        .inject(FaultRule::new(Fault::NeverAnswer).method("POST"));
    let client = fast_builder(&nodes)
        .request_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    std::thread::scope(|s| {
        let c = client.clone();
        let call = s.spawn(move || {
            let start = Instant::now();
            let r = c.create_group("g");
            (r, start.elapsed())
        });
        assert!(wait_for(Duration::from_secs(5), || nodes
            .node(1)
            .count_requests("POST")
            == 1));
        client.shutdown();
        let (r, took) = call.join().unwrap();
        assert!(r.is_err());
        assert!(took < Duration::from_secs(5), "returned after {took:?}");
    });
    assert!(matches!(client.create_group("h"), Err(Error::Shutdown)));
    assert!(matches!(client.delete_group("g"), Err(Error::Shutdown)));
    assert!(matches!(
        client.request("GET", "/", None),
        Err(Error::Shutdown)
    ));
    assert!(matches!(client.cluster().server_id(), Err(Error::Shutdown)));
}

#[test]
fn pool_metrics_follow_their_definitions() {
    let nodes = TestCluster::start(2).unwrap();
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    nodes.node(1).fail_next("POST", 1, 500);
    let _ = client.create_group("g");
    let m = client.cluster_management().connection_pool_metrics();
    let m0 = m[&host(&nodes, 0)];
    let m1 = m[&host(&nodes, 1)];
    // node 0: POST 201 + DELETE (rollback) answered; node 1: POST 500.
    assert_eq!(m0.operations_executed, 2, "{m0:?}");
    assert_eq!(m0.operations_executed_with_error, 0);
    assert_eq!(m1.operations_executed, 0, "{m1:?}");
    assert_eq!(m1.operations_executed_with_error, 1);
    for (h, x) in &m {
        assert_eq!(
            x.connections_created - x.connections_closed,
            x.curr_connections,
            "{h}"
        );
    }
}

#[test]
fn management_lists_nodes_in_configured_order() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_client(&nodes);
    let expected: Vec<HostAddress> = (0..3).map(|i| host(&nodes, i)).collect();
    assert_eq!(client.cluster_management().nodes(), expected);
}

#[test]
fn an_http_probe_path_brings_a_node_back() {
    let nodes = TestCluster::start(2).unwrap();
    let client = fast_builder(&nodes)
        .unhealthy_after(1)
        .probe_path("/health")
        .basic_auth("probe-user", "probe-pass")
        .build()
        .unwrap();
    nodes.node(1).go_down();
    assert!(client.create_group("g").is_err());
    assert_eq!(
        client.cluster_management().unhealthy_nodes(),
        vec![host(&nodes, 1)]
    );
    nodes.node(1).come_up().unwrap();
    assert!(wait_for(Duration::from_secs(10), || {
        nodes.node(1).count_requests_to("GET", "/health") > 0
    }));
    let probe = nodes
        .node(1)
        .requests()
        .into_iter()
        .find(|r| r.path == "/health")
        .unwrap();
    assert!(
        probe.header("authorization").is_some(),
        "the probe carries the client's headers"
    );
    assert!(wait_for(Duration::from_secs(10), || {
        let _ = client.request("GET", "/_api/version", None);
        client.cluster_management().unhealthy_nodes().is_empty()
    }));
}
