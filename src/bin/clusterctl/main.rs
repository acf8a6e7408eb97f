//! `clusterctl`: drive a cluster of HTTP nodes from the command line.
//!
//! ```sh
//! clusterctl --hosts http://10.0.0.1:8000,http://10.0.0.2:8000 group create my-group
//! HOSTS=http://10.0.0.1:8000,http://10.0.0.2:8000 clusterctl --json nodes
//! ```
//!
//! Exit codes: 0 success, 1 the operation failed (the failed nodes are named
//! on stderr), 2 bad usage or invalid input (nothing was sent).

// `cluster_client::Error` is large by design (see the library's root);
// errors are the cold path here too.
#![allow(clippy::result_large_err)]

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use cluster_client::{
    ClusterClient, ConnectionPoolMetrics, Error, HostAddress, MaintenanceMode, RetryPolicy,
};
use serde_json::{json, Value};

const USAGE: &str = "\
clusterctl: drive a cluster of HTTP nodes as one

Usage: clusterctl [OPTIONS] <COMMAND>

Commands:
  group create ID         create group ID on every node (verified, or rolled back)
  group delete ID         delete group ID on every node
  group verify ID         show whether each node holds group ID
  nodes                   check every node once; show health and pool metrics
  admin id                the answering server's id
  admin role              the answering server's role
  admin health            the cluster's health, server by server
  admin count             the number of servers
  admin version ID        server ID's version
  admin engine ID         server ID's storage engine
  admin stats ID          server ID's statistics
  admin maintenance on|off  turn the cluster's maintenance mode on or off
  metrics [--prometheus]  the pool metrics of every node (Prometheus text format)

Options:
  --hosts LIST       comma-separated node addresses, e.g.
                     http://10.0.0.1:8000,http://10.0.0.2:8000 (default: $HOSTS)
  --json             print JSON for scripts instead of tables
  --timeout SECS     bound on one whole operation, retries included [default: 30]
  --retries N        attempts per node, the first included [default: 3]
  -h, --help         print this help

Exit codes: 0 success, 1 the operation failed (failed nodes on stderr),
2 bad usage or invalid input.
";

/// Exit code: success.
const EXIT_OK: u8 = 0;
/// Exit code: the operation failed on one or more nodes.
const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or invalid input.
const EXIT_USAGE: u8 = 2;

/// The id `nodes` looks up on every node to check it (a read-only request).
const CHECK_GROUP_ID: &str = "clusterctl-health-check";

/// What the command line asks for.
#[derive(Debug)]
struct Args {
    hosts: Option<String>,
    json: bool,
    prometheus: bool,
    timeout: Duration,
    retries: u32,
    command: Command,
}

#[derive(Debug)]
enum Command {
    Help,
    GroupCreate(String),
    GroupDelete(String),
    GroupVerify(String),
    Nodes,
    AdminId,
    AdminRole,
    AdminHealth,
    AdminCount,
    AdminVersion(String),
    AdminEngine(String),
    AdminStats(String),
    AdminMaintenance(MaintenanceMode),
    Metrics,
}

/// A bad command line: the message to print before the hint to `--help`.
#[derive(Debug)]
struct Usage(String);

impl From<lexopt::Error> for Usage {
    fn from(e: lexopt::Error) -> Self {
        Usage(e.to_string())
    }
}

fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Args, Usage> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let mut hosts = None;
    let mut json = false;
    let mut prometheus = false;
    let mut help = false;
    let mut timeout = Duration::from_secs(30);
    let mut retries = 3u32;
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("hosts") => hosts = Some(parser.value()?.string()?),
            Long("json") => json = true,
            Long("prometheus") => prometheus = true,
            Long("timeout") => {
                let secs: f64 = parser.value()?.parse()?;
                if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
                    return Err(Usage(format!(
                        "--timeout must be between 0 and 86400 seconds, got {secs}"
                    )));
                }
                timeout = Duration::from_secs_f64(secs);
            }
            Long("retries") => {
                retries = parser.value()?.parse()?;
                if !(1..=100).contains(&retries) {
                    return Err(Usage(format!(
                        "--retries must be between 1 and 100, got {retries}"
                    )));
                }
            }
            Short('h') | Long("help") => help = true,
            Value(v) => words.push(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let command = if help {
        Command::Help
    } else {
        parse_command(&words)?
    };
    if prometheus && !matches!(command, Command::Metrics | Command::Help) {
        return Err(Usage("--prometheus goes with the metrics command".into()));
    }
    Ok(Args {
        hosts,
        json,
        prometheus,
        timeout,
        retries,
        command,
    })
}

