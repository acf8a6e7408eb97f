//! What `clusterctl` prints: tables for humans, JSON for scripts, and the
//! stderr lines that name every failed node once.

use std::fmt::Write as _;
use std::time::Duration;

use cluster_client::{
    ConnectionPoolMetrics, Error, HedgeCounts, HostAddress, LatencySummary, NodeError, NodeFailure,
    POOL_METRICS,
};
use serde_json::{json, Map, Value};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the operation failed on one or more nodes.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage, invalid input or a configuration error.
pub const EXIT_USAGE: u8 = 2;

/// The longest reason or body excerpt printed on one line.
const MAX_REASON_CHARS: usize = 200;
/// The longest summary line of a failed call (its request path may be huge).
const MAX_SUMMARY_CHARS: usize = 300;
/// The longest request path (or what was being done) shown in a summary.
const MAX_WHAT_CHARS: usize = 120;

/// What a command produced: bytes for stdout, lines for stderr, the exit code.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<String>,
    pub code: u8,
}

impl Outcome {
    /// A bad command line or configuration (nothing was sent), as a JSON
    /// object on stdout too when `json`.
    pub fn usage_for(message: String, json: bool) -> Self {
        let mut o = Outcome::usage(message);
        if json {
            o.stdout = json_line(&json!({
                "ok": false,
                "error": flat(&o.stderr.join(" ")),
                "failed": [],
            }))
            .into_bytes();
        }
        o
    }

    pub fn ok(stdout: String) -> Self {
        Outcome {
            stdout: stdout.into_bytes(),
            ..Outcome::default()
        }
    }

    /// A bad command line or configuration: nothing was sent.
    pub fn usage(message: String) -> Self {
        Outcome {
            stderr: vec![message],
            code: EXIT_USAGE,
            ..Outcome::default()
        }
    }

    /// `stdout` with exit 0, or with exit 1 and `stderr` when `failed` is
    /// not empty.
    pub fn checked(stdout: String, failed: Vec<String>) -> Self {
        let code = if failed.is_empty() {
            EXIT_OK
        } else {
            EXIT_FAILED
        };
        Outcome {
            stdout: stdout.into_bytes(),
            stderr: failed,
            code,
        }
    }
}

/// `text` on one line (control characters and runs of whitespace become
/// one space) and at most 200 characters, for reasons and body excerpts on
/// stderr and in tables (JSON gets the whole text, [`flat`]).
pub fn one_line(text: &str) -> String {
    cut(&flat(text), MAX_REASON_CHARS)
}

