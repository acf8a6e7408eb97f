//! Bad input: every hostile group id or host string is either a typed error
//! before any request, or a well-formed request whose path has exactly the
//! expected segments (checked on what the node received).

mod common;

use cluster_client::testkit::TestCluster;
use cluster_client::{ClusterClient, Error, HostAddress};
use proptest::prelude::*;

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

#[test]
fn hostile_group_ids_are_refused_or_sent_as_one_segment() {
    let nodes = TestCluster::start(1).unwrap();
    let client = common::fast_client(&nodes);
    let refused = [
        "/", "a/b", "../x", "..", ".", "a\\b", "a\u{0}b", "a\rb", "\u{7f}", "",
    ];
    for id in refused {
        assert!(
            matches!(client.create_group(id), Err(Error::InvalidGroupId { .. })),
            "{id:?}"
        );
    }
    let long = "x".repeat(10 * 1024);
    assert!(matches!(
        client.create_group(&long),
        Err(Error::InvalidGroupId { .. })
    ));
    assert_eq!(
        nodes.node(0).request_count(),
        0,
        "no request for a refused id"
    );

    let accepted = [
        "%2F",
        "%2e%2e",
        "a?b",
        "a#b",
        "with space",
        "ünïcødé",
        "日本",
        "a+b",
        "...",
        "\"q\"",
    ];
    for id in accepted {
        nodes.node(0).clear_requests();
        client
            .create_group(id)
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
        assert!(nodes.node(0).has_group(id), "{id:?} stored as sent");
        let get = nodes
            .node(0)
            .requests()
            .into_iter()
            .find(|r| r.method == "GET")
            .unwrap();
        let segs = segments(&get.path);
        assert_eq!(segs.len(), 3, "{id:?} -> {}", get.path);
        assert_eq!(&segs[..2], &["v1", "group"]);
        assert!(
            !get.path.contains('?') && !get.path.contains('#'),
            "{}",
            get.path
        );
        let post = nodes
            .node(0)
            .requests()
            .into_iter()
            .find(|r| r.method == "POST")
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(body["groupId"], *id);
        assert!(client.delete_group(id).unwrap().is_empty());
        assert!(!nodes.node(0).has_group(id));
    }
}

#[test]
fn hostile_host_strings_are_typed_errors() {
    let cases = [
        "127.0.0.1:8000",
        "localhost",
        "http://user:password@127.0.0.1:8000",
        "http://127.0.0.1:8000/api",
        "http://127.0.0.1:8000?x=1",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:-1",
        "http://127.0.0.1:",
        "gopher://127.0.0.1:70",
        "http://[::1",
        "http://::1:80",
        "http:// 127.0.0.1",
    ];
    for h in cases {
        match ClusterClient::new([h]) {
            Err(Error::InvalidHost { .. }) => {}
            other => panic!("{h:?}: {other:?}"),
        }
    }
    assert!(matches!(
        ClusterClient::new(["http://127.0.0.1:8000", "http://127.0.0.1:8000/"]),
        Err(Error::InvalidHost { .. })
    ));
    assert!(matches!(
        ClusterClient::new(Vec::<String>::new()),
        Err(Error::NoHosts)
    ));
    assert!(matches!(
        ClusterClient::builder().hosts_str(" , ,").build(),
        Err(Error::NoHosts)
    ));
    let v6 = HostAddress::parse("http://[::1]:8000").unwrap();
    assert_eq!(v6.to_string(), "http://[::1]:8000");
    assert!(ClusterClient::new(["http://[::1]:8000"]).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_host_string_parses_or_errors_without_panicking(s in ".{0,80}") {
        let _ = HostAddress::parse(&s);
        let _ = HostAddress::parse_list(&s);
    }

    #[test]
    fn valid_hosts_round_trip_through_display(
        tls in any::<bool>(),
        name in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        port in 1u16..,
    ) {
        let scheme = if tls { "https" } else { "http" };
        let text = format!("{scheme}://{name}:{port}");
        let a = HostAddress::parse(&text).unwrap();
        prop_assert_eq!(a.port(), port);
        let again = HostAddress::parse(&format!("{a}")).unwrap();
        prop_assert_eq!(&again, &a);
        let upper = HostAddress::parse(&format!("{}/", text.to_uppercase())).unwrap();
        prop_assert_eq!(upper, a);
    }
}

#[test]
fn group_ids_round_trip_through_a_real_node() {
    let nodes = TestCluster::start(1).unwrap();
    let client = common::fast_client(&nodes);
    let host: HostAddress = nodes.node(0).url().parse().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    runner
        .run(&"[^/\\\\\\p{Cc}]{1,40}", |id| {
            if id == "." || id == ".." {
                return Ok(());
            }
            client.create_group(&id).unwrap();
            prop_assert!(nodes.node(0).has_group(&id), "stored as sent: {:?}", id);
            prop_assert!(client.verify_group(&host, &id).unwrap());
            prop_assert!(client.delete_group(&id).unwrap().is_empty());
            prop_assert!(!nodes.node(0).has_group(&id));
            Ok(())
        })
        .unwrap();
}

/// A path that cannot go on the wire as it is: the caller's error, before
/// anything is sent, never the node's (no attempt, no metric, no health).
#[test]
fn a_bad_request_path_is_the_callers_error_and_sends_nothing() {
    let nodes = TestCluster::start(2).unwrap();
    let client = common::fast_builder(&nodes)
        .unhealthy_after(1)
        .build()
        .unwrap();
    let bad = [
        "/a<b>", "/a`b", "/a\"b", "/a{b}", "/a|b", "/a^b", "/a\\b", "/a b", "/a#b", "/%zz", "/%4",
        "/é", "no-slash", "/a\u{1}b", "/a[b]",
    ];
    let host = common::host(&nodes, 0);
    for path in bad {
        let err = client.request("GET", path, None).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{path:?}: {err}");
        assert!(err.is_invalid_input());
        let err = client.request_to(&host, "GET", path, None).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{path:?}: {err}");
    }
    for method in ["G ET", "", "GET\r\n", "PÖST", &"X".repeat(33)] {
        let err = client.request(method, "/", None).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{method:?}: {err}");
    }
    let m = client.cluster_management();
    assert_eq!(m.unhealthy_nodes(), Vec::<HostAddress>::new());
    for (h, metrics) in m.connection_pool_metrics() {
        assert_eq!(metrics.operations_executed_with_error, 0, "{h}");
        assert_eq!(metrics.operations_executed, 0, "{h}");
        assert_eq!(metrics.connections_created, 0, "{h}");
    }
    for n in nodes.nodes() {
        assert_eq!(n.request_count(), 0);
    }
    // Percent-encoded, the same characters go through as they are.
    let ok = client
        .request("GET", "/a%3Cb%3E?x=%7B1%7D&y=a:b@c", None)
        .unwrap();
    assert_eq!(ok.status, 404);
    let sent: Vec<String> = nodes
        .nodes()
        .iter()
        .flat_map(|n| n.requests())
        .map(|r| r.path.clone())
        .collect();
    assert!(sent.iter().any(|p| p.starts_with("/a%3Cb%3E")), "{sent:?}");
}
