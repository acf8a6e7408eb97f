//! The C ABI from C: the committed header is what cbindgen generates from
//! `src/ffi/`; the library built as a `cdylib` (into the cargo target
//! directory) runs `examples/ffi/demo.c`, compiled with `cc`, against the
//! `cluster-testnodes` binary, and, where valgrind is installed, again under
//! valgrind to prove it leaks nothing.
#![cfg(feature = "ffi")]

#[path = "support/nested.rs"]
mod nested;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nested::{
    build_library, build_testnodes, nested_dir, run, skip_without, text, TestNodes, MANIFEST_DIR,
};
use serde_json::Value;

const HEADER: &str = "examples/ffi/cluster_client.h";

/// The header cbindgen makes from `src/ffi/` with `cbindgen.toml`.
fn generated_header() -> String {
    let root = Path::new(MANIFEST_DIR);
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src").join("ffi").join("mod.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    text(&out)
}

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let path = Path::new(MANIFEST_DIR).join(HEADER);
    let generated = generated_header();
    if std::env::var_os("CC_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("header written");
        println!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).expect("committed header");
    assert!(
        committed == generated,
        "{HEADER} differs from what cbindgen generates from src/ffi/; \
         regenerate it with `CC_UPDATE_HEADER=1 cargo test --features ffi --test ffi \
         committed_header` and commit it"
    );
    for name in [
        "cc_client_new_from_config",
        "cc_client_new_from_toml",
        "cc_verify_group_everywhere",
        "cc_unhealthy_nodes",
        "cc_request",
        "cc_prometheus",
        "cc_client_shutdown",
        "cc_client_add_node",
        "cc_client_remove_node",
        "cc_client_set_nodes",
        "cc_version",
        "#define CC_ABI_VERSION",
        "possible_orphans",
    ] {
        assert!(generated.contains(name), "{name} missing from the header");
    }
}

#[test]
fn pkg_config_file_names_this_version() {
    let pc =
        std::fs::read_to_string(Path::new(MANIFEST_DIR).join("examples/ffi/cluster_client.pc"))
            .expect("cluster_client.pc");
    let version = format!("Version: {}", env!("CARGO_PKG_VERSION"));
    assert!(
        pc.lines().any(|l| l == version),
        "{version} missing from cluster_client.pc"
    );
    assert!(pc.contains("-lcluster_client"), "{pc}");
}

/// Compiles the demo against the library in `lib_dir`.
fn compile_demo(lib_dir: &Path) -> PathBuf {
    let src = Path::new(MANIFEST_DIR).join("examples").join("ffi");
    let exe = lib_dir.join("cluster_client_demo");
    let mut rpath = OsString::from("-Wl,-rpath,");
    rpath.push(lib_dir);
    let out = run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I"])
        .arg(&src)
        .arg(src.join("demo.c"))
        .arg("-L")
        .arg(lib_dir)
        .arg(rpath)
        .arg("-lcluster_client")
        .arg("-o")
        .arg(&exe));
    assert!(
        out.status.success(),
        "compiling demo.c failed:\n{}",
        text(&out.stderr)
    );
    exe
}

/// A config file naming the nodes, under the target directory.
fn config_file(nodes: &TestNodes) -> PathBuf {
    let path = nested_dir().join(format!("demo-config-{}.toml", std::process::id()));
    let hosts: Vec<String> = nodes.hosts().iter().map(|h| format!("{h:?}")).collect();
    let toml = format!(
        "hosts = [{}]\nhost_resolver = \"fallback\"\n[retry]\nattempts = 2\ninitial_delay = \"10ms\"\n",
        hosts.join(", ")
    );
    std::fs::write(&path, toml).expect("config written");
    path
}

