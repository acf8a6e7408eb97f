//! Kill points for the saga journal: `cargo run --release --example crash -- [KILLS] [SEED]`.
//! A child process (this program, started again) runs `create_group` with a
//! journal and is SIGKILLed at a random moment; `recover()` then runs here.
//! Prints a table (phase at the kill × what recovery did, orphans left,
//! pre-existing groups deleted) and exits non-zero on any violation.
//!
//! Sequence mode, the journal adversary: `cargo run --release --example
//! crash -- --sequences [N] [SEED]` runs N seeded sequences of create,
//! delete, repair, recover (alone and two at once), kills, full disks and
//! flipped bits (see `tests/support/journal_adversary.rs`), prints its
//! table and exits non-zero on any violation.

#[path = "../tests/support/crash.rs"]
#[allow(dead_code)]
mod crash;

use std::process::{Command, Stdio};

#[path = "../tests/support/args.rs"]
mod args;

#[path = "../tests/support/journal_adversary.rs"]
#[allow(dead_code)]
mod journal_adversary;

fn sequences() -> Result<(), Box<dyn std::error::Error>> {
    let (count, seed) = args::count_and_seed_after(1, "N", 2000, args::clock_seed())?;
    let exe = std::env::current_exe()?;
    let work = std::env::temp_dir().join(format!("cluster-client-ja-{}", std::process::id()));
    println!("journal adversary: {count} sequences of 14 steps, seed {seed}");
    let config = journal_adversary::Config {
        sequences: count,
        steps: 14,
        seed,
    };
    let report = journal_adversary::run(&config, &work, &|env, blocks| {
        journal_adversary::child_command(&exe, &[], env, blocks).spawn()
    })?;
    let _ = std::fs::remove_dir_all(&work);
    verdict(&report, &report.violations)
}

/// Prints the report, then each violation; an error when there is one.
fn verdict(
    report: &dyn std::fmt::Display,
    violations: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    println!("{report}");
    for v in violations {
        eprintln!("{v}");
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err("violations found".into())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if crash::child_main() || journal_adversary::child_main() {
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("--sequences") {
        return sequences();
    }
    let (kills, seed) = args::count_and_seed("KILLS", 200, args::clock_seed())?;
    let exe = std::env::current_exe()?;
    let work = std::env::temp_dir().join(format!("cluster-client-crash-{}", std::process::id()));
    let (without, with) = crash::journal_cost(&work, 200)?;
    println!(
        "create_group + delete_group on 3 nodes (0 latency), mean of 200: without journal {:.2} ms, with journal {:.2} ms",
        without.as_secs_f64() * 1e3,
        with.as_secs_f64() * 1e3
    );
    let (empty, large) = crash::large_journal_cost(&work, 200, 10 << 20)?;
    println!(
        "create_group on 3 nodes (0 latency), mean of 200: empty journal {:.2} ms, 10 MB journal {:.2} ms ({:.2} x)",
        empty.as_secs_f64() * 1e3,
        large.as_secs_f64() * 1e3,
        large.as_secs_f64() / empty.as_secs_f64().max(1e-9)
    );
    println!("crash: {kills} kill points, seed {seed}");
    let report = crash::run(&crash::CrashConfig { kills, seed }, &work, &|env| {
        let mut cmd = Command::new(&exe);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn()
    })?;
    let _ = std::fs::remove_dir_all(&work);
    verdict(&report, &report.violations)
}
