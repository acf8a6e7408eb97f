//! Kill tests for the saga journal: a child process runs `create_group`
//! with a journal against test nodes living in this process, and is killed
//! (SIGKILL) at a random moment; then `recover()` runs here and the nodes'
//! real state is checked. Used by `tests/crash.rs` (CI-sized) and
//! `examples/crash.rs` (long runs).

// Closures here return the library's `Error` by value (the variant users
// match on); its size is the library's documented choice.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use cluster_client::testkit::{FaultRule, TestCluster};
use cluster_client::{ClusterClient, HostAddress, RetryPolicy};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Environment variables that make a process the child.
pub const ENV_HOSTS: &str = "CLUSTER_CLIENT_CRASH_HOSTS";
const ENV_JOURNAL: &str = "CLUSTER_CLIENT_CRASH_JOURNAL";
const ENV_GROUP: &str = "CLUSTER_CLIENT_CRASH_GROUP";

/// Node latency: long enough that a kill lands inside a phase.
const LATENCY: Duration = Duration::from_millis(25);

/// The child's work, when this process was started as the child: builds a
/// client with the journal and creates the group. Returns false when this
/// process is not a child.
pub fn child_main() -> bool {
    let (Ok(hosts), Ok(journal), Ok(group)) = (
        std::env::var(ENV_HOSTS),
        std::env::var(ENV_JOURNAL),
        std::env::var(ENV_GROUP),
    ) else {
        return false;
    };
    let client = ClusterClient::builder()
        .hosts_str(&hosts)
        .retry_policy(RetryPolicy::exponential(
            2,
            Duration::from_millis(5),
            Duration::from_millis(20),
        ))
        .journal(journal)
        .build();
    if let Ok(client) = client {
        let _ = client.create_group(&group);
    }
    true
}

/// The run's settings.
pub struct CrashConfig {
    /// Kill points.
    pub kills: usize,
    /// Seed of the random choices.
    pub seed: u64,
}

/// What the kills found.
#[derive(Default)]
pub struct CrashReport {
    /// Kill points run.
    pub kills: usize,
    /// (phase at the kill, what recovery did) → count.
    pub table: BTreeMap<(String, String), usize>,
    /// Nodes holding the group that they lacked before, after recovery,
    /// while the group is not everywhere, and not named by recovery.
    pub orphans: usize,
    /// Pre-existing groups gone after the kill and recovery.
    pub deleted_pre_existing: usize,
    /// Recoveries that returned an error.
    pub recover_errors: usize,
    /// Nodes named as needing a person.
    pub needs_attention: usize,
    /// Descriptions of every violation, with the seed and kill point.
    pub violations: Vec<String>,
    /// Wall time.
    pub wall_time: Duration,
}

impl CrashReport {
    /// No orphan, no deleted pre-existing group, no failed recovery.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for CrashReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| phase at the kill | after recover() | kills |")?;
        writeln!(f, "|---|---|---|")?;
        for ((phase, outcome), n) in &self.table {
            writeln!(f, "| {phase} | {outcome} | {n} |")?;
        }
        writeln!(f)?;
        writeln!(f, "| measure | value |")?;
        writeln!(f, "|---|---|")?;
        writeln!(f, "| kill points | {} |", self.kills)?;
        writeln!(f, "| orphans left (unreported) | {} |", self.orphans)?;
        writeln!(
            f,
            "| pre-existing groups deleted | {} |",
            self.deleted_pre_existing
        )?;
        writeln!(f, "| recover() errors | {} |", self.recover_errors)?;
        writeln!(f, "| nodes named for a person | {} |", self.needs_attention)?;
        writeln!(f, "| wall time | {:.1} s |", self.wall_time.as_secs_f64())
    }
}

/// The phase a journal shows: how far the saga got before the kill.
fn phase(journal: &Path) -> String {
    let bytes = std::fs::read(journal).unwrap_or_default();
    let mut kinds: Vec<String> = Vec::new();
    let mut at = 0;
    // The documented format: length u32 LE, payload crc32, header crc32, JSON.
    while at + 12 <= bytes.len() {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let Some(payload) = bytes.get(at + 12..at + 12 + len) else {
            break;
        };
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) {
            if let Some(k) = v.get("record").and_then(|k| k.as_str()) {
                kinds.push(k.to_string());
            }
        }
        at += 12 + len;
    }
    let has = |k: &str| kinds.iter().any(|x| x == k);
    if has("finish") {
        "1 finished".into()
    } else if has("compensated") {
        "6 during rollback".into()
    } else if has("outcome") {
        "5 after create (verify/rollback)".into()
    } else if has("before") {
        "4 during create".into()
    } else if has("begin") {
        "3 before create (pre-verify)".into()
    } else {
        "2 before the saga began".into()
    }
}

