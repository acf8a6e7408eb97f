//! Quickstart: a 3-node local cluster, a group created, verified and deleted,
//! then a failing node and the rollback it causes, and the pool metrics.
//!
//! Run with `cargo run --example quickstart` (`RUST_LOG=debug` shows every attempt).

use std::time::Duration;

use cluster_client::testkit::TestCluster;
use cluster_client::{ClusterClient, Error, RetryPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();

    // Three in-process nodes on 127.0.0.1 speaking the group protocol.
    let nodes = TestCluster::start(3)?;
    println!("local cluster: {}", nodes.hosts_csv());

    let client = ClusterClient::builder()
        .hosts(nodes.urls())
        .retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(50),
            Duration::from_millis(500),
        ))
        .build()?;

    client.create_group("example-group")?;
    println!("created 'example-group' on every node");
    for host in client.cluster_management().nodes() {
        println!(
            "  {host}: holds it = {}",
            client.verify_group(&host, "example-group")?
        );
    }
    let undeleted = client.delete_group("example-group")?;
    println!("deleted everywhere: {}", undeleted.is_empty());

    // Node 2 now refuses every create with 500: the saga rolls back nodes 0 and 1.
    nodes.node(2).fail_next("POST", 1, 500);
    match client.create_group("doomed-group") {
        Err(Error::GroupOperation {
            failed_hosts,
            rollback_failed_hosts,
            possible_orphans,
            ..
        }) => {
            println!("create of 'doomed-group' failed on {failed_hosts:?}; rolled back elsewhere");
            println!("  rollback failed on {rollback_failed_hosts:?}, possible orphans {possible_orphans:?}");
        }
        other => println!("unexpected: {other:?}"),
    }
    println!(
        "nodes holding 'doomed-group' now: {:?} (none: all or nothing)",
        nodes.nodes_with_group("doomed-group")
    );

    println!("\nconnection pool metrics:");
    let m = client.cluster_management();
    for host in m.nodes() {
        let x = m.connection_pool_metrics()[&host];
        println!(
            "  {host}: curr={} created={} created_with_error={} closed={} executed={} executed_with_error={} waited={}",
            x.curr_connections,
            x.connections_created,
            x.connections_created_with_error,
            x.connections_closed,
            x.operations_executed,
            x.operations_executed_with_error,
            x.operations_waited
        );
    }
    Ok(())
}
