//! Running a command: the client built from clusterctl's defaults, the
//! configuration file and the command line (in that order, each overriding
//! the one before), then one library call per command.

use std::io::Read as _;
use std::time::Duration;

use cluster_client::{
    ClientBuilder, ClientConfig, ClusterClient, Error, GroupApi, HostAddress, Intent,
    MaintenanceMode, NodeError, NodeRepair, RetryPolicy,
};
use serde_json::{json, Map, Value};

use crate::args::{Admin, ApiPreset, Args, BodySource, Command, USAGE};
use crate::output::{
    error_outcome, failed_node, json_line, metrics_by_node_json, metrics_json, metrics_table,
    one_line, pretty_json, table, value_or_text, Outcome, EXIT_FAILED,
};

/// The group `nodes` looks up on every node (read-only): a reserved id no
/// one creates, so a node speaking the group API answers "missing".
const PROBE_ID: &str = "__clusterctl_probe__";

/// What clusterctl uses where neither the command line nor the
/// configuration file says: shorter than the library's, for a person waiting.
const DEFAULT_ATTEMPTS: u32 = 3;
const DEFAULT_INITIAL_DELAY: Duration = Duration::from_millis(200);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(2);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_FAN_OUT_THREADS: usize = 16;

/// Everything a client is built from, read and checked once.
struct Setup<'a> {
    args: &'a Args,
    file: Option<ClientConfig>,
    /// The command line's `--timeout` and `--retries`, as a configuration
    /// layer applied over the file (so `--retries` keeps the file's delays).
    overrides: Option<ClientConfig>,
}

impl<'a> Setup<'a> {
    fn load(args: &'a Args) -> Result<Setup<'a>, Error> {
        let file = args
            .config
            .as_ref()
            .map(ClientConfig::from_file)
            .transpose()?;
        let mut toml = String::new();
        if let Some(n) = args.retries {
            toml.push_str(&format!("[retry]\nattempts = {n}\n"));
        }
        if let Some(t) = args.timeout {
            toml.push_str(&format!("[timeouts]\noperation = \"{}ns\"\n", t.as_nanos()));
        }
        let overrides = if toml.is_empty() {
            None
        } else {
            Some(ClientConfig::from_toml(&toml)?)
        };
        Ok(Setup {
            args,
            file,
            overrides,
        })
    }

    /// A builder for every node, or only for `only`.
    fn builder(&self, only: Option<&HostAddress>) -> ClientBuilder {
        let mut b = ClusterClient::builder()
            .retry_policy(RetryPolicy::exponential(
                DEFAULT_ATTEMPTS,
                DEFAULT_INITIAL_DELAY,
                DEFAULT_MAX_DELAY,
            ))
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .request_timeout(DEFAULT_REQUEST_TIMEOUT)
            .operation_timeout(DEFAULT_OPERATION_TIMEOUT)
            .fan_out_threads(DEFAULT_FAN_OUT_THREADS);
        let mut file_has_hosts = false;
        if let Some(file) = &self.file {
            file_has_hosts = file.hosts().is_some();
            b = b.config(file.clone());
        }
        if let Some(o) = &self.overrides {
            b = b.config(o.clone());
        }
        if let Some(node) = only {
            b = b.hosts([node.as_str()]);
        } else if let Some(hosts) = &self.args.hosts {
            b = b.hosts(hosts);
        } else if !file_has_hosts {
            b = b.hosts_str(&std::env::var("HOSTS").unwrap_or_default());
        }
        // One client per journal: a one-node helper client keeps none.
        if let (Some(path), None) = (&self.args.journal, only) {
            b = b.journal(path);
        }
        match self.args.api {
            Some(ApiPreset::Reference) => b.group_api(GroupApi::reference()),
            Some(ApiPreset::Webdav) => b.group_api(GroupApi::webdav()),
            None => b,
        }
    }
}

/// Runs the command the arguments name.
pub fn run(args: &Args) -> Outcome {
    match &args.command {
        Command::Help => return Outcome::ok(USAGE.to_string()),
        Command::Version => {
            return Outcome::ok(format!("clusterctl {}\n", env!("CARGO_PKG_VERSION")))
        }
        _ => {}
    }
    let setup = match Setup::load(args) {
        Ok(s) => s,
        Err(e) => return error_outcome(&e, args.json),
    };
    // A body that cannot be read is bad input: found before anything is sent.
    let body = match &args.command {
        Command::Request {
            body: Some(source), ..
        } => match read_body(source) {
            Ok(b) => Some(b),
            Err(message) => return Outcome::usage(message),
        },
        _ => None,
    };
    let client = match setup.builder(None).build() {
        Ok(c) => c,
        Err(e) => return error_outcome(&e, args.json),
    };
    let json = args.json;
    let result = match &args.command {
        Command::Help | Command::Version => Ok(Outcome::default()),
        Command::GroupCreate(id) => group_create(&client, id, json),
        Command::GroupDelete(id) => group_delete(&client, id, json),
        Command::GroupVerify(id) => group_verify(&client, id, json),
        Command::GroupRepair { id, intent } => group_repair(&client, id, *intent, json),
        Command::Recover => recover(&client, json),
        Command::Nodes { round_trip } => nodes(&client, &setup, *round_trip, json),
        Command::Request { method, path, .. } => {
            request(&client, method, path, body.as_deref(), json)
        }
        Command::Metrics { prometheus } => Ok(metrics(&client, *prometheus, json)),
        Command::Admin(cmd) => admin(&client, cmd, json),
    };
    client.shutdown();
    result.unwrap_or_else(|e| error_outcome(&e, json))
}

fn read_body(source: &BodySource) -> Result<Vec<u8>, String> {
    match source {
        BodySource::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("--body -: standard input cannot be read: {e}"))?;
            Ok(buf)
        }
        BodySource::File(path) => std::fs::read(path)
            .map_err(|e| format!("--body {}: cannot be read: {e}", path.display())),
    }
}

