//! The group saga against in-process test nodes over real HTTP: the reference
//! client's scenarios plus the data-safety rules of DESIGN.md.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, Error, HostAddress, NodeError, RetryPolicy};
use common::{fast_builder, fast_client, host};

fn group_error(err: Error) -> (Vec<HostAddress>, Vec<HostAddress>, Vec<HostAddress>) {
    match err {
        Error::GroupOperation {
            failed_hosts,
            rollback_failed_hosts,
            possible_orphans,
            ..
        } => (failed_hosts, rollback_failed_hosts, possible_orphans),
        other => panic!("expected GroupOperation, got {other:?}"),
    }
}

#[test]
fn create_succeeds_on_every_node_with_one_request_id() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_client(&nodes);
    client.create_group("example-group").unwrap();
    assert_eq!(nodes.nodes_with_group("example-group"), vec![0, 1, 2]);
    let mut ids = HashSet::new();
    for n in nodes.nodes() {
        assert_eq!(n.count_requests("POST"), 1);
        assert_eq!(n.count_requests("GET"), 1);
        for r in n.requests() {
            let id = r
                .header("x-request-id")
                .expect("every request carries X-Request-Id");
            ids.insert(id.to_string());
        }
        let post = n
            .requests()
            .into_iter()
            .find(|r| r.method == "POST")
            .unwrap();
        assert_eq!(post.path, "/v1/group/");
        let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(body, serde_json::json!({"groupId": "example-group"}));
    }
    assert_eq!(ids.len(), 1, "one saga, one request id: {ids:?}");
    for i in 0..3 {
        assert!(client
            .verify_group(&host(&nodes, i), "example-group")
            .unwrap());
    }
}

#[test]
fn a_400_on_one_node_rolls_back_everywhere_and_is_not_retried() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(1).fail_next("POST", 1, 400);
    let client = fast_client(&nodes);
    let (failed, rollback_failed, orphans) = group_error(client.create_group("g").unwrap_err());
    assert_eq!(failed, vec![host(&nodes, 1)]);
    assert!(rollback_failed.is_empty());
    assert!(orphans.is_empty());
    assert!(nodes.nodes_with_group("g").is_empty());
    assert_eq!(nodes.node(1).count_requests("POST"), 1, "400 is final");
    // Rolled back exactly where it was created.
    assert_eq!(nodes.node(0).count_requests("DELETE"), 1);
    assert_eq!(nodes.node(1).count_requests("DELETE"), 0);
}

#[test]
fn a_500_on_one_node_rolls_back_everywhere() {
    let nodes = TestCluster::start(3).unwrap();
    nodes
        .node(2)
        .inject(FaultRule::status(500).method("POST").always());
    let client = fast_client(&nodes);
    let err = client.create_group("g").unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    let (failed, _, orphans) = group_error(err);
    assert_eq!(failed, vec![host(&nodes, 2)]);
    assert!(orphans.is_empty());
    assert!(nodes.nodes_with_group("g").is_empty());
}

#[test]
fn a_refused_connection_is_retried_then_rolled_back() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(2).go_down();
    let client = fast_client(&nodes);
    let err = client.create_group("g").unwrap_err();
    let reasons = match &err {
        Error::GroupOperation { failures, .. } => failures.clone(),
        _ => unreachable!(),
    };
    let (failed, rollback_failed, orphans) = group_error(err);
    assert_eq!(failed, vec![host(&nodes, 2)]);
    assert!(
        matches!(reasons[0].error, NodeError::Connect(_)),
        "{reasons:?}"
    );
    assert!(rollback_failed.is_empty());
    assert!(
        orphans.is_empty(),
        "a refused request never left: nothing unknown"
    );
    assert!(nodes.nodes_with_group("g").is_empty());
    let m = client.cluster_management().connection_pool_metrics()[&host(&nodes, 2)];
    assert_eq!(m.connections_created_with_error, 3, "3 attempts: {m:?}");
    assert_eq!(m.connections_created, 0);
}

#[test]
fn timeouts_are_retried_and_the_unknown_node_is_reported_not_deleted() {
    let nodes = TestCluster::start(3).unwrap();
    // Node 1 applies every create, but only after the client gave up waiting.
    nodes.node(1).inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(400)))
            .method("POST")
            .always(),
    );
    let client = fast_builder(&nodes)
        .request_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let (failed, rollback_failed, orphans) = group_error(client.create_group("g").unwrap_err());
    assert_eq!(failed, vec![host(&nodes, 1)]);
    assert_eq!(orphans, vec![host(&nodes, 1)]);
    assert!(rollback_failed.is_empty());
    assert!(common::wait_for(Duration::from_secs(5), || nodes
        .node(1)
        .count_requests("POST")
        == 3));
    assert!(!nodes.node(0).has_group("g"));
    assert!(!nodes.node(2).has_group("g"));
    assert_eq!(
        nodes.node(1).count_requests("DELETE"),
        0,
        "never delete an unknown node"
    );
}

