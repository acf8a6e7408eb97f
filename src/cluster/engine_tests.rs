//! The engine on scripted in-memory nodes: fan-out, retry rounds,
//! one-node failover, the resolver, stops. No socket is opened.

use std::sync::Arc;

use super::testing::{nodes, scripted};
use super::*;
use crate::error::NodeError;
use crate::node::link::scripted::Step;
use crate::request::{Method, RequestPath};

fn post() -> Method {
    Method::parse("POST").expect("a method")
}

fn path(p: &str) -> RequestPath {
    RequestPath::parse(p).expect("a path")
}

fn create_op(cluster: &Cluster, id: &str) -> Arc<Operation> {
    let body = format!(r#"{{"groupId":"{id}"}}"#).into_bytes();
    Arc::new(cluster.operation(post(), "/v1/group/".to_string(), Some(body), true, None))
}

fn get(cluster: &Cluster, path: &str, idempotent: bool) -> Arc<Operation> {
    Arc::new(cluster.operation(Method::GET, path.to_string(), None, idempotent, None))
}

fn statuses(outcomes: &[NodeOutcome]) -> Vec<Option<u16>> {
    outcomes
        .iter()
        .map(|o| o.outcome.as_ref().ok().map(|a| a.status))
        .collect()
}

#[test]
fn a_fan_out_reaches_every_target_and_answers_in_target_order() {
    let n = nodes(3);
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[2, 0, 1],
        create_op(&c, "g"),
        &c.default_scope().spec(),
    );
    assert_eq!(
        out.iter().map(|o| o.node).collect::<Vec<_>>(),
        vec![2, 0, 1]
    );
    assert_eq!(statuses(&out), vec![Some(201); 3]);
    assert!(n.iter().all(|x| x.has_group("g")));
}

#[test]
fn a_round_retries_only_the_nodes_that_failed_retryably() {
    let n = nodes(3);
    n[1].then("POST", Step::Status(503));
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[0, 1, 2],
        create_op(&c, "g"),
        &c.default_scope().spec(),
    );
    assert_eq!(statuses(&out), vec![Some(201); 3]);
    assert_eq!(
        [n[0].seen("POST"), n[1].seen("POST"), n[2].seen("POST")],
        [1, 2, 1]
    );
    assert_eq!(out[1].attempts, 2);
}

#[test]
fn a_final_status_is_not_retried() {
    let n = nodes(2);
    n[0].then("POST", Step::Status(400));
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[0, 1],
        create_op(&c, "g"),
        &c.default_scope().spec(),
    );
    assert_eq!(statuses(&out), vec![Some(400), Some(201)]);
    assert_eq!(n[0].seen("POST"), 1);
}

#[test]
fn retries_stop_at_max_attempts_with_the_last_answer() {
    let n = nodes(1);
    for _ in 0..5 {
        n[0].then("POST", Step::Status(503));
    }
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[0],
        create_op(&c, "g"),
        &c.default_scope().spec(),
    );
    assert_eq!(statuses(&out), vec![Some(503)]);
    assert_eq!(n[0].seen("POST"), 3, "the policy's 3 attempts");
}

#[test]
fn a_lost_answer_is_retried_when_idempotent_and_remembered_as_unknown() {
    let n = nodes(1);
    n[0].then("POST", Step::ApplyThenLost);
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[0],
        create_op(&c, "g"),
        &c.default_scope().spec(),
    );
    assert_eq!(
        statuses(&out),
        vec![Some(409)],
        "the retry finds its own group"
    );
    assert!(out[0].earlier_unknown);
}

#[test]
fn a_lost_answer_is_not_retried_when_not_idempotent() {
    let n = nodes(1);
    n[0].then("GET", Step::Lost);
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[0],
        get(&c, "/x", false),
        &c.default_scope().spec(),
    );
    assert!(matches!(out[0].outcome, Err(NodeError::NoAnswer(_))));
    assert_eq!(n[0].seen("GET"), 1);
}