/// `text` cut to at most `max` characters, the last one `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` on one line: control characters and runs of whitespace become one space.
pub fn flat(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stderr line naming a failed node, as the README promises.
pub fn failed_node(node: &HostAddress, reason: &str) -> String {
    format!("failed node {node}: {}", one_line(reason))
}

pub fn json_line(v: &Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

pub fn pretty_json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// `value` as one JSON line, or `text` (with a final newline) for humans.
pub fn value_or_text(json: bool, value: &Value, text: String) -> Outcome {
    Outcome::ok(if json {
        json_line(value)
    } else {
        let mut t = text;
        if !t.ends_with('\n') {
            t.push('\n');
        }
        t
    })
}

/// Renders rows as left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let _ = write!(l, "{cell:<w$}");
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// One node's metrics as a JSON object keyed by [`POOL_METRICS`] names.
pub fn metrics_json(m: &ConnectionPoolMetrics) -> Value {
    Value::Object(
        POOL_METRICS
            .iter()
            .map(|info| (info.name.to_string(), Value::from(info.value(m))))
            .collect(),
    )
}

/// Every node's metrics as JSON: `{"<node>": {"<metric>": n, ...}, ...}`.
pub fn metrics_by_node_json(nodes: &[(HostAddress, ConnectionPoolMetrics)]) -> Value {
    Value::Object(
        nodes
            .iter()
            .map(|(n, m)| (n.to_string(), metrics_json(m)))
            .collect::<Map<_, _>>(),
    )
}

/// The metrics table: one row per metric of [`POOL_METRICS`] (with its
/// help text), one column per node.
pub fn metrics_table(nodes: &[(HostAddress, ConnectionPoolMetrics)]) -> String {
    let mut header = vec!["METRIC"];
    header.extend(nodes.iter().map(|(n, _)| n.as_str()));
    header.push("MEANING");
    let rows: Vec<Vec<String>> = POOL_METRICS
        .iter()
        .map(|info| {
            let mut row = vec![info.name.to_string()];
            row.extend(nodes.iter().map(|(_, m)| info.value(m).to_string()));
            row.push(info.help.to_string());
            row
        })
        .collect();
    table(&header, &rows)
}

/// A duration in milliseconds, for JSON (`0.25`, `1024.0`).
fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One node's answer times as JSON: `{"count", "p50_ms", "p90_ms",
/// "p99_ms"}` (the percentiles are 0 while `count` is 0).
pub fn latency_json(l: &LatencySummary) -> Value {
    json!({
        "count": l.count,
        "p50_ms": millis(l.p50),
        "p90_ms": millis(l.p90),
        "p99_ms": millis(l.p99),
    })
}

/// Hedges as JSON: `{"sent", "won"}`.
pub fn hedges_json(h: HedgeCounts) -> Value {
    json!({ "sent": h.sent, "won": h.won })
}

/// A percentile for a table cell: `0.25ms`, `128ms`, `1.024s`; `-` when
/// nothing was measured.
fn duration_cell(d: Duration, count: u64) -> String {
    fn trimmed(v: f64, decimals: usize) -> String {
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            &s
        };
        s.to_string()
    }
    if count == 0 {
        "-".to_string()
    } else if d < Duration::from_secs(1) {
        format!("{}ms", trimmed(millis(d), 3))
    } else {
        format!("{}s", trimmed(d.as_secs_f64(), 3))
    }
}

/// The answer-time table: one row per node with how many answers were
/// measured and their p50, p90 and p99 (the upper bound of the histogram
/// bucket each falls in).
pub fn latency_table(nodes: &[(HostAddress, LatencySummary)]) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|(n, l)| {
            vec![
                n.to_string(),
                l.count.to_string(),
                duration_cell(l.p50, l.count),
                duration_cell(l.p90, l.count),
                duration_cell(l.p99, l.count),
            ]
        })
        .collect();
    table(&["NODE", "ANSWERS", "P50", "P90", "P99"], &rows)
}

/// The hedges line under the tables.
pub fn hedges_line(h: HedgeCounts) -> String {
    format!(
        "hedges: {} sent, {} won (second requests for slow one-node reads, all nodes)\n",
        h.sent, h.won
    )
}

/// Each node once, with the last reason it gave (a node tried several
/// times appears once).
fn each_node_once(failures: &[NodeFailure]) -> Vec<(HostAddress, String)> {
    let mut out: Vec<(HostAddress, String)> = Vec::new();
    for f in failures {
        let reason = f.error.to_string();
        match out.iter_mut().find(|(h, _)| *h == f.host) {
            Some(entry) => entry.1 = reason,
            None => out.push((f.host.clone(), reason)),
        }
    }
    out
}

