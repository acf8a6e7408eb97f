//! Retry budget, deadlines and concurrency under faults.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{HostAddress, RetryBudget, RetryPolicy};
use common::fast_builder;

#[test]
fn the_retry_budget_bounds_retries_when_the_whole_cluster_fails() {
    let nodes = TestCluster::start(3).unwrap();
    for n in nodes.nodes() {
        n.inject(FaultRule::status(503).always());
    }
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::exponential(
            5,
            Duration::from_millis(1),
            Duration::from_millis(4),
        ))
        .retry_budget(RetryBudget::new(0.2, 0.0))
        .operation_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let calls = 50;
    for _ in 0..calls {
        let start = Instant::now();
        let failed = client.delete_group("g").unwrap();
        assert_eq!(failed.len(), 3);
        assert!(start.elapsed() < Duration::from_secs(2) + Duration::from_millis(500));
    }
    let sent: usize = nodes
        .nodes()
        .iter()
        .map(|n| n.count_requests("DELETE"))
        .sum();
    let first_attempts = calls * 3;
    // Without a budget: 5 attempts each = 750 requests.
    assert!(sent >= first_attempts, "{sent}");
    assert!(
        sent <= first_attempts + first_attempts / 5 + 1,
        "retries over budget: {sent}"
    );

    // A rollback after such a burst is exempt from the budget and completes.
    for n in nodes.nodes() {
        n.clear_faults();
    }
    nodes.node(2).fail_next("POST", 1, 400);
    nodes.node(0).fail_next("DELETE", 2, 503);
    let err = client.create_group("after-burst").unwrap_err();
    match err {
        cluster_client::Error::GroupOperation {
            rollback_failed_hosts,
            ..
        } => {
            assert!(
                rollback_failed_hosts.is_empty(),
                "rollback starved: {rollback_failed_hosts:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(nodes.nodes_with_group("after-burst").is_empty());
    assert!(nodes.node(0).count_requests_to("DELETE", "/v1/group/") >= 3);
}

#[test]
fn every_call_returns_by_its_operation_deadline() {
    let nodes = TestCluster::start(3).unwrap();
    for n in nodes.nodes() {
        n.inject(FaultRule::new(Fault::NeverAnswer).always());
    }
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::exponential(
            10,
            Duration::from_millis(50),
            Duration::from_millis(200),
        ))
        .request_timeout(Duration::from_millis(300))
        .operation_timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let start = Instant::now();
    assert!(client.create_group("g").is_err());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "create took {:?}",
        start.elapsed()
    );
    let start = Instant::now();
    assert_eq!(client.delete_group("g").unwrap().len(), 3);
    // Without the deadline, 10 attempts of 300 ms plus backoff would take
    // over 4 s; the bound leaves room for a loaded machine.
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "delete took {:?}",
        start.elapsed()
    );
    let start = Instant::now();
    assert!(client.request("GET", "/_api/version", None).is_err());
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "request took {:?}",
        start.elapsed()
    );
}

#[test]
fn thirty_two_threads_of_mixed_operations_under_faults() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_builder(&nodes)
        .max_connections_per_node(4)
        .request_timeout(Duration::from_millis(400))
        .operation_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let stop = AtomicBool::new(false);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    std::thread::scope(|s| {
        // Fault injector: short bursts of 503s, drops and delays, bounded in count.
        s.spawn(|| {
            for round in 0..200 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let n = nodes.node(round % 3);
                match round % 4 {
                    0 => n.fail_next("POST", 1, 503),
                    1 => n.inject(FaultRule::new(Fault::Drop).method("GET")),
                    2 => n.inject(FaultRule::new(Fault::Delay(Duration::from_millis(20)))),
                    _ => n.fail_next("DELETE", 1, 503),
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let workload = s.spawn(|| {
            std::thread::scope(|w| {
                for t in 0..32 {
                    let c = client.clone();
                    let host: HostAddress = nodes.node(t % 3).url().parse().unwrap();
                    w.spawn(move || {
                        for i in 0..15 {
                            let id = format!("t{t}-g{i}");
                            let _ = c.create_group(&id);
                            let _ = c.verify_group(&host, &id);
                            if i % 3 == 0 {
                                let _ = c.cluster().server_id();
                            }
                            let _ = c.delete_group(&id);
                        }
                    });
                }
            });
            let _ = done_tx.send(());
        });
        let finished = done_rx.recv_timeout(Duration::from_secs(120)).is_ok();
        stop.store(true, Ordering::SeqCst);
        assert!(
            finished,
            "watchdog: 32 threads did not finish in 120 s (deadlock?)"
        );
        workload.join().expect("no worker panicked");
    });
    let m = client.cluster_management().connection_pool_metrics();
    for (host, x) in m {
        assert_eq!(
            x.connections_created - x.connections_closed,
            x.curr_connections,
            "{host}: {x:?}"
        );
        assert!(x.curr_connections <= 4, "{host}: {x:?}");
        assert!(x.operations_executed > 0);
    }
}
