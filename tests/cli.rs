//! `clusterctl` run as a program against in-process test nodes: what it
//! prints, what it changes on the nodes, and its exit codes.
#![cfg(feature = "cli")]

mod support;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::POOL_METRICS;
use serde_json::Value;
use support::nginx::{nginx_or_skip, Nginx};

/// Runs `clusterctl` with `args`, `HOSTS` and `CLUSTER_CLIENT_CONFIG` unset
/// unless given in `env`, with `stdin` as its standard input.
fn run_full(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clusterctl"));
    cmd.args(args)
        .env_remove("HOSTS")
        .env_remove("CLUSTER_CLIENT_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("clusterctl runs");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.unwrap_or_default())
            .expect("stdin written");
    }
    child.wait_with_output().expect("clusterctl ends")
}

/// Runs `clusterctl` with `args`, `HOSTS` unset unless given in `env`.
fn run_with_env(args: &[&str], env: Option<&str>) -> Output {
    match env {
        Some(hosts) => run_full(args, &[("HOSTS", hosts)], None),
        None => run_full(args, &[], None),
    }
}

fn run(args: &[&str]) -> Output {
    run_with_env(args, None)
}

/// Runs against `nodes` with fast retries.
fn ctl(nodes: &TestCluster, args: &[&str]) -> Output {
    let hosts = nodes.hosts_csv();
    let mut all = vec![
        "--hosts",
        hosts.as_str(),
        "--retries",
        "1",
        "--timeout",
        "10",
    ];
    all.extend_from_slice(args);
    run(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}

#[test]
fn create_verify_delete_change_the_nodes() {
    let nodes = TestCluster::start(3).expect("nodes start");

    let o = ctl(&nodes, &["group", "create", "g1"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("created group \"g1\" on 3 node(s)"));
    assert_eq!(nodes.nodes_with_group("g1"), vec![0, 1, 2]);

    let o = ctl(&nodes, &["group", "verify", "g1"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("NODE"), "{out}");
    for url in nodes.urls() {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&url) && l.ends_with("present")),
            "{out}"
        );
    }

    // A node without the group: verify fails and names it.
    nodes.node(1).remove_group("g1");
    let o = ctl(&nodes, &["--json", "group", "verify", "g1"]);
    assert_eq!(code(&o), Some(1));
    let v = json(&o);
    assert_eq!(v["everywhere"], false);
    assert_eq!(v["nodes"][1]["node"], nodes.node(1).url().as_str());
    assert_eq!(v["nodes"][1]["exists"], false);
    assert_eq!(v["nodes"][0]["exists"], true);
    assert!(stderr(&o).contains(&nodes.node(1).url()), "{}", stderr(&o));

    let o = ctl(&nodes, &["group", "delete", "g1"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(nodes.nodes_with_group("g1").is_empty());

    let o = ctl(&nodes, &["group", "verify", "g1"]);
    assert_eq!(code(&o), Some(1));
    assert_eq!(stdout(&o).matches("missing").count(), 3, "{}", stdout(&o));
}

#[test]
fn hosts_come_from_the_environment() {
    let nodes = TestCluster::start(2).expect("nodes start");
    let o = run_with_env(
        &["--json", "group", "create", "env-g"],
        Some(&nodes.hosts_csv()),
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["ok"], true);
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(nodes.nodes_with_group("env-g"), vec![0, 1]);
}

#[test]
fn a_failing_node_gives_exit_1_and_is_named() {
    let nodes = TestCluster::start(3).expect("nodes start");
    let down = nodes.node(2).url();
    nodes.node(2).go_down();

    let o = ctl(&nodes, &["group", "create", "g2"]);
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("failed node {down}")), "{err}");
    assert!(nodes.nodes_with_group("g2").is_empty(), "rolled back");

    let o = ctl(&nodes, &["--json", "group", "create", "g2"]);
    assert_eq!(code(&o), Some(1));
    let v = json(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["failed"][0]["node"], down.as_str());

    nodes.node(0).insert_group("g3");
    let o = ctl(&nodes, &["group", "delete", "g3"]);
    assert_eq!(code(&o), Some(1));
    assert!(stderr(&o).contains(&down), "{}", stderr(&o));
    assert!(!nodes.node(0).has_group("g3"), "deleted where possible");

    let o = ctl(&nodes, &["nodes"]);
    assert_eq!(code(&o), Some(1));
    assert!(stderr(&o).contains(&down), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&down) && l.contains("unhealthy")),
        "{out}"
    );

    let o = ctl(&nodes, &["--json", "nodes"]);
    assert_eq!(code(&o), Some(1));
    let v = json(&o);
    let healthy: Vec<bool> = v["nodes"]
        .as_array()
        .expect("nodes array")
        .iter()
        .map(|n| n["healthy"] == true)
        .collect();
    assert_eq!(healthy, [true, true, false]);
    assert_eq!(
        v["nodes"][0]["metrics"].as_object().map(|m| m.len()),
        Some(8)
    );

    // Administration fails over to a live node.
    let o = ctl(&nodes, &["admin", "count"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "3");
}

#[test]
fn no_node_answering_is_exit_1_naming_every_node() {
    let nodes = TestCluster::start(2).expect("nodes start");
    let urls = nodes.urls();
    for n in nodes.nodes() {
        n.go_down();
    }
    let o = ctl(&nodes, &["admin", "id"]);
    assert_eq!(code(&o), Some(1));
    for url in &urls {
        assert!(stderr(&o).contains(url.as_str()), "{}", stderr(&o));
    }
}

