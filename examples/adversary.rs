//! The model-based adversary, long runs:
//! `cargo run --release --example adversary -- [CASES] [SEED]`.
//! Prints a table (cases, faults injected by kind, violations per
//! invariant) and the first violations with their replayable scripts;
//! exits non-zero on any violation.

#[path = "../tests/support/adversary.rs"]
#[allow(dead_code)]
mod adversary;

use adversary::{run, AdversaryConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cases: usize = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("CASES must be a number, got {a:?}"))?,
        None => 1000,
    };
    let seed: u64 = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| format!("SEED must be a number, got {a:?}"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() * 1000),
    };
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
