//! What a benchmark phase measured, turned into figures: throughput,
//! latency quantiles, errors by code; and their rendering as a table.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::histogram::Histogram;

/// What one client (or all of them, merged) counted during a phase.
/// Latencies are in microseconds.
#[derive(Clone, Debug, Default)]
pub struct PhaseCounters {
    /// Latency of each successful operation: the read for the read phase,
    /// the conditional write for the CAS phase.
    pub latency_us: Histogram,
    /// CAS only: from the first read of an attempt to its successful write,
    /// including the re-reads and retries after conflicts.
    pub cycle_latency_us: Histogram,
    /// Successful operations.
    pub ops: u64,
    /// Writes refused because the version had moved (also in `errors`).
    pub conflicts: u64,
    /// Failed requests by error code.
    pub errors: BTreeMap<String, u64>,
    /// One message per error code, to tell what went wrong.
    pub error_samples: BTreeMap<String, String>,
}

impl PhaseCounters {
    pub fn error(&mut self, code: &str, detail: &str) {
        *self.errors.entry(code.to_string()).or_default() += 1;
        if !self.error_samples.contains_key(code) {
            self.error_samples
                .insert(code.to_string(), detail.chars().take(300).collect());
        }
    }

    pub fn merge(&mut self, other: &PhaseCounters) {
        self.latency_us.merge(&other.latency_us);
        self.cycle_latency_us.merge(&other.cycle_latency_us);
        self.ops += other.ops;
        self.conflicts += other.conflicts;
        for (code, count) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += count;
        }
        for (code, sample) in &other.error_samples {
            self.error_samples
                .entry(code.clone())
                .or_insert_with(|| sample.clone());
        }
    }
}

/// Latency quantiles in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    /// `None` when nothing was recorded.
    pub fn of(histogram: &Histogram) -> Option<LatencySummary> {
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LatencySummary {
            min_ms: ms(histogram.min()?),
            p50_ms: ms(histogram.quantile(0.50)?),
            p90_ms: ms(histogram.quantile(0.90)?),
            p99_ms: ms(histogram.quantile(0.99)?),
            max_ms: ms(histogram.max()?),
            mean_ms: histogram.mean()? / 1000.0,
        })
    }
}

/// One phase's result: what `--json` prints and the tables show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// `cairn` or `etcd`.
    pub target: String,
    /// `cas` or `read`.
    pub workload: String,
    pub clients: u64,
    pub files: u64,
    pub value_bytes: u64,
    /// From the start of the phase until its last client stopped.
    pub elapsed_s: f64,
    pub ops: u64,
    pub throughput_ops_per_s: f64,
    /// Per successful operation (for CAS: the conditional write alone).
    pub latency: Option<LatencySummary>,
    /// CAS only: first read to successful write, retries included.
    pub cycle_latency: Option<LatencySummary>,
    pub conflicts: u64,
    pub errors: BTreeMap<String, u64>,
    pub error_samples: BTreeMap<String, String>,
}

/// What a phase was, apart from what it measured.
#[derive(Clone, Debug)]
pub struct PhaseShape {
    pub target: String,
    pub workload: String,
    pub clients: u64,
    pub files: u64,
    pub value_bytes: u64,
}

impl PhaseSummary {
    pub fn compute(shape: &PhaseShape, counters: &PhaseCounters, elapsed_s: f64) -> PhaseSummary {
        // Every successful operation records exactly one latency.
        assert_eq!(counters.latency_us.count(), counters.ops);
        let throughput_ops_per_s = if elapsed_s > 0.0 {
            counters.ops as f64 / elapsed_s
        } else {
            0.0
        };
        PhaseSummary {
            target: shape.target.clone(),
            workload: shape.workload.clone(),
            clients: shape.clients,
            files: shape.files,
            value_bytes: shape.value_bytes,
            elapsed_s,
            ops: counters.ops,
            throughput_ops_per_s,
            latency: LatencySummary::of(&counters.latency_us),
            cycle_latency: LatencySummary::of(&counters.cycle_latency_us),
            conflicts: counters.conflicts,
            errors: counters.errors.clone(),
            error_samples: counters.error_samples.clone(),
        }
    }