#[test]
fn a_refused_connection_is_retried_even_when_not_idempotent() {
    let n = nodes(1);
    n[0].then("GET", Step::Refused);
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[0],
        get(&c, "/x", false),
        &c.default_scope().spec(),
    );
    assert_eq!(statuses(&out), vec![Some(404)]);
}

#[test]
fn a_panic_in_an_exchange_is_that_nodes_failure() {
    let n = nodes(2);
    n[0].then("POST", Step::Panic);
    let c = scripted(&n, |s| s.policy = RetryPolicy::none());
    let out = c.fan_out(
        &c.nodes(),
        &[0, 1],
        create_op(&c, "g"),
        &c.default_scope().spec(),
    );
    assert!(matches!(out[0].outcome, Err(NodeError::Internal(_))));
    assert_eq!(statuses(&out)[1], Some(201));
}

#[test]
fn a_retry_after_past_the_max_delay_gives_up_with_that_answer() {
    let n = nodes(1);
    n[0].then("POST", Step::RetryAfter("3600".into()));
    let c = scripted(&n, |_| {});
    let out = c.fan_out(
        &c.nodes(),
        &[0],
        create_op(&c, "g"),
        &c.default_scope().spec(),
    );
    assert_eq!(statuses(&out), vec![Some(503)]);
    assert_eq!(n[0].seen("POST"), 1);
}

#[test]
fn a_one_node_call_fails_over_at_once_on_a_refused_connection() {
    let n = nodes(2);
    n[0].set_down(true);
    let c = scripted(&n, |s| s.resolver = HostResolver::Fallback);
    let r = c
        .request_one(
            &c.default_scope(),
            &Method::GET,
            path("/_admin/server/id"),
            None,
        )
        .unwrap();
    assert_eq!((r.host, r.status), (c.nodes()[1].address.clone(), 200));
}

#[test]
fn a_one_node_call_moves_on_after_a_503() {
    let n = nodes(2);
    n[0].then("GET", Step::Status(503));
    let c = scripted(&n, |s| s.resolver = HostResolver::Fallback);
    let r = c
        .request_one(
            &c.default_scope(),
            &Method::GET,
            path("/_admin/server/id"),
            None,
        )
        .unwrap();
    assert_eq!(r.host, c.nodes()[1].address);
    assert_eq!((n[0].seen("GET"), n[1].seen("GET")), (1, 1));
}

#[test]
fn a_one_node_call_without_any_answer_names_every_node_tried() {
    let n = nodes(3);
    for x in &n {
        x.set_down(true);
    }
    let c = scripted(&n, |_| {});
    let e = c
        .request_one(&c.default_scope(), &Method::GET, path("/"), None)
        .unwrap_err();
    let mut hosts = e.failed_hosts();
    hosts.sort();
    let mut all: Vec<HostAddress> = c.nodes().iter().map(|x| x.address.clone()).collect();
    all.sort();
    assert_eq!(hosts, all);
}

#[test]
fn when_every_node_answers_503_the_last_answer_is_returned() {
    let n = nodes(2);
    for x in &n {
        for _ in 0..3 {
            x.then("GET", Step::Status(503));
        }
    }
    let c = scripted(&n, |_| {});
    let r = c
        .request_one(&c.default_scope(), &Method::GET, path("/"), None)
        .unwrap();
    assert_eq!(r.status, 503);
}

#[test]
fn round_robin_starts_each_call_at_the_next_node() {
    let n = nodes(3);
    let c = scripted(&n, |_| {});
    for _ in 0..3 {
        c.request_one(
            &c.default_scope(),
            &Method::GET,
            path("/_admin/server/id"),
            None,
        )
        .unwrap();
    }
    assert!(n.iter().all(|x| x.seen("GET") == 1));
}