fn parse_command(words: &[String]) -> Result<Command, Usage> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let id = |what: &str, rest: &[&str]| match rest {
        [id] => Ok(id.to_string()),
        [] => Err(Usage(format!("{what} needs an ID"))),
        _ => Err(Usage(format!("{what} takes one ID"))),
    };
    let command = match w.as_slice() {
        [] => return Err(Usage("no command given".into())),
        ["group", "create", rest @ ..] => Command::GroupCreate(id("group create", rest)?),
        ["group", "delete", rest @ ..] => Command::GroupDelete(id("group delete", rest)?),
        ["group", "verify", rest @ ..] => Command::GroupVerify(id("group verify", rest)?),
        ["group", ..] => return Err(Usage("group needs create, delete or verify".into())),
        ["nodes"] => Command::Nodes,
        ["metrics"] => Command::Metrics,
        ["admin", "id"] => Command::AdminId,
        ["admin", "role"] => Command::AdminRole,
        ["admin", "health"] => Command::AdminHealth,
        ["admin", "count"] => Command::AdminCount,
        ["admin", "version", rest @ ..] => Command::AdminVersion(id("admin version", rest)?),
        ["admin", "engine", rest @ ..] => Command::AdminEngine(id("admin engine", rest)?),
        ["admin", "stats", rest @ ..] => Command::AdminStats(id("admin stats", rest)?),
        ["admin", "maintenance", "on"] => Command::AdminMaintenance(MaintenanceMode::On),
        ["admin", "maintenance", "off"] => Command::AdminMaintenance(MaintenanceMode::Off),
        ["admin", "maintenance", ..] => {
            return Err(Usage("admin maintenance needs on or off".into()))
        }
        ["admin", ..] => {
            return Err(Usage(
                "admin needs id, role, health, count, version, engine, stats or maintenance".into(),
            ))
        }
        [cmd, ..] => return Err(Usage(format!("unknown command or extra words: {cmd:?}"))),
    };
    Ok(command)
}

/// What a command produced: text for stdout, lines for stderr, the exit code.
#[derive(Debug, Default)]
struct Outcome {
    stdout: String,
    stderr: Vec<String>,
    code: u8,
}

impl Outcome {
    fn ok(stdout: String) -> Self {
        Outcome {
            stdout,
            ..Outcome::default()
        }
    }
}

fn main() -> ExitCode {
    // Library logs only when asked for, e.g. RUST_LOG=debug.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(Usage(m)) => {
            eprintln!("clusterctl: {m}\nTry 'clusterctl --help' for more.");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let outcome = run(&args);
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not worth a panic.
    let _ = stdout.write_all(outcome.stdout.as_bytes());
    let _ = stdout.flush();
    for line in &outcome.stderr {
        eprintln!("clusterctl: {line}");
    }
    ExitCode::from(outcome.code)
}

fn run(args: &Args) -> Outcome {
    if let Command::Help = args.command {
        return Outcome::ok(USAGE.to_string());
    }
    let hosts = match &args.hosts {
        Some(h) => h.clone(),
        None => std::env::var("HOSTS").unwrap_or_default(),
    };
    let client = ClusterClient::builder()
        .hosts_str(&hosts)
        .retry_policy(RetryPolicy::exponential(
            args.retries,
            Duration::from_millis(200),
            Duration::from_secs(2),
        ))
        .connect_timeout(Duration::from_secs(2).min(args.timeout))
        .request_timeout(Duration::from_secs(10).min(args.timeout))
        .operation_timeout(args.timeout)
        .fan_out_threads(16)
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => return error_outcome(&e, args.json),
    };
    let result = match &args.command {
        Command::Help => Ok(Outcome::ok(USAGE.to_string())),
        Command::GroupCreate(id) => group_create(&client, id, args.json),
        Command::GroupDelete(id) => group_delete(&client, id, args.json),
        Command::GroupVerify(id) => group_verify(&client, id, args.json),
        Command::Nodes => Ok(nodes(&client, args.json)),
        Command::Metrics => Ok(metrics(&client, args.json, args.prometheus)),
        admin => admin_command(&client, admin, args.json),
    };
    client.shutdown();
    result.unwrap_or_else(|e| error_outcome(&e, args.json))
}