    /// `version_conflict 12, timeout 1`, or `-`.
    pub fn errors_text(&self) -> String {
        errors_text(
            self.errors
                .iter()
                .map(|(code, count)| (code.as_str(), *count)),
        )
    }

    /// One line for the progress stream when the phase ends.
    pub fn line(&self) -> String {
        let latency = match &self.latency {
            Some(latency) => format!(
                "p50 {} p90 {} p99 {} max {} ms",
                ms(latency.p50_ms),
                ms(latency.p90_ms),
                ms(latency.p99_ms),
                ms(latency.max_ms)
            ),
            None => "no successful operation".to_string(),
        };
        format!(
            "{} {} clients={}: {} ops in {:.1}s = {:.0} ops/s, {latency}; errors: {}",
            self.target,
            self.workload,
            self.clients,
            self.ops,
            self.elapsed_s,
            self.throughput_ops_per_s,
            self.errors_text()
        )
    }
}

/// Milliseconds with as many decimals as are meaningful.
fn ms(value: f64) -> String {
    if value < 1.0 {
        format!("{value:.3}")
    } else if value < 100.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.0}")
    }
}

fn latency_cells(latency: Option<&LatencySummary>) -> [String; 4] {
    match latency {
        Some(latency) => [
            ms(latency.p50_ms),
            ms(latency.p90_ms),
            ms(latency.p99_ms),
            ms(latency.max_ms),
        ],
        None => std::array::from_fn(|_| "-".to_string()),
    }
}

use crate::render::table;

