//! `clusterctl`: drive a cluster of HTTP nodes from the command line, with
//! the library's own configuration file.
//!
//! ```sh
//! clusterctl --hosts http://10.0.0.1:8000,http://10.0.0.2:8000 group create my-group
//! clusterctl --config cluster.toml --json nodes
//! ```
//!
//! Exit codes: 0 success, 1 the operation failed (the failed nodes are named
//! on stderr), 2 bad usage, invalid input or a configuration error (nothing
//! was sent).
//!
//! `args` parses the command line, `commands` builds the client and runs
//! the command, `output` renders tables, JSON and the stderr lines.

// `cluster_client::Error` is large by design (see the library's root);
// errors are the cold path here too.
#![allow(clippy::result_large_err)]

mod args;
mod commands;
mod groups;
mod nodes;
mod output;
mod usage;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Library logs only when asked for, e.g. RUST_LOG=debug.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let parsed = args::parse_args(
        std::env::args_os().skip(1),
        std::env::var_os("CLUSTER_CLIENT_CONFIG"),
    );
    let outcome = match parsed {
        Ok(args) => commands::run(&args),
        Err(args::Usage(m)) => output::Outcome::usage_for(
            format!("{m}\nTry 'clusterctl --help' for more."),
            wants_json(std::env::args_os().skip(1)),
        ),
    };
    emit(
        &outcome,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(outcome.code)
}

/// Whether `--json` is among the options (before any `--`), for a command
/// line that could not be parsed: its error is then a JSON object too.
fn wants_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.take_while(|a| a != "--").any(|a| a == "--json")
}

/// Writes what a command produced. A stream that cannot be written (a
/// closed pipe, as in `clusterctl ... | head -0`, or a full disk) is given
/// up quietly: the exit code stays the command's own, never a panic.
fn emit(outcome: &output::Outcome, stdout: &mut dyn Write, stderr: &mut dyn Write) {
    let _ = stdout
        .write_all(&outcome.stdout)
        .and_then(|()| stdout.flush());
    let _ = outcome
        .stderr
        .iter()
        .try_for_each(|line| writeln!(stderr, "clusterctl: {line}"))
        .and_then(|()| stderr.flush());
}
