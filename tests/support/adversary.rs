//! The model-based adversary: for each case, 3–5 nodes, a group that some
//! of them hold before, and a script of the next answers each node gives to
//! creates, verifies and deletes, drawn from what a node (or a gateway in
//! front of it) can send. Then `create_group` runs (sometimes followed by
//! `delete_group`, sometimes cut by `shutdown()`), and the nodes' ground
//! truth is checked against what the library said.
//!
//! The model: a node may lose, delay, truncate or garble its answer, answer
//! past the request timeout, send a body over the limit, sit behind a
//! gateway that answers 502/504 after forwarding, and send any `Retry-After`.
//! A status the node sends *itself* matches what it did (a 4xx, 429, 500 or
//! 503 was not applied; a 2xx to a verify means the group is there): a node
//! that lies about its own state is outside what any client can detect.
//!
//! The caller's side is scripted too: a shutdown or a cancel at a random
//! moment of the create, bad paths, methods and ids, and concurrent calls
//! during the create. A caller's bad input must be refused before anything
//! is sent and charged to no node (I6); after a shutdown or a cancel every
//! group the create made is rolled back or named (I3).
//!
//! Membership changes too: in a fifth of the cases a node leaves the
//! client's node set at a random moment of the create and comes back; the
//! saga works on the set it started with, so the invariants stand as they
//! are (every node of that set, named by address).
//!
//! Used by `tests/adversary.rs` (CI-sized) and `examples/adversary.rs`.
// Closures here return the library's `Error` by value (the variant users
// match on); its size is the library's documented choice.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{
    CallOptions, CancelToken, ClusterClient, Error, Hedging, HostAddress, RetryPolicy,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(150);
const OPERATION_TIMEOUT: Duration = Duration::from_millis(1200);
const BODY_LIMIT: usize = 4096;
/// Extra time a call may take past its deadlines (thread hops, a loaded machine).
const SLACK: Duration = Duration::from_millis(1500);

/// The invariants checked.
pub const INVARIANTS: [&str; 8] = [
    "I1 a pre-existing group is never deleted by a failed create",
    "I2 Ok => every node holds the group",
    "I3 Err => every node that gained the group is named",
    "I4 delete_group's list covers the nodes still holding it",
    "I5a no panic",
    "I5b no call past its deadlines",
    "I5c metrics match the nodes (created <= accepted <= created + created_with_error)",
    "I6 a caller's bad input is refused before anything is sent, charged to no node",
];

/// The run's settings.
pub struct AdversaryConfig {
    /// Cases to run.
    pub cases: usize,
    /// Seed of the first case; case `i` uses `seed + i`.
    pub seed: u64,
    /// Worker threads, each with its own nodes.
    pub workers: usize,
}

/// What the cases found.
#[derive(Default)]
pub struct AdversaryReport {
    /// Cases run.
    pub cases: usize,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Creates that returned `Ok` / `Err`.
    pub creates_ok: u64,
    /// Creates that returned `Err`.
    pub creates_failed: u64,
    /// Violations per invariant (index into [`INVARIANTS`]).
    pub violations: [u64; 8],
    /// A replayable description of each violation (at most 20).
    pub examples: Vec<String>,
    /// Wall time.
    pub wall_time: Duration,
}

impl AdversaryReport {
    /// No invariant was violated.
    pub fn is_clean(&self) -> bool {
        self.violations.iter().all(|v| *v == 0)
    }

    fn merge(&mut self, other: AdversaryReport) {
        self.cases += other.cases;
        for (k, v) in other.faults {
            *self.faults.entry(k).or_default() += v;
        }
        self.creates_ok += other.creates_ok;
        self.creates_failed += other.creates_failed;
        for (a, b) in self.violations.iter_mut().zip(other.violations) {
            *a += b;
        }
        for e in other.examples {
            if self.examples.len() < 20 {
                self.examples.push(e);
            }
        }
    }
}

