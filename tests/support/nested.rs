//! Shared by `tests/ffi.rs` and `tests/python.rs`: builds the C library and
//! the `cluster-testnodes` binary with a nested cargo into the cargo target
//! directory (never the source tree), finds outside programs, and runs the
//! test-node binary as a child process.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;

pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The cargo running this test (so the same toolchain builds the library).
fn cargo() -> OsString {
    std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(OsString::from))
        .unwrap_or_else(|| OsString::from("cargo"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"))
}

pub fn available(program: &str) -> bool {
    Command::new("which")
        .arg(program)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True (after printing a visible SKIPPED line) when `program` is missing
/// and this is not CI; panics when it is missing under `CI=true`.
pub fn skip_without(program: &str, why: &str) -> bool {
    if available(program) {
        return false;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{program} is required under CI=true ({why}); .ci/run installs it"
    );
    println!("SKIPPED: {program} is not installed ({why})");
    eprintln!("SKIPPED: {program} is not installed ({why})");
    true
}

/// The cargo target directory of this test run: `$CARGO_TARGET_DIR`, or
/// the one holding this test executable (`<target>/debug/deps/<test>`).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            Path::new(MANIFEST_DIR).join(dir)
        };
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(MANIFEST_DIR).join("target"))
}

/// The folder the nested builds write to: a target directory of its own
/// inside this run's, since the `cargo test` running this holds the lock of
/// the usual one.
pub fn nested_dir() -> PathBuf {
    target_dir().join("nested")
}

fn nested_cargo(args: &[&str]) {
    let out = run(Command::new(cargo())
        .current_dir(MANIFEST_DIR)
        .args(args)
        .arg("--target-dir")
        .arg(nested_dir())
        // Settings of the outer build that must not leak into this one.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR"));
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        text(&out.stderr)
    );
}

/// Builds the cdylib (debug profile: a release build of the whole
/// dependency tree would cost minutes and proves nothing more here) and
/// returns the folder holding `libcluster_client.so`.
pub fn build_library() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            nested_cargo(&[
                "rustc",
                "--lib",
                "--features",
                "ffi",
                "--crate-type",
                "cdylib",
            ]);
            let lib_dir = nested_dir().join("debug");
            assert!(
                lib_dir.join("libcluster_client.so").exists(),
                "no libcluster_client.so in {}",
                lib_dir.display()
            );
            lib_dir
        })
        .clone()
}

/// Builds `cluster-testnodes` and returns its path.
pub fn build_testnodes() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            nested_cargo(&[
                "build",
                "--bin",
                "cluster-testnodes",
                "--features",
                "testkit",
            ]);
            nested_dir().join("debug").join("cluster-testnodes")
        })
        .clone()
}

/// A running `cluster-testnodes`: its hosts, and its command channel. The
/// nodes stop when this is dropped (standard input closes).
pub struct TestNodes {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub hosts_csv: String,
}

impl TestNodes {
    pub fn start(binary: &Path, args: &[&str]) -> TestNodes {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut hosts_csv = String::new();
        stdout.read_line(&mut hosts_csv).expect("hosts line");
        let hosts_csv = hosts_csv.trim().to_string();
        assert!(hosts_csv.starts_with("http://127.0.0.1:"), "{hosts_csv:?}");
        TestNodes {
            child,
            stdin,
            stdout,
            hosts_csv,
        }
    }

    pub fn hosts(&self) -> Vec<String> {
        self.hosts_csv.split(',').map(str::to_string).collect()
    }

    /// Sends one command and returns what follows `ok` (panics on `error`).
    pub fn command(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("command sent");
        stdin.flush().expect("command sent");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("answer read");
        let answer = answer.trim_end();
        match answer.strip_prefix("ok") {
            Some(rest) => rest.trim().to_string(),
            None => panic!("{line:?} answered {answer:?}"),
        }
    }
}

impl Drop for TestNodes {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // Closing stdin ends it; a kill in case it hangs (our own child).
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
