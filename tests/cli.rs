//! `clusterctl` run as a program against in-process test nodes: what it
//! prints, what it changes on the nodes, and its exit codes.
#![cfg(feature = "cli")]

use std::process::{Command, Output};

use cluster_client::testkit::TestCluster;
use cluster_client::POOL_METRICS;
use serde_json::Value;

/// Runs `clusterctl` with `args`, `HOSTS` unset unless given in `env`.
fn run_with_env(args: &[&str], env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clusterctl"));
    cmd.args(args).env_remove("HOSTS").env_remove("RUST_LOG");
    if let Some(hosts) = env {
        cmd.env("HOSTS", hosts);
    }
    cmd.output().expect("clusterctl runs")
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
    assert_eq!(out.lines().count(), 1 + POOL_METRICS.len(), "{out}");
    let header = out.lines().next().unwrap_or_default();
    for url in nodes.urls() {
        assert!(header.contains(&url), "{out}");
    }
    for m in &POOL_METRICS {
        assert!(
            out.lines().any(|l| l.starts_with(m.name) && l.contains(m.help)),
            "{out}"
        );
    }
    assert!(stderr(&o).contains("this run's traffic only"), "{}", stderr(&o));

    let o = ctl(&nodes, &["--json", "metrics"]);
    let v = json(&o);
    for url in nodes.urls() {
        assert_eq!(
            v[url.as_str()].as_object().map(|m| m.len()),
            Some(POOL_METRICS.len()),
            "{v}"
        );
        assert_eq!(v[url.as_str()]["operations_executed"], 0);
    }

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
