//! Shared helpers for the integration tests: fast clients and bounded polling.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use cluster_client::testkit::TestCluster;
use cluster_client::{ClientBuilder, ClusterClient, HostAddress, RetryPolicy};

/// A builder with millisecond retries and timeouts, for tests.
pub fn fast_builder(nodes: &TestCluster) -> ClientBuilder {
    fast_builder_for(nodes.urls())
}

/// As [`fast_builder`], for any hosts.
pub fn fast_builder_for<I, S>(hosts: I) -> ClientBuilder
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    ClusterClient::builder()
        .hosts(hosts)
        .retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(5),
            Duration::from_millis(40),
        ))
        .connect_timeout(Duration::from_millis(500))
        .request_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_secs(10))
        .probe_interval(Duration::from_millis(20))
}

pub fn fast_client(nodes: &TestCluster) -> ClusterClient {
    fast_builder(nodes).build().expect("client builds")
}

/// Polls `cond` every 5 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The address of node `i`, as the client names it.
pub fn host(nodes: &TestCluster, i: usize) -> HostAddress {
    nodes
        .node(i)
        .url()
        .parse()
        .expect("a test node's URL is a host")
}

/// A fresh journal path in a directory of its own under the cargo target
/// dir, and a client on it with quick retries.
pub fn journal_path(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "journal-tests-{}-{name}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("sagas.journal")
}

/// A client on `journal` with 2 attempts a few milliseconds apart.
pub fn journal_client(nodes: &TestCluster, journal: &std::path::Path) -> ClusterClient {
    fast_builder(nodes)
        .retry_policy(RetryPolicy::exponential(
            2,
            Duration::from_millis(2),
            Duration::from_millis(10),
        ))
        .journal(journal)
        .build()
        .expect("client with journal")
}
