//! Long randomized saga soak: `cargo run --release --example soak -- [SAGAS] [SEED]`.
//! Prints a summary table (sagas, injected faults by kind, unreported
//! orphans, wrongly deleted groups, panics, wall time) and exits non-zero if
//! any rule was broken.

#[path = "../tests/support/soak.rs"]
#[allow(dead_code)]
mod soak;

use soak::{run, SoakConfig};

#[path = "../tests/support/args.rs"]
mod args;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let (sagas, seed) = args::count_and_seed("SAGAS", 1000, args::clock_seed())?;
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