/// A one-line summary of `e`, without the per-node reasons that follow it
/// on their own lines.
fn summary(e: &Error) -> String {
    match e {
        Error::GroupOperation {
            group_id,
            failed_hosts,
            rollback_failed_hosts,
            possible_orphans,
            request_id,
            ..
        } => {
            let mut s = format!(
                "group {group_id:?} not created everywhere: failed on {} node(s)",
                failed_hosts.len()
            );
            if rollback_failed_hosts.is_empty() && possible_orphans.is_empty() {
                s.push_str(", rolled back");
            } else {
                let _ = write!(
                    s,
                    "; rollback failed on {}, outcome unknown on {}",
                    rollback_failed_hosts.len(),
                    possible_orphans.len()
                );
            }
            let _ = write!(s, " (request id {request_id})");
            s
        }
        Error::Request { message, attempts } => request_summary(message, attempts),
        Error::NoHosts => format!(
            "{e}: give the nodes with --hosts LIST (e.g. --hosts \
             http://10.0.0.1:8000,http://10.0.0.2:8000), in a config file's hosts \
             (--config FILE or $CLUSTER_CLIENT_CONFIG), or in $HOSTS"
        ),
        // A configuration error is read in full (an unknown key's message
        // lists the valid ones): flattened, never cut.
        Error::InvalidConfig(_) => flat(&e.to_string()),
        // Others may hold a request path of any length.
        other => cut(&flat(&other.to_string()), MAX_SUMMARY_CHARS),
    }
}

/// The summary of a call no node answered usefully: an answer over the
/// size limit is said so (it is an answer, just too large to read), and the
/// request (its path may be huge) is shortened.
fn request_summary(message: &str, attempts: &[NodeFailure]) -> String {
    let what = cut(&flat(message), MAX_WHAT_CHARS);
    let limits: Vec<usize> = attempts
        .iter()
        .filter_map(|a| match a.error {
            NodeError::BodyTooLarge { limit } => Some(limit),
            _ => None,
        })
        .collect();
    match limits.first() {
        None => format!("{what}: no node answered ({} attempt(s))", attempts.len()),
        Some(limit) if limits.len() == attempts.len() => format!(
            "{what}: the answer is larger than the size limit ({limit} bytes, \
             max_response_bytes in the config file)"
        ),
        Some(limit) => format!(
            "{what}: no usable answer ({} attempt(s), {} of them larger than the size \
             limit of {limit} bytes, max_response_bytes in the config file)",
            attempts.len(),
            limits.len()
        ),
    }
}

/// The outcome of a failed call: exit 2 for invalid input or configuration
/// (nothing was sent), else 1 with every failed node named once on stderr
/// as `failed node <address>: <reason>`.
pub fn error_outcome(e: &Error, json: bool) -> Outcome {
    let code = if e.is_invalid_input() {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    };
    let mut stderr = vec![format!("error: {}", summary(e))];
    let mut failed: Vec<(HostAddress, String)> = Vec::new();
    match e {
        Error::GroupOperation {
            failures,
            rollback_failures,
            possible_orphans,
            ..
        } => {
            failed = each_node_once(failures);
            for (h, reason) in each_node_once(rollback_failures) {
                stderr.push(format!(
                    "rollback failed on node {h} (group still there): {}",
                    one_line(&reason)
                ));
            }
            for h in possible_orphans {
                stderr.push(format!("outcome unknown on node {h} (possible orphan)"));
            }
        }
        Error::Request { attempts, .. } => failed = each_node_once(attempts),
        Error::Arango {
            host,
            path,
            status,
            error_num,
            message,
        } => failed.push((
            host.clone(),
            format!("{path}: ArangoDB error {error_num} (HTTP {status}): {message}"),
        )),
        Error::UnexpectedResponse {
            host,
            path,
            status,
            reason,
        } => failed.push((
            host.clone(),
            format!("{path}: unexpected answer (HTTP {status}): {reason}"),
        )),
        other => {
            for h in other.failed_hosts() {
                failed.push((h, other.to_string()));
            }
        }
    }
    // The failed nodes come first, right under the summary.
    let notes = stderr.split_off(1);
    stderr.extend(failed.iter().map(|(h, r)| failed_node(h, r)));
    stderr.extend(notes);
    let stdout = if json {
        let failed: Vec<Value> = failed
            .iter()
            .map(|(h, r)| json!({ "node": h.as_str(), "error": flat(r) }))
            .collect();
        json_line(&json!({ "ok": false, "error": flat(&e.to_string()), "failed": failed }))
    } else {
        String::new()
    };
    Outcome {
        stdout: stdout.into_bytes(),
        stderr,
        code,
    }
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
