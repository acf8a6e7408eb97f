//! The Python package (`bindings/python`) against real test nodes: builds
//! the C library and `cluster-testnodes` into the cargo target directory,
//! makes a virtual environment there, installs pytest and a copy of the
//! package (so nothing is written into the source tree), and runs its
//! pytest suite. Skipped with a message without `python3`, except under
//! `CI=true`, where `.ci/run` installs what it needs.
#![cfg(feature = "ffi")]

#[path = "support/nested.rs"]
mod nested;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nested::{build_library, build_testnodes, run, skip_without, target_dir, text, MANIFEST_DIR};

/// The whole pytest run may take this long at most.
const PYTEST_LIMIT: Duration = Duration::from_secs(600);

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

/// A virtual environment with pytest, made once per target directory.
fn venv(root: &Path) -> PathBuf {
    let venv = root.join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let out = run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        assert!(
            out.status.success(),
            "python3 -m venv failed (on Debian: apt-get install python3-venv):\n{}",
            text(&out.stderr)
        );
    }
    let has_pytest = Command::new(&python)
        .args(["-c", "import pytest"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pytest {
        let out = run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "pytest",
        ]));
        assert!(
            out.status.success(),
            "pip install pytest failed:\n{}",
            text(&out.stderr)
        );
    }
    python
}

#[test]
fn python_package_passes_its_tests_against_test_nodes() {
    if skip_without("python3", "the Python package's tests did not run") {
        return;
    }
    let lib = build_library().join("libcluster_client.so");
    let testnodes = build_testnodes();
    let root = target_dir().join("python");
    let python = venv(&root);

    let package = root.join("package");
    if package.exists() {
        std::fs::remove_dir_all(&package).expect("old copy removed");
    }
    copy_tree(
        &Path::new(MANIFEST_DIR).join("bindings").join("python"),
        &package,
    );
    let out = run(Command::new(&python)
        .current_dir(&root)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--force-reinstall",
        ])
        .arg(&package));
    assert!(
        out.status.success(),
        "pip install of the package failed:\n{}",
        text(&out.stderr)
    );

    // Output to a file, so a long report can never fill a pipe and stall.
    let log_path = root.join("pytest.log");
    let log = std::fs::File::create(&log_path).expect("log created");
    let log_err = log.try_clone().expect("log cloned");
    let started = Instant::now();
    let mut child = Command::new(&python)
        .current_dir(&package)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .env("CLUSTER_CLIENT_LIB", &lib)
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
        .env("CLUSTER_CLIENT_LIB", &lib)
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
