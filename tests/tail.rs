//! Tail latency: the least-loaded balancer, hedged reads and the answer-time
//! histograms, against test nodes. Counts, not clocks, decide (the bench
//! checks speed): the bounds on time below only catch a hang.

// Closures here return the library's `Error` by value (the variant users
// match on); its size is the library's documented choice.
#![allow(clippy::result_large_err)]

mod common;

use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{CallOptions, ClientConfig, ClusterClient, Hedging, HostResolver};
use common::{fast_builder, host};

const PATH: &str = "/_admin/server/id";

fn slow(nodes: &TestCluster, i: usize, d: Duration) {
    nodes.node(i).inject(
        FaultRule::new(Fault::Delay(d))
            .method("GET")
            .path_prefix(PATH)
            .always(),
    );
}

fn gets(nodes: &TestCluster, i: usize) -> usize {
    nodes.node(i).count_requests("GET")
}

#[test]
fn least_loaded_sends_few_requests_to_a_slow_node() {
    let nodes = TestCluster::start(3).unwrap();
    slow(&nodes, 0, Duration::from_millis(60));
    let c = fast_builder(&nodes)
        .host_resolver(HostResolver::LeastLoaded)
        .build()
        .unwrap();
    for _ in 0..60 {
        assert_eq!(c.request("GET", PATH, None).unwrap().status, 200);
    }
    let slow_share = gets(&nodes, 0);
    assert!(
        slow_share <= 10,
        "the slow node got {slow_share} of 60 (round robin: 20)"
    );
    assert_eq!(gets(&nodes, 0) + gets(&nodes, 1) + gets(&nodes, 2), 60);
    let lat = c.cluster_management().latency();
    assert!(lat[&host(&nodes, 1)].count > 0);
}

fn hedging_client(nodes: &TestCluster, hedging: Hedging) -> ClusterClient {
    fast_builder(nodes)
        .host_resolver(HostResolver::Fallback)
        .unhealthy_after(1)
        .hedging(hedging)
        .build()
        .unwrap()
}

#[test]
fn a_slow_read_is_hedged_to_a_second_node_and_the_first_answer_wins() {
    let nodes = TestCluster::start(2).unwrap();
    slow(&nodes, 0, Duration::from_secs(1));
    let c = hedging_client(
        &nodes,
        Hedging::after(Duration::from_millis(30)).budget_percent(100.0),
    );
    let start = Instant::now();
    let r = c.request("GET", PATH, None).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.host, host(&nodes, 1));
    let m = c.cluster_management();
    let hedges = m.hedges();
    assert_eq!((hedges.sent, hedges.won), (1, 1));
    // The abandoned attempt is not the slow node's failure.
    std::thread::sleep(Duration::from_millis(1200));
    assert!(m.unhealthy_nodes().is_empty());
    assert_eq!(
        m.connection_pool_metrics()[&host(&nodes, 0)].operations_executed_with_error,
        0
    );
    assert!(m
        .prometheus()
        .contains("cluster_client_hedges_won_total{node=\""));
    // Administration reads hedge too.
    assert!(c.cluster().server_id().is_ok());
    assert_eq!(m.hedges().sent, 2);
}

#[test]
fn writes_and_group_operations_never_hedge() {
    let nodes = TestCluster::start(2).unwrap();
    for i in 0..2 {
        nodes.node(i).inject(
            FaultRule::new(Fault::Delay(Duration::from_millis(100)))
                .method("POST")
                .always(),
        );
    }
    let c = hedging_client(
        &nodes,
        Hedging::after(Duration::from_millis(1)).budget_percent(100.0),
    );
    c.create_group("g").unwrap();
    assert_eq!(nodes.node(0).count_requests("POST"), 1);
    assert_eq!(nodes.node(1).count_requests("POST"), 1);
    let _ = c.request("POST", "/x", Some(b"{}")).unwrap();
    assert_eq!(c.cluster_management().hedges().sent, 0);
}

#[test]
fn hedging_can_be_turned_off_per_call_and_is_bounded_by_its_budget() {
    let nodes = TestCluster::start(2).unwrap();
    slow(&nodes, 0, Duration::from_millis(80));
    let c = hedging_client(
        &nodes,
        Hedging::after(Duration::from_millis(5)).budget_percent(10.0),
    );
    let off = c.with_options(CallOptions::new().hedging(false));
    off.request("GET", PATH, None).unwrap();
    assert_eq!(c.cluster_management().hedges().sent, 0);
    for _ in 0..30 {
        c.request("GET", PATH, None).unwrap();
    }
    let sent = c.cluster_management().hedges().sent;
    // One token at the start, then 10 % of 30 requests.
    assert!(
        (1..=4).contains(&sent),
        "{sent} hedges for 30 requests at 10 %"
    );
}

#[test]
fn the_config_file_sets_the_balancer_and_hedging() {
    let nodes = TestCluster::start(2).unwrap();
    let text = |delay: &str, budget: &str| {
        format!(
            "hosts = [{:?}, {:?}]\nhost_resolver = \"least_loaded\"\n[hedging]\nenabled = true\ndelay = {delay:?}\nbudget_percent = {budget}\n",
            nodes.node(0).url(),
            nodes.node(1).url()
        )
    };
    for ok in ["p90", "20ms"] {
        let c = ClientConfig::from_toml(&text(ok, "10")).unwrap();
        ClusterClient::builder().config(c).build().unwrap();
    }
    for (delay, budget, key) in [
        ("p100", "10", "hedging.delay"),
        ("soon", "10", "hedging.delay"),
        ("p90", "150", "hedging.budget_percent"),
    ] {
        let e = ClientConfig::from_toml(&text(delay, budget))
            .and_then(|c| ClusterClient::builder().config(c).build())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(key) && e.contains("line"),
            "{delay} {budget}: {e}"
        );
    }
}
