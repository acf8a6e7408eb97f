//! Hostile nodes: huge, dripping, garbage, truncated, mistyped and silent
//! answers. Each call returns a typed error within its time bound, nothing
//! panics, and health counts it as DESIGN.md defines.

mod common;

use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, Error, HostAddress, NodeError, NodeFailure, RetryPolicy};
use common::fast_builder;

fn one_node(fault: Fault) -> (TestCluster, ClusterClient, HostAddress) {
    let nodes = TestCluster::start(1).unwrap();
    nodes.node(0).inject(FaultRule::new(fault).always());
    let client = fast_builder(&nodes)
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_millis(600))
        .operation_timeout(Duration::from_secs(3))
        .unhealthy_after(1)
        .build()
        .unwrap();
    let host = nodes.node(0).url().parse().unwrap();
    (nodes, client, host)
}

/// Runs `verify_group` against the hostile node and returns its node error and how long it took.
fn verify_error(client: &ClusterClient, host: &HostAddress) -> (NodeError, Duration) {
    let start = Instant::now();
    let err = client.verify_group(host, "g").unwrap_err();
    let took = start.elapsed();
    match err {
        Error::Request { mut attempts, .. } => (attempts.remove(0).error, took),
        other => panic!("expected Error::Request, got {other:?}"),
    }
}

fn failed_attempts(client: &ClusterClient, host: &HostAddress) -> u64 {
    client.cluster_management().connection_pool_metrics()[host].operations_executed_with_error
}

