//! `cairn-sim`: runs seeds of the deterministic simulation and reports.
//!
//! ```text
//! cargo run --release -p cairn-simulation -- --seeds 100
//! cargo run --release -p cairn-simulation -- --seed 42 --nodes 5 --duration 30
//! cargo run --release -p cairn-simulation -- --seed 6 --replay-check 20
//! ```

use std::collections::BTreeMap;
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
    /// Shift the numbers tokio gives the run's tasks: another variant of each
    /// seed (0 replays it as a process of its own runs it).
    #[arg(long, default_value_t = 0)]
    task_number_shift: u64,
    /// Run a batch of seeds in this one process (faster; each run replays as it would alone).
    #[arg(long)]
    in_process: bool,
    /// Run every seed this many times, each in a process of its own (or all
    /// in this one, with --in-process), and fail unless each seed gives one
    /// trace digest every time.
    #[arg(long, value_name = "RUNS")]
    replay_check: Option<u32>,
}

fn options(args: &Args, seed: u64) -> SimOptions {
    SimOptions {
        nodes: args.nodes,
        agents: args.agents,
        chaos: Duration::from_secs(args.duration),
        heal: Duration::from_secs(args.duration.div_ceil(2)),
        plant_stale_reads: args.plant_stale_reads,
        task_number_shift: args.task_number_shift,
        ..SimOptions::new(seed)
    }
}

/// One seed's result line, as printed and as read back from a child process.
#[derive(Clone, Copy, Debug, Default)]
struct SeedLine {
    operations: u64,
    events_checked: u64,
    faults: u64,
    failures: u64,
    trace_digest: u64,
}

/// Runs one seed here and prints its line (and failures).
fn run_one(args: &Args, seed: u64) -> SeedLine {
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
    SeedLine {
        operations: report.operations,
        events_checked: report.events_checked as u64,
        faults: report.faults.len() as u64,
        failures: report.failures.len() as u64,
        trace_digest: report.trace_digest,
    }
}

/// Runs one seed in a child process and prints what it printed.
fn run_child(args: &Args, seed: u64) -> Result<SeedLine, String> {
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
    command
        .arg("--task-number-shift")
        .arg(args.task_number_shift.to_string());
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

/// Runs one seed in a child process, or here with --in-process.
fn run_somewhere(args: &Args, seed: u64) -> Result<SeedLine, String> {
    if args.in_process {
        Ok(run_one(args, seed))
    } else {
        run_child(args, seed)
    }
}

/// "seed S: A operations, B events checked, C faults, D failures, trace X, …"
/// → its numbers.
fn parse_seed_line(line: &str) -> Option<SeedLine> {
    let (_, rest) = line.split_once(": ")?;
    let parts: Vec<&str> = rest.split(", ").collect();
    let count = |index: usize| -> Option<u64> { parts.get(index)?.split(' ').next()?.parse().ok() };
    let trace_digest = parts.get(4)?.strip_prefix("trace ")?;
    Some(SeedLine {
        operations: count(0)?,
        events_checked: count(1)?,
        faults: count(2)?,
        failures: count(3)?,
        trace_digest: u64::from_str_radix(trace_digest, 16).ok()?,
    })
}

/// What a batch of seeds added up to.
#[derive(Default)]
struct Totals {
    operations: u64,
    events_checked: u64,
    faults: u64,
    failed: Vec<u64>,
}

impl Totals {
    fn add(&mut self, seed: u64, line: &SeedLine) {
        self.operations += line.operations;
        self.events_checked += line.events_checked;
        self.faults += line.faults;
        if line.failures > 0 {
            self.fail(seed);
        }
    }

    fn fail(&mut self, seed: u64) {
        if !self.failed.contains(&seed) {
            self.failed.push(seed);
        }
    }
}

/// Runs every seed once: here when asked (or when there is only one),
/// otherwise each in a process of its own, exactly as `reproduce with` will
/// run it, so that state left in a process by one run cannot colour the next.
fn run_seeds(args: &Args, seeds: &[u64]) -> Totals {
    let mut totals = Totals::default();
    for seed in seeds {
        let line = if seeds.len() == 1 {
            Ok(run_one(args, *seed))
        } else {
            run_somewhere(args, *seed)
        };
        match line {
            Ok(line) => totals.add(*seed, &line),
            Err(error) => {
                println!("seed {seed}: could not run: {error}");
                totals.fail(*seed);
            }
        }
    }
    totals
}

/// Runs every seed `runs` times and fails a seed whose runs do not all give
/// the same trace digest: a seed must replay exactly, whatever process runs
/// it and whatever ran in that process before.
fn replay_check(args: &Args, seeds: &[u64], runs: u32) -> Totals {
    let mut totals = Totals::default();
    for seed in seeds {
        // Each digest seen, with how many runs gave it.
        let mut digests: BTreeMap<u64, u32> = BTreeMap::new();
        for _ in 0..runs {
            match run_somewhere(args, *seed) {
                Ok(line) => {
                    totals.add(*seed, &line);
                    *digests.entry(line.trace_digest).or_default() += 1;
                }
                Err(error) => {
                    println!("seed {seed}: could not run: {error}");
                    totals.fail(*seed);
                }
            }
        }
        let seen: Vec<String> = digests
            .iter()
            .map(|(digest, count)| format!("{digest:016x} ×{count}"))
            .collect();
        if digests.len() > 1 {
            println!("seed {seed}: DRIFT: {runs} runs gave {}", seen.join(", "));
            totals.fail(*seed);
        } else {
            println!(
                "seed {seed}: {runs} runs replayed alike ({})",
                seen.join("")
            );
        }
    }
    totals
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
    let totals = match args.replay_check {
        Some(runs) => replay_check(&args, &seeds, runs),
        None => run_seeds(&args, &seeds),
    };
    println!(
        "{} seeds, {} operations, {} events checked, {} faults injected, {} failed{}, {:.1} s",
        seeds.len(),
        totals.operations,
        totals.events_checked,
        totals.faults,
        totals.failed.len(),
        if totals.failed.is_empty() {
            String::new()
        } else {
            format!(" ({:?})", totals.failed)
        },
        started.elapsed().as_secs_f64()
    );
    if totals.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