#[test]
fn a_lost_answer_followed_by_409_is_a_possible_orphan() {
    let nodes = TestCluster::start(3).unwrap();
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::ApplyThenDrop).method("POST"));
    nodes.node(2).fail_next("POST", 1, 400);
    let client = fast_client(&nodes);
    let (failed, _, orphans) = group_error(client.create_group("g").unwrap_err());
    assert_eq!(failed, vec![host(&nodes, 2)]);
    assert_eq!(orphans, vec![host(&nodes, 0)]);
    assert!(
        nodes.node(0).has_group("g"),
        "the orphan is reported, not deleted"
    );
    assert!(!nodes.node(1).has_group("g"));
}

#[test]
fn a_lost_answer_then_409_counts_as_created_when_all_succeed() {
    let nodes = TestCluster::start(3).unwrap();
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::ApplyThenDrop).method("POST"));
    let client = fast_client(&nodes);
    client.create_group("g").unwrap();
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
    assert_eq!(nodes.node(0).count_requests("POST"), 2);
}

#[test]
fn a_failed_verification_rolls_back_every_node() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(2).inject(
        FaultRule::status(404)
            .method("GET")
            .path_prefix("/v1/group/"),
    );
    let client = fast_client(&nodes);
    let (failed, rollback_failed, _) = group_error(client.create_group("g").unwrap_err());
    assert_eq!(failed, vec![host(&nodes, 2)]);
    assert!(rollback_failed.is_empty());
    assert!(nodes.nodes_with_group("g").is_empty());
    assert_eq!(nodes.node(2).count_requests("GET"), 1, "404 is final");
    for n in nodes.nodes() {
        assert_eq!(n.count_requests("DELETE"), 1);
    }
}

#[test]
fn a_failed_rollback_is_reported_with_its_reason() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(1).fail_next("POST", 1, 400);
    nodes
        .node(0)
        .inject(FaultRule::status(500).method("DELETE").always());
    let client = fast_client(&nodes);
    let err = client.create_group("g").unwrap_err();
    match &err {
        Error::GroupOperation {
            rollback_failures, ..
        } => {
            assert_eq!(rollback_failures.len(), 1);
            assert_eq!(rollback_failures[0].error.status(), Some(500));
        }
        _ => unreachable!(),
    }
    let (failed, rollback_failed, _) = group_error(err);
    assert_eq!(failed, vec![host(&nodes, 1)]);
    assert_eq!(rollback_failed, vec![host(&nodes, 0)]);
    assert_eq!(
        nodes.nodes_with_group("g"),
        vec![0],
        "the group the rollback could not delete is reported"
    );
}

#[test]
fn a_pre_existing_group_survives_a_failed_create() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(0).insert_group("g");
    nodes.node(2).fail_next("POST", 1, 400);
    let client = fast_client(&nodes);
    let (failed, _, orphans) = group_error(client.create_group("g").unwrap_err());
    assert_eq!(failed, vec![host(&nodes, 2)]);
    assert!(orphans.is_empty());
    assert!(nodes.node(0).has_group("g"), "409: not this saga's to undo");
    assert_eq!(nodes.node(0).count_requests("DELETE"), 0);
    assert!(!nodes.node(1).has_group("g"));
}

#[test]
fn re_running_a_create_converges() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(1).insert_group("g");
    let client = fast_client(&nodes);
    client.create_group("g").unwrap();
    client.create_group("g").unwrap();
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
}

#[test]
fn two_503s_then_201_succeeds_with_three_posts() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(1).fail_next("POST", 2, 503);
    let client = fast_client(&nodes);
    client.create_group("g").unwrap();
    assert_eq!(nodes.node(1).count_requests("POST"), 3);
    assert_eq!(
        nodes.node(0).count_requests("POST"),
        1,
        "only the failed node is retried"
    );
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
}

