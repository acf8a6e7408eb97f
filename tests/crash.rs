//! Kill points: a child process running `create_group` with a journal is
//! SIGKILLed at random moments; `recover()` here must leave the group on
//! every node or nowhere this saga made it, never delete a pre-existing
//! group, and name every node it cannot settle. Replay with
//! `CRASH_SEED=<seed> cargo test --all-features --test crash`; longer runs:
//! `cargo run --release --example crash -- 200`.

#[path = "support/crash.rs"]
#[allow(dead_code)]
mod crash;

use std::process::{Command, Stdio};

/// The child: this test binary started again with the crash environment.
#[test]
fn crash_child() {
    crash::child_main();
}

#[test]
fn killed_sagas_are_recovered_without_orphans() {
    if std::env::var_os(crash::ENV_HOSTS).is_some() {
        return; // inside a child
    }
    let seeds: Vec<u64> = match std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => vec![
            7,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(11, |d| d.as_secs()),
        ],
    };
    let exe = std::env::current_exe().expect("the test binary");
    let work = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash");
    for seed in seeds {
        println!("crash seed: {seed} (replay with CRASH_SEED={seed})");
        let report = crash::run(&crash::CrashConfig { kills: 15, seed }, &work, &|env| {
            let mut cmd = Command::new(&exe);
            cmd.args(["--exact", "crash_child", "--test-threads=1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.spawn()
        })
        .expect("kill points run");
        println!("{report}");
        assert_eq!(report.kills, 15);
        assert!(report.is_clean(), "{:#?}\n{report}", report.violations);
    }
}
