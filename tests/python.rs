//! The Python package (`bindings/python`) against real test nodes: builds
//! the C library and `cluster-testnodes` into the cargo target directory,
//! makes a virtual environment there with pytest and mypy, builds the
//! package's wheel with `pip wheel ./bindings/python` (its cargo step on the
//! debug profile, into the nested target directory; pip's in-tree build
//! writes only the git-ignored `bindings/python/build/` and
//! `src/*.egg-info`), installs it, and runs the package's pytest suite
//! without `CLUSTER_CLIENT_LIB` (the wheel's own library). Also: the wheel
//! is a platform wheel that works from a fresh virtual environment, and
//! `mypy --strict` is clean on the package. Skipped with a message without
//! `python3`, except under `CI=true`, where `.ci/run` installs what it needs.
#![cfg(feature = "ffi")]

#[path = "support/nested.rs"]
mod nested;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nested::{
    build_library, build_testnodes, nested_dir, run, skip_without, target_dir, text, TestNodes,
    MANIFEST_DIR,
};

/// The whole pytest run may take this long at most.
const PYTEST_LIMIT: Duration = Duration::from_secs(600);

/// The mypy the type check runs (pinned: a newer mypy may add checks).
const MYPY: &str = "mypy==2.4.1";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder created");
    for entry in std::fs::read_dir(from).expect("folder read") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        // Leftovers of a developer's own runs are not part of the package.
        if name_str == "__pycache__" || name_str.ends_with(".egg-info") || name_str == "build" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&src, &dst);
        } else if !name_str.ends_with(".so") {
            std::fs::copy(&src, &dst).expect("file copied");
        }
    }
}

/// The folder of this run's Python artefacts.
fn root() -> PathBuf {
    target_dir().join("python")
}

/// Held while the shared virtual environment's packages change or are
/// read by a check (the tests of this file run in parallel).
fn venv_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn pip_install(python: &Path, what: &[&str]) {
    let out = run(Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(what));
    assert!(
        out.status.success(),
        "pip install {what:?} failed:\n{}",
        text(&out.stderr)
    );
}

fn make_venv(venv: &Path) -> PathBuf {
    let out = run(Command::new("python3").arg("-m").arg("venv").arg(venv));
    assert!(
        out.status.success(),
        "python3 -m venv failed (on Debian: apt-get install python3-venv):\n{}",
        text(&out.stderr)
    );
    venv.join("bin").join("python")
}

/// A virtual environment with pytest and mypy, made once per target
/// directory (checked once per run).
fn venv() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let _lock = venv_lock();
            let venv = root().join("venv");
            let mut python = venv.join("bin").join("python");
            if !python.exists() {
                python = make_venv(&venv);
            }
            let has = |check: &str| {
                Command::new(&python)
                    .args(["-c", check])
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            if !has("import pytest") {
                pip_install(&python, &["pytest"]);
            }
            let version = MYPY.trim_start_matches("mypy==");
            if !has(&format!(
                "import mypy.version, sys; sys.exit(mypy.version.__version__ != {version:?})"
            )) {
                pip_install(&python, &[MYPY]);
            }
            python
        })
        .clone()
}

/// `pip wheel ./bindings/python` once per run, into `<target>/python/wheels`;
/// its cargo step builds the debug library into the nested target
/// directory (where `build_library` already built it: nothing to redo).
fn wheel() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            build_library();
            let python = venv();
            let wheels = root().join("wheels");
            if wheels.exists() {
                std::fs::remove_dir_all(&wheels).expect("old wheels removed");
            }
            let out = run(Command::new(&python)
                .current_dir(MANIFEST_DIR)
                .args([
                    "-m",
                    "pip",
                    "wheel",
                    "--no-deps",
                    "--disable-pip-version-check",
                    "./bindings/python",
                    "-w",
                ])
                .arg(&wheels)
                .env("CLUSTER_CLIENT_CARGO_PROFILE", "debug")
                .env("CARGO_TARGET_DIR", nested_dir())
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env_remove("CARGO_BUILD_TARGET_DIR")
                .env_remove("CLUSTER_CLIENT_LIB"));
            assert!(
                out.status.success(),
                "pip wheel ./bindings/python failed:\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            let built: Vec<PathBuf> = std::fs::read_dir(&wheels)
                .expect("wheels folder")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "whl"))
                .collect();
            assert_eq!(built.len(), 1, "one wheel expected: {built:?}");
            built[0].clone()
        })
        .clone()
}

