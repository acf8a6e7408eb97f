//! Cluster administration against a 3-node testkit cluster: every call,
//! asserting the values the nodes hold, failover, and typed errors.

mod common;

use std::time::Duration;

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{Error, HealthRole, HostResolver, MaintenanceMode, ServerRole, ServerStatus};
use common::fast_builder;

fn fallback_client(nodes: &TestCluster) -> cluster_client::ClusterClient {
    fast_builder(nodes)
        .host_resolver(HostResolver::Fallback)
        .build()
        .unwrap()
}

#[test]
fn server_id_and_role_come_from_the_node_that_answered() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    let c = client.cluster();
    assert_eq!(c.server_id().unwrap(), nodes.node(0).server_id());
    assert_eq!(c.server_role().unwrap(), ServerRole::Coordinator);
    nodes.node(0).set_role("PRIMARY");
    assert_eq!(c.server_role().unwrap(), ServerRole::Primary);
    nodes.node(0).set_role("SOMETHING_NEW");
    assert_eq!(
        c.server_role().unwrap(),
        ServerRole::Other("SOMETHING_NEW".into())
    );
}

#[test]
fn health_lists_every_server_and_shows_a_down_one_as_failed() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    let h = client.cluster().health().unwrap();
    assert_eq!(h.cluster_id, "test-cluster");
    assert_eq!(h.servers.len(), 3);
    for n in nodes.nodes() {
        let s = &h.servers[&n.server_id()];
        assert_eq!(s.status, "GOOD");
        assert_eq!(s.role, "Coordinator");
        assert_eq!(
            s.endpoint.as_deref(),
            Some(format!("tcp://127.0.0.1:{}", n.port()).as_str())
        );
    }
    nodes.node(2).go_down();
    let h = client.cluster().health().unwrap();
    assert_eq!(h.servers[&nodes.node(2).server_id()].status, "FAILED");
    assert_eq!(h.servers[&nodes.node(1).server_id()].status, "GOOD");
}

#[test]
fn roles_and_statuses_are_typed_and_still_compare_with_their_names() {
    let nodes = TestCluster::start(2).unwrap();
    let client = fallback_client(&nodes);
    let c = client.cluster();
    let role = c.server_role().unwrap();
    assert_eq!(role, "COORDINATOR");
    assert_eq!(role.as_str(), "COORDINATOR");
    assert_eq!(format!("[{role:<12}]"), "[COORDINATOR ]");
    nodes.node(1).set_role("PRIMARY");
    let h = c.health().unwrap();
    let first = &h.servers[&nodes.node(0).server_id()];
    assert_eq!(first.role, HealthRole::Coordinator);
    assert_eq!(first.status, ServerStatus::Good);
    let second = &h.servers[&nodes.node(1).server_id()];
    assert_eq!(second.role, HealthRole::DbServer);
    assert_eq!(second.role, "DBServer");
    assert_eq!(second.role.to_string(), "DBServer");
}

#[test]
fn unknown_roles_and_statuses_a_node_sends_are_kept_as_sent() {
    let nodes = TestCluster::start(2).unwrap();
    let client = fallback_client(&nodes);
    // The testkit spells an unknown role the health report's way.
    nodes.node(1).set_role("OBSERVER");
    let h = client.cluster().health().unwrap();
    assert_eq!(
        h.servers[&nodes.node(1).server_id()].role,
        HealthRole::Other("Observer".into())
    );
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: br#"{"ClusterId":"c","Health":{"S1":{"Role":"Witness","Status":"UNCLEAR"},"S2":{}}}"#
                .to_vec(),
        })
        .path_prefix("/_admin/cluster/health"),
    );
    let h = client.cluster().health().unwrap();
    let s1 = &h.servers["S1"];
    assert_eq!(s1.role, HealthRole::Other("Witness".into()));
    assert_eq!(s1.status, ServerStatus::Other("UNCLEAR".into()));
    assert_eq!(s1.status, "UNCLEAR");
    // Nothing sent: empty names, as before.
    let s2 = &h.servers["S2"];
    assert_eq!((s2.role.as_str(), s2.status.as_str()), ("", ""));
}

#[test]
fn server_count_adds_the_non_null_counts_or_counts_health_entries() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    assert_eq!(client.cluster().server_count().unwrap(), 3);
    // A cluster that reports no counts at all: health() decides.
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: br#"{"numberOfCoordinators":null,"numberOfDBServers":null,"error":false,"code":200}"#.to_vec(),
        })
        .path_prefix("/_admin/cluster/numberOfServers"),
    );
    assert_eq!(client.cluster().server_count().unwrap(), 3);
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: br#"{"numberOfCoordinators":2,"numberOfDBServers":3}"#.to_vec(),
        })
        .path_prefix("/_admin/cluster/numberOfServers"),
    );
    assert_eq!(client.cluster().server_count().unwrap(), 5);
}

#[test]
fn engine_version_and_statistics_of_a_server() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    let c = client.cluster();
    let id = nodes.node(1).server_id();
    let engine = c.server_engine(&id).unwrap();
    assert_eq!(engine.name, "rocksdb");
    assert!(engine.supports.is_object());
    let version = c.server_version(&id).unwrap();
    assert_eq!(
        (version.server.as_str(), version.version.as_str()),
        ("arango", "3.11.0")
    );
    let stats = c.server_statistics(&id).unwrap();
    assert!(stats.time > 0.0);
    assert!(stats.enabled);
    assert!(stats.system.get("numberOfThreads").is_some());
    let req = nodes
        .node(0)
        .requests()
        .into_iter()
        .find(|r| r.path.contains("nodeEngine"))
        .unwrap();
    assert_eq!(
        req.path,
        format!("/_admin/cluster/nodeEngine?ServerID={id}")
    );
}

