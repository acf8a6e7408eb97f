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

use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Library logs only when asked for, e.g. RUST_LOG=debug.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let parsed = args::parse_args(
        std::env::args_os().skip(1),
        std::env::var_os("CLUSTER_CLIENT_CONFIG"),
    );
    let args = match parsed {
        Ok(a) => a,
        Err(args::Usage(m)) => {
            eprintln!("clusterctl: {m}\nTry 'clusterctl --help' for more.");
            return ExitCode::from(output::EXIT_USAGE);
        }
    };
    let outcome = commands::run(&args);
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not worth a panic.
    let _ = stdout.write_all(&outcome.stdout);
    let _ = stdout.flush();
    for line in &outcome.stderr {
        eprintln!("clusterctl: {line}");
    }
    ExitCode::from(outcome.code)
}