fn group_repair(
    client: &ClusterClient,
    id: &str,
    intent: Intent,
    json: bool,
) -> Result<Outcome, Error> {
    let report = client.repair_group(id, intent)?;
    let mut rows = Vec::new();
    let mut nodes = Vec::new();
    let mut failed = Vec::new();
    for (host, r) in &report.nodes {
        let word = match r {
            NodeRepair::AlreadyPresent => "already present".to_string(),
            NodeRepair::AlreadyAbsent => "already absent".to_string(),
            NodeRepair::Created => "created".to_string(),
            NodeRepair::Deleted => "deleted".to_string(),
            NodeRepair::Failed(e) => {
                failed.push(failed_node(host, &e.to_string()));
                format!("failed: {}", one_line(&e.to_string()))
            }
            _ => "unknown".to_string(),
        };
        nodes.push(json!({ "node": host.as_str(), "result": word }));
        rows.push(vec![host.to_string(), word]);
    }
    let stdout = if json {
        json_line(&json!({
            "ok": failed.is_empty(),
            "group": id,
            "intent": if intent == Intent::Present { "present" } else { "absent" },
            "nodes": nodes,
        }))
    } else {
        table(&["NODE", "RESULT"], &rows)
    };
    Ok(Outcome::checked(stdout, failed))
}

fn recover(client: &ClusterClient, json: bool) -> Result<Outcome, Error> {
    let report = client.recover()?;
    let failed: Vec<String> = report
        .needs_attention
        .iter()
        .map(|a| {
            format!(
                "needs a person: group {:?} on {}: {}",
                a.group_id,
                a.host,
                one_line(&a.reason)
            )
        })
        .collect();
    let stdout = if json {
        json_line(&json!({
            "ok": report.is_clean(),
            "finished": report.finished.iter().map(|f| json!({
                "group": f.group_id, "operation": f.operation,
                "request_id": f.request_id, "outcome": f.outcome,
            })).collect::<Vec<_>>(),
            "repaired": report.repaired.iter().map(|r| json!({
                "group": r.group_id, "node": r.host.as_str(), "action": r.action,
            })).collect::<Vec<_>>(),
            "needs_attention": report.needs_attention.iter().map(|a| json!({
                "group": a.group_id, "node": a.host, "reason": a.reason,
            })).collect::<Vec<_>>(),
        }))
    } else {
        let mut out = format!(
            "recovered {} saga(s), repaired {} node(s), {} need a person\n",
            report.finished.len(),
            report.repaired.len(),
            report.needs_attention.len()
        );
        for f in &report.finished {
            out.push_str(&format!(
                "{} {:?}: {}\n",
                f.operation, f.group_id, f.outcome
            ));
        }
        for r in &report.repaired {
            out.push_str(&format!("{} {:?} on {}\n", r.action, r.group_id, r.host));
        }
        out
    };
    Ok(Outcome::checked(stdout, failed))
}

fn group_create(client: &ClusterClient, id: &str, json: bool) -> Result<Outcome, Error> {
    client.create_group(id)?;
    let nodes = client.cluster_management().nodes();
    Ok(value_or_text(
        json,
        &json!({
            "ok": true,
            "group": id,
            "created": true,
            "nodes": nodes.iter().map(HostAddress::as_str).collect::<Vec<_>>(),
        }),
        format!("created group {id:?} on {} node(s)", nodes.len()),
    ))
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
                .map(|f| json!({ "node": f.host.as_str(), "error": one_line(&f.error.to_string()) }))
                .collect::<Vec<_>>(),
        }))
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
        stderr.extend(
            failures
                .iter()
                .map(|f| failed_node(&f.host, &f.error.to_string())),
        );
    }
    Ok(Outcome::checked(stdout, stderr))
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
                let reason = one_line(&e.to_string());
                stderr.push(failed_node(node, &reason));
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
    Ok(Outcome::checked(stdout, stderr))
}