impl fmt::Display for AdversaryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| measure | value |")?;
        writeln!(f, "|---|---|")?;
        writeln!(f, "| cases | {} |", self.cases)?;
        writeln!(
            f,
            "| creates ok / failed | {} / {} |",
            self.creates_ok, self.creates_failed
        )?;
        for (kind, n) in &self.faults {
            writeln!(f, "| injected: {kind} | {n} |")?;
        }
        writeln!(
            f,
            "| injected in all | {} |",
            self.faults.values().sum::<u64>()
        )?;
        for (name, n) in INVARIANTS.iter().zip(self.violations) {
            writeln!(f, "| violations: {name} | {n} |")?;
        }
        writeln!(f, "| wall time | {:.1} s |", self.wall_time.as_secs_f64())
    }
}

/// A scripted answer and its name in the report.
struct Scripted {
    kind: &'static str,
    fault: Fault,
    /// How long after the request the node may still apply it.
    late: Duration,
}

fn retry_after(rng: &mut SmallRng) -> Option<String> {
    let values = [
        "0",
        "1",
        "99999999999999999999",
        "Sun, 06 Nov 300000000000 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "soon",
        "-5",
    ];
    match rng.random_range(0..10) {
        0..=4 => None,
        5 => Some("7".repeat(10 * 1024)),
        i => Some(values[(i as usize * 3 + rng.random_range(0..3)) % values.len()].to_string()),
    }
}

/// One answer a node gives to `method`, drawn from the model.
fn answer(rng: &mut SmallRng, method: &str) -> Scripted {
    let plain = |kind, fault| Scripted {
        kind,
        fault,
        late: Duration::ZERO,
    };
    let status =
        |rng: &mut SmallRng, statuses: &[u16]| statuses[rng.random_range(0..statuses.len())];
    match rng.random_range(0..14) {
        0 | 1 => {
            // The node's own error statuses: not applied.
            let s = status(rng, &[400, 404, 429, 500, 503, 503, 429]);
            let s = if method == "DELETE" && s == 404 {
                400
            } else {
                s
            };
            plain(
                "status 4xx/5xx (not applied)",
                Fault::Status {
                    status: s,
                    retry_after: retry_after(rng),
                },
            )
        }
        2 | 3 => plain(
            "gateway 502/504 (not forwarded)",
            Fault::Status {
                status: status(rng, &[502, 504]),
                retry_after: retry_after(rng),
            },
        ),
        4 => plain(
            "gateway 502/504 after applying",
            Fault::ApplyThenAnswer {
                status: status(rng, &[502, 504]),
                retry_after: retry_after(rng),
            },
        ),
        5 => plain("applied, answer lost", Fault::ApplyThenDrop),
        6 => plain("dropped before applying", Fault::Drop),
        7 => plain(
            "never answers (past the request timeout)",
            Fault::NeverAnswer,
        ),
        8 => {
            let d = Duration::from_millis(rng.random_range(20..400));
            Scripted {
                kind: "latency spike (applies even if late)",
                fault: Fault::Delay(d),
                late: d,
            }
        }
        9 => plain(
            "applied, body over the limit",
            Fault::ApplyThenHugeBody(BODY_LIMIT * 2),
        ),
        10 | 11 => plain("garbage instead of HTTP", Fault::Garbage),
        12 => plain("closed mid-body", Fault::CloseMidBody),
        _ => Scripted {
            kind: "latency spike (applies even if late)",
            fault: Fault::Delay(Duration::from_millis(30)),
            late: Duration::from_millis(30),
        },
    }
}

/// One case's plan, printable for replay.
struct Case {
    seed: u64,
    nodes: usize,
    pre: Vec<usize>,
    /// (node, method, answers) in order.
    scripts: Vec<(usize, &'static str, Vec<String>)>,
    then_delete: bool,
    /// The caller stops the create: (cancel rather than shutdown, after).
    stop: Option<(bool, Duration)>,
    /// A node leaves the client's node set (and comes back) this long
    /// into the create: the saga keeps the set it started with.
    membership: Option<(usize, Duration)>,
    /// Bad calls made before the create.
    bad_calls: Vec<&'static str>,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} ({} nodes, pre-existing {:?}, delete after: {}, stop (cancel?, after): {:?}, node leaving and back: {:?}, bad calls: {:?})",
            self.seed, self.nodes, self.pre, self.then_delete, self.stop, self.membership, self.bad_calls
        )?;
        for (node, method, answers) in &self.scripts {
            write!(f, "\n  node {node} {method}: {}", answers.join(" ; "))?;
        }
        Ok(())
    }
}