/// Every phase as one row, then the error samples and CAS cycle latencies.
pub fn report(phases: &[PhaseSummary]) -> String {
    let mut rows = vec![
        [
            "TARGET", "PHASE", "CLIENTS", "OPS", "OPS/S", "P50_MS", "P90_MS", "P99_MS", "MAX_MS",
            "ERRORS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for phase in phases {
        let mut row = vec![
            phase.target.clone(),
            phase.workload.clone(),
            phase.clients.to_string(),
            phase.ops.to_string(),
            format!("{:.0}", phase.throughput_ops_per_s),
        ];
        row.extend(latency_cells(phase.latency.as_ref()));
        row.push(phase.errors_text());
        rows.push(row);
    }
    let mut out = table(&rows);
    let cycles: Vec<&PhaseSummary> = phases
        .iter()
        .filter(|phase| phase.cycle_latency.is_some())
        .collect();
    if !cycles.is_empty() {
        out.push_str("\nCAS cycle (read + conditional write, retries included):\n");
        let mut rows = vec![
            [
                "TARGET",
                "CLIENTS",
                "P50_MS",
                "P90_MS",
                "P99_MS",
                "MAX_MS",
                "CONFLICTS",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for phase in cycles {
            let mut row = vec![phase.target.clone(), phase.clients.to_string()];
            row.extend(latency_cells(phase.cycle_latency.as_ref()));
            row.push(phase.conflicts.to_string());
            rows.push(row);
        }
        out.push_str(&table(&rows));
    }
    let samples: Vec<String> = phases
        .iter()
        .flat_map(|phase| {
            phase.error_samples.iter().map(move |(code, sample)| {
                format!(
                    "  {} {} clients={}: {code}: {sample}",
                    phase.target, phase.workload, phase.clients
                )
            })
        })
        .collect();
    if !samples.is_empty() {
        out.push_str("\nerror samples:\n");
        for sample in samples {
            out.push_str(&sample);
            out.push('\n');
        }
    }
    out
}

/// Phases of several targets side by side: one row per workload and client
/// count, with each target's throughput and latencies.
pub fn comparison(phases: &[PhaseSummary]) -> String {
    let mut targets: Vec<&str> = Vec::new();
    let mut keys: Vec<(&str, u64)> = Vec::new();
    for phase in phases {
        if !targets.contains(&phase.target.as_str()) {
            targets.push(&phase.target);
        }
        let key = (phase.workload.as_str(), phase.clients);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mut header = vec!["PHASE".to_string(), "CLIENTS".to_string()];
    for target in &targets {
        for column in ["OPS/S", "P50", "P90", "P99", "MAX"] {
            header.push(format!("{target}:{column}"));
        }
    }
    let mut rows = vec![header];
    for (workload, clients) in keys {
        let mut row = vec![workload.to_string(), clients.to_string()];
        for target in &targets {
            let phase = phases.iter().find(|phase| {
                phase.target == *target && phase.workload == workload && phase.clients == clients
            });
            match phase {
                Some(phase) => {
                    row.push(format!("{:.0}", phase.throughput_ops_per_s));
                    row.extend(latency_cells(phase.latency.as_ref()));
                }
                None => row.extend(std::iter::repeat_n("-".to_string(), 5)),
            }
        }
        rows.push(row);
    }
    let mut out = table(&rows);
    out.push_str("(latencies in ms; CAS latency is the conditional write alone)\n");
    out
}

/// Cairn against etcd as a Markdown table, one row per workload and
/// client count: throughput, their ratio, p99 of each, and errors (the
/// table `docs/benchmarks.md` records). Phases of other targets are left out.
///
/// Where a target ran a phase more than once (`cluster-bench.sh --repeat`),
/// its throughput and its p99 are each the median over those runs, the ratio
/// is of the medians, its errors are summed, and a line under the table
/// gives every run's throughput and p99 in the order they ran.
pub fn markdown_comparison(phases: &[PhaseSummary]) -> String {
    let mut keys: Vec<(&str, u64)> = Vec::new();
    for phase in phases {
        let key = (phase.workload.as_str(), phase.clients);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let runs = |target: &str, (workload, clients): (&str, u64)| -> Vec<&PhaseSummary> {
        phases
            .iter()
            .filter(|phase| {
                phase.target == target && phase.workload == workload && phase.clients == clients
            })
            .collect()
    };
    let throughput = |runs: &[&PhaseSummary]| {
        median(
            runs.iter()
                .map(|phase| phase.throughput_ops_per_s)
                .collect(),
        )
    };
    let p99 = |runs: &[&PhaseSummary]| {
        median(
            runs.iter()
                .filter_map(|phase| phase.latency.as_ref().map(|latency| latency.p99_ms))
                .collect(),
        )
    };
    let ops_cell = |runs: &[&PhaseSummary]| {
        throughput(runs).map_or("-".to_string(), |ops| thousands(ops.round() as u64))
    };
    let p99_cell = |runs: &[&PhaseSummary]| p99(runs).map_or("-".to_string(), ms);
    let errors = |runs: &[&PhaseSummary]| {
        let mut total: BTreeMap<&str, u64> = BTreeMap::new();
        for phase in runs {
            for (code, count) in &phase.errors {
                *total.entry(code).or_default() += count;
            }
        }
        errors_text(total)
    };
    let mut out = String::from(
        "| phase | clients | Cairn ops/s | etcd ops/s | Cairn / etcd | Cairn p99 ms | etcd p99 ms | Cairn errors | etcd errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---|---|\n",
    );
    let mut spreads = String::new();
    for key in keys {
        let (cairn, etcd) = (runs("cairn", key), runs("etcd", key));
        let ratio = match (throughput(&cairn), throughput(&etcd)) {
            (Some(cairn), Some(etcd)) if etcd > 0.0 => format!("{:.2}×", cairn / etcd),
            _ => "-".to_string(),
        };
        let phase = match key.0 {
            "cas" => "CAS write",
            "read" => "lin. read",
            other => other,
        };
        out.push_str(&format!(
            "| {phase} | {} | {} | {} | {ratio} | {} | {} | {} | {} |\n",
            key.1,
            ops_cell(&cairn),
            ops_cell(&etcd),
            p99_cell(&cairn),
            p99_cell(&etcd),
            errors(&cairn),
            errors(&etcd),
        ));
        for (name, runs) in [("Cairn", &cairn), ("etcd", &etcd)] {
            if runs.len() > 1 {
                let each: Vec<String> = runs
                    .iter()
                    .map(|phase| {
                        let p99 = phase
                            .latency
                            .as_ref()
                            .map_or("-".to_string(), |latency| ms(latency.p99_ms));
                        format!(
                            "{} ({p99})",
                            thousands(phase.throughput_ops_per_s.round() as u64)
                        )
                    })
                    .collect();
                spreads.push_str(&format!(
                    "- {phase}, {} clients, {name}: {} runs, ops/s (p99 ms): {}\n",
                    key.1,
                    runs.len(),
                    each.join(", ")
                ));
            }
        }
    }
    if !spreads.is_empty() {
        out.push_str("\nMedians over the runs; each run:\n\n");
        out.push_str(&spreads);
    }
    out
}

/// `version_conflict 12, timeout 1` for counts by error code, or `-` for none.
fn errors_text<'a>(errors: impl IntoIterator<Item = (&'a str, u64)>) -> String {
    let parts: Vec<String> = errors
        .into_iter()
        .map(|(code, count)| format!("{code} {count}"))
        .collect();
    if parts.is_empty() {
        return "-".to_string();
    }
    parts.join(", ")
}

/// The median (the mean of the middle two of an even count); `None` if empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[middle]),
        _ => Some((values[middle - 1] + values[middle]) / 2.0),
    }
}

/// `12,345`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_comparison_has_ratios_and_p99() {
        let phases = vec![
            PhaseSummary::compute(&shape("cairn", "cas", 64), &counters(&[1500; 3000], 0), 1.0),
            PhaseSummary::compute(&shape("etcd", "cas", 64), &counters(&[2500; 1500], 2), 1.0),
            PhaseSummary::compute(&shape("cairn", "read", 64), &counters(&[500], 0), 1.0),
        ];
        let text = markdown_comparison(&phases);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with("| phase | clients | Cairn ops/s"),
            "{text}"
        );
        assert_eq!(
            lines[2],
            "| CAS write | 64 | 3,000 | 1,500 | 2.00× | 1.50 | 2.50 | - | version_conflict 2 |"
        );
        // No etcd read phase: dashes, no ratio.
        assert_eq!(
            lines[3],
            "| lin. read | 64 | 1 | - | - | 0.500 | - | - | - |"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn repeated_runs_are_reported_by_their_medians_and_listed() {
        let phases = vec![
            PhaseSummary::compute(&shape("cairn", "cas", 64), &counters(&[1000; 3000], 0), 1.0),
            PhaseSummary::compute(&shape("etcd", "cas", 64), &counters(&[2000; 1000], 1), 1.0),
            PhaseSummary::compute(&shape("cairn", "cas", 64), &counters(&[3000; 2000], 0), 1.0),
            PhaseSummary::compute(&shape("etcd", "cas", 64), &counters(&[4000; 1000], 2), 1.0),
            PhaseSummary::compute(&shape("cairn", "cas", 64), &counters(&[2000; 4000], 0), 1.0),
        ];
        let text = markdown_comparison(&phases);
        let lines: Vec<&str> = text.lines().collect();
        // Cairn: median of 3,000 / 2,000 / 4,000 ops and of 1 / 3 / 2 ms;
        // etcd: the mean of its two runs, errors summed.
        assert_eq!(
            lines[2],
            "| CAS write | 64 | 3,000 | 1,000 | 3.00× | 2.00 | 3.00 | - | version_conflict 3 |",
            "{text}"
        );
        assert!(
            text.contains(
                "- CAS write, 64 clients, Cairn: 3 runs, ops/s (p99 ms): 3,000 (1.00), 2,000 (3.00), 4,000 (2.00)"
            ),
            "{text}"
        );
        assert!(
            text.contains("- CAS write, 64 clients, etcd: 2 runs"),
            "{text}"
        );
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
    }

    fn shape(target: &str, workload: &str, clients: u64) -> PhaseShape {
        PhaseShape {
            target: target.to_string(),
            workload: workload.to_string(),
            clients,
            files: clients,
            value_bytes: 1024,
        }
    }

    fn counters(latencies_us: &[u64], conflicts: u64) -> PhaseCounters {
        let mut counters = PhaseCounters::default();
        for &latency in latencies_us {
            counters.latency_us.record(latency);
            counters.cycle_latency_us.record(latency * 2);
            counters.ops += 1;
        }
        for _ in 0..conflicts {
            counters.conflicts += 1;
            counters.error("version_conflict", "expected 3, current 4");
        }
        counters
    }

    #[test]
    fn summary_figures() {
        let latencies: Vec<u64> = (1..=1000).map(|i| i * 10).collect();
        let summary =
            PhaseSummary::compute(&shape("cairn", "cas", 4), &counters(&latencies, 3), 2.0);
        assert_eq!(summary.ops, 1000);
        assert_eq!(summary.throughput_ops_per_s, 500.0);
        assert_eq!(summary.conflicts, 3);
        assert_eq!(summary.errors["version_conflict"], 3);
        let latency = summary.latency.clone().unwrap();
        // 10 µs .. 10 ms: p50 ≈ 5 ms, p99 ≈ 9.9 ms, max exactly 10 ms.
        assert!((5.0..=5.0 * 1.04).contains(&latency.p50_ms), "{latency:?}");
        assert!((9.9..=10.0).contains(&latency.p99_ms), "{latency:?}");
        assert_eq!(latency.max_ms, 10.0);
        assert!((latency.mean_ms - 5.005).abs() < 1e-9);
        let cycle = summary.cycle_latency.clone().unwrap();
        assert_eq!(cycle.max_ms, 20.0);
        assert_eq!(summary.errors_text(), "version_conflict 3");

        // It survives JSON, as `--json` and the comparison read it.
        let text = serde_json::to_string(&summary).unwrap();
        let again: PhaseSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(again, summary);
    }

    #[test]
    fn a_phase_with_only_errors() {
        let mut counters = PhaseCounters::default();
        counters.error("transport", "connection refused");
        counters.error("transport", "a later message that is not kept");
        let summary = PhaseSummary::compute(&shape("cairn", "read", 1), &counters, 0.0);
        assert_eq!(summary.throughput_ops_per_s, 0.0);
        assert_eq!(summary.latency, None);
        assert_eq!(summary.errors["transport"], 2);
        assert_eq!(summary.error_samples["transport"], "connection refused");
        assert!(summary.line().contains("no successful operation"));
        let text = report(&[summary]);
        assert!(text.contains("transport 2"), "{text}");
        assert!(text.contains("connection refused"), "{text}");
    }

    #[test]
    fn merged_counters_add_up() {
        let mut total = counters(&[100, 200], 1);
        total.merge(&counters(&[300], 2));
        assert_eq!(total.ops, 3);
        assert_eq!(total.conflicts, 3);
        assert_eq!(total.errors["version_conflict"], 3);
        assert_eq!(total.latency_us.count(), 3);
        assert_eq!(total.latency_us.max(), Some(300));
    }

    #[test]
    fn report_and_comparison_tables() {
        let phases = vec![
            PhaseSummary::compute(&shape("cairn", "cas", 1), &counters(&[1500], 0), 1.0),
            PhaseSummary::compute(&shape("cairn", "read", 1), &counters(&[500], 0), 1.0),
            PhaseSummary::compute(&shape("etcd", "cas", 1), &counters(&[2500, 2500], 0), 1.0),
        ];
        let text = report(&phases);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("TARGET  PHASE  CLIENTS"), "{text}");
        assert!(
            lines[1].starts_with("cairn   cas    1        1    1      1.50"),
            "{text}"
        );
        assert!(text.contains("CAS cycle"), "{text}");

        let text = comparison(&phases);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("cairn:OPS/S") && lines[0].contains("etcd:P99"));
        assert!(lines[1].starts_with("cas    1"), "{text}");
        assert!(lines[1].contains("2.50"), "{text}");
        // etcd has no read phase here: its cells are dashes.
        assert!(
            lines[2].starts_with("read   1") && lines[2].ends_with("-"),
            "{text}"
        );
    }
}