#[test]
fn bad_usage_and_invalid_input_give_exit_2() {
    let nodes = TestCluster::start(1).expect("nodes start");
    let hosts = nodes.hosts_csv();
    for args in [
        &[][..],
        &["frobnicate"],
        &["group", "create"],
        &["--hosts", hosts.as_str(), "admin", "maintenance", "maybe"],
        &["--hosts", hosts.as_str(), "--timeout", "soon", "nodes"],
        &["--hosts", "ftp://127.0.0.1:1", "nodes"],
        &["--hosts", "http://127.0.0.1:1,http://127.0.0.1:1", "nodes"],
        &["--hosts", " , ", "nodes"],
        &["nodes"], // no --hosts and no HOSTS
        &["--hosts", hosts.as_str(), "group", "create", "a/b"],
        &["--hosts", hosts.as_str(), "group", "verify", ".."],
        &["--hosts", hosts.as_str(), "--json", "group", "delete", ""],
    ] {
        let o = run(args);
        assert_eq!(code(&o), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty(), "{args:?}");
    }
    assert_eq!(nodes.node(0).request_count(), 0, "nothing was sent");

    let o = run(&["--help"]);
    assert_eq!(code(&o), Some(0));
    assert!(stdout(&o).contains("Usage: clusterctl"));
}

