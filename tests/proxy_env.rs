//! Environment proxy variables are ignored unless the builder enables them.
//!
//! This binary sets process environment variables, so it holds this one
//! test only.

mod common;

use cluster_client::testkit::TestNode;
use cluster_client::{Error, HostAddress, NodeError};

/// A closed port on loopback: a proxy there refuses every connection.
const CLOSED_PROXY: &str = "http://127.0.0.1:9";

#[test]
fn environment_proxy_is_used_only_when_enabled() {
    for name in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(name, CLOSED_PROXY);
    }
    let node = TestNode::start().expect("node starts");
    let host: HostAddress = node.url().parse().expect("valid host");

    // Default: the proxy variables are ignored, requests reach the node.
    let direct = common::fast_builder_for([node.url()])
        .build()
        .expect("client builds");
    direct
        .create_group("proxy-ignored")
        .expect("the node is reached directly");
    assert!(node.has_group("proxy-ignored"));
    let reached = node.request_count();
    assert!(reached >= 2, "create and verify reached the node");

    // Enabled: every request goes to the (closed) proxy; nothing reaches the node.
    let proxied = common::fast_builder_for([node.url()])
        .use_env_proxy(true)
        .build()
        .expect("client builds");
    let err = proxied
        .create_group("proxy-used")
        .expect_err("the proxy at a closed port refuses");
    match &err {
        Error::GroupOperation {
            failed_hosts,
            failures,
            possible_orphans,
            ..
        } => {
            assert_eq!(failed_hosts, &vec![host.clone()]);
            assert!(possible_orphans.is_empty(), "nothing was sent: {err}");
            assert!(
                failures
                    .iter()
                    .all(|f| matches!(f.error, NodeError::Connect(_))),
                "expected connect failures: {err}"
            );
        }
        other => panic!("expected Error::GroupOperation, got {other:?}"),
    }
    assert_eq!(node.request_count(), reached, "nothing reached the node");
    assert!(!node.has_group("proxy-used"));
}
