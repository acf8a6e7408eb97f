//! The C ABI from C: builds the library as a `cdylib` on demand (its own
//! target directory, `target/ffi`), compiles `examples/ffi/demo.c` with `cc`
//! against it, runs the demo against in-process test nodes, and, where
//! valgrind is installed, runs it again under valgrind to prove it leaks
//! nothing.
#![cfg(feature = "ffi")]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cluster_client::testkit::TestCluster;
use serde_json::Value;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The cargo running this test (so the same toolchain builds the library).
fn cargo() -> OsString {
    std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(OsString::from))
        .unwrap_or_else(|| OsString::from("cargo"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"))
}

fn available(program: &str) -> bool {
    Command::new("which")
        .arg(program)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds the cdylib into `target/ffi` and returns the folder holding it.
/// A separate target directory: the `cargo test` running this holds the
/// lock of the usual one.
fn build_library() -> PathBuf {
    let target_dir = Path::new(MANIFEST_DIR).join("target").join("ffi");
    let out = run(Command::new(cargo())
        .current_dir(MANIFEST_DIR)
        .args([
            "rustc",
            "--lib",
            "--features",
            "ffi",
            "--crate-type",
            "cdylib",
            "--target-dir",
        ])
        .arg(&target_dir)
        // Settings of the outer build that must not leak into this one.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR"));
    assert!(
        out.status.success(),
        "building the cdylib failed:\n{}",
        text(&out.stderr)
    );
    // The debug profile: a release build of the whole dependency tree
    // would cost minutes on a fresh checkout and proves nothing more here.
    let lib_dir = target_dir.join("debug");
    assert!(
        lib_dir.join("libcluster_client.so").exists(),
        "no libcluster_client.so in {}",
        lib_dir.display()
    );
    lib_dir
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

/// Checks the demo's output line by line against the nodes.
fn check_demo_output(out: &Output, nodes: &TestCluster) {
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let has = |l: &str| lines.contains(&l);
    assert!(has("created demo-group"), "{stdout}");
    assert!(has("deleted demo-group (failed on 0 nodes)"), "{stdout}");
    for url in nodes.urls() {
        assert!(
            has(&format!("verify demo-group {url}: present")),
            "{stdout}"
        );
        assert!(
            has(&format!("verify demo-group {url}: missing")),
            "{stdout}"
        );
        assert!(has(&format!("healthy {url}")), "{stdout}");
    }
    let metrics = lines
        .iter()
        .find_map(|l| l.strip_prefix("metrics "))
        .unwrap_or_else(|| panic!("no metrics line: {stdout}"));
    let v: Value = serde_json::from_str(metrics).expect("metrics are JSON");
    for url in nodes.urls() {
        let m = &v[url.as_str()];
        assert_eq!(m.as_object().map(|o| o.len()), Some(8), "{metrics}");
        // create + verify + delete + verify: at least four answered requests.
        assert!(
            m["operations_executed"].as_u64() >= Some(4),
            "{url}: {metrics}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("invalid id refused: code 1: invalid group id")),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("invalid host refused: code 1: invalid host")),
        "{stdout}"
    );
    assert!(has("null id refused: code 4"), "{stdout}");
    assert_eq!(lines.last(), Some(&"demo ok"), "{stdout}");
    // The demo's group was created on every node and is gone again.
    assert!(nodes.nodes_with_group("demo-group").is_empty());
    for n in nodes.nodes() {
        assert!(n.count_requests("POST") >= 1, "{n:?} got the create");
    }
}

#[test]
fn c_demo_runs_against_test_nodes() {
    if !available("cc") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no C compiler (cc) on a CI machine"
        );
        println!("SKIPPED: no C compiler (cc) installed");
        return;
    }
    let lib_dir = build_library();
    let demo = compile_demo(&lib_dir);

    let nodes = TestCluster::start(3).expect("nodes start");
    let out = run(Command::new(&demo).arg(nodes.hosts_csv()));
    check_demo_output(&out, &nodes);

    if !available("valgrind") {
        println!("SKIPPED: valgrind is not installed; the leak check did not run");
        return;
    }
    let nodes = TestCluster::start(3).expect("nodes start");
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
        .arg(nodes.hosts_csv()));
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
    check_demo_output(&out, &nodes);
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
