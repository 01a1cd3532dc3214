//! Nothing acknowledged is lost and nothing appears that nobody wrote: every
//! write an agent was told succeeded is in the file's history at the version
//! it was told, exactly once in the audit log, and every version in a
//! history holds content some agent sent. Stale reads saw real versions.

use std::collections::{BTreeMap, BTreeSet};

use cairn_client::OpKind;
use cairn_client::VersionInfo;

use crate::history::{Op, Outcome};
use crate::run::FinalState;
use crate::workload::{Journal, PATHS};

pub fn check(journal: &Journal, state: &FinalState) -> Vec<String> {
    let mut failures = Vec::new();
    let empty = Vec::new();
    let history = |path: &str| -> BTreeMap<u64, &VersionInfo> {
        state
            .histories
            .get(path)
            .unwrap_or(&empty)
            .iter()
            .map(|version| (version.version, version))
            .collect()
    };
    let mut sent_writes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut sent_replacements: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for event in &journal.events {
        match &event.op {
            Op::Write { content, .. } => {
                sent_writes.entry(&event.path).or_default().insert(content);
            }
            Op::StrReplace { new, .. } => {
                sent_replacements.entry(&event.path).or_default().push(new);
            }
            _ => {}
        }
    }
    for event in &journal.events {
        let Outcome::Applied {
            version: Some(version),
        } = event.outcome
        else {
            continue;
        };
        let versions = history(&event.path);
        let Some(found) = versions.get(&version) else {
            failures.push(format!(
                "{}: acknowledged version {version} is missing ({:?})",
                event.path, event.op
            ));
            continue;
        };
        match &event.op {
            Op::Write { content, .. }
                if found.content.as_deref() != Some(content.as_str())
                    || found.op != OpKind::Write =>
            {
                failures.push(format!(
                    "{}@{version}: acknowledged write of {content:?}, history has {:?} {:?}",
                    event.path, found.op, found.content
                ));
            }
            Op::StrReplace { new, .. }
                if !found
                    .content
                    .as_deref()
                    .is_some_and(|content| content.contains(new.as_str()))
                    || found.op != OpKind::StrReplace =>
            {
                failures.push(format!(
                    "{}@{version}: acknowledged str_replace to {new:?}, history has {:?} {:?}",
                    event.path, found.op, found.content
                ));
            }
            _ => {}
        }
    }
    for path in PATHS {
        for version in state.histories.get(path).unwrap_or(&empty) {
            let Some(content) = &version.content else {
                continue;
            };
            let explained = match version.op {
                OpKind::Write => sent_writes
                    .get(path)
                    .is_some_and(|sent| sent.contains(content.as_str())),
                OpKind::StrReplace => sent_replacements
                    .get(path)
                    .is_some_and(|sent| sent.iter().any(|new| content.contains(new))),
                _ => true,
            };
            if !explained {
                failures.push(format!(
                    "{path}@{}: content {content:?} that no agent sent ({:?})",
                    version.version, version.op
                ));
            }
        }
    }
    for read in &journal.stale_reads {
        let versions = history(&read.path);
        match versions.get(&read.version) {
            Some(found) if found.content.as_deref() == Some(read.content.as_str()) => {}
            found => failures.push(format!(
                "{}: a stale read saw version {} as {:?}, history has {:?}",
                read.path,
                read.version,
                read.content,
                found.map(|f| &f.content)
            )),
        }
    }
    failures
}
