//! A seeded, randomized saga soak: faults of every kind injected into a
//! 5-node cluster while worker threads run `create_group` and `delete_group`,
//! and after every operation the nodes' real state is checked against what
//! the library returned. Used by `tests/soak.rs` (CI-sized) and
//! `examples/soak.rs` (long runs).

// `catch_unwind` closures return the library's `Error` by value (the
// variant users match on); its size is the library's documented choice.
#![allow(clippy::result_large_err)]

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng};
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, Error, HostAddress, RetryPolicy};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Seed of every random choice; print it so a failure can be replayed.
    pub seed: u64,
    /// Sagas (create + delete of one id) in total, spread over the workers.
    pub sagas: usize,
    /// Worker threads; each owns its ids.
    pub threads: usize,
    /// Nodes in the test cluster.
    pub nodes: usize,
    /// The client's per-attempt timeout; injected latency spikes exceed it.
    pub request_timeout: Duration,
}

impl Default for SoakConfig {
    fn default() -> Self {
        SoakConfig {
            seed: 1,
            sagas: 320,
            threads: 8,
            nodes: 5,
            request_timeout: Duration::from_millis(150),
        }
    }
}

/// Kinds of injected faults, counted in the report.
const FAULT_KINDS: [&str; 9] = [
    "503 burst",
    "503 + Retry-After",
    "node down/up",
    "latency spike",
    "applied, answer lost",
    "dropped unanswered",
    "verify failure",
    "rollback failure",
    "pre-existing group",
];

/// What a soak run found.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// The seed used.
    pub seed: u64,
    /// Sagas run.
    pub sagas: usize,
    /// Creates that returned `Ok`.
    pub creates_ok: usize,
    /// Creates that returned an error.
    pub creates_failed: usize,
    /// Injected faults by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Nodes found holding a group the library did not report (should be 0).
    pub unreported_orphans: usize,
    /// Groups that existed before a saga and were gone after it (should be 0).
    pub wrongly_deleted: usize,
    /// `Ok` creates after which some node lacked the group (should be 0).
    pub ok_but_missing: usize,
    /// Panics caught in library calls (should be 0).
    pub panics: usize,
    /// Descriptions of the first violations, for replay.
    pub violations: Vec<String>,
    /// Wall time of the run.
    pub wall_time: Duration,
}

impl SoakReport {
    /// True when no rule was broken.
    pub fn is_clean(&self) -> bool {
        self.unreported_orphans == 0
            && self.wrongly_deleted == 0
            && self.ok_but_missing == 0
            && self.panics == 0
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| measure | value |")?;
        writeln!(f, "|---|---|")?;
        writeln!(f, "| seed | {} |", self.seed)?;
        writeln!(f, "| sagas | {} |", self.sagas)?;
        writeln!(
            f,
            "| creates ok / failed | {} / {} |",
            self.creates_ok, self.creates_failed
        )?;
        for (kind, n) in &self.faults {
            writeln!(f, "| injected: {kind} | {n} |")?;
        }
        let total: u64 = self.faults.values().sum();
        writeln!(f, "| injected faults in all | {total} |")?;
        writeln!(f, "| unreported orphans | {} |", self.unreported_orphans)?;
        writeln!(f, "| wrongly deleted groups | {} |", self.wrongly_deleted)?;
        writeln!(
            f,
            "| Ok creates with a node missing | {} |",
            self.ok_but_missing
        )?;
        writeln!(f, "| panics | {} |", self.panics)?;
        writeln!(f, "| wall time | {:.1} s |", self.wall_time.as_secs_f64())
    }
}

struct Rng(SmallRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(SmallRng::seed_from_u64(seed))
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n.max(1))
    }
}

struct Shared {
    report: Mutex<SoakReport>,
    faults: Vec<AtomicU64>,
}

