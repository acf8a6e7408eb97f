//! A user-defined resource (a user account) applied to every node
//! all-or-nothing with the public [`Saga`]: one step per node, each
//! registering its compensation; when a node refuses, the accounts already
//! written are deleted again, in reverse order.
//!
//! `cargo run --example custom_resource`

use cluster_client::testkit::TestCluster;
use cluster_client::{ClusterClient, Error, HostAddress, Saga};

/// Writes `account` to every node, or to none.
fn create_account(client: &ClusterClient, name: &str, account: &[u8]) -> Result<(), String> {
    let path = format!("/v1/resource/account/{name}");
    let mut saga: Saga<'_, String> = Saga::new(format!("create account {name}"));
    let mut outcome = Ok(());
    for host in client.cluster_management().nodes() {
        let step = saga.step(&format!("put on {host}"), |comp| {
            let answer = client
                .request_to(&host, "PUT", &path, Some(account))
                .map_err(|e| e.to_string())?;
            match answer.status {
                201 => {
                    let (client, path, host2) = (client.clone(), path.clone(), host.clone());
                    comp.push(format!("delete on {host}"), move || {
                        delete(&client, &host2, &path)
                    });
                    Ok(())
                }
                200 => Ok(()), // it was there before: not ours to undo
                s => Err(format!("{host} answered {s}")),
            }
        });
        if let Err(e) = step {
            outcome = Err(e);
            break;
        }
    }
    match outcome {
        Ok(()) => {
            saga.complete();
            Ok(())
        }
        Err(e) => {
            let failed = saga.compensate();
            if failed.is_empty() {
                Err(format!("{e} (rolled back)"))
            } else {
                Err(format!(
                    "{e}; rollback failed: {:?}",
                    failed.iter().map(|f| &f.name).collect::<Vec<_>>()
                ))
            }
        }
    }
}

fn delete(client: &ClusterClient, host: &HostAddress, path: &str) -> Result<(), String> {
    match client.request_to(host, "DELETE", path, None) {
        Ok(r) if r.status == 200 || r.status == 404 => Ok(()),
        Ok(r) => Err(format!("{host} answered {}", r.status)),
        Err(e @ Error::Request { .. }) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let nodes = TestCluster::start(3)?;
    let client = ClusterClient::new(nodes.urls())?;

    create_account(&client, "alice", br#"{"name":"alice","role":"admin"}"#)?;
    let holders = (0..3)
        .filter(|&i| nodes.node(i).resource("account", "alice").is_some())
        .count();
    println!("alice is on {holders} of 3 nodes");

    // Node 2 refuses the next PUT: bob is written to nodes 0 and 1, then removed again.
    nodes.node(2).fail_next("PUT", 1, 400);
    let result = create_account(&client, "bob", br#"{"name":"bob"}"#);
    println!("bob: {result:?}");
    let holders = (0..3)
        .filter(|&i| nodes.node(i).resource("account", "bob").is_some())
        .count();
    println!("bob is on {holders} of 3 nodes (all or nothing)");
    assert_eq!(holders, 0);
    Ok(())
}
