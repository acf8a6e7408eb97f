//! Long randomized saga soak: `cargo run --release --example soak -- [SAGAS] [SEED]`.
//! Prints a summary table (sagas, injected faults by kind, unreported
//! orphans, wrongly deleted groups, panics, wall time) and exits non-zero if
//! any rule was broken.

#[path = "../tests/support/soak.rs"]
#[allow(dead_code)]
mod soak;

use soak::{run, SoakConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let mut args = std::env::args().skip(1);
    let sagas: usize = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("SAGAS must be a number, got {a:?}"))?,
        None => 1000,
    };
    let seed: u64 = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("SEED must be a number, got {a:?}"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    };
    println!("soak: {sagas} sagas, seed {seed} (replay: cargo run --release --example soak -- {sagas} {seed})");
    let report = run(&SoakConfig {
        seed,
        sagas,
        ..SoakConfig::default()
    })?;
    println!("{report}");
    if !report.is_clean() {
        eprintln!("violations: {:#?}", report.violations);
        std::process::exit(1);
    }
    Ok(())
}