/// Starts the child process with the environment it is given.
pub type SpawnChild<'a> = dyn Fn(&[(&str, String)]) -> std::io::Result<Child> + 'a;

/// Runs `config.kills` kill points; `spawn` starts the child with the
/// environment it is given.
pub fn run(
    config: &CrashConfig,
    work_dir: &Path,
    spawn: &SpawnChild<'_>,
) -> std::io::Result<CrashReport> {
    let start = Instant::now();
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut report = CrashReport::default();
    let nodes = TestCluster::start(4)?;
    for n in nodes.nodes() {
        n.set_latency(LATENCY);
    }
    let hosts: Vec<HostAddress> = nodes.urls().iter().filter_map(|u| u.parse().ok()).collect();
    std::fs::create_dir_all(work_dir)?;
    for kill in 0..config.kills {
        let group = format!("crash-{}-{kill}", config.seed);
        let journal: PathBuf = work_dir.join(format!("kill-{}-{kill}.journal", config.seed));
        let pre: Vec<usize> = (0..4).filter(|_| rng.random_bool(0.25)).collect();
        for &i in &pre {
            nodes.node(i).insert_group(&group);
        }
        // Sometimes a node refuses the create, so the saga rolls back.
        let refuser = rng.random_bool(0.4).then(|| rng.random_range(0..4));
        if let Some(i) = refuser {
            nodes.node(i).inject(
                FaultRule::status(400)
                    .method("POST")
                    .path_prefix("/v1/group"),
            );
        }
        let mut child = spawn(&[
            (ENV_HOSTS, nodes.hosts_csv()),
            (ENV_JOURNAL, journal.display().to_string()),
            (ENV_GROUP, group.clone()),
        ])?;
        // Up to the whole saga: process start, pre-verify, create, verify, rollback.
        let delay =
            Duration::from_millis(rng.random_range(0..(10 + 4 * LATENCY.as_millis() as u64)));
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        // Requests the child sent may still be applied: let them land.
        std::thread::sleep(LATENCY * 4);
        for n in nodes.nodes() {
            n.clear_faults();
        }
        let phase = phase(&journal);
        let recovered = ClusterClient::builder()
            .hosts(nodes.urls())
            .retry_policy(RetryPolicy::exponential(
                3,
                Duration::from_millis(5),
                Duration::from_millis(20),
            ))
            .journal(&journal)
            .build()
            .and_then(|c| c.recover());
        let holders = nodes.nodes_with_group(&group);
        let outcome = match &recovered {
            Err(e) => {
                report.recover_errors += 1;
                report.violations.push(format!(
                    "seed {} kill {kill}: recover() failed: {e}",
                    config.seed
                ));
                "error".to_string()
            }
            Ok(r) => {
                report.needs_attention += r.needs_attention.len();
                let named: Vec<String> = r
                    .needs_attention
                    .iter()
                    .map(|a| a.host.to_string())
                    .collect();
                if holders.len() < 4 {
                    for &i in &holders {
                        if !pre.contains(&i) && !named.contains(&hosts[i].to_string()) {
                            report.orphans += 1;
                            report.violations.push(format!(
                                "seed {} kill {kill} ({phase}): node {i} holds {group} it lacked before, unreported; pre-existing {pre:?}, refuser {refuser:?}, report {r:?}",
                                config.seed
                            ));
                        }
                    }
                }
                if holders.len() == 4 {
                    "group everywhere".to_string()
                } else if holders.iter().all(|i| pre.contains(i)) {
                    "only pre-existing groups".to_string()
                } else {
                    "leftovers named".to_string()
                }
            }
        };
        for &i in &pre {
            if !holders.contains(&i) {
                report.deleted_pre_existing += 1;
                report.violations.push(format!(
                    "seed {} kill {kill} ({phase}): pre-existing group on node {i} deleted",
                    config.seed
                ));
            }
        }
        *report.table.entry((phase, outcome)).or_default() += 1;
        report.kills += 1;
        for n in nodes.nodes() {
            n.remove_group(&group);
        }
        let _ = std::fs::remove_file(&journal);
        let mut lock = journal.into_os_string();
        lock.push(".lock");
        let _ = std::fs::remove_file(lock);
    }
    report.wall_time = start.elapsed();
    Ok(report)
}

