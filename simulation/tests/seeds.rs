//! The simulation as part of `cargo test`: a bounded number of seeds under
//! faults, the determinism of a seed, and proof that the checkers catch a
//! planted bug. `cairn-sim --seeds N` runs many more.

use std::time::Duration;

use cairn_simulation::{SimOptions, run_seed};

fn options(seed: u64) -> SimOptions {
    SimOptions {
        chaos: Duration::from_secs(10),
        heal: Duration::from_secs(6),
        ..SimOptions::new(seed)
    }
}

fn assert_clean(options: &SimOptions) {
    let report = run_seed(options);
    assert!(
        report.failures.is_empty(),
        "seed {} failed:\n{}\nfaults:\n{}\nreproduce with: {}",
        options.seed,
        report.failures.join("\n"),
        report.faults.join("\n"),
        options.reproduce()
    );
    assert!(
        report.events_checked > 50,
        "too little happened: {report:?}"
    );
}

#[test]
fn three_nodes_under_faults() {
    for seed in 1..=3 {
        assert_clean(&options(seed));
    }
}

#[test]
fn five_nodes_under_faults() {
    assert_clean(&SimOptions {
        nodes: 5,
        ..options(11)
    });
}

#[test]
fn a_seed_replays_exactly() {
    let first = run_seed(&options(7));
    let second = run_seed(&options(7));
    assert_eq!(first.trace_digest, second.trace_digest);
    assert_eq!(first.operations, second.operations);
    assert_eq!(first.faults, second.faults);
}

/// Serving linearizable reads from the local replica is a real bug class
/// (a follower answers with what it has); some seed within a few must catch it.
#[test]
fn planted_stale_reads_are_caught() {
    let caught = (1..=5).find(|seed| {
        let report = run_seed(&SimOptions {
            plant_stale_reads: true,
            ..options(*seed)
        });
        report
            .failures
            .iter()
            .any(|failure| failure.contains("not linearizable"))
    });
    assert!(
        caught.is_some(),
        "the planted bug went unnoticed for 5 seeds"
    );
}
