//! A CI-sized randomized saga soak (320 sagas on 5 nodes, 8 threads, every
//! kind of fault): the nodes' real state must match what the library said.
//! Replay a failure with `SOAK_SEED=<seed> cargo test --all-features --test soak`;
//! longer runs: `cargo run --release --example soak -- 1000`.

#[path = "support/soak.rs"]
#[allow(dead_code)]
mod soak;

use soak::{run, SoakConfig};

#[test]
fn randomized_sagas_lose_nothing_and_delete_nothing_wrongly() {
    // A fixed seed (the same sagas every run) and a fresh one (printed).
    let seeds: Vec<u64> = match std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => vec![
            42,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(7),
        ],
    };
    for seed in seeds {
        println!("soak seed: {seed} (replay with SOAK_SEED={seed})");
        let report = run(&SoakConfig {
            seed,
            ..SoakConfig::default()
        })
        .expect("test cluster starts");
        println!("{report}");
        assert!(report.sagas >= 300);
        assert!(
            report.faults.values().sum::<u64>() > 50,
            "faults were injected: {report}"
        );
        assert!(
            report.creates_ok > 0 && report.creates_failed > 0,
            "{report}"
        );
        assert!(
            report.is_clean(),
            "seed {seed}: {:#?}\n{report}",
            report.violations
        );
    }
}