fn client(nodes: &TestCluster, n: usize) -> Result<ClusterClient, Error> {
    ClusterClient::builder()
        .hosts(nodes.urls().into_iter().take(n))
        .retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_millis(2),
            Duration::from_millis(20),
        ))
        .connect_timeout(Duration::from_millis(300))
        .request_timeout(REQUEST_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .max_response_bytes(BODY_LIMIT)
        .probe_interval(Duration::from_millis(20))
        // One-node reads hedge (group operations never do): the invariants hold with it on.
        .hedging(Hedging::after(Duration::from_millis(10)).budget_percent(50.0))
        .build()
}

/// Bad calls a caller may make: each must be refused before anything is sent.
type BadCall = fn(&ClusterClient, &HostAddress) -> Result<(), Error>;
const BAD_CALLS: [(&str, BadCall); 8] = [
    ("request /a<b>", |c, _| {
        c.request("GET", "/a<b>", None).map(|_| ())
    }),
    ("request /a`b", |c, _| {
        c.request("GET", "/a`b", None).map(|_| ())
    }),
    ("request method G ET", |c, _| {
        c.request("G ET", "/", None).map(|_| ())
    }),
    ("request_to /a|b", |c, h| {
        c.request_to(h, "GET", "/a|b", None).map(|_| ())
    }),
    ("create a/b", |c, _| c.create_group("a/b")),
    ("delete ..", |c, _| c.delete_group("..").map(|_| ())),
    ("verify a\\b", |c, h| c.verify_group(h, "a\\b").map(|_| ())),
    ("repair empty id", |c, _| {
        c.repair_group("", cluster_client::Intent::Absent)
            .map(|_| ())
    }),
];

/// I6: the bad calls named are refused as the caller's input, and no node
/// saw a request, a metric move, or its health change.
fn bad_input_is_not_charged(
    client: &ClusterClient,
    nodes: &TestCluster,
    n: usize,
    calls: &[&str],
) -> Result<(), String> {
    if calls.is_empty() {
        return Ok(());
    }
    let m = client.cluster_management();
    let before = (m.connection_pool_metrics(), m.healthy_nodes());
    let counts: Vec<usize> = (0..n).map(|i| nodes.node(i).request_count()).collect();
    let host: HostAddress = nodes.node(0).url().parse().map_err(|e| format!("{e}"))?;
    for name in calls {
        let Some((_, call)) = BAD_CALLS.iter().find(|(k, _)| k == name) else {
            continue;
        };
        match catch_unwind(AssertUnwindSafe(|| call(client, &host))) {
            Ok(Err(e)) if e.is_invalid_input() => {}
            Ok(other) => return Err(format!("{name}: {other:?}")),
            Err(_) => return Err(format!("{name} panicked")),
        }
    }
    let after = (m.connection_pool_metrics(), m.healthy_nodes());
    let counts_after: Vec<usize> = (0..n).map(|i| nodes.node(i).request_count()).collect();
    if before != after || counts != counts_after {
        return Err(format!(
            "bad input charged: {before:?} -> {after:?}, requests {counts:?} -> {counts_after:?}"
        ));
    }
    Ok(())
}

