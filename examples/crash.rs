//! Kill points for the saga journal: `cargo run --release --example crash -- [KILLS] [SEED]`.
//! A child process (this program, started again) runs `create_group` with a
//! journal and is SIGKILLed at a random moment; `recover()` then runs here.
//! Prints a table (phase at the kill × what recovery did, orphans left,
//! pre-existing groups deleted) and exits non-zero on any violation.

#[path = "../tests/support/crash.rs"]
#[allow(dead_code)]
mod crash;

use std::process::{Command, Stdio};

#[path = "../tests/support/args.rs"]
mod args;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if crash::child_main() {
        return Ok(());
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
    println!("{report}");
    if !report.is_clean() {
        for v in &report.violations {
            eprintln!("{v}");
        }
        return Err("violations found".into());
    }
    Ok(())
}