impl Shared {
    fn violation(&self, what: String, counter: impl FnOnce(&mut SoakReport)) {
        let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        counter(&mut r);
        if r.violations.len() < 20 {
            r.violations.push(what);
        }
    }
    fn count_fault(&self, kind: usize) {
        self.faults[kind].fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs the soak and returns its report.
pub fn run(config: &SoakConfig) -> std::io::Result<SoakReport> {
    let started = Instant::now();
    let cluster = TestCluster::start(config.nodes)?;
    let client = ClusterClient::builder()
        .hosts(cluster.urls())
        .retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(5),
            Duration::from_millis(40),
        ))
        .connect_timeout(Duration::from_millis(300))
        .request_timeout(config.request_timeout)
        .operation_timeout(Duration::from_secs(5))
        .probe_interval(Duration::from_millis(20))
        .build()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let hosts: Vec<HostAddress> = client.cluster_management().nodes();
    let shared = Shared {
        report: Mutex::new(SoakReport {
            seed: config.seed,
            sagas: config.sagas,
            ..SoakReport::default()
        }),
        faults: FAULT_KINDS.iter().map(|_| AtomicU64::new(0)).collect(),
    };
    let stop = AtomicBool::new(false);
    // A latency spike lasts at most this long; a worker whose create took a
    // timeout waits it out before deleting, since no client can stop a node
    // from applying a request the client already gave up on.
    let spike = config.request_timeout * 2;
    std::thread::scope(|s| {
        s.spawn(|| inject_faults(&cluster, config, &shared, &stop));
        let per_thread = config.sagas.div_ceil(config.threads.max(1));
        let workers: Vec<_> = (0..config.threads)
            .map(|t| {
                let client = client.clone();
                let (cluster, hosts, shared) = (&cluster, &hosts, &shared);
                let count = per_thread.min(config.sagas.saturating_sub(t * per_thread));
                s.spawn(move || {
                    let mut rng = Rng::new(config.seed ^ ((t as u64 + 1) << 32));
                    for i in 0..count {
                        let id = format!("soak-{}-t{t}-{i}", config.seed);
                        saga(&client, cluster, hosts, &id, &mut rng, shared, spike);
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        stop.store(true, Ordering::SeqCst);
    });
    let mut report = shared
        .report
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    for (i, kind) in FAULT_KINDS.iter().enumerate() {
        report
            .faults
            .insert(kind, shared.faults[i].load(Ordering::Relaxed));
    }
    report.wall_time = started.elapsed();
    Ok(report)
}

fn holders(cluster: &TestCluster, hosts: &[HostAddress], id: &str) -> Vec<HostAddress> {
    cluster
        .nodes_with_group(id)
        .into_iter()
        .map(|i| hosts[i].clone())
        .collect()
}

fn saga(
    client: &ClusterClient,
    cluster: &TestCluster,
    hosts: &[HostAddress],
    id: &str,
    rng: &mut Rng,
    shared: &Shared,
    spike: Duration,
) {
    if rng.below(2) == 0 {
        inject_one(cluster, rng, spike, shared);
    }
    // Sometimes the group is already on one node: a create must never delete it.
    let pre = (rng.below(6) == 0).then(|| rng.below(hosts.len()));
    if let Some(p) = pre {
        cluster.node(p).insert_group(id);
        shared.count_fault(8);
    }
    let started = Instant::now();
    let created = catch_unwind(AssertUnwindSafe(|| client.create_group(id)));
    let took = started.elapsed();
    let Ok(created) = created else {
        shared.violation(format!("{id}: create panicked"), |r| r.panics += 1);
        return;
    };
    let now = holders(cluster, hosts, id);
    if let Some(p) = pre {
        if !now.contains(&hosts[p]) {
            shared.violation(
                format!("{id}: pre-existing group on {} deleted", hosts[p]),
                |r| r.wrongly_deleted += 1,
            );
        }
    }
    match &created {
        Ok(()) => {
            shared
                .report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .creates_ok += 1;
            if now.len() != hosts.len() {
                shared.violation(format!("{id}: Ok but only on {now:?}"), |r| {
                    r.ok_but_missing += 1
                });
            }
        }
        Err(Error::GroupOperation {
            rollback_failed_hosts,
            possible_orphans,
            ..
        }) => {
            shared
                .report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .creates_failed += 1;
            for h in &now {
                let reported = rollback_failed_hosts.contains(h)
                    || possible_orphans.contains(h)
                    || pre.is_some_and(|p| &hosts[p] == h);
                if !reported {
                    shared.violation(
                        format!("{id}: unreported group on {h} after {created:?}"),
                        |r| r.unreported_orphans += 1,
                    );
                }
            }
        }
        Err(other) => {
            shared
                .report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .creates_failed += 1;
            if !now.is_empty() && pre.is_none() {
                shared.violation(format!("{id}: {other} left groups on {now:?}"), |r| {
                    r.unreported_orphans += now.len()
                });
            }
        }
    }
    // spike = 2 × request_timeout: a create that took longer than one
    // request timeout may have left an attempt the node is still working on;
    // let the node finish it before the delete.
    if took >= spike / 2 {
        std::thread::sleep(spike + Duration::from_millis(50));
    }
    let deleted = catch_unwind(AssertUnwindSafe(|| client.delete_group(id)));
    match deleted {
        Err(_) => shared.violation(format!("{id}: delete panicked"), |r| r.panics += 1),
        Ok(Err(e)) => shared.violation(format!("{id}: delete returned {e}"), |r| {
            r.unreported_orphans += holders(cluster, hosts, id).len()
        }),
        Ok(Ok(failed)) => {
            for h in holders(cluster, hosts, id) {
                if !failed.contains(&h) {
                    shared.violation(format!("{id}: delete Ok on {h} but still there"), |r| {
                        r.unreported_orphans += 1
                    });
                }
            }
            // Leave nothing behind for the next saga's checks.
            for i in cluster.nodes_with_group(id) {
                cluster.node(i).remove_group(id);
            }
        }
    }
}

/// Injects one random fault (any kind but node down/up) on a random node.
/// Workers call it before about half of their sagas, so the fault density
/// does not depend on how fast the machine runs.
fn inject_one(cluster: &TestCluster, rng: &mut Rng, spike: Duration, shared: &Shared) {
    let node = cluster.node(rng.below(cluster.nodes().len()));
    let kind = match rng.below(7) {
        k @ 0..=1 => k,
        k => k + 1, // kind 2, node down/up, belongs to the injector thread
    };
    let status = |status: u16, retry_after: Option<String>| Fault::Status {
        status,
        retry_after,
    };
    let rule = match kind {
        0 => FaultRule::new(status(503, None)).times(1 + rng.below(3)),
        1 => FaultRule::new(status(503, Some("0".into()))).times(1 + rng.below(2)),
        3 => FaultRule::new(Fault::Delay(spike)).method("POST"),
        4 => FaultRule::new(Fault::ApplyThenDrop).method("POST"),
        5 => FaultRule::new(Fault::Drop),
        6 if rng.below(2) == 0 => FaultRule::new(status(404, None)).method("GET"),
        6 => FaultRule::new(Fault::Drop).method("GET"),
        _ => FaultRule::new(status(500, None))
            .method("DELETE")
            .times(1 + rng.below(3)),
    };
    node.inject(rule);
    shared.count_fault(kind);
}

/// Takes random nodes down and brings them back, until told to stop.
fn inject_faults(cluster: &TestCluster, config: &SoakConfig, shared: &Shared, stop: &AtomicBool) {
    let mut rng = Rng::new(config.seed ^ 0xFA17);
    let deadline = Instant::now() + Duration::from_secs(600);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20 + rng.below(60) as u64));
        let node = cluster.node(rng.below(config.nodes));
        node.go_down();
        shared.count_fault(2);
        std::thread::sleep(Duration::from_millis(20 + rng.below(60) as u64));
        let _ = node.come_up();
    }
    for n in cluster.nodes() {
        n.clear_faults();
        if !n.is_up() {
            let _ = n.come_up();
        }
    }
}
