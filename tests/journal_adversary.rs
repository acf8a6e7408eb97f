//! The journal adversary, CI-sized: a fixed seed and a fresh printed one.
//! Replay with `JA_SEED=<seed> cargo test --all-features --test
//! journal_adversary`; long runs: `cargo run --release --example crash --
//! --sequences 2000`.

#[path = "support/journal_adversary.rs"]
#[allow(dead_code)]
mod adversary;

#[test]
fn journal_adversary_child() {
    adversary::child_main();
}

#[test]
fn journal_sequences_keep_every_promise() {
    if adversary::child_main() {
        return;
    }
    let seeds: Vec<u64> = match std::env::var("JA_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => vec![
            17,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(19, |d| d.as_secs()),
        ],
    };
    let exe = std::env::current_exe().expect("the test binary");
    let work = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("journal-adversary");
    for seed in seeds {
        println!("journal adversary seed: {seed} (replay with JA_SEED={seed})");
        let config = adversary::Config {
            sequences: 8,
            steps: 14,
            seed,
        };
        let report = adversary::run(&config, &work, &|env, blocks| {
            adversary::child_command(
                &exe,
                &["--exact", "journal_adversary_child", "--test-threads=1"],
                env,
                blocks,
            )
            .spawn()
        })
        .expect("the adversary runs");
        println!("{report}");
        assert!(report.is_clean(), "{:#?}\n{report}", report.violations);
    }
}