#[test]
fn python_package_passes_its_tests_against_test_nodes() {
    if skip_without("python3", "the Python package's tests did not run") {
        return;
    }
    let testnodes = build_testnodes();
    let wheel = wheel();
    let python = venv();
    let root = root();

    // The tests run from a copy (so nothing is written into the source
    // tree); the package imported is the wheel's, installed.
    let package = root.join("package");
    if package.exists() {
        std::fs::remove_dir_all(&package).expect("old copy removed");
    }
    copy_tree(
        &Path::new(MANIFEST_DIR).join("bindings").join("python"),
        &package,
    );
    let lock = venv_lock();
    let wheel_arg = wheel.to_string_lossy().into_owned();
    pip_install(&python, &["--no-deps", "--force-reinstall", &wheel_arg]);
    drop(lock);

    // Output to a file, so a long report can never fill a pipe and stall.
    let log_path = root.join("pytest.log");
    let log = std::fs::File::create(&log_path).expect("log created");
    let log_err = log.try_clone().expect("log cloned");
    let started = Instant::now();
    let mut child = Command::new(&python)
        .current_dir(&package)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .env_remove("CLUSTER_CLIENT_LIB")
        .env("CLUSTER_TESTNODES", &testnodes)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HOSTS")
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .expect("pytest starts");
    // Bounded: poll for the end, kill our own child past the limit.
    let status = loop {
        if let Some(status) = child.try_wait().expect("pytest status") {
            break Some(status);
        }
        if started.elapsed() > PYTEST_LIMIT {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.wait();
    let report = std::fs::read_to_string(&log_path).unwrap_or_default();
    println!("{report}");
    let Some(status) = status else {
        panic!("pytest ran over {PYTEST_LIMIT:?}:\n{report}");
    };
    assert!(status.success(), "pytest failed:\n{report}");
    assert!(report.contains(" passed"), "{report}");

    // bench.py stays runnable (a short run; the figures mean nothing in debug).
    let out = run(Command::new(&python)
        .current_dir(&package)
        .args([
            "bench.py",
            "--seconds",
            "0.2",
            "--threads",
            "2",
            "--runs",
            "2",
        ])
        .arg("--testnodes")
        .arg(&testnodes)
        .env_remove("CLUSTER_CLIENT_LIB")
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    let table = text(&out.stdout);
    assert!(
        out.status.success(),
        "bench.py failed:\n{table}{}",
        text(&out.stderr)
    );
    assert!(
        table.contains("| create_group, 16 nodes at 20 ms: median ms"),
        "{table}"
    );
}

/// The program the fresh virtual environment runs: the library is the
/// wheel's own, and a client works against the test nodes.
const FROM_THE_WHEEL: &str = r#"
import json, sys
from pathlib import Path

import cluster_client
from cluster_client import _native

package = Path(cluster_client.__file__).parent
assert Path(_native.LIBRARY_PATH).parent == package, (_native.LIBRARY_PATH, package)
with cluster_client.ClusterClient(sys.argv[1], retries=2, initial_delay=0.01) as client:
    ok = client.create_group("from-the-wheel")
    print(json.dumps({"created": ok, "nodes": client.cluster_management().nodes()}))
"#;

#[test]
fn python_wheel_is_a_platform_wheel_that_works_in_a_fresh_venv() {
    if skip_without("python3", "the Python wheel was not checked") {
        return;
    }
    let testnodes = build_testnodes();
    let wheel = wheel();
    let name = wheel
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("cluster_client-")
            && name.contains("-py3-none-")
            && !name.ends_with("-py3-none-any.whl"),
        "not a platform wheel: {name}"
    );
    let listing = run(Command::new(venv())
        .args(["-m", "zipfile", "-l"])
        .arg(&wheel));
    assert!(
        text(&listing.stdout).contains("cluster_client/libcluster_client.so"),
        "the library is not in the wheel:\n{}{}",
        text(&listing.stdout),
        text(&listing.stderr)
    );

    let fresh = root().join("venv-fresh");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).expect("old venv removed");
    }
    let python = make_venv(&fresh);
    pip_install(&python, &["--no-deps", &wheel.to_string_lossy()]);

    let mut nodes = TestNodes::start(&testnodes, &["--count", "3"]);
    let out = run(Command::new(&python)
        .current_dir(&fresh)
        .args(["-c", FROM_THE_WHEEL, &nodes.hosts_csv])
        .env_remove("CLUSTER_CLIENT_LIB")
        .env_remove("HOSTS")
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "the fresh venv's program failed:\n{stdout}{}",
        text(&out.stderr)
    );
    let nodes_json = nodes
        .hosts()
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(
        stdout.trim(),
        format!("{{\"created\": true, \"nodes\": [{nodes_json}]}}")
    );
    assert_eq!(nodes.command("groups from-the-wheel"), "0 1 2");
}

#[test]
fn python_package_is_clean_under_mypy_strict() {
    if skip_without("python3", "the Python package was not type-checked") {
        return;
    }
    let python = venv();
    let cache = root().join("mypy-cache");
    let _lock = venv_lock();
    // Reads the sources in place; writes only its cache, under the target.
    let out = run(Command::new(&python)
        .current_dir(root())
        .args(["-m", "mypy", "--strict", "--cache-dir"])
        .arg(&cache)
        .arg(
            Path::new(MANIFEST_DIR)
                .join("bindings")
                .join("python")
                .join("src")
                .join("cluster_client"),
        ));
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "mypy --strict failed:\n{report}");
    assert!(report.contains("Success: no issues found"), "{report}");
}