/// The outcome of a failed call: exit 2 for invalid input, else 1 with
/// every failed node named on stderr.
fn error_outcome(e: &Error, json: bool) -> Outcome {
    let code = if e.is_invalid_input() {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    };
    let mut stderr = vec![format!("error: {e}")];
    let mut failed: Vec<Value> = Vec::new();
    match e {
        Error::GroupOperation {
            failures,
            rollback_failures,
            possible_orphans,
            ..
        } => {
            for f in failures {
                stderr.push(format!("failed node {}: {}", f.host, f.error));
                failed.push(json!({ "node": f.host.as_str(), "error": f.error.to_string() }));
            }
            for f in rollback_failures {
                stderr.push(format!(
                    "rollback failed on node {} (group still there): {}",
                    f.host, f.error
                ));
            }
            for h in possible_orphans {
                stderr.push(format!("outcome unknown on node {h} (possible orphan)"));
            }
        }
        Error::Request { attempts, .. } => {
            for a in attempts {
                stderr.push(format!("failed node {}: {}", a.host, a.error));
                failed.push(json!({ "node": a.host.as_str(), "error": a.error.to_string() }));
            }
        }
        other => {
            for h in other.failed_hosts() {
                stderr.push(format!("failed node {h}"));
                failed.push(json!({ "node": h.as_str(), "error": other.to_string() }));
            }
        }
    }
    let stdout = if json {
        json_line(&json!({ "ok": false, "error": e.to_string(), "failed": failed }))
    } else {
        String::new()
    };
    Outcome {
        stdout,
        stderr,
        code,
    }
}

/// Why a one-node call failed, without repeating the node: the last
/// attempt's reason when there is one.
fn node_reason(e: &Error) -> String {
    match e {
        Error::Request { attempts, .. } => match attempts.last() {
            Some(a) => a.error.to_string(),
            None => e.to_string(),
        },
        other => other.to_string(),
    }
}

