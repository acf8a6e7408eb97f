//! The tail-latency table (issue 20), shared by `examples/tail.rs` and
//! `examples/bench.rs`: one-node GETs from 4 threads on 3 test nodes
//! answering in 5 ms, with (a) all nodes fast, (b) one node 10 x slower,
//! (c) about 3 % of answers held 100 ms; for round robin, least-loaded, and
//! least-loaded with hedging (p95, 10 % budget): p50, p99, p99.9 and the
//! extra requests, then the targets and the balancer's cost per pick.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, Hedging, HostResolver, RetryPolicy};

const PATH: &str = "/_admin/server/id";
const FAST: Duration = Duration::from_millis(5);
const THREADS: usize = 4;

#[derive(Clone, Copy, PartialEq)]
enum Scene {
    AllFast,
    OneSlow,
    HeldAnswers,
}

impl Scene {
    fn name(self) -> &'static str {
        match self {
            Scene::AllFast => "(a) all fast",
            Scene::OneSlow => "(b) one node 10 x slower",
            Scene::HeldAnswers => "(c) ~3 % of answers held 100 ms",
        }
    }
}

struct Outcome {
    p50: Duration,
    p99: Duration,
    p999: Duration,
    extra: f64,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn run(scene: Scene, resolver: HostResolver, hedge: bool, requests: usize) -> Outcome {
    let nodes = TestCluster::start(3).expect("test nodes");
    for n in nodes.nodes() {
        n.set_latency(FAST);
    }
    if scene == Scene::OneSlow {
        nodes.node(0).set_latency(FAST * 10);
    }
    let mut b = ClusterClient::builder()
        .hosts(nodes.urls())
        .host_resolver(resolver)
        .retry_policy(RetryPolicy::none())
        .max_connections_per_node(16);
    if hedge {
        b = b.hedging(Hedging::after_percentile(95).budget_percent(10.0));
    }
    let client = b.build().expect("client");
    // Warm up: connections and the balancer's estimates.
    for _ in 0..60 {
        let _ = client.request("GET", PATH, None);
    }
    let before: usize = (0..3).map(|i| nodes.node(i).count_requests("GET")).sum();
    let times = Mutex::new(Vec::with_capacity(requests));
    let left = AtomicU64::new(requests as u64);
    let done = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(60);
    std::thread::scope(|s| {
        if scene == Scene::HeldAnswers {
            // About every 33rd answer, somewhere, is held 100 ms.
            s.spawn(|| {
                let mut seen = 0usize;
                let mut k = 0usize;
                while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let now: usize = (0..3).map(|i| nodes.node(i).count_requests("GET")).sum();
                    while seen + 33 <= now {
                        seen += 33;
                        k += 1;
                        nodes.node(k % 3).inject(
                            FaultRule::new(Fault::Delay(Duration::from_millis(100)))
                                .method("GET")
                                .times(1),
                        );
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    while left
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_ok()
                        && Instant::now() < deadline
                    {
                        let t = Instant::now();
                        let _ = client.request("GET", PATH, None);
                        mine.push(t.elapsed());
                    }
                    times.lock().map(|mut all| all.extend(mine)).ok();
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        done.store(true, Ordering::Relaxed);
    });
    let mut times = times.into_inner().unwrap_or_default();
    times.sort();
    let after: usize = (0..3).map(|i| nodes.node(i).count_requests("GET")).sum();
    let measured = times.len().max(1);
    Outcome {
        p50: percentile(&times, 0.50),
        p99: percentile(&times, 0.99),
        p999: percentile(&times, 0.999),
        extra: (after.saturating_sub(before) as f64 / measured as f64 - 1.0).max(0.0) * 100.0,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Runs every cell and prints the Markdown tables; true when every target
/// is met.
pub fn print_table(quick: bool) -> bool {
    let requests = if quick { 300 } else { 3000 };
    let arms: [(&str, HostResolver, bool); 3] = [
        ("round robin", HostResolver::RoundRobin, false),
        ("least-loaded", HostResolver::LeastLoaded, false),
        (
            "least-loaded + hedging (p95, 10 %)",
            HostResolver::LeastLoaded,
            true,
        ),
    ];
    println!("## Tail latency: one-node GETs, {THREADS} threads, 3 nodes at 5 ms, {requests} requests a cell");
    println!();
    println!("| scene | resolver | p50 | p99 | p99.9 | extra requests |");
    println!("|---|---|---|---|---|---|");
    let mut best = Vec::new();
    let mut fast_p99 = Duration::ZERO;
    for scene in [Scene::AllFast, Scene::OneSlow, Scene::HeldAnswers] {
        for (name, resolver, hedge) in arms {
            let o = run(scene, resolver, hedge, requests);
            println!(
                "| {} | {name} | {} | {} | {} | {:.1} % |",
                scene.name(),
                ms(o.p50),
                ms(o.p99),
                ms(o.p999),
                o.extra
            );
            if scene == Scene::AllFast && resolver == HostResolver::RoundRobin {
                fast_p99 = o.p99;
            }
            if hedge {
                best.push((scene, o));
            }
        }
    }
    println!();
    let mut all_met = true;
    println!("| target (least-loaded + hedging) | measured | verdict |");
    println!("|---|---|---|");
    for (scene, o) in &best {
        let ratio = o.p99.as_secs_f64() / fast_p99.as_secs_f64().max(1e-9);
        let (limit, what) = match scene {
            Scene::AllFast => continue,
            Scene::OneSlow => (1.5, "(b) p99 <= 1.5 x the all-fast p99, <= 8 % extra"),
            Scene::HeldAnswers => (3.0, "(c) p99 <= 3 x the all-fast p99, <= 8 % extra"),
        };
        let met = ratio <= limit && o.extra <= 8.0;
        all_met &= met;
        println!(
            "| {what} | {ratio:.2} x, {:.1} % extra | {} |",
            o.extra,
            if met { "met" } else { "**missed**" }
        );
    }
    let nodes = TestCluster::start(3).expect("test nodes");
    let client = ClusterClient::builder()
        .hosts(nodes.urls())
        .host_resolver(HostResolver::LeastLoaded)
        .build()
        .expect("client");
    let pick = client.cluster_management().time_picks(1_000_000);
    let pick_met = pick <= Duration::from_micros(1);
    println!(
        "| balancer pick <= 1 us (least-loaded, 3 nodes) | {:.0} ns | {} |",
        pick.as_secs_f64() * 1e9,
        if pick_met { "met" } else { "**missed**" }
    );
    all_met && pick_met
}
