//! A living node set: nodes added and removed at runtime, against test
//! nodes. A call works on the node set it started with; a removed node
//! takes no new calls, finishes the ones it has, then closes its
//! connections; nodes that stay keep their pools, health and metrics.

// Closures here return the library's `Error` by value (the variant users
// match on); its size is the library's documented choice.
#![allow(clippy::result_large_err)]

mod common;

use std::time::Duration;

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{Error, HostAddress};
use common::{fast_builder, host, wait_for};

#[test]
fn nodes_are_added_and_removed_and_checked() {
    let nodes = TestCluster::start(3).unwrap();
    let c = fast_builder(&nodes)
        .hosts(&nodes.urls()[..2])
        .build()
        .unwrap();
    for bad in ["", "ftp://x", "http://"] {
        assert!(
            matches!(c.add_node(bad), Err(Error::InvalidConfig(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        c.add_node(nodes.node(0).url()),
        Err(Error::InvalidConfig(_))
    ));
    c.add_node(nodes.node(2).url()).unwrap();
    let m = c.cluster_management();
    assert_eq!(
        m.nodes(),
        vec![host(&nodes, 0), host(&nodes, 1), host(&nodes, 2)]
    );
    c.create_group("g").unwrap();
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
    let absent: HostAddress = "http://127.0.0.1:9".parse().unwrap();
    assert!(!c.remove_node(&absent).unwrap());
    assert!(c.remove_node(&host(&nodes, 0)).unwrap());
    assert_eq!(m.nodes(), vec![host(&nodes, 1), host(&nodes, 2)]);
    assert!(!m.connection_pool_metrics().contains_key(&host(&nodes, 0)));
    let before = nodes.node(0).request_count();
    c.create_group("h").unwrap();
    assert_eq!(nodes.nodes_with_group("h"), vec![1, 2]);
    assert_eq!(nodes.node(0).request_count(), before, "no new calls");
    assert!(c.remove_node(&host(&nodes, 1)).unwrap());
    assert!(
        matches!(
            c.remove_node(&host(&nodes, 2)),
            Err(Error::InvalidConfig(_))
        ),
        "the last node stays"
    );
    c.shutdown();
    assert!(matches!(
        c.add_node(nodes.node(0).url()),
        Err(Error::Shutdown)
    ));
}

#[test]
fn set_nodes_keeps_the_nodes_that_stay() {
    let nodes = TestCluster::start(3).unwrap();
    let c = fast_builder(&nodes)
        .hosts(&nodes.urls()[..2])
        .build()
        .unwrap();
    c.create_group("g").unwrap();
    let m = c.cluster_management();
    let kept = m.connection_pool_metrics()[&host(&nodes, 1)];
    assert!(kept.operations_executed >= 2);
    for bad in [
        vec![],
        vec![nodes.node(1).url(), nodes.node(1).url()],
        vec!["nope".to_string()],
    ] {
        assert!(
            matches!(c.set_nodes(&bad), Err(Error::InvalidConfig(_))),
            "{bad:?}"
        );
    }
    assert_eq!(
        m.nodes(),
        vec![host(&nodes, 0), host(&nodes, 1)],
        "nothing changed"
    );
    c.set_nodes([nodes.node(1).url(), nodes.node(2).url()])
        .unwrap();
    assert_eq!(m.nodes(), vec![host(&nodes, 1), host(&nodes, 2)]);
    let now = m.connection_pool_metrics();
    assert_eq!(
        now[&host(&nodes, 1)],
        kept,
        "the node that stayed kept its metrics"
    );
    assert_eq!(now[&host(&nodes, 2)].operations_executed, 0);
    assert!(!now.contains_key(&host(&nodes, 0)));
}

#[test]
fn a_saga_works_on_the_node_set_it_started_with() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(0).inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(400)))
            .method("POST")
            .times(1),
    );
    let c = fast_builder(&nodes)
        .hosts(&nodes.urls()[..2])
        .build()
        .unwrap();
    std::thread::scope(|s| {
        let creating = s.spawn(|| c.create_group("g"));
        assert!(wait_for(Duration::from_secs(5), || nodes
            .node(1)
            .has_group("g")));
        // Mid-saga: node 1 leaves, node 2 joins.
        assert!(c.remove_node(&host(&nodes, 1)).unwrap());
        c.add_node(nodes.node(2).url()).unwrap();
        creating.join().unwrap().unwrap();
    });
    assert_eq!(
        nodes.nodes_with_group("g"),
        vec![0, 1],
        "the saga's own snapshot"
    );
    // Later calls see the new set.
    c.create_group("h").unwrap();
    assert_eq!(nodes.nodes_with_group("h"), vec![0, 2]);
}

