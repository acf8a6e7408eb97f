//! The model-based adversary, CI-sized: a fixed seed and a random one
//! (printed). Replay a failure with
//! `ADVERSARY_SEED=<seed> cargo test --all-features --test adversary`;
//! longer runs: `cargo run --release --example adversary -- 10000`.

#[path = "support/adversary.rs"]
#[allow(dead_code)]
mod adversary;

use adversary::{run, AdversaryConfig};

#[test]
fn no_answer_sequence_breaks_a_promise() {
    let seeds: Vec<u64> = match std::env::var("ADVERSARY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => vec![
            1_000,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_secs() * 1000),
        ],
    };
    for seed in seeds {
        println!("adversary seed: {seed} (replay with ADVERSARY_SEED={seed})");
        let report = run(&AdversaryConfig {
            cases: 40,
            seed,
            workers: 2,
        })
        .expect("test nodes start");
        println!("{report}");
        assert_eq!(report.cases, 40);
        assert!(report.faults.values().sum::<u64>() > 40, "{report}");
        assert!(
            report.is_clean(),
            "seed {seed}:\n{}\n{report}",
            report.examples.join("\n\n")
        );
    }
}