/// Checks the demo's output line by line against the nodes.
fn check_demo_output(out: &Output, nodes: &mut TestNodes) {
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let has = |l: &str| lines.contains(&l);
    let starts = |p: &str| lines.iter().any(|l| l.starts_with(p));
    let version = format!("version {} abi 5 (header 5)", env!("CARGO_PKG_VERSION"));
    assert!(has(&version), "{stdout}");
    assert!(has("created demo-group"), "{stdout}");
    assert!(has("deleted demo-group (failed on 0 nodes)"), "{stdout}");
    let hosts = nodes.hosts();
    for url in &hosts {
        for state in ["present", "missing"] {
            assert!(
                has(&format!("verify demo-group {url}: {state}")),
                "{stdout}"
            );
            assert!(
                has(&format!("everywhere demo-group {url}: {state}")),
                "{stdout}"
            );
        }
    }
    let all = hosts.join(" ");
    assert!(has(&format!("nodes {all}")), "{stdout}");
    assert!(has(&format!("healthy {all}")), "{stdout}");
    assert!(has("unhealthy"), "{stdout}");
    assert!(starts(
        "request GET /_admin/server/id: 200 from http://127.0.0.1:"
    ));
    assert!(has("request POST /no/such/path: 404"), "{stdout}");

    let metrics = lines
        .iter()
        .find_map(|l| l.strip_prefix("metrics "))
        .unwrap_or_else(|| panic!("no metrics line: {stdout}"));
    let v: Value = serde_json::from_str(metrics).expect("metrics are JSON");
    for url in &hosts {
        let m = &v[url.as_str()];
        assert_eq!(
            m.as_object().map(|o| o.len()),
            Some(cluster_client::POOL_METRICS.len()),
            "{metrics}"
        );
        // create + verify + delete + verify: at least four answered requests.
        assert!(
            m["operations_executed"].as_u64() >= Some(4),
            "{url}: {metrics}"
        );
        // ... each timed: the node's answer times beside its pool metrics.
        let l = &v["latency"][url.as_str()];
        assert!(l["count"].as_u64() >= Some(4), "{url}: {metrics}");
        let p: Vec<f64> = ["p50_ms", "p90_ms", "p99_ms"]
            .iter()
            .map(|k| l[*k].as_f64().unwrap_or(-1.0))
            .collect();
        assert!(
            0.25 <= p[0] && p[0] <= p[1] && p[1] <= p[2],
            "{url}: {metrics}"
        );
    }
    assert_eq!(v["latency"].as_object().map(|o| o.len()), Some(hosts.len()));
    // The demo's client does not hedge.
    assert_eq!(
        v["hedges"],
        serde_json::json!({"sent": 0, "won": 0}),
        "{metrics}"
    );
    for info in cluster_client::POOL_METRICS {
        assert!(
            stdout.contains(info.name),
            "{} not in the Prometheus text",
            info.name
        );
    }

    // The create that failed on the unreachable node: named, rolled back.
    assert!(has("group failure: code 2"), "{stdout}");
    assert!(has("failed_hosts http://127.0.0.1:1"), "{stdout}");
    assert!(has("rollback_failed_hosts"), "{stdout}");
    assert!(has("possible_orphans"), "{stdout}");
    assert!(
        has(&format!("after rollback {}: missing", hosts[0])),
        "{stdout}"
    );
    assert!(starts("toml unhealthy"), "{stdout}");

    assert!(has(&format!("config nodes {all}")), "{stdout}");
    assert!(
        starts("bad config refused: code 1: invalid configuration"),
        "{stdout}"
    );
    assert!(
        starts("invalid id refused: code 1: invalid group id"),
        "{stdout}"
    );
    assert!(
        starts("invalid host refused: code 1: invalid host"),
        "{stdout}"
    );
    assert!(has("null id refused: code 4"), "{stdout}");
    let first = nodes.hosts_csv.split(',').next().expect("a node");
    assert!(has(&format!("removed {first}: 1")), "{stdout}");
    assert!(has(&format!("added {first}")), "{stdout}");
    assert!(
        has(&format!(
            "node added twice refused: code 1: invalid configuration: {first} is already a node"
        )),
        "{stdout}"
    );
    assert!(has("after cancel: code 8: call cancelled"), "{stdout}");
    assert!(nodes.command("groups demo-cancelled").is_empty());
    assert!(
        has("with options: created and deleted demo-options"),
        "{stdout}"
    );
    assert!(nodes.command("groups demo-options").is_empty());
    assert!(has("after shutdown: code 7: client shut down"), "{stdout}");
    assert_eq!(lines.last(), Some(&"demo ok"), "{stdout}");

    // The demo's groups are gone from every node; each node got the create.
    assert_eq!(nodes.command("groups demo-group"), "");
    assert_eq!(nodes.command("groups demo-doomed"), "");
    for i in 0..hosts.len() {
        let posts: usize = nodes
            .command(&format!("count {i} POST"))
            .parse()
            .expect("a count");
        assert!(posts >= 1, "node {i} got no create");
    }
}

#[test]
fn c_demo_runs_against_test_nodes() {
    if skip_without("cc", "the C demo cannot be compiled") {
        return;
    }
    let lib_dir = build_library();
    let demo = compile_demo(&lib_dir);
    let testnodes = build_testnodes();

    let mut nodes = TestNodes::start(&testnodes, &["--count", "3"]);
    let config = config_file(&nodes);
    let out = run(Command::new(&demo).arg(&nodes.hosts_csv).arg(&config));
    check_demo_output(&out, &mut nodes);

    if skip_without("valgrind", "the leak check did not run") {
        return;
    }
    let mut nodes = TestNodes::start(&testnodes, &["--count", "3"]);
    let config = config_file(&nodes);
    let out = run(Command::new("valgrind")
        .args([
            "--leak-check=full",
            "--error-exitcode=9",
            // Only real leaks count. Thread-local data of the calling
            // thread (never destroyed for a C main thread) and of the
            // client's threads still winding down at exit shows as
            // "possibly lost"; it is not a leak of the API.
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(&demo)
        .arg(&nodes.hosts_csv)
        .arg(&config));
    let report = text(&out.stderr);
    for line in report
        .lines()
        .filter(|l| l.contains("lost:") || l.contains("SUMMARY"))
    {
        println!("{line}");
    }
    assert_ne!(
        out.status.code(),
        Some(9),
        "valgrind found errors:\n{report}"
    );
    check_demo_output(&out, &mut nodes);
    assert!(
        report.contains("definitely lost: 0 bytes")
            || report.contains("All heap blocks were freed"),
        "{report}"
    );
    assert!(
        report.contains("ERROR SUMMARY: 0 errors"),
        "valgrind errors:\n{report}"
    );
}

#[test]
fn testnodes_speak_webdav() {
    let testnodes = build_testnodes();
    let nodes = TestNodes::start(&testnodes, &["--count", "2", "--api", "webdav"]);
    let client = cluster_client::ClusterClient::builder()
        .hosts_str(&nodes.hosts_csv)
        .group_api(cluster_client::GroupApi::webdav())
        .build()
        .expect("client");
    client.create_group("dav").expect("created over WebDAV");
    client.create_group("dav").expect("204: already there");
    let h0: cluster_client::HostAddress = nodes.hosts()[0].parse().expect("host");
    assert!(client.verify_group(&h0, "dav").expect("verified"));
    assert!(client.delete_group("dav").expect("deleted").is_empty());
    assert!(client
        .delete_group("dav")
        .expect("404 = deleted")
        .is_empty());
    // The reference protocol is not spoken by these nodes.
    let answer = client
        .request("POST", "/v1/group/", Some(br#"{"groupId":"x"}"#))
        .expect("an answer");
    assert_eq!(answer.status, 404);
}