#[test]
fn a_removed_node_finishes_its_calls_then_closes_its_connections() {
    let nodes = TestCluster::start(2).unwrap();
    let c = fast_builder(&nodes)
        .host_resolver(cluster_client::HostResolver::Fallback)
        .build()
        .unwrap();
    c.request("GET", "/_admin/server/id", None).unwrap();
    nodes.node(0).inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(300)))
            .method("GET")
            .times(1),
    );
    std::thread::scope(|s| {
        let asking = s.spawn(|| c.request("GET", "/_admin/server/id", None));
        assert!(wait_for(Duration::from_secs(5), || nodes
            .node(0)
            .request_count()
            >= 2));
        assert!(c.remove_node(&host(&nodes, 0)).unwrap());
        let answer = asking.join().unwrap().unwrap();
        assert_eq!(
            answer.host,
            host(&nodes, 0),
            "the call in flight finished there"
        );
    });
    assert!(
        wait_for(Duration::from_secs(5), || nodes.node(0).open_connections()
            == 0),
        "the removed node's connections close"
    );
    let r = c.request("GET", "/_admin/server/id", None).unwrap();
    assert_eq!(r.host, host(&nodes, 1));
}

#[test]
fn refresh_nodes_follows_the_coordinators_the_cluster_reports() {
    let nodes = TestCluster::start(3).unwrap();
    let c = fast_builder(&nodes)
        .hosts(&nodes.urls()[..1])
        .build()
        .unwrap();
    nodes.node(0).inject(
        FaultRule::status(503)
            .method("GET")
            .path_prefix("/_api/cluster/endpoints")
            .always(),
    );
    assert!(c.refresh_nodes().is_err());
    assert_eq!(
        c.cluster_management().nodes(),
        vec![host(&nodes, 0)],
        "unchanged"
    );
    nodes.node(0).clear_faults();
    let found = c.refresh_nodes().unwrap();
    assert_eq!(
        found,
        vec![host(&nodes, 0), host(&nodes, 1), host(&nodes, 2)]
    );
    assert_eq!(c.cluster_management().nodes(), found);
    c.create_group("g").unwrap();
    assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
}

#[test]
fn discovery_on_the_background_thread() {
    let nodes = TestCluster::start(3).unwrap();
    let c = fast_builder(&nodes)
        .hosts(&nodes.urls()[..1])
        .discovery_interval(Duration::from_millis(30))
        .build()
        .unwrap();
    assert!(wait_for(Duration::from_secs(5), || c
        .cluster_management()
        .nodes()
        .len()
        == 3));
    let text = format!(
        "hosts = [{:?}]\n[discovery]\ninterval = \"30ms\"\n",
        nodes.node(0).url()
    );
    let config = cluster_client::ClientConfig::from_toml(&text).unwrap();
    let from_file = cluster_client::ClusterClient::builder()
        .config(config)
        .build()
        .unwrap();
    assert!(wait_for(Duration::from_secs(5), || from_file
        .cluster_management()
        .nodes()
        .len()
        == 3));
    let bad = cluster_client::ClientConfig::from_toml(
        "hosts = [\"http://127.0.0.1:1\"]\n[discovery]\ninterval = \"soon\"\n",
    );
    assert!(
        bad.is_err()
            || bad
                .and_then(|c| cluster_client::ClusterClient::builder().config(c).build())
                .is_err()
    );
}