#[test]
fn a_20_mib_body_stops_at_the_limit() {
    let (_nodes, client, host) = one_node(Fault::HugeBody(20 * 1024 * 1024));
    // A group operation is decided by the status line: 200 is "exists",
    // however long the body.
    let start = Instant::now();
    assert!(client.verify_group(&host, "g").unwrap());
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(failed_attempts(&client, &host), 1);
    assert_eq!(
        client.cluster_management().unhealthy_nodes(),
        vec![host.clone()]
    );
    let m = client.cluster_management().connection_pool_metrics()[&host];
    assert_eq!(
        m.curr_connections, 0,
        "a connection with an unread body is not reused: {m:?}"
    );
    assert_eq!(m.connections_closed, m.connections_created, "{m:?}");
    // Any other request reports the oversized answer as an error.
    match client.request("GET", "/anything", None).unwrap_err() {
        Error::Request { attempts, .. } => {
            assert_eq!(
                attempts[0].error,
                NodeError::BodyTooLarge { limit: 1024 * 1024 }
            )
        }
        other => panic!("{other:?}"),
    }
    // request_to says so the same way: one answer handling serves both.
    match client
        .request_to(&host, "GET", "/anything", None)
        .unwrap_err()
    {
        Error::Request { message, attempts } => {
            assert_eq!(
                attempts,
                vec![NodeFailure {
                    host: host.clone(),
                    error: NodeError::BodyTooLarge { limit: 1024 * 1024 }
                }]
            );
            assert_eq!(message, "GET /anything: every answer was too large");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_dripping_body_is_cut_by_the_request_timeout() {
    let (_nodes, client, host) = one_node(Fault::Drip(Duration::from_millis(100)));
    let (err, took) = verify_error(&client, &host);
    assert!(matches!(err, NodeError::NoAnswer(_)), "{err:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(failed_attempts(&client, &host), 1);
}

#[test]
fn garbage_is_a_protocol_error() {
    let (_nodes, client, host) = one_node(Fault::Garbage);
    let (err, took) = verify_error(&client, &host);
    assert!(
        matches!(err, NodeError::Protocol(_) | NodeError::NoAnswer(_)),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(3));
    assert_eq!(failed_attempts(&client, &host), 1);
}

#[test]
fn a_body_closed_midway_is_an_error() {
    let (_nodes, client, host) = one_node(Fault::CloseMidBody);
    let (err, _) = verify_error(&client, &host);
    assert!(
        matches!(err, NodeError::Protocol(_) | NodeError::NoAnswer(_)),
        "{err:?}"
    );
    assert_eq!(failed_attempts(&client, &host), 1);
}

#[test]
fn a_node_that_never_answers_is_cut_by_the_request_timeout() {
    let (_nodes, client, host) = one_node(Fault::NeverAnswer);
    let (err, took) = verify_error(&client, &host);
    assert!(matches!(err, NodeError::NoAnswer(_)), "{err:?}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_dropped_connection_without_answer_is_an_error() {
    let (_nodes, client, host) = one_node(Fault::Drop);
    let (err, _) = verify_error(&client, &host);
    assert!(err.outcome_unknown(), "{err:?}");
}

#[test]
fn a_malformed_2xx_is_the_callers_error_not_the_nodes() {
    for fault in [Fault::InvalidJson, Fault::WrongContentType] {
        let (_nodes, client, host) = one_node(fault.clone());
        for _ in 0..3 {
            match client.cluster().server_id() {
                Err(Error::UnexpectedResponse { status: 200, .. }) => {}
                other => panic!("{fault:?}: {other:?}"),
            }
        }
        let m = client.cluster_management().connection_pool_metrics()[&host];
        assert_eq!(m.operations_executed, 3, "{fault:?}: {m:?}");
        assert_eq!(m.operations_executed_with_error, 0);
        assert!(
            client.cluster_management().unhealthy_nodes().is_empty(),
            "{fault:?}"
        );
    }
}

#[test]
fn a_hostile_node_during_create_is_reported_and_the_rest_rolled_back() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(1).inject(
        FaultRule::new(Fault::HugeBody(20 * 1024 * 1024))
            .method("POST")
            .always(),
    );
    let client = fast_builder(&nodes).build().unwrap();
    let err = client.create_group("g").unwrap_err();
    match err {
        Error::GroupOperation {
            failed_hosts,
            failures,
            possible_orphans,
            ..
        } => {
            let hostile = nodes.node(1).url().parse::<HostAddress>().unwrap();
            assert_eq!(failed_hosts, vec![hostile.clone()]);
            // The status line decides: a 200 to a create is not the API's
            // 201, and a success status may mean the group was made there.
            assert_eq!(failures[0].error.status(), Some(200), "{failures:?}");
            assert_eq!(possible_orphans, vec![hostile]);
        }
        other => panic!("{other:?}"),
    }
    assert!(nodes.nodes_with_group("g").is_empty());
}

/// Of ureq's two liveness probes between requests (when an answered
/// connection goes back to its pool, and when it is taken out), the first
/// is skipped: the second decides. A node that closes after a whole answer
/// (without `Connection: close`), or sends bytes past the body, must still
/// never have that connection reused: the next calls succeed on a new one.
#[test]
fn a_connection_the_node_closed_or_soiled_after_answering_is_not_reused() {
    let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_vec();
    let mut soiled = whole.clone();
    soiled.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\nleftover bytes");
    for raw in [whole, soiled] {
        let nodes = TestCluster::start(1).unwrap();
        nodes
            .node(0)
            .inject(FaultRule::new(Fault::Raw(raw.clone())).times(1));
        let client = fast_builder(&nodes)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let host: HostAddress = nodes.node(0).url().parse().unwrap();
        assert!(client.verify_group(&host, "g").unwrap(), "the raw 200");
        // The node's close reaches the client's socket (loopback): what
        // the probe before the next request sees.
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..5 {
            assert!(!client.verify_group(&host, "g").unwrap(), "a normal 404");
        }
        let m = client.cluster_management().connection_pool_metrics()[&host];
        let shown = String::from_utf8_lossy(&raw).into_owned();
        assert_eq!(m.operations_executed_with_error, 0, "{shown:?}: {m:?}");
        assert_eq!(m.connections_created, 2, "{shown:?}: {m:?}");
        assert_eq!(nodes.node(0).accepted_connections(), 2, "{shown:?}");
    }
}
