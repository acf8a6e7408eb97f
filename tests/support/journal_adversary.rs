//! The journal adversary: seeded random sequences of create, delete,
//! repair, recover (alone and two at once), SIGKILL of a child process at
//! a random moment, a child under a file size limit (a full disk), and a
//! flipped bit in the journal, with node faults mixed in; after every step
//! the nodes' ground truth is checked:
//!
//! - **nothing wanted is deleted**: a node the latest successful call left
//!   holding the group (or that held it before any call) still holds it,
//!   until the user deletes the group;
//! - **no unreported orphan**: after a failed call, every node that holds
//!   the group and did not before the call is named by it; after
//!   `recover()`, every node holding the group that nothing protects is
//!   named in `needs_attention` (or the group is on every node);
//! - **the journal survives**: after a kill or a full disk the journal
//!   opens; a flipped bit is `JournalErrorKind::Damaged` and the file is
//!   left as it was; nothing panics.
//!
//! Used by `tests/journal_adversary.rs` (CI-sized) and `examples/crash.rs
//! -- --sequences N` (long runs).

// Closures here return the library's `Error` by value (the variant users
// match on); its size is the library's documented choice.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, Error, Intent, JournalErrorKind, RetryPolicy, SagaOutcome};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ENV_HOSTS: &str = "CLUSTER_CLIENT_JA_HOSTS";
const ENV_JOURNAL: &str = "CLUSTER_CLIENT_JA_JOURNAL";
const ENV_GROUP: &str = "CLUSTER_CLIENT_JA_GROUP";
const ENV_OP: &str = "CLUSTER_CLIENT_JA_OP";
const NODES: usize = 3;
const LATENCY: Duration = Duration::from_millis(3);

fn builder(hosts: &str) -> cluster_client::ClientBuilder {
    ClusterClient::builder()
        .hosts_str(hosts)
        .retry_policy(RetryPolicy::exponential(
            2,
            Duration::from_millis(2),
            Duration::from_millis(10),
        ))
        .connect_timeout(Duration::from_millis(300))
        .request_timeout(Duration::from_millis(600))
        .operation_timeout(Duration::from_secs(3))
}

/// The child's work when this process was started as the child; false
/// when it was not.
pub fn child_main() -> bool {
    let (Ok(hosts), Ok(journal), Ok(group), Ok(op)) = (
        std::env::var(ENV_HOSTS),
        std::env::var(ENV_JOURNAL),
        std::env::var(ENV_GROUP),
        std::env::var(ENV_OP),
    ) else {
        return false;
    };
    if let Ok(c) = builder(&hosts).journal(journal).build() {
        let _ = match op.as_str() {
            "create" => c.create_group(&group).map(|_| ()),
            "delete" => c.delete_group(&group).map(|_| ()),
            "repair_present" => c.repair_group(&group, Intent::Present).map(|_| ()),
            _ => c.repair_group(&group, Intent::Absent).map(|_| ()),
        };
    }
    true
}

