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
    /// Run a batch of seeds in this one process (faster; but see README.md: runs may drift).
    #[arg(long)]
    in_process: bool,
}

fn options(args: &Args, seed: u64) -> SimOptions {
    SimOptions {
        nodes: args.nodes,
        agents: args.agents,
        chaos: Duration::from_secs(args.duration),
        heal: Duration::from_secs(args.duration.div_ceil(2)),
        plant_stale_reads: args.plant_stale_reads,
        ..SimOptions::new(seed)
    }
}

/// Runs one seed here and prints its line (and failures).
fn run_one(args: &Args, seed: u64) -> cairn_simulation::SeedReport {
    let options = options(args, seed);
    let seed_started = Instant::now();
    let report = run_seed(&options);
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
    }
    report
}

/// Runs one seed in a child process; answers (operations, events, faults, failures).
fn run_child(args: &Args, seed: u64) -> Result<(u64, u64, u64, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--nodes")
        .arg(args.nodes.to_string())
        .arg("--agents")
        .arg(args.agents.to_string())
        .arg("--duration")
        .arg(args.duration.to_string());
    if args.plant_stale_reads {
        command.arg("--plant-stale-reads");
    }
    if args.verbose {
        command.arg("--verbose");
    }
    let output = command.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut summary = None;
    for line in stdout.lines() {
        if line.starts_with("seed ") {
            println!("{line}");
            summary = parse_seed_line(line);
        } else if line.starts_with("    ") {
            println!("{line}");
        }
    }
    summary.ok_or_else(|| format!("no result line (exit {})", output.status))
}

/// "seed S: A operations, B events checked, C faults, D failures, …" → (A, B, C, D).
fn parse_seed_line(line: &str) -> Option<(u64, u64, u64, u64)> {
    let (_, rest) = line.split_once(": ")?;
    let numbers: Vec<u64> = rest
        .split(", ")
        .take(4)
        .map(|part| part.split(' ').next().and_then(|n| n.parse().ok()))
        .collect::<Option<_>>()?;
    Some((numbers[0], numbers[1], numbers[2], numbers[3]))
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
    if seeds.len() == 1 || args.in_process {
        for seed in &seeds {
            let report = run_one(&args, *seed);
            operations += report.operations;
            events += report.events_checked;
            faults += report.faults.len();
            if !report.failures.is_empty() {
                failed.push(*seed);
            }
        }
    } else {
        // Every seed in a process of its own, exactly as `reproduce with`
        // will run it: state left in a process by one run (thread-local
        // generators, hash seeds) must not colour the next.
        for seed in &seeds {
            match run_child(&args, *seed) {
                Ok(summary) => {
                    operations += summary.0;
                    events += summary.1 as usize;
                    faults += summary.2 as usize;
                    if summary.3 > 0 {
                        failed.push(*seed);
                    }
                }
                Err(error) => {
                    println!("seed {seed}: could not run: {error}");
                    failed.push(*seed);
                }
            }
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
