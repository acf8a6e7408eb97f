//! Fan-out sized to the work: `cargo run --release --example wide [-- --quick]`.
//! `create_group` on 64, 128 and 256 test nodes that each answer in 20 ms,
//! against the floor any blocking client pays on this machine: two rounds
//! of raw requests (a create, then a verify) from one ready thread per node,
//! measured in the same run. The limit is the larger of 40 ms (two rounds
//! of 20 ms) and that floor; the target is 1.25 x the limit. Also prints
//! the memory an idle node costs the client (resident set growth per node).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cluster_client::testkit::TestCluster;
use cluster_client::ClusterClient;

const LATENCY: Duration = Duration::from_millis(20);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Two rounds of raw requests from one ready thread per node, in ms.
fn floor(urls: &[String], tag: &str) -> f64 {
    let ready = Arc::new(Barrier::new(urls.len() + 1));
    let done = Arc::new(Barrier::new(urls.len() + 1));
    let threads: Vec<_> = urls
        .iter()
        .map(|u| {
            let (u, ready, done, tag) = (u.clone(), ready.clone(), done.clone(), tag.to_string());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .into();
                // Warm: the connection is open before the clock starts.
                let _ = agent.get(format!("{u}/v1/group/warm-{tag}/")).call();
                ready.wait();
                let body = format!("{{\"groupId\":\"{tag}\"}}");
                let _ = agent
                    .post(format!("{u}/v1/group/"))
                    .header("content-type", "application/json")
                    .send(body.as_bytes());
                let _ = agent.get(format!("{u}/v1/group/{tag}/")).call();
                done.wait();
            })
        })
        .collect();
    ready.wait();
    let t = Instant::now();
    done.wait();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    for t in threads {
        let _ = t.join();
    }
    ms
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let counts: &[usize] = if quick { &[16] } else { &[64, 128, 256] };
    let rounds = if quick { 2 } else { 5 };
    let max = counts.iter().copied().max().unwrap_or(1);
    let cluster = TestCluster::start(max)?;
    let urls = cluster.urls();
    println!(
        "## create_group on many nodes at {} ms a request",
        LATENCY.as_millis()
    );
    println!();
    println!("| nodes | create_group (median of {rounds}) | floor: 2 rounds, one ready thread a node | limit | ratio | target ≤ 1.25 × limit |");
    println!("|---|---|---|---|---|---|");
    for &n in counts {
        let client = ClusterClient::builder().hosts(&urls[..n]).build()?;
        for node in cluster.nodes() {
            node.set_latency(Duration::ZERO);
        }
        client.create_group(&format!("warm-{n}"))?;
        for node in cluster.nodes() {
            node.set_latency(LATENCY);
        }
        let mut lib = Vec::new();
        let mut floors = Vec::new();
        for r in 0..rounds {
            let t = Instant::now();
            client.create_group(&format!("wide-{n}-{r}"))?;
            lib.push(t.elapsed().as_secs_f64() * 1e3);
            floors.push(floor(&urls[..n], &format!("floor-{n}-{r}")));
        }
        let (ours, fl) = (median(lib), median(floors));
        let limit = fl.max(2.0 * LATENCY.as_secs_f64() * 1e3);
        let ratio = ours / limit;
        println!(
            "| {n} | {ours:.1} ms | {fl:.1} ms | {limit:.1} ms | {ratio:.2} × | {} |",
            if ratio <= 1.25 { "met" } else { "**missed**" }
        );
    }
    // Memory an idle node costs the client: a client over all the nodes,
    // warmed, against one over none of them yet.
    for node in cluster.nodes() {
        node.set_latency(Duration::ZERO);
    }
    let before = rss_kib();
    let client = ClusterClient::builder().hosts(&urls[..max]).build()?;
    client.create_group("memory")?;
    let after = rss_kib();
    println!();
    println!(
        "memory per idle node (one open connection, its pool, health and histogram): {:.1} KiB ({} nodes, resident set {} → {} KiB)",
        after.saturating_sub(before) as f64 / max as f64,
        max,
        before,
        after
    );
    Ok(())
}