/// The command that starts the child: `exe args…` with `env`, under a file
/// size limit of `blocks` KiB when given (through bash's `ulimit -f`, with
/// SIGXFSZ ignored so a write past it fails instead of killing).
pub fn child_command(
    exe: &Path,
    args: &[&str],
    env: &[(&str, String)],
    blocks: Option<u64>,
) -> Command {
    let mut cmd = match blocks {
        Some(b) => {
            let mut c = Command::new("/bin/bash");
            c.arg("-c")
                .arg(format!("trap '' XFSZ; ulimit -f {b}; exec \"$@\""))
                .arg("child")
                .arg(exe)
                .args(args);
            c
        }
        None => {
            let mut c = Command::new(exe);
            c.args(args);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Starts the child with the environment given, under a file size limit
/// (KiB) when one is given.
pub type SpawnChild<'a> = dyn Fn(&[(&str, String)], Option<u64>) -> std::io::Result<Child> + 'a;

/// The run's settings.
pub struct Config {
    pub sequences: usize,
    pub steps: usize,
    pub seed: u64,
}

/// What the sequences found.
#[derive(Default)]
pub struct Report {
    pub sequences: usize,
    pub steps: usize,
    /// (step, result) → count.
    pub table: BTreeMap<(&'static str, String), usize>,
    pub violations: Vec<String>,
    pub wall_time: Duration,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| step | result | count |")?;
        writeln!(f, "|---|---|---|")?;
        for ((step, result), n) in &self.table {
            writeln!(f, "| {step} | {result} | {n} |")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{} sequences, {} steps, {} violations, {:.1} s",
            self.sequences,
            self.steps,
            self.violations.len(),
            self.wall_time.as_secs_f64()
        )
    }
}

/// One sequence's world: the nodes, the journal, the client (closed while
/// a child or a flip has the journal), and what must stay on which node.
struct World<'a> {
    nodes: &'a TestCluster,
    journal: PathBuf,
    client: Option<ClusterClient>,
    /// Per group: the nodes where the group must stay (it was there before
    /// any call, or the latest successful call put it there).
    protected: BTreeMap<String, BTreeSet<usize>>,
    /// Per group: the nodes that may hold the group without being named
    /// (the protected ones, and what a call the user made wanted there
    /// when a full disk or a kill leaves unknown whether a later delete ran).
    wanted: BTreeMap<String, BTreeSet<usize>>,
    label: String,
    /// What happened so far in this sequence, for the violation report.
    trail: Vec<String>,
    /// Per group: nodes seen without the group since the sequence began.
    /// A node never seen without it holds the group it had before any
    /// call: not an orphan of ours, whatever it holds.
    seen_absent: BTreeMap<String, BTreeSet<usize>>,
    rng: SmallRng,
    report: &'a mut Report,
    spawn: &'a SpawnChild<'a>,
}

impl World<'_> {
    fn violation(&mut self, what: String) {
        self.report.violations.push(format!(
            "{}: {what}\n    after: {}",
            self.label,
            self.trail.join("\n           ")
        ));
    }

    fn count(&mut self, step: &'static str, result: impl Into<String>) {
        let result = result.into();
        let holders: Vec<String> = self
            .protected
            .keys()
            .map(|g| format!("{:?}", self.nodes.nodes_with_group(g)))
            .collect();
        self.trail
            .push(format!("{step}: {result}; holders {}", holders.join(" ")));
        self.note_absent();
        *self.report.table.entry((step, result)).or_default() += 1;
    }

    /// Notes which nodes lack each group now.
    fn note_absent(&mut self) {
        for g in self.protected.keys().cloned().collect::<Vec<_>>() {
            let holders = self.holders(&g);
            let absent = (0..NODES).filter(|n| !holders.contains(n));
            self.seen_absent.entry(g).or_default().extend(absent);
        }
    }

    fn holders(&self, group: &str) -> BTreeSet<usize> {
        self.nodes.nodes_with_group(group).into_iter().collect()
    }

    fn index(&self, host: &str) -> Option<usize> {
        self.nodes.urls().iter().position(|u| {
            u.parse::<cluster_client::HostAddress>()
                .map(|h| h.as_str() == host)
                .unwrap_or(false)
        })
    }

    /// The client, opened on the journal if it is closed; `None` (and a
    /// violation) when the journal cannot be opened.
    fn client(&mut self, after: &str) -> Option<ClusterClient> {
        if self.client.is_none() {
            match builder(&self.nodes.hosts_csv())
                .journal(&self.journal)
                .build()
            {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    self.violation(format!("journal unreadable after {after}: {e}"));
                    return None;
                }
            }
        }
        self.client.clone()
    }

    fn close(&mut self) {
        if let Some(c) = self.client.take() {
            c.shutdown();
        }
    }

    /// Random node faults for one step.
    fn inject_faults(&mut self) {
        if !self.rng.random_bool(0.6) {
            return;
        }
        let mut injected = Vec::new();
        for _ in 0..self.rng.random_range(1..=2) {
            let n = self.rng.random_range(0..NODES);
            let rule = match self.rng.random_range(0..8) {
                0 => FaultRule::status(400).method("POST").times(1),
                1 => FaultRule::new(Fault::ApplyThenDrop).method("POST").times(1),
                2 => FaultRule::new(Fault::ApplyThenStatus(502))
                    .method("POST")
                    .times(1),
                3 => FaultRule::status(500).method("DELETE").times(2),
                4 => FaultRule::status(500).method("GET").times(2),
                5 => FaultRule::status(503).method("POST").times(1),
                6 => FaultRule::new(Fault::Delay(Duration::from_millis(20))).times(2),
                _ => {
                    self.nodes.node(n).go_down();
                    injected.push(format!("node {n} down"));
                    continue;
                }
            };
            injected.push(format!("node {n} {rule:?}"));
            self.nodes.node(n).inject(rule);
        }
        self.trail
            .push(format!("  faults: {}", injected.join(", ")));
    }

    fn heal(&mut self) {
        for n in self.nodes.nodes() {
            n.clear_faults();
            if !n.is_up() {
                let _ = n.come_up();
            }
        }
    }
}