#[test]
fn retry_after_is_honoured() {
    let nodes = TestCluster::start(2).unwrap();
    nodes.node(0).inject(
        FaultRule::new(Fault::Status {
            status: 503,
            retry_after: Some("1".into()),
        })
        .method("POST"),
    );
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(5),
            Duration::from_secs(2),
        ))
        .build()
        .unwrap();
    let start = Instant::now();
    client.create_group("g").unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(nodes.node(0).count_requests("POST"), 2);
}

#[test]
fn a_retry_after_beyond_the_policy_gives_up_with_that_answer() {
    let nodes = TestCluster::start(2).unwrap();
    nodes.node(0).inject(
        FaultRule::new(Fault::Status {
            status: 503,
            retry_after: Some("120".into()),
        })
        .method("POST"),
    );
    let client = fast_client(&nodes);
    let err = client.create_group("g").unwrap_err();
    match &err {
        Error::GroupOperation { failures, .. } => assert_eq!(failures[0].error.status(), Some(503)),
        _ => panic!("{err:?}"),
    }
    assert_eq!(nodes.node(0).count_requests("POST"), 1);
    assert!(nodes.nodes_with_group("g").is_empty());
}

#[test]
fn delete_succeeds_everywhere_and_404_counts_as_deleted() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(0).insert_group("g");
    nodes.node(1).insert_group("g");
    let client = fast_client(&nodes);
    assert!(client.delete_group("g").unwrap().is_empty());
    assert!(nodes.nodes_with_group("g").is_empty());
    let del = nodes
        .node(2)
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(del.path, "/v1/group/");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&del.body).unwrap(),
        serde_json::json!({"groupId": "g"})
    );
}

#[test]
fn a_partial_delete_returns_exactly_the_failed_host() {
    let nodes = TestCluster::start(3).unwrap();
    for n in nodes.nodes() {
        n.insert_group("g");
    }
    nodes
        .node(1)
        .inject(FaultRule::status(500).method("DELETE").always());
    let client = fast_client(&nodes);
    assert_eq!(client.delete_group("g").unwrap(), vec![host(&nodes, 1)]);
    let report = client.delete_group_report("g").unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].error.status(), Some(500));
    assert_eq!(nodes.nodes_with_group("g"), vec![1]);
}

