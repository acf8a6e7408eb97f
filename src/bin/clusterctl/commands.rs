//! Running a command: the client built from clusterctl's defaults, the
//! configuration file and the command line (in that order, each overriding
//! the one before), then one library call per command.

use std::io::Read as _;
use std::time::Duration;

use cluster_client::{
    ClientBuilder, ClientConfig, ClusterClient, Error, GroupApi, HostAddress, MaintenanceMode,
    RetryPolicy,
};
use serde_json::{json, Map, Value};

use crate::args::{Admin, ApiPreset, Args, BodySource, Command, USAGE};
use crate::groups::{group_create, group_delete, group_repair, group_verify, recover};
use crate::nodes::nodes;
use crate::output::{
    cut, error_outcome, flat, hedges_json, hedges_line, json_line, latency_json, latency_table,
    metrics_by_node_json, metrics_table, one_line, pretty_json, table, value_or_text, Outcome,
    EXIT_FAILED,
};

/// The group `nodes` looks up on every node (read-only): a reserved id no
/// one creates, so a node speaking the group API answers "missing".
pub(crate) const PROBE_ID: &str = "__clusterctl_probe__";

/// What clusterctl uses where neither the command line nor the
/// configuration file says: shorter than the library's, for a person waiting.
const DEFAULT_ATTEMPTS: u32 = 3;
const DEFAULT_INITIAL_DELAY: Duration = Duration::from_millis(200);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(2);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_FAN_OUT_THREADS: usize = 16;

/// The longest request path shown on a stderr line.
const MAX_PATH_CHARS: usize = 120;

/// Everything a client is built from, read and checked once.
pub(crate) struct Setup<'a> {
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
    pub(crate) fn builder(&self, only: Option<&HostAddress>) -> ClientBuilder {
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
        if let Some(resolver) = self.args.resolver {
            b = b.host_resolver(resolver);
        }
        if let Some(node) = only {
            b = b.hosts([node.as_str()]);
        } else if let Some(hosts) = &self.args.hosts {
            b = b.hosts(hosts);
        } else if !file_has_hosts {
            b = b.hosts_str(&std::env::var("HOSTS").unwrap_or_default());
        }
        // One client per journal: a one-node helper client keeps none,
        // neither --journal nor the file's [journal] path (the main client
        // holds its lock).
        match (&self.args.journal, only) {
            (_, Some(_)) => b = b.without_journal().fan_out_threads(1),
            (Some(path), None) => b = b.journal(path),
            (None, None) => {}
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
    let version = env!("CARGO_PKG_VERSION");
    match &args.command {
        Command::Help => {
            return value_or_text(args.json, &json!({ "usage": USAGE }), USAGE.to_string())
        }
        Command::Version => {
            return value_or_text(
                args.json,
                &json!({ "version": version }),
                format!("clusterctl {version}"),
            )
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
            Err(message) => return Outcome::usage_for(message, args.json),
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
            "error: {} answered {method} {} with {}: {}",
            answer.host,
            cut(&flat(path), MAX_PATH_CHARS),
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
/// renders, [`cluster_client::POOL_METRICS`]), each node's answer times
/// and the hedges sent and won. In `--json`: the nodes' metrics keyed by
/// address as before, plus `"latency"` (`{address: {count, p50_ms, p90_ms,
/// p99_ms}}`) and `"hedges"` (`{sent, won}`); an address is a URL, so it
/// never takes these two names.
fn metrics(client: &ClusterClient, prometheus: bool, json: bool) -> Outcome {
    let m = client.cluster_management();
    let mut outcome = if prometheus {
        Outcome::ok(m.prometheus())
    } else {
        let all = m.connection_pool_metrics();
        let times = m.latency();
        let order = m.nodes();
        let nodes: Vec<_> = order
            .iter()
            .map(|n| (n.clone(), all.get(n).copied().unwrap_or_default()))
            .collect();
        let latency: Vec<_> = order
            .iter()
            .map(|n| (n.clone(), times.get(n).copied().unwrap_or_default()))
            .collect();
        let hedges = m.hedges();
        Outcome::ok(if json {
            let mut v = metrics_by_node_json(&nodes);
            if let Value::Object(map) = &mut v {
                let by_node: Map<String, Value> = latency
                    .iter()
                    .map(|(n, l)| (n.to_string(), latency_json(l)))
                    .collect();
                map.insert("latency".to_string(), Value::Object(by_node));
                map.insert("hedges".to_string(), hedges_json(hedges));
            }
            json_line(&v)
        } else {
            format!(
                "{}\n{}\n{}",
                metrics_table(&nodes),
                latency_table(&latency),
                hedges_line(hedges)
            )
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
        Admin::Health => admin_health(client, json)?,
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

/// `admin health`: the cluster's health, server by server.
fn admin_health(client: &ClusterClient, json: bool) -> Result<Outcome, Error> {
    let h = client.cluster().health()?;
    let servers: Map<String, Value> = h
        .servers
        .iter()
        .map(|(id, s)| {
            (
                id.clone(),
                json!({
                    "role": s.role.as_str(),
                    "status": s.status.as_str(),
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
                s.role.to_string(),
                s.status.to_string(),
                s.endpoint.clone().unwrap_or_default(),
            ]
        })
        .collect();
    Ok(value_or_text(
        json,
        &json!({ "cluster_id": h.cluster_id, "servers": servers }),
        format!(
            "cluster {}\n{}",
            h.cluster_id,
            table(&["SERVER", "ROLE", "STATUS", "ENDPOINT"], &rows)
        ),
    ))
}