/// The hosts a group error names as possibly left holding the group.
fn named_by(e: &Error) -> Vec<String> {
    match e {
        Error::GroupOperation {
            rollback_failed_hosts,
            possible_orphans,
            ..
        } => rollback_failed_hosts
            .iter()
            .chain(possible_orphans)
            .map(|h| h.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

impl World<'_> {
    /// `nodes` must keep the group (until a delete).
    fn want(&mut self, group: &str, nodes: impl IntoIterator<Item = usize> + Clone) {
        self.protected
            .entry(group.to_string())
            .or_default()
            .extend(nodes.clone());
        self.wanted
            .entry(group.to_string())
            .or_default()
            .extend(nodes);
    }

    /// The user asked for the group gone: nothing must stay; if the
    /// delete surely ran, nothing may stay unnamed either.
    fn forsake(&mut self, group: &str, surely_ran: bool) {
        self.protected.insert(group.to_string(), BTreeSet::new());
        if surely_ran {
            self.wanted.insert(group.to_string(), BTreeSet::new());
        }
    }

    /// Every protected node still holds the group.
    fn check_protected(&mut self, group: &str, after: &str) {
        let holders = self.holders(group);
        let protected = self.protected.get(group).cloned().unwrap_or_default();
        let gone: Vec<usize> = protected.difference(&holders).copied().collect();
        if !gone.is_empty() {
            self.violation(format!(
                "{group}: nodes {gone:?} lost a group that must stay, after {after}"
            ));
        }
    }

    /// Nodes holding the group, neither protected nor holding it before
    /// the step, must be named.
    fn check_named(
        &mut self,
        group: &str,
        before: &BTreeSet<usize>,
        named: &[String],
        after: &str,
    ) {
        let holders = self.holders(group);
        if holders.len() == NODES {
            return; // complete: nothing left over
        }
        let protected = self.wanted.get(group).cloned().unwrap_or_default();
        let seen_absent = self.seen_absent.get(group).cloned().unwrap_or_default();
        for n in holders {
            if protected.contains(&n) || before.contains(&n) || !seen_absent.contains(&n) {
                continue;
            }
            let host = self.nodes.node(n).url();
            if !named.iter().any(|h| self.index(h) == Some(n) || *h == host) {
                self.violation(format!(
                    "{group}: node {n} holds the group unreported after {after} (named {named:?})"
                ));
            }
        }
    }

    fn step_create(&mut self, group: &str) {
        let Some(c) = self.client("create") else {
            return;
        };
        let before = self.holders(group);
        self.inject_faults();
        let result = c.create_group(group);
        self.heal();
        match &result {
            Ok(()) => {
                if self.holders(group).len() != NODES {
                    self.violation(format!("{group}: create Ok but not on every node"));
                }
                self.want(group, 0..NODES);
                self.count("create", "ok");
            }
            Err(e) => {
                let named = named_by(e);
                self.check_named(group, &before, &named, "a failed create");
                self.count(
                    "create",
                    if named.is_empty() {
                        "failed, nothing left"
                    } else {
                        "failed, nodes named"
                    },
                );
            }
        }
        self.check_protected(group, "create");
    }

    fn step_delete(&mut self, group: &str) {
        let Some(c) = self.client("delete") else {
            return;
        };
        self.forsake(group, true);
        self.inject_faults();
        let result = c.delete_group(group);
        self.heal();
        match result {
            Ok(failed) => {
                let named: Vec<String> = failed.iter().map(|h| h.to_string()).collect();
                self.check_named(group, &BTreeSet::new(), &named, "a delete");
                self.count(
                    "delete",
                    if named.is_empty() {
                        "ok"
                    } else {
                        "nodes named"
                    },
                );
            }
            Err(e) => self.violation(format!("{group}: delete refused: {e}")),
        }
    }

    fn step_repair(&mut self, group: &str) {
        let Some(c) = self.client("repair") else {
            return;
        };
        let intent = if self.rng.random_bool(0.5) {
            Intent::Present
        } else {
            Intent::Absent
        };
        if intent == Intent::Absent {
            self.forsake(group, true);
        }
        let before = self.holders(group);
        self.inject_faults();
        let result = c.repair_group(group, intent);
        self.heal();
        match result {
            Ok(r) if r.is_converged() => {
                let want = if intent == Intent::Present { NODES } else { 0 };
                if self.holders(group).len() != want {
                    self.violation(format!("{group}: repair {intent:?} converged but not so"));
                }
                if intent == Intent::Present {
                    self.want(group, 0..NODES);
                }
                self.count("repair", format!("{intent:?} converged"));
            }
            Ok(r) => {
                if intent == Intent::Present {
                    // What the repair made is wanted.
                    let made = self.holders(group);
                    self.want(group, made);
                }
                let named: Vec<String> = r.failed().iter().map(|h| h.to_string()).collect();
                // A repair reports every node; to present, what it made
                // was asked for.
                if intent == Intent::Absent {
                    self.check_named(group, &before, &named, "a repair to absent");
                }
                self.count("repair", format!("{intent:?} not converged"));
            }
            Err(e) => self.violation(format!("{group}: repair refused: {e}")),
        }
        self.check_protected(group, "repair");
    }

    fn step_recover(&mut self, groups: &[String], twice_at_once: bool) {
        let Some(c) = self.client("recover") else {
            return;
        };
        self.inject_faults();
        let results: Vec<_> = if twice_at_once {
            std::thread::scope(|s| {
                let a = s.spawn(|| c.recover());
                let b = s.spawn(|| c.recover());
                vec![a.join(), b.join()]
            })
        } else {
            vec![Ok(c.recover())]
        };
        self.heal();
        let mut named: Vec<String> = Vec::new();
        for r in results {
            match r {
                Ok(Ok(report)) => {
                    named.extend(report.needs_attention.iter().map(|a| a.host.to_string()));
                    // A repair to present that recovery ran again made
                    // what the user asked for.
                    let to_present = |f: &&cluster_client::RecoveredSaga| {
                        f.operation == "repair"
                            && !matches!(
                                f.outcome,
                                SagaOutcome::RolledBack { .. }
                                    | SagaOutcome::DeleteCompleted { .. }
                            )
                    };
                    for f in report.finished.iter().filter(to_present) {
                        let made = self.holders(&f.group_id);
                        self.want(&f.group_id, made);
                    }
                }
                Ok(Err(e)) => self.violation(format!("recover failed: {e}")),
                Err(_) => self.violation("recover panicked".to_string()),
            }
        }
        let step = if twice_at_once {
            "recover x2 at once"
        } else {
            "recover"
        };
        self.count(
            step,
            if named.is_empty() {
                "clean"
            } else {
                "nodes named"
            },
        );
        for g in groups {
            // After recover, only what it names may be left over.
            self.check_named(g, &BTreeSet::new(), &named, step);
            self.check_protected(g, step);
        }
    }
}

impl World<'_> {
    /// A child process runs one call on the journal and is killed at a
    /// random moment, or runs under a file size limit (a full disk).
    fn step_child(&mut self, group: &str, full_disk: bool) {
        self.close();
        let op = [
            "create",
            "create",
            "delete",
            "repair_present",
            "repair_absent",
        ][self.rng.random_range(0..5)];
        let removal = matches!(op, "delete" | "repair_absent");
        if removal {
            self.forsake(group, false);
        }
        let before = self.holders(group);
        self.inject_faults();
        let blocks = full_disk.then(|| {
            let len = std::fs::metadata(&self.journal).map_or(0, |m| m.len());
            len / 1024 + self.rng.random_range(0..2)
        });
        let env = [
            (ENV_HOSTS, self.nodes.hosts_csv()),
            (ENV_JOURNAL, self.journal.display().to_string()),
            (ENV_GROUP, group.to_string()),
            (ENV_OP, op.to_string()),
        ];
        let step = if full_disk {
            "full disk (child)"
        } else {
            "SIGKILL (child)"
        };
        match (self.spawn)(&env, blocks) {
            Ok(mut child) => {
                let wait = if full_disk {
                    Duration::from_secs(5)
                } else {
                    Duration::from_millis(self.rng.random_range(0..80))
                };
                let end = Instant::now() + wait;
                while Instant::now() < end && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(2));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            Err(e) => self.violation(format!("the child could not start: {e}")),
        }
        // Requests the child sent may still land.
        std::thread::sleep(Duration::from_millis(60));
        self.heal();
        if op == "repair_present" {
            // What a repair to present made, cut short or not, is wanted
            // (whether it ran at all, a full disk may have decided).
            let made: Vec<usize> = self.holders(group).difference(&before).copied().collect();
            self.want(group, made);
        }
        if removal && self.holders(group).len() < before.len() {
            self.forsake(group, true); // it ran
        }
        if self.client(step).is_some() {
            self.count(step, op);
        }
        self.check_protected(group, step);
    }

    /// One flipped bit: the journal must refuse to open as damaged and be
    /// left as it was; then the bit is put back.
    fn step_flip(&mut self) {
        self.close();
        let Ok(bytes) = std::fs::read(&self.journal) else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let at = self.rng.random_range(0..bytes.len());
        let bit = self.rng.random_range(0..8);
        let mut flipped = bytes.clone();
        flipped[at] ^= 1 << bit;
        if std::fs::write(&self.journal, &flipped).is_err() {
            return;
        }
        match builder(&self.nodes.hosts_csv())
            .journal(&self.journal)
            .build()
        {
            Err(Error::Journal {
                kind: JournalErrorKind::Damaged,
                offset: Some(o),
                ..
            }) if o <= at as u64 => self.count("flipped bit", "damaged, offset named"),
            Err(e) => self.violation(format!("flip at {at}.{bit}: {e}")),
            Ok(_) => self.violation(format!("flip at {at}.{bit} opened as a good journal")),
        }
        if std::fs::read(&self.journal).ok().as_ref() != Some(&flipped) {
            self.violation(format!("flip at {at}.{bit}: the damaged file was changed"));
        }
        let _ = std::fs::write(&self.journal, &bytes);
    }

    /// One random step on one of the groups.
    fn step(&mut self, groups: &[String]) {
        let group = groups[self.rng.random_range(0..groups.len())].clone();
        self.trail.push(format!("on {group}:"));
        match self.rng.random_range(0..100) {
            0..30 => self.step_create(&group),
            30..40 => self.step_delete(&group),
            40..50 => self.step_repair(&group),
            50..63 => self.step_recover(groups, false),
            63..68 => self.step_recover(groups, true),
            68..84 => self.step_child(&group, false),
            84..93 => self.step_child(&group, true),
            _ => self.step_flip(),
        }
    }
}

/// Runs `config.sequences` sequences of `config.steps` steps.
pub fn run(config: &Config, work_dir: &Path, spawn: &SpawnChild<'_>) -> std::io::Result<Report> {
    let start = Instant::now();
    let nodes = TestCluster::start(NODES)?;
    for n in nodes.nodes() {
        n.set_latency(LATENCY);
    }
    std::fs::create_dir_all(work_dir)?;
    let mut report = Report::default();
    let mut rng = SmallRng::seed_from_u64(config.seed);
    for seq in 0..config.sequences {
        let label = format!("seed {} sequence {seq}", config.seed);
        let groups: Vec<String> = ["a", "b"]
            .iter()
            .map(|g| format!("ja-{}-{seq}-{g}", config.seed))
            .collect();
        let mut protected = BTreeMap::new();
        for g in &groups {
            let pre: BTreeSet<usize> = (0..NODES).filter(|_| rng.random_bool(0.2)).collect();
            for &i in &pre {
                nodes.node(i).insert_group(g);
            }
            protected.insert(g.clone(), pre);
        }
        let journal = work_dir.join(format!("ja-{}-{seq}.journal", config.seed));
        let mut world = World {
            nodes: &nodes,
            journal: journal.clone(),
            client: None,
            wanted: protected.clone(),
            protected,
            label,
            trail: Vec::new(),
            seen_absent: BTreeMap::new(),
            rng: SmallRng::seed_from_u64(rng.random()),
            report: &mut report,
            spawn,
        };
        world.note_absent();
        for _ in 0..config.steps {
            world.step(&groups);
            world.report.steps += 1;
        }
        // Faults gone, every node up: recovery settles all it can.
        world.heal();
        world.step_recover(&groups, false);
        world.close();
        report.sequences += 1;
        for g in &groups {
            for n in nodes.nodes() {
                n.remove_group(g);
            }
        }
        let _ = std::fs::remove_file(&journal);
        let mut lock = journal.into_os_string();
        lock.push(".lock");
        let _ = std::fs::remove_file(lock);
    }
    report.wall_time = start.elapsed();
    Ok(report)
}