#[test]
fn an_arango_error_body_becomes_a_typed_error() {
    let nodes = TestCluster::start(2).unwrap();
    let client = fallback_client(&nodes);
    match client
        .cluster()
        .server_engine("no-such-server")
        .unwrap_err()
    {
        e @ Error::Arango { .. } => {
            let text = e.to_string();
            if let Error::Arango {
                error_num,
                status,
                ref message,
                ..
            } = e
            {
                assert_eq!(error_num, 1477);
                assert_eq!(status, 404);
                assert!(
                    text.contains("1477") && text.contains(message.as_str()),
                    "{text}"
                );
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cluster_maintenance_is_visible_on_the_nodes() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    client
        .cluster()
        .toggle_maintenance_mode(MaintenanceMode::On)
        .unwrap();
    assert!(nodes.nodes().iter().all(|n| n.maintenance()));
    let put = nodes
        .node(0)
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path, "/_admin/cluster/maintenance");
    assert_eq!(put.body_str(), "\"on\"");
    client
        .cluster()
        .toggle_maintenance_mode(MaintenanceMode::Off)
        .unwrap();
    assert!(nodes.nodes().iter().all(|n| !n.maintenance()));
}

#[test]
fn server_maintenance_round_trip() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    let c = client.cluster();
    let id = nodes.node(2).server_id();
    assert_eq!(c.server_maintenance_mode(&id).unwrap(), None);
    c.toggle_server_maintenance_mode(&id, MaintenanceMode::On, Some(Duration::from_secs(90)))
        .unwrap();
    let (mode, timeout) = nodes.node(0).server_maintenance(&id).unwrap();
    assert_eq!((mode.as_str(), timeout), ("maintenance", 90));
    let m = c.server_maintenance_mode(&id).unwrap().unwrap();
    assert_eq!(m.mode, "maintenance");
    assert!(m.until.is_some());
    c.toggle_server_maintenance_mode(&id, MaintenanceMode::Off, None)
        .unwrap();
    assert_eq!(c.server_maintenance_mode(&id).unwrap(), None);
}

#[test]
fn endpoints_lists_every_coordinator() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    let mut endpoints = client.cluster().endpoints().unwrap();
    endpoints.sort();
    let mut expected: Vec<String> = nodes
        .nodes()
        .iter()
        .map(|n| format!("tcp://127.0.0.1:{}", n.port()))
        .collect();
    expected.sort();
    assert_eq!(endpoints, expected);
}

#[test]
fn a_down_coordinator_is_failed_over() {
    let nodes = TestCluster::start(3).unwrap();
    let client = fallback_client(&nodes);
    nodes.node(0).go_down();
    assert_eq!(
        client.cluster().server_id().unwrap(),
        nodes.node(1).server_id()
    );
    nodes.node(1).fail_next("GET", 1, 503);
    assert_eq!(
        client.cluster().server_id().unwrap(),
        nodes.node(2).server_id()
    );
}

#[test]
fn garbage_and_wrong_types_are_typed_errors_naming_node_and_path() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fallback_client(&nodes);
    let c = client.cluster();
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::InvalidJson).path_prefix("/_admin/server/id"));
    match c.server_id().unwrap_err() {
        Error::UnexpectedResponse {
            host, path, status, ..
        } => {
            assert_eq!(host.to_string(), nodes.node(0).url());
            assert_eq!(path, "/_admin/server/id");
            assert_eq!(status, 200);
        }
        other => panic!("{other:?}"),
    }
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::WrongContentType).path_prefix("/_admin/cluster/health"));
    assert!(matches!(c.health(), Err(Error::UnexpectedResponse { .. })));
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: br#"{"role": 5}"#.to_vec(),
        })
        .path_prefix("/_admin/server/role"),
    );
    assert!(matches!(
        c.server_role(),
        Err(Error::UnexpectedResponse { .. })
    ));
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: br#"{"ClusterId": "x", "Health": ["not", "a", "map"]}"#.to_vec(),
        })
        .path_prefix("/_admin/cluster/health"),
    );
    assert!(matches!(c.health(), Err(Error::UnexpectedResponse { .. })));
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 500,
            content_type: "text/plain".into(),
            body: b"boom".to_vec(),
        })
        .path_prefix("/_admin/server/id"),
    );
    match c.server_id().unwrap_err() {
        Error::UnexpectedResponse { status, .. } => assert_eq!(status, 500),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_database_prefix_is_applied() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fast_builder(&nodes).database("my db").build().unwrap();
    assert_eq!(
        client.cluster().server_id().unwrap(),
        nodes.node(0).server_id()
    );
    let r = &nodes.node(0).requests()[0];
    assert_eq!(r.path, "/_db/my%20db/_admin/server/id");
}

#[test]
fn basic_auth_is_sent() {
    let nodes = TestCluster::start(1).unwrap();
    let client = fast_builder(&nodes)
        .basic_auth("root", "open sesame")
        .build()
        .unwrap();
    client.cluster().server_id().unwrap();
    let r = &nodes.node(0).requests()[0];
    // base64("root:open sesame")
    assert_eq!(
        r.header("authorization"),
        Some("Basic cm9vdDpvcGVuIHNlc2FtZQ==")
    );
}
