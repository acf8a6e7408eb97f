//! The model-based adversary, long runs:
//! `cargo run --release --example adversary -- [CASES] [SEED]`.
//! Prints a table (cases, faults injected by kind, violations per
//! invariant) and the first violations with their replayable scripts;
//! exits non-zero on any violation.

#[path = "../tests/support/adversary.rs"]
#[allow(dead_code)]
mod adversary;

use adversary::{run, AdversaryConfig};

#[path = "../tests/support/args.rs"]
mod args;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (cases, seed) = args::count_and_seed("CASES", 1000, args::clock_seed() * 1000)?;
    println!("adversary: {cases} cases from seed {seed}");
    let report = run(&AdversaryConfig {
        cases,
        seed,
        workers: 4,
    })?;
    println!("{report}");
    for e in &report.examples {
        eprintln!("{e}\n");
    }
    if !report.is_clean() {
        return Err("violations found".into());
    }
    Ok(())
}