/// Runs one case on `nodes` (5 test nodes, any state) and records it.
fn run_case(nodes: &TestCluster, seed: u64, report: &mut AdversaryReport) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let n = rng.random_range(3..=5);
    let group = format!("adv-{seed}");
    for node in nodes.nodes() {
        node.clear_faults();
        node.set_latency(Duration::ZERO);
    }
    let pre: Vec<usize> = (0..n).filter(|_| rng.random_bool(0.3)).collect();
    for &i in &pre {
        nodes.node(i).insert_group(&group);
    }
    let mut case = Case {
        seed,
        nodes: n,
        pre: pre.clone(),
        scripts: Vec::new(),
        then_delete: rng.random_bool(0.25),
        stop: rng.random_bool(0.2).then(|| {
            (
                rng.random_bool(0.5),
                Duration::from_millis(rng.random_range(0..200)),
            )
        }),
        membership: rng.random_bool(0.2).then(|| {
            (
                rng.random_range(0..n),
                Duration::from_millis(rng.random_range(0..150)),
            )
        }),
        bad_calls: (0..rng.random_range(0..3))
            .map(|_| BAD_CALLS[rng.random_range(0..BAD_CALLS.len())].0)
            .collect(),
    };
    let mut late = Duration::ZERO;
    for node in 0..n {
        for (method, prefix) in [
            ("POST", "/v1/group"),
            ("GET", "/v1/group"),
            ("DELETE", "/v1/group"),
        ] {
            if !rng.random_bool(0.45) {
                continue;
            }
            let mut answers = Vec::new();
            for _ in 0..rng.random_range(1..=3) {
                let s = answer(&mut rng, method);
                *report.faults.entry(s.kind).or_default() += 1;
                late = late.max(s.late);
                answers.push(format!("{:?}", s.fault).chars().take(80).collect());
                nodes
                    .node(node)
                    .inject(FaultRule::new(s.fault).method(method).path_prefix(prefix));
            }
            case.scripts.push((node, method, answers));
        }
    }
    let accepted_before: Vec<u64> = (0..n)
        .map(|i| nodes.node(i).accepted_connections())
        .collect();
    let violate = |report: &mut AdversaryReport, which: usize, what: String| {
        report.violations[which] += 1;
        if report.examples.len() < 20 {
            report
                .examples
                .push(format!("{}: {what}\n{case}", INVARIANTS[which]));
        }
    };
    let client = match client(nodes, n) {
        Ok(c) => c,
        Err(e) => {
            violate(report, 4, format!("client did not build: {e}"));
            return;
        }
    };
    let hosts: Vec<HostAddress> = (0..n)
        .filter_map(|i| nodes.node(i).url().parse().ok())
        .collect();
    if let Err(what) = bad_input_is_not_charged(&client, nodes, n, &case.bad_calls) {
        violate(report, 7, what);
    }
    let token = CancelToken::new();
    let caller = client.with_options(CallOptions::new().cancel_token(token.clone()));
    let mover = case.membership.map(|(leaving, after)| {
        let c = client.clone();
        let h = hosts[leaving].clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let _ = c.remove_node(&h);
            std::thread::sleep(Duration::from_millis(5));
            let _ = c.add_node(h.as_str());
        })
    });
    let stopper = case.stop.map(|(cancel, after)| {
        let c = client.clone();
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            if cancel {
                token.cancel();
            } else {
                c.shutdown();
            }
        })
    });
    // Concurrent calls of the caller during the create (reads: the ground
    // truth stays the create's).
    let reader = {
        let c = caller.clone();
        std::thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                let _ = c.request("GET", "/_admin/server/id", None);
                let _ = c.cluster_management().healthy_nodes();
            }))
            .is_ok()
        })
    };
    let start = Instant::now();
    let created = catch_unwind(AssertUnwindSafe(|| caller.create_group(&group)));
    let took = start.elapsed();
    if !reader.join().unwrap_or(false) {
        violate(report, 4, "a concurrent call panicked".to_string());
    }
    // A create that fails rolls back under its own deadline.
    let bound = OPERATION_TIMEOUT * 2 + REQUEST_TIMEOUT + SLACK;
    if took > bound {
        violate(
            report,
            5,
            format!("create_group took {took:?} (bound {bound:?})"),
        );
    }
    // Requests the nodes still hold (latency spikes) may apply late.
    std::thread::sleep(late + Duration::from_millis(20));
    let holders = |nodes: &TestCluster| -> Vec<usize> {
        (0..n)
            .filter(|&i| nodes.node(i).has_group(&group))
            .collect()
    };
    let now = holders(nodes);
    match &created {
        Err(_) => violate(report, 4, "create_group panicked".to_string()),
        Ok(Ok(())) => {
            report.creates_ok += 1;
            if now.len() != n {
                violate(
                    report,
                    1,
                    format!("Ok, but only nodes {now:?} hold the group"),
                );
            }
        }
        Ok(Err(e)) => {
            report.creates_failed += 1;
            for &i in &pre {
                if !now.contains(&i) {
                    violate(
                        report,
                        0,
                        format!("pre-existing group on node {i} deleted: {e}"),
                    );
                }
            }
            let named: Vec<&HostAddress> = match e {
                Error::GroupOperation {
                    rollback_failed_hosts,
                    possible_orphans,
                    ..
                } => rollback_failed_hosts
                    .iter()
                    .chain(possible_orphans)
                    .collect(),
                _ => Vec::new(),
            };
            for &i in &now {
                if !pre.contains(&i) && !named.contains(&&hosts[i]) {
                    violate(
                        report,
                        2,
                        format!("node {i} gained the group, not named: {e}"),
                    );
                }
            }
        }
    }
    // The delete works on the node set it starts with: let the membership
    // change finish first, so that set is all the case's nodes.
    if let Some(t) = mover {
        let _ = t.join();
    }
    if case.then_delete && case.stop.is_none() {
        for node in nodes.nodes() {
            node.set_latency(Duration::ZERO);
        }
        let start = Instant::now();
        let deleted = catch_unwind(AssertUnwindSafe(|| client.delete_group(&group)));
        if start.elapsed() > OPERATION_TIMEOUT + REQUEST_TIMEOUT + SLACK {
            violate(
                report,
                5,
                format!("delete_group took {:?}", start.elapsed()),
            );
        }
        std::thread::sleep(late + Duration::from_millis(20));
        match deleted {
            Err(_) => violate(report, 4, "delete_group panicked".to_string()),
            Ok(Err(e)) => violate(report, 3, format!("delete_group failed as a whole: {e}")),
            Ok(Ok(left)) => {
                for i in holders(nodes) {
                    if !left.contains(&hosts[i]) {
                        violate(
                            report,
                            3,
                            format!("node {i} still holds the group, not returned ({left:?})"),
                        );
                    }
                }
            }
        }
    }
    if let Some(t) = stopper {
        let _ = t.join();
    }
    client.shutdown();
    std::thread::sleep(Duration::from_millis(30));
    let metrics = client.cluster_management().connection_pool_metrics();
    for (i, h) in hosts.iter().enumerate() {
        // A node that left and came back starts a new metrics row: its
        // accept count spans both, so the comparison does not apply.
        if case.membership.is_some_and(|(leaving, _)| leaving == i) {
            continue;
        }
        let Some(m) = metrics.get(h) else { continue };
        let accepted = nodes.node(i).accepted_connections() - accepted_before[i];
        if m.connections_created - m.connections_closed != m.curr_connections {
            violate(
                report,
                6,
                format!("node {i}: created - closed != curr: {m:?}"),
            );
        }
        // A connect the client abandoned at its deadline after the kernel
        // finished the handshake is counted as failed by the client and
        // accepted by the node: the node's count lies between the two.
        if accepted < m.connections_created
            || accepted > m.connections_created + m.connections_created_with_error
        {
            violate(
                report,
                6,
                format!(
                    "node {i}: {} connections created, the node accepted {accepted}: {m:?}",
                    m.connections_created
                ),
            );
        }
    }
    for node in nodes.nodes() {
        node.clear_faults();
        node.remove_group(&group);
    }
    report.cases += 1;
}

/// Runs the cases on `config.workers` threads, each with its own 5 nodes.
pub fn run(config: &AdversaryConfig) -> std::io::Result<AdversaryReport> {
    let start = Instant::now();
    let total = Mutex::new(AdversaryReport::default());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let clusters: Vec<TestCluster> = (0..config.workers.max(1))
        .map(|_| TestCluster::start(5))
        .collect::<Result<_, _>>()?;
    std::thread::scope(|s| {
        for nodes in &clusters {
            let (total, next) = (&total, &next);
            s.spawn(move || {
                let mut mine = AdversaryReport::default();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= config.cases {
                        break;
                    }
                    run_case(nodes, config.seed.wrapping_add(i as u64), &mut mine);
                }
                total.lock().unwrap_or_else(|e| e.into_inner()).merge(mine);
            });
        }
    });
    let mut report = total.into_inner().unwrap_or_else(|e| e.into_inner());
    report.wall_time = start.elapsed();
    Ok(report)
}