#[test]
fn a_connection_older_than_its_lifetime_is_replaced() {
    let nodes = TestCluster::start(1).unwrap();
    let c = fast_builder(&nodes)
        .max_connection_lifetime(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    c.request("GET", "/_admin/server/id", None).unwrap();
    c.request("GET", "/_admin/server/id", None).unwrap();
    assert_eq!(nodes.node(0).accepted_connections(), 1, "young: reused");
    std::thread::sleep(Duration::from_millis(120));
    c.request("GET", "/_admin/server/id", None).unwrap();
    assert_eq!(nodes.node(0).accepted_connections(), 2, "old: replaced");
    let m = c.cluster_management().connection_pool_metrics()[&host(&nodes, 0)];
    assert_eq!(m.connections_created, 2);
    assert_eq!(m.connections_closed, 1);
    let text = format!(
        "hosts = [{:?}]\n[pool]\nmax_lifetime = \"5m\"\n",
        nodes.node(0).url()
    );
    let config = cluster_client::ClientConfig::from_toml(&text).unwrap();
    cluster_client::ClusterClient::builder()
        .config(config)
        .build()
        .unwrap();
    let never = format!(
        "hosts = [{:?}]\n[pool]\nmax_lifetime = \"never\"\n",
        nodes.node(0).url()
    );
    cluster_client::ClientConfig::from_toml(&never).unwrap();
}

#[test]
fn membership_changes_race_calls_and_shutdown_without_harm() {
    let nodes = TestCluster::start(4).unwrap();
    let c = fast_builder(&nodes)
        .hosts(&nodes.urls()[..3])
        .build()
        .unwrap();
    let urls = nodes.urls();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let mover = s.spawn(|| {
            for i in 0..200usize {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let u = &urls[i % 4];
                match i % 3 {
                    0 => {
                        let _ = c.add_node(u);
                    }
                    1 => {
                        let _ = c.remove_node(&u.parse().unwrap());
                    }
                    _ => {
                        let _ = c.set_nodes(&urls[(i % 2)..(i % 2) + 2]);
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let workers: Vec<_> = (0..3)
            .map(|w| {
                let c = &c;
                s.spawn(move || {
                    for k in 0..30 {
                        let id = format!("w{w}-{k}");
                        // Every answer is a typed result, never a panic.
                        if c.create_group(&id).is_ok() {
                            let _ = c.delete_group(&id);
                        }
                        let _ = c.request("GET", "/_admin/server/id", None);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a worker panicked");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        mover.join().expect("the mover panicked");
    });
    // The node set is whole and usable, and metrics follow it.
    let m = c.cluster_management();
    let set = m.nodes();
    assert!(!set.is_empty());
    assert_eq!(m.connection_pool_metrics().len(), set.len());
    c.set_nodes(&urls).unwrap();
    c.create_group("after").unwrap();
    assert_eq!(nodes.nodes_with_group("after"), vec![0, 1, 2, 3]);
    c.shutdown();
    assert!(matches!(c.set_nodes(&urls), Err(Error::Shutdown)));
}

#[test]
fn a_name_that_moves_is_followed_once_its_connection_expires() {
    let nodes = TestCluster::start(2).unwrap();
    let (a, b) = (nodes.node(0).addr(), nodes.node(1).addr());
    let name = format!("moving-{}.test", std::process::id());
    cluster_client::testkit_resolve_name_to(&name, Some(a));
    let c = fast_builder(&nodes)
        .hosts([format!("http://{name}:8529")])
        .max_connection_lifetime(Some(Duration::from_millis(80)))
        .build()
        .unwrap();
    let ask = || c.request("GET", "/_admin/server/id", None).unwrap().status;
    assert_eq!(ask(), 200);
    assert_eq!(nodes.node(0).request_count(), 1);
    // The name moves; the open connection still goes where it went.
    cluster_client::testkit_resolve_name_to(&name, Some(b));
    assert_eq!(ask(), 200);
    assert_eq!(
        (nodes.node(0).request_count(), nodes.node(1).request_count()),
        (2, 0)
    );
    // Past its lifetime the connection is closed; the next one follows the name.
    std::thread::sleep(Duration::from_millis(160));
    assert_eq!(ask(), 200);
    assert_eq!(
        (nodes.node(0).request_count(), nodes.node(1).request_count()),
        (2, 1)
    );
    cluster_client::testkit_resolve_name_to(&name, None);
}
