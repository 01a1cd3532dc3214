//! The simulation as part of `cargo test`: a bounded number of seeds under
//! faults, the determinism of a seed, and proof that the checkers catch a
//! planted bug. `cairn-sim --seeds N` runs many more.

// Test helpers unwrap like the tests they serve: a panic is a failed test
// with its message. (Production code denies `unwrap`.)
#![allow(clippy::unwrap_used)]

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

/// Seeds run one after another in one process replay as they do alone:
/// nothing a run leaves in the process reaches the next one. The first pass
/// starts each run's tokio task numbers where a fresh process does, the
/// second one number later (see `run/process.rs`), and each run gets other
/// std hash seeds; both once made seeds drift (these two change with the
/// task numbering at this length). Every trace digest must be the same.
#[test]
fn seeds_replay_alike_in_one_process() {
    const SEEDS: [u64; 2] = [2, 6];
    let short = |seed| SimOptions {
        chaos: Duration::from_secs(6),
        heal: Duration::from_secs(3),
        ..SimOptions::new(seed)
    };
    let mut passes = Vec::new();
    for first_task_number in [1, 2] {
        let digests: Vec<u64> = SEEDS
            .iter()
            .map(|seed| {
                next_task_number_modulo_period(first_task_number);
                run_seed(&short(*seed)).trace_digest
            })
            .collect();
        passes.push(digests);
    }
    for (index, seed) in SEEDS.iter().enumerate() {
        let (first, second) = (passes[0][index], passes[1][index]);
        assert_eq!(
            first, second,
            "seed {seed} drifted in one process: trace {first:016x}, then {second:016x}"
        );
    }
}

/// A power of two larger than tokio's count of task lists per runtime.
const TASK_NUMBER_PERIOD: u64 = 64;

/// Spawns throwaway tokio tasks until the next task spawned in this process
/// gets a number equal to `wanted` modulo the period.
fn next_task_number_modulo_period(wanted: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let probe: u64 = runtime.spawn(async {}).id().to_string().parse().unwrap();
    let next = probe + 1;
    let skip = (wanted % TASK_NUMBER_PERIOD + TASK_NUMBER_PERIOD - next % TASK_NUMBER_PERIOD)
        % TASK_NUMBER_PERIOD;
    for _ in 0..skip {
        drop(runtime.spawn(async {}));
    }
}