/// What `nodes` found out about one node.
struct NodeFacts {
    node: HostAddress,
    /// It gave an HTTP answer.
    reachable: bool,
    /// It answered the group API's verify as the API says (`None`: not
    /// reachable, so unknown); with `--round-trip`, it also created,
    /// verified and deleted the probe group.
    speaks_api: Option<bool>,
    /// Reachable, no 5xx, and not marked unhealthy by the client.
    healthy: bool,
    /// Why the node is not fine, once.
    reason: Option<String>,
}

/// Per node: reachable, speaks the group API, healthy. One read-only
/// fan-out (a verify of [`PROBE_ID`]); with `round_trip`, each node that
/// passed also creates, verifies and deletes a reserved probe group (a
/// read-only check cannot tell a node that answers 404 to everything from
/// one that holds no groups). Exit 1 when any node is not fine.
fn nodes(
    client: &ClusterClient,
    setup: &Setup<'_>,
    round_trip: bool,
    json: bool,
) -> Result<Outcome, Error> {
    let answers = client.verify_group_everywhere(PROBE_ID)?;
    let mut facts: Vec<NodeFacts> = answers
        .into_iter()
        .map(|(node, answer)| read_only_facts(node, answer))
        .collect();
    if round_trip {
        let id = format!("__clusterctl_probe_{}__", std::process::id());
        for f in facts.iter_mut().filter(|f| f.speaks_api == Some(true)) {
            if let Err(why) = probe_round_trip(setup, &f.node, &id) {
                f.speaks_api = Some(false);
                f.reason = Some(format!("does not speak the group API: {why}"));
            }
        }
    }
    let m = client.cluster_management();
    let unhealthy = m.unhealthy_nodes();
    for f in &mut facts {
        if unhealthy.contains(&f.node) {
            f.healthy = false;
            if f.reason.is_none() {
                f.reason = Some("marked unhealthy by the client".to_string());
            }
        }
    }
    let metrics = m.connection_pool_metrics();
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    let mut stderr = Vec::new();
    for f in &facts {
        if let Some(reason) = &f.reason {
            stderr.push(failed_node(&f.node, reason));
        }
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        rows.push(vec![
            f.node.to_string(),
            yes_no(f.reachable),
            f.speaks_api.map_or_else(|| "unknown".to_string(), yes_no),
            if f.healthy { "healthy" } else { "unhealthy" }.to_string(),
        ]);
        entries.push(json!({
            "node": f.node.as_str(),
            "reachable": f.reachable,
            "group_api": f.speaks_api,
            "healthy": f.healthy,
            "error": f.reason.as_deref().map(one_line),
            "metrics": metrics_json(&metrics.get(&f.node).copied().unwrap_or_default()),
        }));
    }
    let all_fine = stderr.is_empty();
    let stdout = if json {
        json_line(&json!({
            "ok": all_fine,
            "round_trip": round_trip,
            "nodes": entries,
        }))
    } else {
        table(&["NODE", "REACHABLE", "GROUP_API", "HEALTH"], &rows)
    };
    Ok(Outcome::checked(stdout, stderr))
}

/// The facts one answer to the read-only verify gives.
fn read_only_facts(node: HostAddress, answer: Result<bool, NodeError>) -> NodeFacts {
    match answer {
        Ok(_) => NodeFacts {
            node,
            reachable: true,
            speaks_api: Some(true),
            healthy: true,
            reason: None,
        },
        Err(e) => match e.status() {
            Some(status) => NodeFacts {
                node,
                reachable: true,
                speaks_api: Some(false),
                healthy: status < 500,
                reason: Some(format!(
                    "does not speak the group API: its verify of {PROBE_ID:?} got {e}"
                )),
            },
            None => NodeFacts {
                node,
                reachable: false,
                speaks_api: None,
                healthy: false,
                reason: Some(e.to_string()),
            },
        },
    }
}

/// Creates, verifies and deletes group `id` on `node` alone, with the same
/// settings; `Err` says which step failed and why.
fn probe_round_trip(setup: &Setup<'_>, node: &HostAddress, id: &str) -> Result<(), String> {
    let client = setup
        .builder(Some(node))
        .build()
        .map_err(|e| e.to_string())?;
    let result = (|| {
        let first_reason = |e: Error| match &e {
            Error::GroupOperation { failures, .. } => failures
                .first()
                .map_or_else(|| e.to_string(), |f| f.error.to_string()),
            other => other.to_string(),
        };
        client
            .create_group(id)
            .map_err(|e| format!("create of {id:?}: {}", first_reason(e)))?;
        match client.verify_group(node, id) {
            Ok(true) => {}
            Ok(false) => return Err(format!("{id:?} missing right after its create")),
            Err(e) => return Err(format!("verify of {id:?}: {e}")),
        }
        let failures = client
            .delete_group_report(id)
            .map_err(|e| format!("delete of {id:?}: {e}"))?;
        match failures.first() {
            Some(f) => Err(format!("delete of {id:?} (still there): {}", f.error)),
            None => Ok(()),
        }
    })();
    client.shutdown();
    result
}