#[test]
fn admin_commands() {
    let nodes = TestCluster::start(2).expect("nodes start");
    let ids: Vec<String> = nodes.nodes().iter().map(|n| n.server_id()).collect();

    let o = ctl(&nodes, &["admin", "id"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        ids.contains(&stdout(&o).trim().to_string()),
        "{}",
        stdout(&o)
    );

    let o = ctl(&nodes, &["--json", "admin", "role"]);
    assert_eq!(json(&o)["role"], "COORDINATOR");

    let o = ctl(&nodes, &["admin", "health"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    for id in &ids {
        assert!(stdout(&o).contains(id.as_str()), "{}", stdout(&o));
    }
    let o = ctl(&nodes, &["--json", "admin", "health"]);
    assert_eq!(json(&o)["servers"].as_object().map(|s| s.len()), Some(2));

    let o = ctl(&nodes, &["--json", "admin", "count"]);
    assert_eq!(json(&o)["count"], 2);

    let o = ctl(&nodes, &["--json", "admin", "version", &ids[0]]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["version"], "3.11.0");

    let o = ctl(&nodes, &["--json", "admin", "engine", &ids[1]]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(json(&o)["name"].is_string());

    let o = ctl(&nodes, &["--json", "admin", "stats", &ids[0]]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(json(&o)["time"].is_number());

    // An unknown server id is the server's error: the operation failed.
    let o = ctl(&nodes, &["admin", "version", "no-such-server"]);
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    assert!(!stderr(&o).is_empty());

    let o = ctl(&nodes, &["admin", "maintenance", "on"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(nodes.node(0).maintenance());
    let o = ctl(&nodes, &["admin", "maintenance", "off"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(!nodes.node(0).maintenance());
}

#[test]
fn metrics_plain_json_and_prometheus() {
    let nodes = TestCluster::start(2).expect("nodes start");

    let o = ctl(&nodes, &["metrics"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("METRIC"), "{out}");
    // The pool table, a blank line, the answer-time table (a header and a
    // row per node), a blank line, the hedges line.
    assert_eq!(
        out.lines().count(),
        1 + POOL_METRICS.len() + 1 + (1 + 2) + 1 + 1,
        "{out}"
    );
    let times_header = out.lines().nth(2 + POOL_METRICS.len()).unwrap_or_default();
    assert_eq!(
        times_header.split_whitespace().collect::<Vec<_>>(),
        ["NODE", "ANSWERS", "P50", "P90", "P99"],
        "{out}"
    );
    for url in nodes.urls() {
        // Nothing measured in a run that sends nothing.
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == [url.as_str(), "0", "-", "-", "-"]),
            "{out}"
        );
    }
    assert_eq!(
        out.lines().last(),
        Some("hedges: 0 sent, 0 won (second requests for slow one-node reads, all nodes)"),
        "{out}"
    );
    let header = out.lines().next().unwrap_or_default();
    for url in nodes.urls() {
        assert!(header.contains(&url), "{out}");
    }
    for m in &POOL_METRICS {
        assert!(
            out.lines()
                .any(|l| l.starts_with(m.name) && l.contains(m.help)),
            "{out}"
        );
    }
    assert!(
        stderr(&o).contains("this run's traffic only"),
        "{}",
        stderr(&o)
    );

    let o = ctl(&nodes, &["--json", "metrics"]);
    let v = json(&o);
    for url in nodes.urls() {
        assert_eq!(
            v[url.as_str()].as_object().map(|m| m.len()),
            Some(POOL_METRICS.len()),
            "{v}"
        );
        assert_eq!(v[url.as_str()]["operations_executed"], 0);
        assert_eq!(
            v["latency"][url.as_str()],
            serde_json::json!({"count": 0, "p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0}),
            "{v}"
        );
    }
    assert_eq!(v["latency"].as_object().map(|m| m.len()), Some(2), "{v}");
    assert_eq!(v["hedges"], serde_json::json!({"sent": 0, "won": 0}), "{v}");
    assert_eq!(v.as_object().map(|m| m.len()), Some(2 + 2), "{v}");

    let o = ctl(&nodes, &["metrics", "--prometheus"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.lines().any(|l| l.starts_with("# TYPE ")), "{text}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        assert!(series.contains("node=\""), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    for url in nodes.urls() {
        assert!(text.contains(&format!("node=\"{url}\"")), "{text}");
    }
}

/// A configuration file in the temp dir, removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(name: &str, text: &str) -> ConfigFile {
        let path = std::env::temp_dir().join(format!(
            "clusterctl-test-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).expect("config file written");
        ConfigFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8 here")
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A config file for `hosts` with `group_api` and fast retries.
fn config_for(name: &str, hosts: &[String], group_api: &str) -> ConfigFile {
    let list: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
    ConfigFile::new(
        name,
        &format!(
            "hosts = [{}]\ngroup_api = \"{group_api}\"\n\n[retry]\nattempts = 2\ninitial_delay = \"10ms\"\nmax_delay = \"50ms\"\n\n[timeouts]\nconnect = \"500ms\"\nrequest = \"2s\"\noperation = \"10s\"\n",
            list.join(", ")
        ),
    )
}

/// `group create`, `verify` and `delete` driven by `config`, checked with
/// `holds(id)` on every node.
fn groups_driven_by_config(config: &ConfigFile, holds: &dyn Fn(&str) -> Vec<bool>) {
    let c = config.path();
    let o = run(&["--config", c, "group", "create", "cfg-g"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(holds("cfg-g").iter().all(|h| *h));

    let o = run(&["--config", c, "--json", "group", "verify", "cfg-g"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["everywhere"], true);

    // Again: the group is already there (409 / 204), which converges.
    let o = run(&["--config", c, "group", "create", "cfg-g"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));

    let o = run(&["--config", c, "group", "delete", "cfg-g"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(holds("cfg-g").iter().all(|h| !*h));

    let o = run(&["--config", c, "group", "verify", "cfg-g"]);
    assert_eq!(code(&o), Some(1));

    let o = run(&["--config", c, "nodes", "--round-trip"]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn one_config_file_drives_test_nodes_with_the_reference_api() {
    let nodes = TestCluster::start(3).expect("nodes start");
    let config = config_for("reference", &nodes.urls(), "reference");
    groups_driven_by_config(&config, &|id| {
        nodes.nodes().iter().map(|n| n.has_group(id)).collect()
    });

    // The file named by $CLUSTER_CLIENT_CONFIG, as --config.
    let o = run_full(
        &["group", "create", "env-cfg"],
        &[("CLUSTER_CLIENT_CONFIG", config.path())],
        None,
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(nodes.nodes_with_group("env-cfg"), vec![0, 1, 2]);
}

#[test]
fn one_config_file_drives_three_nginx_webdav_nodes() {
    let Some(bin) = nginx_or_skip("one_config_file_drives_three_nginx_webdav_nodes") else {
        return;
    };
    let servers: Vec<Nginx> = (0..3).map(|i| Nginx::start(&bin, i)).collect();
    let urls: Vec<String> = servers.iter().map(Nginx::url).collect();
    let config = config_for("webdav", &urls, "webdav");
    groups_driven_by_config(&config, &|id| servers.iter().map(|s| s.holds(id)).collect());

    // The reference API against WebDAV nodes: nginx answers its verify with
    // 404 (which a read-only check takes for "no such group"), and its
    // create with 405: only the round trip tells.
    let o = run(&["--config", config.path(), "--api", "reference", "nodes"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    for url in &urls {
        let out = stdout(&o);
        let line = out
            .lines()
            .find(|l| l.starts_with(url.as_str()))
            .expect("a line per node");
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[2], "?", "unchecked, never \"yes\": {out}");
    }
    let o = run(&[
        "--config",
        config.path(),
        "--api",
        "reference",
        "nodes",
        "--round-trip",
    ]);
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    for url in &urls {
        assert!(
            err.contains(&format!("failed node {url}: does not speak the group API")),
            "{err}"
        );
    }
}

#[test]
fn the_command_line_overrides_the_config_file() {
    let nodes = TestCluster::start(2).expect("nodes start");
    // The file names a dead node and the WebDAV API; the command line wins.
    let config = config_for("override", &["http://127.0.0.1:1".to_string()], "webdav");
    let hosts = nodes.hosts_csv();
    let o = run(&[
        "--config",
        config.path(),
        "--hosts",
        &hosts,
        "--api",
        "reference",
        "--retries",
        "1",
        "--timeout",
        "5s",
        "group",
        "create",
        "over",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(nodes.nodes_with_group("over"), vec![0, 1]);

    // Without --hosts the file's hosts are used, not $HOSTS.
    let o = run_full(
        &["--config", config.path(), "--retries", "1", "admin", "id"],
        &[("HOSTS", hosts.as_str())],
        None,
    );
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("failed node http://127.0.0.1:1"),
        "{}",
        stderr(&o)
    );

    // A file without hosts falls back to $HOSTS.
    let no_hosts = ConfigFile::new("no-hosts", "group_api = \"reference\"\n");
    let o = run_full(
        &["--config", no_hosts.path(), "group", "verify", "over"],
        &[("HOSTS", hosts.as_str())],
        None,
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
}

#[test]
fn config_errors_exit_2_naming_the_key() {
    let nodes = TestCluster::start(1).expect("nodes start");
    let hosts = format!("hosts = [{:?}]\n", nodes.node(0).url());
    let endpoints = "[group_api.verify]\nmethod = \"GET\"\npath = \"/g/{id}\"\ndone = [200]\nunchanged = [404]\n\
                     [group_api.delete]\nmethod = \"DELETE\"\npath = \"/g/{id}\"\ndone = [204]\n";
    for (name, text, key) in [
        ("unknown-key", format!("{hosts}retires = 3\n"), "retires"),
        (
            "bad-duration",
            format!("{hosts}[timeouts]\nrequest = \"2 fortnights\"\n"),
            "timeouts.request",
        ),
        (
            "no-id",
            format!("{hosts}[group_api.create]\nmethod = \"PUT\"\npath = \"/g/\"\ndone = [201]\n{endpoints}"),
            "group_api.create",
        ),
        (
            "inline-password",
            format!("{hosts}[auth]\nbasic_user = \"root\"\npassword = \"hunter2\"\n"),
            "password",
        ),
    ] {
        let config = ConfigFile::new(name, &text);
        let o = run(&["--config", config.path(), "group", "create", "g"]);
        assert_eq!(code(&o), Some(2), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(key), "{name}: {err}");
        assert!(!err.contains("hunter2"), "{name}: {err}");
    }
    let o = run(&["--config", "/nonexistent/clusterctl.toml", "nodes"]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/clusterctl.toml"),
        "{}",
        stderr(&o)
    );
    assert_eq!(nodes.node(0).request_count(), 0, "nothing was sent");
}

#[test]
fn request_sends_one_request_and_prints_status_and_body() {
    let nodes = TestCluster::start(2).expect("nodes start");
    let ids: Vec<String> = nodes.nodes().iter().map(|n| n.server_id()).collect();

    let o = ctl(&nodes, &["request", "GET", "/_admin/server/id"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("HTTP 200 from http://127.0.0.1:"),
        "{out}"
    );
    assert!(ids.iter().any(|id| out.contains(id.as_str())), "{out}");

    let o = ctl(&nodes, &["--json", "request", "GET", "/_admin/server/id"]);
    let v = json(&o);
    assert_eq!(v["status"], 200);
    assert!(nodes.urls().iter().any(|u| v["host"] == u.as_str()), "{v}");
    let body: Value =
        serde_json::from_str(v["body"].as_str().expect("body is text")).expect("the node's JSON");
    assert!(ids.iter().any(|id| body["id"] == id.as_str()), "{v}");

    // A body from standard input: one node gets the group.
    let o = run_full(
        &[
            "--hosts",
            &nodes.hosts_csv(),
            "request",
            "POST",
            "/v1/group/",
            "--body",
            "-",
        ],
        &[],
        Some(br#"{"groupId": "by-hand"}"#),
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("HTTP 201 from"), "{}", stdout(&o));
    assert_eq!(nodes.nodes_with_group("by-hand").len(), 1);

    // A body from a file.
    let body = ConfigFile::new("body", r#"{"groupId": "from-file"}"#);
    let o = ctl(
        &nodes,
        &["request", "POST", "/v1/group/", "--body", body.path()],
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(nodes.nodes_with_group("from-file").len(), 1);

    // An answer of 400 or more is a failed operation, the answer still shown.
    let o = ctl(&nodes, &["request", "GET", "/no/such/path"]);
    assert_eq!(code(&o), Some(1));
    assert!(stdout(&o).starts_with("HTTP 404 from"), "{}", stdout(&o));
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));

    // Bad input: nothing sent.
    nodes.node(0).clear_requests();
    nodes.node(1).clear_requests();
    for args in [
        &["request", "GET", "no-slash"][..],
        &["request", "G E T", "/"],
        &[
            "request",
            "POST",
            "/v1/group/",
            "--body",
            "/nonexistent/body.json",
        ],
    ] {
        let o = ctl(&nodes, args);
        assert_eq!(code(&o), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(
        nodes.node(0).request_count() + nodes.node(1).request_count(),
        0
    );
}

fn html_404_always() -> FaultRule {
    FaultRule::new(Fault::Respond {
        status: 404,
        content_type: "text/html".to_string(),
        body: b"<html>\n<head><title>404 Not Found</title></head>\n<body>nothing here</body>\n</html>\n"
            .to_vec(),
    })
    .always()
}

#[test]
fn nodes_shows_reachable_group_api_and_health() {
    let nodes = TestCluster::start(3).expect("nodes start");
    let o = ctl(&nodes, &["nodes"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("NODE"), "{out}");
    for url in nodes.urls() {
        let line = out
            .lines()
            .find(|l| l.starts_with(&url))
            .expect("a line per node");
        let cells: Vec<&str> = line.split_whitespace().collect();
        // A read-only check does not prove the group API: "?" (unchecked).
        assert_eq!(cells, [url.as_str(), "yes", "?", "healthy"], "{out}");
    }
    // Under it, the answer times: one answered verify per node.
    let (_, times) = out.split_once("\n\n").expect("a second table");
    let mut lines = times.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["NODE", "ANSWERS", "P50", "P90", "P99"]),
        "{out}"
    );
    for url in nodes.urls() {
        let cells: Vec<&str> = lines
            .next()
            .expect("a row per node")
            .split_whitespace()
            .collect();
        assert_eq!(cells[..2], [url.as_str(), "1"], "{out}");
        assert!(cells[2..].iter().all(|c| c.ends_with('s')), "{out}");
    }
    let o = ctl(&nodes, &["nodes", "--round-trip"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for url in nodes.urls() {
        let line = out
            .lines()
            .find(|l| l.starts_with(&url))
            .expect("a line per node");
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells, [url.as_str(), "yes", "yes", "healthy"], "{out}");
    }
    let o = ctl(&nodes, &["--json", "nodes", "--round-trip"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["nodes"][0]["group_api"], true);
    assert_eq!(json(&o)["nodes"][0]["group_api_checked"], true);
    // The answer times of this run's client: the read-only check answered.
    for (i, url) in nodes.urls().iter().enumerate() {
        let l = &json(&o)["nodes"][i]["latency"];
        assert!(l["count"].as_u64() >= Some(1), "{url}: {l}");
        let p: Vec<f64> = ["p50_ms", "p90_ms", "p99_ms"]
            .iter()
            .map(|k| l[*k].as_f64().unwrap_or(-1.0))
            .collect();
        assert!(0.25 <= p[0] && p[0] <= p[1] && p[1] <= p[2], "{url}: {l}");
    }
    assert_eq!(json(&o)["hedges"], serde_json::json!({"sent": 0, "won": 0}));
    for n in nodes.nodes() {
        assert!(
            n.groups().is_empty(),
            "the probe group is deleted: {:?}",
            n.groups()
        );
    }

    // A down node: not reachable, exit 1, named once.
    let down = nodes.node(2).url();
    nodes.node(2).go_down();
    let o = ctl(&nodes, &["--json", "nodes"]);
    assert_eq!(code(&o), Some(1));
    let v = json(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(v["nodes"][2]["reachable"], false);
    assert_eq!(v["nodes"][2]["group_api"], Value::Null);
    assert_eq!(v["nodes"][2]["healthy"], false);
    assert_eq!(v["nodes"][0]["reachable"], true);
    // Unchecked without --round-trip: neither true nor false.
    assert_eq!(v["nodes"][0]["group_api"], Value::Null);
    assert_eq!(v["nodes"][0]["group_api_checked"], false);
    assert_eq!(v["nodes"][0]["healthy"], true);
    assert_eq!(
        v["nodes"][0]["metrics"].as_object().map(|m| m.len()),
        Some(POOL_METRICS.len())
    );
    assert_eq!(stderr(&o).matches(&down).count(), 1, "{}", stderr(&o));
}

#[test]
fn nodes_that_do_not_speak_the_group_api_exit_1() {
    let nodes = TestCluster::start(2).expect("nodes start");
    // A 405 HTML answer to everything: the read-only check sees it.
    nodes.node(1).inject(
        FaultRule::new(Fault::Respond {
            status: 405,
            content_type: "text/html".to_string(),
            body: b"<html>\n<body>Method Not Allowed</body>\n</html>\n".to_vec(),
        })
        .always(),
    );
    let o = ctl(&nodes, &["nodes"]);
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    let bad = nodes.node(1).url();
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with(&bad))
        .map(str::to_string)
        .expect("a line for the node");
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        [bad.as_str(), "yes", "no", "healthy"]
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!("failed node {bad}: does not speak the group API")),
        "{err}"
    );
    assert!(err.lines().all(|l| l.chars().count() <= 300), "{err}");

    // A 404 HTML answer to everything looks like "no such group" to a
    // read-only check; --round-trip creates, verifies and deletes a probe.
    nodes.node(1).clear_faults();
    nodes.node(1).inject(html_404_always());
    let o = ctl(&nodes, &["nodes", "--round-trip"]);
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!("failed node {bad}: does not speak the group API")),
        "{}",
        stderr(&o)
    );
    assert!(
        !nodes.node(0).groups().iter().any(|g| g.contains("probe")),
        "cleaned up"
    );

    // The WebDAV API against nodes that speak the reference one.
    nodes.node(1).clear_faults();
    let o = ctl(
        &nodes,
        &["--api", "webdav", "--json", "nodes", "--round-trip"],
    );
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    let v = json(&o);
    assert_eq!(v["nodes"][0]["group_api"], false);
    assert_eq!(v["nodes"][1]["group_api"], false);
    assert_eq!(v["nodes"][0]["reachable"], true);
}

#[test]
fn failed_nodes_are_named_once_on_one_line() {
    let nodes = TestCluster::start(2).expect("nodes start");
    // Three attempts per node, each refused: each node named once.
    for n in nodes.nodes() {
        n.go_down();
    }
    let o = run(&[
        "--hosts",
        &nodes.hosts_csv(),
        "--retries",
        "3",
        "--timeout",
        "5s",
        "admin",
        "id",
    ]);
    assert_eq!(code(&o), Some(1));
    let err = stderr(&o);
    for url in nodes.urls() {
        assert_eq!(
            err.matches(&format!("failed node {url}: ")).count(),
            1,
            "{err}"
        );
    }

    // A failed admin call names the node and the server's reason.
    let nodes = TestCluster::start(1).expect("nodes start");
    let o = ctl(&nodes, &["admin", "version", "no-such-server"]);
    assert_eq!(code(&o), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("failed node {}: ", nodes.node(0).url())),
        "{err}"
    );
    assert!(err.contains("unknown server id"), "{err}");

    // A long multi-line body is cut to one line of at most 200 characters.
    let mut body = b"<html>\n<body>\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 5000));
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 418,
            content_type: "text/html".to_string(),
            body,
        })
        .always(),
    );
    let o = ctl(&nodes, &["group", "verify", "g"]);
    assert_eq!(code(&o), Some(1));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("failed node"))
        .expect("named");
    let reason = line.split_once(": ").map_or("", |(_, r)| r);
    let reason = reason.split_once(": ").map_or("", |(_, r)| r);
    assert!(reason.chars().count() <= 200, "{line}");
    assert!(line.contains("418") && !err.contains("xxxxx\n<"), "{err}");
}

#[test]
fn version_timeout_and_hosts_messages() {
    let o = run(&["--version"]);
    assert_eq!(code(&o), Some(0));
    assert_eq!(
        stdout(&o),
        format!("clusterctl {}\n", env!("CARGO_PKG_VERSION"))
    );

    let o = run(&["--hosts", "http://127.0.0.1:1", "--timeout", "0", "nodes"]);
    assert_eq!(code(&o), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("--timeout must be more than zero and at most 24h"),
        "{err}"
    );
    assert!(!err.contains("between 0"), "{err}");

    let o = run(&[
        "--hosts",
        "http://127.0.0.1:1",
        "--retries",
        "many",
        "nodes",
    ]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("--retries"), "{}", stderr(&o));

    let nodes = TestCluster::start(1).expect("nodes start");
    let trailing = format!("{},", nodes.node(0).url());
    let o = run(&["--hosts", &trailing, "nodes"]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("trailing comma"), "{}", stderr(&o));
    assert_eq!(nodes.node(0).request_count(), 0);

    // Humane durations work.
    let o = ctl(&nodes, &["--timeout", "2500ms", "group", "create", "quick"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
}

#[test]
fn group_repair_converges_and_recover_finishes_from_the_journal() {
    let nodes = TestCluster::start(3).unwrap();
    nodes.node(1).insert_group("r");
    let o = ctl(&nodes, &["group", "repair", "r", "--present"]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("created") && stdout(&o).contains("already present"));
    assert_eq!(nodes.nodes_with_group("r"), vec![0, 1, 2]);
    let o = ctl(&nodes, &["--json", "group", "repair", "r", "--absent"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["intent"], "absent");
    assert!(nodes.nodes_with_group("r").is_empty());
    let o = ctl(&nodes, &["group", "repair", "r"]);
    assert_eq!(code(&o), Some(2), "one of --present/--absent is required");

    // A failed create whose rollback failed, then recover from the journal.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("sagas.journal");
    let journal = journal.to_str().unwrap();
    nodes
        .node(2)
        .inject(FaultRule::status(400).method("POST").always());
    nodes
        .node(0)
        .inject(FaultRule::status(500).method("DELETE").always());
    let o = ctl(&nodes, &["--journal", journal, "group", "create", "j"]);
    assert_eq!(code(&o), Some(1), "{}", stderr(&o));
    assert_eq!(nodes.nodes_with_group("j"), vec![0]);
    nodes.node(0).clear_faults();
    let o = ctl(&nodes, &["--journal", journal, "recover"]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("repaired 1 node"), "{}", stdout(&o));
    assert!(nodes.nodes_with_group("j").is_empty());
    // Without a journal, recover is a configuration error.
    assert_eq!(code(&ctl(&nodes, &["recover"])), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `clusterctl` with stdout and stderr both pipes whose read end is
/// already closed (as `clusterctl ... 2>&1 | head -0`).
fn run_into_closed_pipes(args: &[&str]) -> Output {
    let (out_read, out_write) = std::io::pipe().expect("pipe");
    let (err_read, err_write) = std::io::pipe().expect("pipe");
    drop(out_read);
    drop(err_read);
    Command::new(env!("CARGO_BIN_EXE_clusterctl"))
        .args(args)
        .env_remove("HOSTS")
        .env_remove("CLUSTER_CLIENT_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(out_write)
        .stderr(err_write)
        .output()
        .expect("clusterctl runs")
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_normal_exit_code() {
    let nodes = TestCluster::start(1).expect("nodes start");
    let hosts = nodes.hosts_csv();
    for (args, expected) in [
        (&["--version"][..], 0),
        (&["--hosts", hosts.as_str(), "group", "verify", "absent"], 1),
        (
            &[
                "--hosts",
                hosts.as_str(),
                "--json",
                "group",
                "verify",
                "absent",
            ],
            1,
        ),
        (&["--hosts", hosts.as_str(), "metrics"], 0),
        (&["frobnicate"], 2),
        (&["--hosts", hosts.as_str(), "group", "create", "a/b"], 2),
    ] {
        let o = run_into_closed_pipes(args);
        assert_ne!(code(&o), Some(101), "{args:?} panicked");
        assert_eq!(code(&o), Some(expected), "{args:?}");
    }
}

#[test]
fn nodes_round_trip_works_with_a_journal_in_the_config_file() {
    let nodes = TestCluster::start(2).expect("nodes start");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-round-trip-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let journal = dir.join("sagas.journal");
    let list: Vec<String> = nodes.urls().iter().map(|h| format!("{h:?}")).collect();
    let config = ConfigFile::new(
        "round-trip-journal",
        &format!(
            "hosts = [{}]\n[journal]\npath = {:?}\n[retry]\nattempts = 1\n",
            list.join(", "),
            journal.to_str().expect("UTF-8 path")
        ),
    );
    let o = run(&["--config", config.path(), "nodes", "--round-trip"]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = run(&[
        "--config",
        config.path(),
        "--journal",
        journal.to_str().expect("UTF-8 path"),
        "--json",
        "nodes",
        "--round-trip",
    ]);
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(json(&o)["nodes"][1]["group_api"], true);
    for n in nodes.nodes() {
        assert!(n.groups().is_empty(), "probe deleted: {:?}", n.groups());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_values_refused_after_parsing_exit_2_naming_key_and_line() {
    let nodes = TestCluster::start(1).expect("nodes start");
    let hosts = format!("hosts = [{:?}]\n", nodes.node(0).url());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-config-values-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("bad-ca.pem"), "not a certificate\n").expect("written");
    let ca = dir.join("bad-ca.pem");
    let ca = ca.to_str().expect("UTF-8 path");
    for (name, text, key) in [
        (
            "operation",
            "[timeouts]\noperation = \"1000000000000h\"\n".to_string(),
            "timeouts.operation",
        ),
        (
            "initial",
            "[retry]\ninitial_delay = \"400d\"\n".to_string(),
            "retry.initial_delay",
        ),
        (
            "max-conn",
            "[pool]\nmax_connections_per_node = 0\n".to_string(),
            "pool.max_connections_per_node",
        ),
        (
            "connect",
            "[timeouts]\nconnect = \"0s\"\n".to_string(),
            "timeouts.connect",
        ),
        ("ca", format!("[tls]\nca_file = {ca:?}\n"), "tls.ca_file"),
        (
            "journal",
            "[journal]\npath = \"\"\n".to_string(),
            "journal.path",
        ),
        (
            "attempts",
            "[retry]\nattempts = 0\n".to_string(),
            "retry.attempts",
        ),
        (
            "percent",
            "[retry_budget]\npercent = nan\n".to_string(),
            "retry_budget.percent",
        ),
        (
            "secret",
            "[auth]\npassword_env = \"s3cr3t-Pa55\"\nbasic_user = \"root\"\n".to_string(),
            "auth.password_env",
        ),
    ] {
        let config = ConfigFile::new(&format!("value-{name}"), &format!("{hosts}{text}"));
        let o = run(&["--config", config.path(), "group", "create", "g"]);
        assert_eq!(code(&o), Some(2), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("line 3: {key}: ")), "{name}: {err}");
        assert!(!err.contains("s3cr3t"), "{name}: {err}");
        if key != "retry.max_delay" {
            assert!(!err.contains("max_delay"), "{name}: {err}");
        }
    }
    assert_eq!(nodes.node(0).request_count(), 0, "nothing was sent");
    // A bare number is seconds in the file, as it is for --timeout.
    let config = ConfigFile::new("seconds", &format!("{hosts}[timeouts]\noperation = 30\n"));
    let o = run(&["--config", config.path(), "group", "create", "secs"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn group_delete_tells_deleted_from_already_absent() {
    let nodes = TestCluster::start(3).expect("nodes start");
    let o = ctl(&nodes, &["group", "delete", "never-there"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("deleted on 0 of 3 node(s), already absent on 3"),
        "{out}"
    );
    nodes.node(1).insert_group("some");
    let o = ctl(&nodes, &["--json", "group", "delete", "some"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["deleted_on"], 1);
    assert_eq!(v["already_absent_on"], 2);
    assert_eq!(v["nodes"][1]["result"], "deleted");
    assert_eq!(v["nodes"][0]["result"], "already absent");
    assert!(nodes.nodes_with_group("some").is_empty());
}

/// Two free consecutive ports of 127.0.0.1 (free when checked).
#[cfg(feature = "testkit")]
fn free_port_pair() -> u16 {
    use std::net::TcpListener;
    for _ in 0..200 {
        let Ok(one) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = one.local_addr().map(|a| a.port()) else {
            continue;
        };
        if port < 65535 && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two free consecutive ports");
}

#[cfg(feature = "testkit")]
#[test]
fn cluster_testnodes_listens_on_the_ports_asked_for() {
    use std::io::{BufRead as _, BufReader};
    let testnodes = env!("CARGO_BIN_EXE_cluster-testnodes");
    let base = free_port_pair();
    let mut child = Command::new(testnodes)
        .args(["--count", "2", "--port", &base.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cluster-testnodes runs");
    let mut first = String::new();
    let out = child.stdout.take().expect("stdout");
    BufReader::new(out)
        .read_line(&mut first)
        .expect("hosts line");
    let expected = format!("http://127.0.0.1:{base},http://127.0.0.1:{}", base + 1);
    assert_eq!(first.trim(), expected);
    // The nodes answer there: clusterctl creates a group on both.
    let o = run(&["--hosts", &expected, "group", "create", "on-ports"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    drop(child.stdin.take());
    assert!(child.wait().expect("ends").success());

    for (args, expected) in [
        (&["--port", "0"][..], 2),
        (&["--port", "x"], 2),
        (&["--count", "2", "--port", "65535"], 1),
    ] {
        let o = Command::new(testnodes)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("cluster-testnodes runs");
        assert_eq!(code(&o), Some(expected), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("port"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn json_is_honoured_on_every_path() {
    let nodes = TestCluster::start(1).expect("nodes start");
    let hosts = nodes.hosts_csv();
    // Bad usage, a bad body file, no hosts, a config error: JSON objects.
    for (args, expected) in [
        (&["--json", "frobnicate"][..], 2),
        (&["--json", "--timeout", "soon", "nodes"], 2),
        (
            &[
                "--hosts",
                hosts.as_str(),
                "--json",
                "request",
                "POST",
                "/v1/group/",
                "--body",
                "/nonexistent/b.json",
            ],
            2,
        ),
        (&["--json", "nodes"], 2),
        (&["--json", "--config", "/nonexistent/c.toml", "nodes"], 2),
        (
            &[
                "--hosts",
                hosts.as_str(),
                "--json",
                "group",
                "create",
                "a/b",
            ],
            2,
        ),
    ] {
        let o = run(args);
        assert_eq!(code(&o), Some(expected), "{args:?}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["ok"], false, "{args:?}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{args:?}: {v}"
        );
    }
    let v = json(&run(&["--json", "--version"]));
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let v = json(&run(&["--json", "--help"]));
    assert!(v["usage"]
        .as_str()
        .is_some_and(|u| u.contains("Usage: clusterctl")));
    // `metrics --prometheus` is the one exception: Prometheus text.
    let o = run(&[
        "--hosts",
        hosts.as_str(),
        "--json",
        "metrics",
        "--prometheus",
    ]);
    assert_eq!(code(&o), Some(0));
    assert!(stdout(&o).starts_with('#'), "{}", stdout(&o));
}

#[test]
fn json_errors_are_not_cut() {
    let nodes = TestCluster::start(2).expect("nodes start");
    nodes.node(0).inject(
        FaultRule::new(Fault::Respond {
            status: 418,
            content_type: "text/plain".to_string(),
            body: "y".repeat(5000).into_bytes(),
        })
        .always(),
    );
    let o = ctl(&nodes, &["--json", "group", "verify", "g"]);
    assert_eq!(code(&o), Some(1));
    let e = json(&o)["nodes"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(e.chars().count() > 200 && !e.ends_with('…'), "{e}");
    let o = ctl(&nodes, &["--json", "group", "create", "g"]);
    assert_eq!(code(&o), Some(1));
    let v = json(&o);
    let e = v["failed"][0]["error"].as_str().unwrap_or_default();
    assert!(e.chars().count() > 200 && !e.ends_with('…'), "{v}");
    let e = v["error"].as_str().unwrap_or_default();
    assert!(!e.ends_with('…'), "{v}");
    // stderr stays one line of at most 200 characters per reason.
    assert!(
        stderr(&o).lines().all(|l| l.chars().count() <= 300),
        "{}",
        stderr(&o)
    );
}

#[test]
fn nodes_round_trips_run_in_parallel() {
    let nodes = TestCluster::start(4).expect("nodes start");
    for n in nodes.nodes() {
        n.inject(
            FaultRule::new(Fault::Delay(std::time::Duration::from_millis(800)))
                .method("POST")
                .always(),
        );
    }
    let started = std::time::Instant::now();
    let o = ctl(&nodes, &["nodes", "--round-trip"]);
    let took = started.elapsed();
    assert_eq!(code(&o), Some(0), "{}{}", stdout(&o), stderr(&o));
    // One after another they take at least 4 × 800 ms.
    assert!(took < std::time::Duration::from_millis(2800), "{took:?}");
    for n in nodes.nodes() {
        assert!(n.groups().is_empty(), "{:?}", n.groups());
    }
}

#[test]
fn an_answer_over_the_size_limit_says_so() {
    let nodes = TestCluster::start(2).expect("nodes start");
    for n in nodes.nodes() {
        n.inject(
            FaultRule::new(Fault::Respond {
                status: 200,
                content_type: "text/plain".to_string(),
                body: vec![b'z'; 5000],
            })
            .always(),
        );
    }
    let list: Vec<String> = nodes.urls().iter().map(|h| format!("{h:?}")).collect();
    let config = ConfigFile::new(
        "size-limit",
        &format!(
            "hosts = [{}]\nmax_response_bytes = 100\n[retry]\nattempts = 1\n",
            list.join(", ")
        ),
    );
    let o = run(&["--config", config.path(), "request", "GET", "/big"]);
    assert_eq!(code(&o), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("larger than the size limit (100 bytes"),
        "{err}"
    );
    assert!(!err.contains("no node answered"), "{err}");
}

#[test]
fn a_huge_path_is_shortened_on_stderr() {
    let nodes = TestCluster::start(2).expect("nodes start");
    let path = format!("/{}", "p".repeat(20_000));
    let o = ctl(&nodes, &["request", "GET", &path]);
    assert_eq!(code(&o), Some(1));
    assert!(
        stderr(&o).lines().all(|l| l.chars().count() <= 400),
        "{}",
        stderr(&o)
    );
    for n in nodes.nodes() {
        n.go_down();
    }
    let o = ctl(&nodes, &["request", "GET", &path]);
    assert_eq!(code(&o), Some(1));
    let err = stderr(&o);
    assert!(err.lines().all(|l| l.chars().count() <= 400), "{err}");
    assert!(err.contains("no node answered"), "{err}");
}

#[test]
fn no_hosts_hints_where_they_come_from() {
    let o = run(&["nodes"]);
    assert_eq!(code(&o), Some(2));
    let err = stderr(&o);
    for hint in ["--hosts", "--config", "$HOSTS", "$CLUSTER_CLIENT_CONFIG"] {
        assert!(err.contains(hint), "{hint}: {err}");
    }
}

#[test]
fn a_bad_request_path_exits_2_and_sends_nothing() {
    let nodes = TestCluster::start(2).expect("nodes start");
    for path in ["/a<b>", "/a`b", "/a{b}", "/a|b", "/a^b", "/a\\b", "/a\"b"] {
        let o = ctl(&nodes, &["request", "GET", path]);
        assert_eq!(code(&o), Some(2), "{path}: {}", stderr(&o));
        assert!(stderr(&o).contains("percent-encoded"), "{}", stderr(&o));
    }
    for n in nodes.nodes() {
        assert_eq!(n.request_count(), 0);
    }
}

#[test]
fn resolver_option_picks_where_one_node_calls_start() {
    let nodes = TestCluster::start(3).expect("nodes start");
    let first = nodes.node(0).url();
    for _ in 0..3 {
        let o = ctl(
            &nodes,
            &[
                "--resolver",
                "fallback",
                "--json",
                "request",
                "GET",
                "/_admin/server/id",
            ],
        );
        assert_eq!(code(&o), Some(0), "{}", stderr(&o));
        assert_eq!(json(&o)["host"], first.as_str());
    }
    for name in ["round_robin", "random", "least_loaded"] {
        let o = ctl(
            &nodes,
            &["--resolver", name, "request", "GET", "/_admin/server/id"],
        );
        assert_eq!(code(&o), Some(0), "{name}: {}", stderr(&o));
        assert!(stdout(&o).starts_with("HTTP 200 from http://127.0.0.1:"));
    }
    // The option overrides the file's host_resolver.
    let config = ConfigFile::new(
        "resolver",
        &format!(
            "hosts = [{}]\nhost_resolver = \"least_loaded\"\n",
            nodes
                .urls()
                .iter()
                .map(|u| format!("{u:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let o = run(&[
        "--config",
        config.path(),
        "--resolver",
        "fallback",
        "--json",
        "request",
        "GET",
        "/_admin/server/id",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["host"], first.as_str());
    let o = run(&[
        "--config",
        config.path(),
        "request",
        "GET",
        "/_admin/server/id",
    ]);
    assert_eq!(
        code(&o),
        Some(0),
        "least_loaded from the file: {}",
        stderr(&o)
    );

    // An unknown name is bad usage: exit 2, nothing sent.
    let before = nodes.node(0).request_count();
    let o = ctl(&nodes, &["--resolver", "fastest", "request", "GET", "/"]);
    assert_eq!(code(&o), Some(2));
    assert!(
        stderr(&o).contains("--resolver") && stderr(&o).contains("least_loaded"),
        "{}",
        stderr(&o)
    );
    assert_eq!(nodes.node(0).request_count(), before);
    let usage = stdout(&run(&["--help"]));
    assert!(
        usage.contains("--resolver NAME") && usage.contains("[hedging]"),
        "{usage}"
    );
}

#[test]
fn hedging_comes_from_the_config_file() {
    let nodes = TestCluster::start(2).expect("nodes start");
    // The first node (where a fallback client starts) holds its answer back.
    nodes.node(0).inject(
        FaultRule::new(Fault::Delay(std::time::Duration::from_secs(2)))
            .method("GET")
            .path_prefix("/_admin/server/id")
            .always(),
    );
    let hosts = nodes
        .urls()
        .iter()
        .map(|u| format!("{u:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = ConfigFile::new(
        "hedging",
        &format!(
            "hosts = [{hosts}]\nhost_resolver = \"fallback\"\n\n[hedging]\nenabled = true\n\
             delay = \"30ms\"\nbudget_percent = 100\n"
        ),
    );
    let start = std::time::Instant::now();
    let o = run(&[
        "--config",
        config.path(),
        "--json",
        "request",
        "GET",
        "/_admin/server/id",
    ]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(
        json(&o)["host"],
        nodes.node(1).url().as_str(),
        "the hedge won"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_millis(1900),
        "{:?}",
        start.elapsed()
    );
    // A bad [hedging] value is a configuration error naming its key.
    let bad = ConfigFile::new(
        "hedging-bad",
        &format!("hosts = [{hosts}]\n[hedging]\nenabled = true\ndelay = \"p150\"\n"),
    );
    let o = run(&["--config", bad.path(), "metrics"]);
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("hedging.delay"), "{}", stderr(&o));
}
