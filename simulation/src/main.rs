//! `cairn-sim`: runs seeds of the deterministic simulation and reports.
//!
//! ```text
//! cargo run --release -p cairn-simulation -- --seeds 100
//! cargo run --release -p cairn-simulation -- --seed 42 --nodes 5 --duration 30
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cairn_simulation::{SimOptions, run_seed};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "cairn-sim",
    about = "Run Cairn under seeded faults and check every history"
)]
struct Args {
    /// Run this one seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Run this many seeds, starting at --first.
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// The first seed of a --seeds range.
    #[arg(long, default_value_t = 1)]
    first: u64,
    /// Voters at the start: 3 or 5.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Simulated agents.
    #[arg(long, default_value_t = 5)]
    agents: u32,
    /// Simulated seconds of the chaos phase (healing adds half as much again).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Plant a bug (linearizable reads served stale) to see the checkers catch it.
    #[arg(long)]
    plant_stale_reads: bool,
    /// Print the fault schedule of each seed.
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.nodes != 3 && args.nodes != 5 {
        eprintln!("error: --nodes must be 3 or 5");
        return ExitCode::from(2);
    }
    let seeds: Vec<u64> = match args.seed {
        Some(seed) => vec![seed],
        None => (args.first..args.first + args.seeds).collect(),
    };
    let started = Instant::now();
    let (mut operations, mut events, mut faults, mut failed) = (0, 0, 0, Vec::new());
    for seed in &seeds {
        let options = SimOptions {
            nodes: args.nodes,
            agents: args.agents,
            chaos: Duration::from_secs(args.duration),
            heal: Duration::from_secs(args.duration.div_ceil(2)),
            plant_stale_reads: args.plant_stale_reads,
            ..SimOptions::new(*seed)
        };
        let seed_started = Instant::now();
        let report = run_seed(&options);
        operations += report.operations;
        events += report.events_checked;
        faults += report.faults.len();
        println!(
            "seed {seed}: {} operations, {} events checked, {} faults, {} failures, trace {:016x}, {:.1} s",
            report.operations,
            report.events_checked,
            report.faults.len(),
            report.failures.len(),
            report.trace_digest,
            seed_started.elapsed().as_secs_f64()
        );
        if args.verbose {
            for fault in &report.faults {
                println!("    {fault}");
            }
        }
        if !report.failures.is_empty() {
            for failure in report.failures.iter().take(20) {
                println!("    FAILED: {failure}");
            }
            println!("    reproduce with: {}", options.reproduce());
            failed.push(*seed);
        }
    }
    println!(
        "{} seeds, {operations} operations, {events} events checked, {faults} faults injected, {} failed{}, {:.1} s",
        seeds.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({failed:?})")
        },
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
