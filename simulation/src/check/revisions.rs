//! The version log is consistent: store revisions in the audit log rise by
//! exactly one per change, each file's versions strictly rise, and every
//! version of a file is recorded at that revision in the audit log. A gap or
//! a repeat would mean a change applied twice, or lost.

use std::collections::BTreeMap;

use crate::run::FinalState;

pub fn check(state: &FinalState) -> Vec<String> {
    let mut failures = Vec::new();
    let Some(audit) = &state.audit else {
        return vec!["the audit log could not be read after healing".to_string()];
    };
    for (expected, record) in (1u64..).zip(audit) {
        if record.revision != Some(expected) {
            failures.push(format!(
                "audit log: revision {:?} where {expected} was due",
                record.revision
            ));
            break;
        }
    }
    let changes: BTreeMap<(u64, &str), usize> = audit
        .iter()
        .flat_map(|record| {
            record
                .changes
                .iter()
                .map(move |change| (record.revision.unwrap_or(0), change.path.as_str()))
        })
        .fold(BTreeMap::new(), |mut counts, key| {
            *counts.entry(key).or_default() += 1;
            counts
        });
    let last = audit.last().and_then(|record| record.revision).unwrap_or(0);
    for (path, versions) in &state.histories {
        for pair in versions.windows(2) {
            if pair[0].version <= pair[1].version {
                failures.push(format!(
                    "{path}: history not strictly newest first: {} then {}",
                    pair[0].version, pair[1].version
                ));
            }
        }
        for version in versions {
            if version.version > last {
                failures.push(format!(
                    "{path}: version {} is past the store's last revision {last}",
                    version.version
                ));
            }
            match changes.get(&(version.version, path.as_str())) {
                Some(1) => {}
                Some(n) => failures.push(format!("{path}@{}: {n} audit entries", version.version)),
                None => failures.push(format!(
                    "{path}@{}: no audit entry at that revision",
                    version.version
                )),
            }
        }
    }
    failures
}
