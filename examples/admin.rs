//! Prints a cluster's health as a table, through the administration API.
//!
//! `cargo run --example admin` starts a 3-node local cluster (one node down);
//! `HOSTS=http://coordinator:8529 cargo run --example admin` asks a real one.

use cluster_client::testkit::TestCluster;
use cluster_client::ClusterClient;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let local;
    let client = match std::env::var("HOSTS") {
        Ok(hosts) if !hosts.trim().is_empty() => {
            ClusterClient::builder().hosts_str(&hosts).build()?
        }
        _ => {
            local = TestCluster::start(3)?;
            local.node(2).go_down();
            ClusterClient::new(local.urls())?
        }
    };
    let c = client.cluster();
    println!(
        "answered by server {} ({:?})",
        c.server_id()?,
        c.server_role()?
    );
    let health = c.health()?;
    println!(
        "cluster {}: {} servers\n",
        health.cluster_id,
        c.server_count()?
    );
    println!(
        "{:<14} {:<12} {:<8} {:<24} {:<8}",
        "SERVER", "ROLE", "STATUS", "ENDPOINT", "VERSION"
    );
    for (id, s) in &health.servers {
        println!(
            "{:<14} {:<12} {:<8} {:<24} {:<8}",
            id,
            s.role,
            s.status,
            s.endpoint.as_deref().unwrap_or("-"),
            s.version.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
