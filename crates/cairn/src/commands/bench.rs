//! `cairn bench` and `cairn bench-report`.

use std::path::PathBuf;

use serde::Serialize;

use crate::bench::{self, BenchPlan, LoadSummary, PhaseSummary};
use crate::cli::BenchArgs;
use crate::commands::{Threads, read_input, runtime};
use crate::exit::Failure;
use crate::render;

/// What `cairn bench --json` prints (and `bench-report` reads back). The
/// fields are in alphabetical order, the order this output has always had.
#[derive(Serialize)]
struct BenchOutput<'a> {
    duration_s: u64,
    /// How long pre-writing the files took, per client count.
    loads: Vec<LoadSummary>,
    phases: Vec<PhaseSummary>,
    target: &'a str,
    urls: &'a [String],
}

/// What `cairn bench-report --json` prints.
#[derive(Serialize)]
struct ReportOutput {
    phases: Vec<PhaseSummary>,
}

/// Runs the benchmark on a runtime with a thread per core: its clients must
/// not share one thread with each other and with the progress printer.
pub fn run(
    args: &BenchArgs,
    urls: &[String],
    token: Option<String>,
    ca_file: Option<&std::path::Path>,
    json: bool,
) -> Result<Vec<u8>, Failure> {
    // A bad URL or CA file is a usage error, found before anything starts.
    for url in urls {
        cairn_client::BaseUrl::parse(url)?;
    }
    if let (Some(ca_file), Some(url)) = (ca_file, urls.first()) {
        cairn_client::Client::new(url)?
            .with_ca_file(ca_file)
            .map_err(|error| Failure::usage("tls", error.detail()))?;
    }
    let runtime = runtime(Threads::PerCore).map_err(Failure::Runtime)?;
    let mut plan = BenchPlan::new(args, urls);
    plan.token = token;
    plan.ca_file = ca_file.map(std::path::Path::to_path_buf);
    let (phases, loads) = runtime
        .block_on(bench::run(&plan))
        .map_err(Failure::Bench)?;
    if json {
        render::json(&BenchOutput {
            duration_s: plan.duration.as_secs(),
            loads,
            phases,
            target: plan.target_name(),
            urls: &plan.urls,
        })
    } else {
        Ok(bench::report(&phases).into_bytes())
    }
}

/// Every phase of every file, compared by workload and client count, then
/// each phase in full.
pub fn report(files: &[PathBuf], json: bool, markdown: bool) -> Result<Vec<u8>, Failure> {
    let mut phases = Vec::new();
    for file in files {
        let bytes = read_input(Some(file))?;
        let loaded = bench::parse_results(&bytes).map_err(|error| {
            Failure::usage(
                "invalid_json",
                format!(
                    "{} is not `cairn bench --json` output: {error}",
                    file.display()
                ),
            )
        })?;
        phases.extend(loaded);
    }
    if json {
        render::json(&ReportOutput { phases })
    } else if markdown {
        Ok(bench::markdown_comparison(&phases).into_bytes())
    } else {
        let mut text = bench::comparison(&phases);
        text.push('\n');
        text.push_str(&bench::report(&phases));
        Ok(text.into_bytes())
    }
}