#[test]
fn invalid_ids_are_refused_before_any_request() {
    let nodes = TestCluster::start(2).unwrap();
    let client = fast_client(&nodes);
    for bad in ["", "..", "a/b", "a\\b", "a\nb"] {
        assert!(
            matches!(client.create_group(bad), Err(Error::InvalidGroupId { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(client.delete_group(bad), Err(Error::InvalidGroupId { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(
        client.create_group(&"x".repeat(256)),
        Err(Error::InvalidGroupId { .. })
    ));
    for n in nodes.nodes() {
        assert_eq!(n.request_count(), 0);
    }
}

#[test]
fn ids_are_percent_encoded_in_paths_and_json_encoded_in_bodies() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fast_client(&nodes);
    let id = "a b?c#d%2Fü\"";
    client.create_group(id).unwrap();
    assert!(nodes.node(0).has_group(id));
    let get = nodes
        .node(0)
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    assert_eq!(get.path, "/v1/group/a%20b%3Fc%23d%252F%C3%BC%22/");
    assert!(client.verify_group(&host(&nodes, 0), id).unwrap());
    assert!(client.delete_group(id).unwrap().is_empty());
    assert!(!nodes.node(0).has_group(id));
}

#[test]
fn verify_tells_presence_and_refuses_unknown_hosts() {
    let nodes = TestCluster::start(2).unwrap();
    nodes.node(1).insert_group("g");
    let client = fast_client(&nodes);
    assert!(!client.verify_group(&host(&nodes, 0), "g").unwrap());
    assert!(client.verify_group(&host(&nodes, 1), "g").unwrap());
    let stranger: HostAddress = "http://127.0.0.1:1".parse().unwrap();
    assert!(matches!(
        client.verify_group(&stranger, "g"),
        Err(Error::UnknownHost(_))
    ));
}

#[test]
fn five_concurrent_creates_and_deletes() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fast_client(&nodes);
    let ids: Vec<String> = (0..5).map(|i| format!("group-{i}")).collect();
    std::thread::scope(|s| {
        for id in &ids {
            let c = client.clone();
            s.spawn(move || c.create_group(id).unwrap());
        }
    });
    for id in &ids {
        assert_eq!(nodes.nodes_with_group(id), vec![0, 1, 2]);
    }
    std::thread::scope(|s| {
        for id in &ids {
            let c = client.clone();
            s.spawn(move || assert!(c.delete_group(id).unwrap().is_empty()));
        }
    });
    for n in nodes.nodes() {
        assert!(n.groups().is_empty());
    }
}

#[test]
fn fan_out_reaches_all_eight_nodes_at_once() {
    let nodes = TestCluster::start(8).unwrap();
    let client = fast_client(&nodes);
    // Each create waits at the nodes until all eight are in flight: a
    // fan-out that sent them one by one would time out instead.
    nodes.hold_until_in_flight(8);
    nodes.reset_peak();
    client.create_group("g").unwrap();
    assert_eq!(
        nodes.peak_in_flight(),
        8,
        "all eight creates were in flight together"
    );
}

#[test]
fn sequential_operations_reuse_connections() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fast_builder(&nodes)
        .max_connections_per_node(2)
        .build()
        .unwrap();
    let h = host(&nodes, 0);
    for _ in 0..200 {
        client.verify_group(&h, "g").unwrap();
    }
    let m = client.cluster_management().connection_pool_metrics()[&h];
    assert!(m.connections_created <= 2, "{m:?}");
    assert_eq!(m.connections_created, nodes.node(0).accepted_connections());
    assert_eq!(
        m.connections_created - m.connections_closed,
        m.curr_connections
    );
    assert_eq!(m.operations_executed, 200);
}

#[test]
fn the_default_retry_policy_is_the_reference_clients() {
    let p = RetryPolicy::default();
    assert_eq!(p.max_attempts(), 3);
    assert_eq!(p.max_delay(), Duration::from_secs(10));
    let _ = ClusterClient::new(["http://127.0.0.1:9"]).unwrap();
}

#[test]
fn verify_everywhere_asks_every_node_at_once() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(0).insert_group("g");
    nodes.node(2).insert_group("g");
    nodes.node(1).inject(FaultRule::status(500).always());
    let client = fast_client(&nodes);
    let presence = client.verify_group_everywhere("g").unwrap();
    assert_eq!(presence.len(), 3);
    assert_eq!(presence[0], (host(&nodes, 0), Ok(true)));
    assert_eq!(presence[1].0, host(&nodes, 1));
    assert_eq!(presence[1].1.as_ref().unwrap_err().status(), Some(500));
    assert_eq!(presence[2], (host(&nodes, 2), Ok(true)));
    assert!(matches!(
        client.verify_group_everywhere("a/b"),
        Err(Error::InvalidGroupId { .. })
    ));
}

#[test]
fn a_node_given_by_name_is_resolved_and_reused() {
    let nodes = TestCluster::start(1).unwrap();
    let by_name = format!("http://localhost:{}", nodes.node(0).port());
    let client = ClusterClient::builder()
        .hosts([by_name.as_str()])
        .retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(5),
            Duration::from_millis(20),
        ))
        .build()
        .unwrap();
    for i in 0..20 {
        client.create_group(&format!("n{i}")).unwrap();
    }
    assert_eq!(nodes.node(0).groups().len(), 20);
    let h: HostAddress = by_name.parse().unwrap();
    let m = client.cluster_management().connection_pool_metrics()[&h];
    assert_eq!(m.operations_executed, 40, "{m:?}");
}

#[test]
fn delete_outcomes_tell_deleted_from_already_absent() {
    use cluster_client::NodeDeletion;
    let nodes = TestCluster::start(4).unwrap();
    let client = fast_client(&nodes);
    nodes.node(0).insert_group("d");
    nodes.node(2).insert_group("d");
    // Applied, then the connection dropped: the retry finds it gone.
    nodes.node(2).inject(
        FaultRule::new(Fault::ApplyThenDrop)
            .method("DELETE")
            .times(1),
    );
    nodes.node(3).go_down();
    let outcomes = client.delete_group_outcomes("d").unwrap();
    let hosts: Vec<String> = outcomes.iter().map(|(h, _)| h.to_string()).collect();
    assert_eq!(hosts, nodes.urls());
    assert_eq!(outcomes[0].1, NodeDeletion::Deleted);
    assert_eq!(outcomes[1].1, NodeDeletion::AlreadyAbsent);
    assert_eq!(outcomes[2].1, NodeDeletion::Gone);
    assert!(
        matches!(outcomes[3].1, NodeDeletion::Failed(_)),
        "{outcomes:?}"
    );
    assert!(nodes.nodes_with_group("d").is_empty());
    // delete_group_report names the same failed node, and only it.
    let failed = client.delete_group_report("d").unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].host.as_str(), nodes.node(3).url());
}