#[test]
fn request_to_asks_that_node_alone_and_names_it_when_it_gives_no_answer() {
    let n = nodes(2);
    n[1].set_down(true);
    let c = scripted(&n, |s| s.policy = RetryPolicy::none());
    let scope = c.default_scope();
    let (h0, h1) = (c.nodes()[0].address.clone(), c.nodes()[1].address.clone());
    let r = c
        .request_to(&scope, &h0, &Method::GET, path("/_admin/server/id"), None)
        .unwrap();
    assert_eq!((r.host, r.status), (h0, 200));
    match c.request_to(&scope, &h1, &Method::GET, path("/_admin/server/id"), None) {
        Err(Error::Request { message, attempts }) => {
            assert_eq!(message, "GET /_admin/server/id got no answer from any node");
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].host, h1);
            assert!(matches!(attempts[0].error, NodeError::Connect(_)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(n[0].seen("GET"), 1, "the other node is never asked");
}

#[test]
fn request_to_a_stranger_or_after_a_stop_sends_nothing() {
    let n = nodes(1);
    let c = scripted(&n, |_| {});
    let stranger: HostAddress = "http://192.0.2.1:9".parse().unwrap();
    let mut scope = c.default_scope();
    assert!(matches!(
        c.request_to(&scope, &stranger, &Method::GET, path("/"), None),
        Err(Error::UnknownHost(h)) if h == stranger
    ));
    let token = CancelToken::new();
    token.cancel();
    scope.cancel = Some(token);
    let h0 = c.nodes()[0].address.clone();
    assert!(matches!(
        c.request_to(&scope, &h0, &Method::GET, path("/"), None),
        Err(Error::Cancelled)
    ));
    c.shutdown();
    assert!(matches!(
        c.request_to(&c.default_scope(), &h0, &Method::GET, path("/"), None),
        Err(Error::Shutdown)
    ));
    assert_eq!(n[0].seen("GET"), 0);
}

#[test]
fn the_resolver_skips_unhealthy_nodes() {
    let n = nodes(2);
    n[0].set_down(true);
    let c = scripted(&n, |s| {
        s.unhealthy_after = 1;
        s.resolver = HostResolver::Fallback;
    });
    // The first call finds node 0 down and marks it unhealthy.
    c.request_one(&c.default_scope(), &Method::GET, path("/"), None)
        .unwrap();
    assert!(!c.nodes()[0].is_healthy());
    n[0].set_down(false);
    for _ in 0..3 {
        c.request_one(&c.default_scope(), &Method::GET, path("/"), None)
            .unwrap();
    }
    assert_eq!(n[0].seen("GET"), 0, "an unhealthy node is skipped");
}

#[test]
fn a_cancelled_call_sends_nothing_and_says_so() {
    let n = nodes(2);
    let c = scripted(&n, |_| {});
    let token = CancelToken::new();
    token.cancel();
    let mut scope = c.default_scope();
    scope.cancel = Some(token);
    let out = c.fan_out(&c.nodes(), &[0, 1], create_op(&c, "g"), &scope.spec());
    assert!(out
        .iter()
        .all(|o| matches!(o.outcome, Err(NodeError::Cancelled))));
    assert!(matches!(
        c.request_one(&scope, &Method::GET, path("/"), None),
        Err(Error::Cancelled)
    ));
    assert_eq!(n[0].seen("POST") + n[1].seen("POST") + n[0].seen("GET"), 0);
}

#[test]
fn after_shutdown_only_compensations_go_through() {
    let n = nodes(2);
    let c = scripted(&n, |_| {});
    c.shutdown();
    let scope = c.default_scope();
    let plain = c.fan_out(&c.nodes(), &[0, 1], create_op(&c, "g"), &scope.spec());
    assert!(plain
        .iter()
        .all(|o| matches!(o.outcome, Err(NodeError::Shutdown))));
    let sheltered = c.fan_out(
        &c.nodes(),
        &[0, 1],
        create_op(&c, "g"),
        &scope.compensation(),
    );
    assert_eq!(statuses(&sheltered), vec![Some(201); 2]);
}