/// The journal's cost: mean `create_group` + `delete_group` time on
/// `nodes` test nodes at zero latency, without and with a journal, in the
/// same run.
pub fn journal_cost(work_dir: &Path, rounds: usize) -> std::io::Result<(Duration, Duration)> {
    let nodes = TestCluster::start(3)?;
    std::fs::create_dir_all(work_dir)?;
    let journal = work_dir.join("cost.journal");
    let time = |client: &ClusterClient, tag: &str| {
        let start = Instant::now();
        for i in 0..rounds {
            let g = format!("cost-{tag}-{i}");
            let _ = client.create_group(&g);
            let _ = client.delete_group(&g);
        }
        start.elapsed() / u32::try_from(rounds.max(1)).unwrap_or(u32::MAX)
    };
    let plain = ClusterClient::new(nodes.urls()).map_err(std::io::Error::other)?;
    let journaled = ClusterClient::builder()
        .hosts(nodes.urls())
        .journal(&journal)
        .build()
        .map_err(std::io::Error::other)?;
    // Warm both, then alternate so both see the same machine.
    time(&plain, "warm-a");
    time(&journaled, "warm-b");
    let without = time(&plain, "a");
    let with = time(&journaled, "b");
    drop(journaled);
    let _ = std::fs::remove_file(&journal);
    Ok((without, with))
}

/// Writes a journal of `bytes` bytes or more in the documented format:
/// sagas that began and finished, as a process that never compacted
/// would leave them (the worst case for a journal opened large).
pub fn write_large_journal(path: &Path, bytes: usize) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut saga: u64 = 1;
    let put = |v: serde_json::Value, out: &mut Vec<u8>| {
        let payload = serde_json::to_vec(&v).unwrap_or_default();
        let len = payload.len() as u32;
        let crc = crc32fast::hash(&payload);
        let mut h = crc32fast::Hasher::new();
        h.update(b"ccj2");
        h.update(&len.to_le_bytes());
        h.update(&crc.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&h.finalize().to_le_bytes());
        out.extend_from_slice(&payload);
    };
    while out.len() < bytes {
        put(
            serde_json::json!({"record": "begin", "saga": saga, "op": "create",
                "group": format!("old-{saga}"), "nodes": ["http://127.0.0.1:1", "http://127.0.0.1:2"],
                "request_id": "0123456789abcdef"}),
            &mut out,
        );
        put(
            serde_json::json!({"record": "finish", "saga": saga, "end": "ok", "left": []}),
            &mut out,
        );
        saga += 1;
    }
    std::fs::write(path, out)
}

/// Mean `create_group` time on 3 test nodes at zero latency with an empty
/// journal and with one of `large_bytes`, in the same run.
pub fn large_journal_cost(
    work_dir: &Path,
    rounds: usize,
    large_bytes: usize,
) -> std::io::Result<(Duration, Duration)> {
    let nodes = TestCluster::start(3)?;
    std::fs::create_dir_all(work_dir)?;
    let small = work_dir.join("empty.journal");
    let large = work_dir.join("large.journal");
    let _ = std::fs::remove_file(&small);
    write_large_journal(&large, large_bytes)?;
    let open = |path: &Path| {
        ClusterClient::builder()
            .hosts(nodes.urls())
            .journal(path)
            .build()
            .map_err(std::io::Error::other)
    };
    let time = |client: &ClusterClient, tag: &str| {
        let mut total = Duration::ZERO;
        for i in 0..rounds {
            let g = format!("large-{tag}-{i}");
            let start = Instant::now();
            let _ = client.create_group(&g);
            total += start.elapsed();
            let _ = client.delete_group(&g);
        }
        total / u32::try_from(rounds.max(1)).unwrap_or(u32::MAX)
    };
    let (empty, full) = (open(&small)?, open(&large)?);
    time(&empty, "warm-a");
    time(&full, "warm-b");
    let a = time(&empty, "a");
    let b = time(&full, "b");
    drop((empty, full));
    for p in [&small, &large] {
        let _ = std::fs::remove_file(p);
    }
    Ok((a, b))
}