fn json_line(v: &Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

fn pretty_json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// Renders rows as left-aligned columns separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
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

fn group_create(client: &ClusterClient, id: &str, json: bool) -> Result<Outcome, Error> {
    client.create_group(id)?;
    let nodes = client.cluster_management().nodes();
    Ok(Outcome::ok(if json {
        json_line(&json!({
            "ok": true,
            "group": id,
            "created": true,
            "nodes": nodes.iter().map(HostAddress::as_str).collect::<Vec<_>>(),
        }))
    } else {
        format!("created group {id:?} on {} node(s)\n", nodes.len())
    }))
}

fn group_delete(client: &ClusterClient, id: &str, json: bool) -> Result<Outcome, Error> {
    let failures = client.delete_group_report(id)?;
    let total = client.cluster_management().nodes().len();
    let stdout = if json {
        json_line(&json!({
            "ok": failures.is_empty(),
            "group": id,
            "deleted": failures.is_empty(),
            "failed": failures
                .iter()
                .map(|f| json!({ "node": f.host.as_str(), "error": f.error.to_string() }))
                .collect::<Vec<_>>(),
        }))
    } else if failures.is_empty() {
        format!("deleted group {id:?} on {total} node(s)\n")
    } else {
        format!(
            "deleted group {id:?} on {} of {total} node(s)\n",
            total - failures.len().min(total)
        )
    };
    let mut stderr = Vec::new();
    if !failures.is_empty() {
        stderr.push(format!(
            "error: group {id:?} not deleted on {} node(s)",
            failures.len()
        ));
        for f in &failures {
            stderr.push(format!("failed node {}: {}", f.host, f.error));
        }
    }
    Ok(Outcome {
        stdout,
        stderr,
        code: if failures.is_empty() {
            EXIT_OK
        } else {
            EXIT_FAILED
        },
    })
}

/// Asks every node at once whether it holds group `id`. Exit 0 only when
/// every node holds it.
fn group_verify(client: &ClusterClient, id: &str, json: bool) -> Result<Outcome, Error> {
    // An invalid id is refused once, before anything is sent (exit 2).
    let results = client.verify_group_everywhere(id)?;
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    let mut stderr = Vec::new();
    for (node, r) in &results {
        let (state, entry) = match r {
            Ok(true) => (
                "present".to_string(),
                json!({ "node": node.as_str(), "exists": true }),
            ),
            Ok(false) => {
                stderr.push(format!("node {node} does not hold group {id:?}"));
                (
                    "missing".to_string(),
                    json!({ "node": node.as_str(), "exists": false }),
                )
            }
            Err(e) => {
                let reason = e.to_string();
                stderr.push(format!("failed node {node}: {reason}"));
                (
                    format!("error: {reason}"),
                    json!({ "node": node.as_str(), "exists": null, "error": reason }),
                )
            }
        };
        rows.push(vec![node.to_string(), state]);
        entries.push(entry);
    }
    let all = results.iter().all(|(_, r)| matches!(r, Ok(true)));
    let stdout = if json {
        json_line(&json!({ "ok": all, "group": id, "everywhere": all, "nodes": entries }))
    } else {
        table(&["NODE", "GROUP"], &rows)
    };
    Ok(Outcome {
        stdout,
        stderr,
        code: if all { EXIT_OK } else { EXIT_FAILED },
    })
}

const METRICS_HEADER: [&str; 8] = [
    "CURR", "CREATED", "CONN_ERR", "PURGED", "CLOSED", "OPS", "OPS_ERR", "WAITED",
];

fn metrics_json(m: &ConnectionPoolMetrics) -> Value {
    Value::Object(
        m.fields()
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

/// Checks every node with one read-only request (a group lookup; any
/// answer proves the node up), then shows health and pool metrics. Exit 1
/// when a node is unhealthy.
fn nodes(client: &ClusterClient, json: bool) -> Outcome {
    let m = client.cluster_management();
    let nodes = m.nodes();
    // One fan-out to every node at once; a call-wide failure (the id is a
    // valid constant, so only a shutdown) counts against every node.
    let checks: Vec<Option<String>> = match client.verify_group_everywhere(CHECK_GROUP_ID) {
        Ok(answers) => nodes
            .iter()
            .map(|n| match answers.iter().find(|(h, _)| h == n) {
                Some((_, Ok(_))) => None,
                Some((_, Err(e))) => Some(e.to_string()),
                None => Some("no answer".to_string()),
            })
            .collect(),
        Err(e) => nodes.iter().map(|_| Some(node_reason(&e))).collect(),
    };
    let unhealthy = m.unhealthy_nodes();
    let metrics = m.connection_pool_metrics();
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    let mut stderr = Vec::new();
    for (node, check) in nodes.iter().zip(&checks) {
        let healthy = !unhealthy.contains(node) && check.is_none();
        let met = metrics.get(node).copied().unwrap_or_default();
        if let Some(reason) = check {
            stderr.push(format!("failed node {node}: {reason}"));
        } else if !healthy {
            stderr.push(format!("unhealthy node {node}"));
        }
        let mut row = vec![
            node.to_string(),
            if healthy { "healthy" } else { "unhealthy" }.to_string(),
        ];
        row.extend(met.fields().iter().map(|(_, v)| v.to_string()));
        rows.push(row);
        entries.push(json!({
            "node": node.as_str(),
            "healthy": healthy,
            "error": check,
            "metrics": metrics_json(&met),
        }));
    }
    let all_healthy = stderr.is_empty();
    let stdout = if json {
        json_line(&json!({ "ok": all_healthy, "nodes": entries }))
    } else {
        let mut header = vec!["NODE", "HEALTH"];
        header.extend(METRICS_HEADER);
        table(&header, &rows)
    };
    Outcome {
        stdout,
        stderr,
        code: if all_healthy { EXIT_OK } else { EXIT_FAILED },
    }
}

fn metrics(client: &ClusterClient, json: bool, prometheus: bool) -> Outcome {
    let m = client.cluster_management();
    if prometheus {
        return Outcome::ok(m.prometheus());
    }
    let all = m.connection_pool_metrics();
    let nodes = m.nodes();
    if json {
        let obj: serde_json::Map<String, Value> = nodes
            .iter()
            .map(|n| {
                let met = all.get(n).copied().unwrap_or_default();
                (n.to_string(), metrics_json(&met))
            })
            .collect();
        return Outcome::ok(json_line(&Value::Object(obj)));
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let met = all.get(n).copied().unwrap_or_default();
            let mut row = vec![n.to_string()];
            row.extend(met.fields().iter().map(|(_, v)| v.to_string()));
            row
        })
        .collect();
    let mut header = vec!["NODE"];
    header.extend(METRICS_HEADER);
    Outcome::ok(table(&header, &rows))
}

/// Prints `value` as JSON or `text` for humans.
fn value_or_text(json: bool, value: Value, text: String) -> Outcome {
    Outcome::ok(if json {
        json_line(&value)
    } else {
        let mut t = text;
        if !t.ends_with('\n') {
            t.push('\n');
        }
        t
    })
}

fn admin_command(client: &ClusterClient, cmd: &Command, json: bool) -> Result<Outcome, Error> {
    let c = client.cluster();
    Ok(match cmd {
        Command::AdminId => {
            let id = c.server_id()?;
            value_or_text(json, json!({ "id": id }), id)
        }
        Command::AdminRole => {
            let role = c.server_role()?.to_string();
            value_or_text(json, json!({ "role": role }), role)
        }
        Command::AdminCount => {
            let n = c.server_count()?;
            value_or_text(json, json!({ "count": n }), n.to_string())
        }
        Command::AdminHealth => {
            let h = c.health()?;
            let servers: serde_json::Map<String, Value> = h
                .servers
                .iter()
                .map(|(id, s)| {
                    (
                        id.clone(),
                        json!({
                            "role": s.role,
                            "status": s.status,
                            "endpoint": s.endpoint,
                            "short_name": s.short_name,
                            "version": s.version,
                        }),
                    )
                })
                .collect();
            let rows: Vec<Vec<String>> = h
                .servers
                .iter()
                .map(|(id, s)| {
                    vec![
                        id.clone(),
                        s.role.clone(),
                        s.status.clone(),
                        s.endpoint.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            value_or_text(
                json,
                json!({ "cluster_id": h.cluster_id, "servers": servers }),
                format!(
                    "cluster {}\n{}",
                    h.cluster_id,
                    table(&["SERVER", "ROLE", "STATUS", "ENDPOINT"], &rows)
                ),
            )
        }
        Command::AdminVersion(id) => {
            let v = c.server_version(id)?;
            let text = match &v.license {
                Some(l) => format!("{} {} ({l})", v.server, v.version),
                None => format!("{} {}", v.server, v.version),
            };
            value_or_text(
                json,
                json!({ "server": v.server, "version": v.version, "license": v.license }),
                text,
            )
        }
        Command::AdminEngine(id) => {
            let e = c.server_engine(id)?;
            let text = format!("{}\nsupports: {}", e.name, e.supports);
            value_or_text(
                json,
                json!({ "name": e.name, "supports": e.supports }),
                text,
            )
        }
        Command::AdminStats(id) => {
            let s = c.server_statistics(id)?;
            if json {
                Outcome::ok(json_line(&s.raw))
            } else {
                Outcome::ok(pretty_json(&s.raw))
            }
        }
        Command::AdminMaintenance(mode) => {
            c.toggle_maintenance_mode(*mode)?;
            let word = match mode {
                MaintenanceMode::On => "on",
                MaintenanceMode::Off => "off",
            };
            value_or_text(
                json,
                json!({ "ok": true, "maintenance": word }),
                format!("maintenance mode {word}"),
            )
        }
        other => {
            return Err(Error::InvalidConfig(format!(
                "not an admin command: {other:?}"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, Usage> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn parses_commands_and_options_anywhere() {
        let a = parse(&["--hosts", "http://a:1", "group", "create", "g", "--json"]).expect("valid");
        assert!(a.json);
        assert_eq!(a.hosts.as_deref(), Some("http://a:1"));
        assert!(matches!(a.command, Command::GroupCreate(ref id) if id == "g"));
        let a =
            parse(&["metrics", "--prometheus", "--timeout=1.5", "--retries", "1"]).expect("valid");
        assert!(a.prometheus && matches!(a.command, Command::Metrics));
        assert_eq!((a.timeout, a.retries), (Duration::from_millis(1500), 1));
        let a = parse(&["admin", "maintenance", "off"]).expect("valid");
        assert!(matches!(
            a.command,
            Command::AdminMaintenance(MaintenanceMode::Off)
        ));
        let a = parse(&["group", "verify", "--", "-odd"]).expect("valid");
        assert!(matches!(a.command, Command::GroupVerify(ref id) if id == "-odd"));
        assert!(matches!(
            parse(&["--help"]).map(|a| a.command),
            Ok(Command::Help)
        ));
    }

    #[test]
    fn refuses_bad_usage() {
        for bad in [
            &[][..],
            &["group"],
            &["group", "create"],
            &["group", "create", "a", "b"],
            &["admin", "maintenance", "maybe"],
            &["admin", "version"],
            &["nodes", "extra"],
            &["frobnicate"],
            &["--verbose", "nodes"],
            &["--timeout", "0", "nodes"],
            &["--timeout", "x", "nodes"],
            &["--retries", "0", "nodes"],
            &["--hosts"],
            &["nodes", "--prometheus"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["NODE", "X"],
            &[
                vec!["long-name".into(), "1".into()],
                vec!["a".into(), "22".into()],
            ],
        );
        assert_eq!(t, "NODE       X\nlong-name  1\na          22\n");
    }
}
