//! The invariants every run must keep, one file each. Each check takes what
//! the run recorded and answers its failures as sentences.

pub mod access;
pub mod convergence;
pub mod durability;
pub mod leaders;
pub mod linearizability;
pub mod model;
pub mod revisions;

use std::collections::BTreeMap;

use crate::history::Event;
use crate::run::{FinalState, Sample, SimOptions};
use crate::workload::{Journal, PATHS};

/// Search steps the linearizability checker may take per file.
pub const SEARCH_BUDGET: u64 = 5_000_000;

pub fn all(
    access_journal: &crate::access::AccessJournal,
    journal: &Journal,
    samples: &[Sample],
    final_state: &FinalState,
    _options: &SimOptions,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut by_path: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
    for event in &journal.events {
        by_path
            .entry(event.path.as_str())
            .or_default()
            .push(event.clone());
    }
    for path in PATHS {
        let events = by_path.remove(path).unwrap_or_default();
        match linearizability::check(&events, SEARCH_BUDGET) {
            linearizability::CheckResult::Linearizable => {}
            linearizability::CheckResult::NotLinearizable { explanation } => {
                failures.push(format!("{path}: not linearizable: {explanation}"));
            }
            linearizability::CheckResult::Unknown => {
                failures.push(format!(
                    "{path}: linearizability undecided within {SEARCH_BUDGET} steps ({} events)",
                    events.len()
                ));
            }
        }
    }
    failures.extend(durability::check(journal, final_state));
    failures.extend(revisions::check(final_state));
    failures.extend(convergence::check(final_state));
    failures.extend(leaders::check(samples));
    failures.extend(access::check(access_journal));
    if journal.answered_after_heal == 0 {
        failures.push("the cluster answered nothing after healing".to_string());
    }
    failures
}