/// One request to one node picked by the resolver. Exit 0 for an answer
/// below 400, else 1.
fn request(
    client: &ClusterClient,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    json: bool,
) -> Result<Outcome, Error> {
    let answer = client.request(method, path, body)?;
    let ok = answer.status < 400;
    let text = String::from_utf8_lossy(&answer.body);
    let stdout = if json {
        json_line(&json!({
            "ok": ok,
            "status": answer.status,
            "host": answer.host.as_str(),
            "body": text,
        }))
        .into_bytes()
    } else {
        let mut out = format!("HTTP {} from {}\n", answer.status, answer.host).into_bytes();
        out.extend_from_slice(&answer.body);
        if !answer.body.is_empty() && !answer.body.ends_with(b"\n") {
            out.push(b'\n');
        }
        out
    };
    let stderr = if ok {
        Vec::new()
    } else {
        vec![format!(
            "error: {} answered {method} {path} with {}: {}",
            answer.host,
            answer.status,
            one_line(&text)
        )]
    };
    Ok(Outcome {
        stdout,
        code: if ok { 0 } else { EXIT_FAILED },
        stderr,
    })
}

/// The pool metrics of this run's own client (the same table Prometheus
/// renders, [`cluster_client::POOL_METRICS`]).
fn metrics(client: &ClusterClient, prometheus: bool, json: bool) -> Outcome {
    let m = client.cluster_management();
    let mut outcome = if prometheus {
        Outcome::ok(m.prometheus())
    } else {
        let all = m.connection_pool_metrics();
        let nodes: Vec<_> = m
            .nodes()
            .into_iter()
            .map(|n| {
                let met = all.get(&n).copied().unwrap_or_default();
                (n, met)
            })
            .collect();
        Outcome::ok(if json {
            json_line(&metrics_by_node_json(&nodes))
        } else {
            metrics_table(&nodes)
        })
    };
    outcome.stderr.push(
        "note: these metrics count this run's traffic only: clusterctl starts a fresh client \
         and `metrics` sends nothing, so they are zero; a long-running program exports its own \
         (ClusterManagement::prometheus)"
            .to_string(),
    );
    outcome
}

fn admin(client: &ClusterClient, cmd: &Admin, json: bool) -> Result<Outcome, Error> {
    let c = client.cluster();
    Ok(match cmd {
        Admin::Id => {
            let id = c.server_id()?;
            value_or_text(json, &json!({ "id": id }), id)
        }
        Admin::Role => {
            let role = c.server_role()?.to_string();
            value_or_text(json, &json!({ "role": role }), role)
        }
        Admin::Count => {
            let n = c.server_count()?;
            value_or_text(json, &json!({ "count": n }), n.to_string())
        }
        Admin::Health => {
            let h = c.health()?;
            let servers: Map<String, Value> = h
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
                &json!({ "cluster_id": h.cluster_id, "servers": servers }),
                format!(
                    "cluster {}\n{}",
                    h.cluster_id,
                    table(&["SERVER", "ROLE", "STATUS", "ENDPOINT"], &rows)
                ),
            )
        }
        Admin::Version(id) => {
            let v = c.server_version(id)?;
            let text = match &v.license {
                Some(l) => format!("{} {} ({l})", v.server, v.version),
                None => format!("{} {}", v.server, v.version),
            };
            value_or_text(
                json,
                &json!({ "server": v.server, "version": v.version, "license": v.license }),
                text,
            )
        }
        Admin::Engine(id) => {
            let e = c.server_engine(id)?;
            value_or_text(
                json,
                &json!({ "name": e.name, "supports": e.supports }),
                format!("{}\nsupports: {}", e.name, e.supports),
            )
        }
        Admin::Stats(id) => {
            let s = c.server_statistics(id)?;
            Outcome::ok(if json {
                json_line(&s.raw)
            } else {
                pretty_json(&s.raw)
            })
        }
        Admin::Maintenance(mode) => {
            c.toggle_maintenance_mode(*mode)?;
            let word = match mode {
                MaintenanceMode::On => "on",
                MaintenanceMode::Off => "off",
            };
            value_or_text(
                json,
                &json!({ "ok": true, "maintenance": word }),
                format!("maintenance mode {word}"),
            )
        }
    })
}
