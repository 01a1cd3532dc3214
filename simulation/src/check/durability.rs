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
    let sent = Sent::by_agents(journal);
    let mut failures = acknowledged_writes_are_kept(journal, state);
    failures.extend(every_content_was_sent(state, &sent));
    failures.extend(stale_reads_saw_real_versions(journal, state));
    failures
}

/// What agents sent, per path: the contents of writes, and the new text of
/// `str_replace`s.
struct Sent<'a> {
    writes: BTreeMap<&'a str, BTreeSet<&'a str>>,
    replacements: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Sent<'a> {
    fn by_agents(journal: &'a Journal) -> Sent<'a> {
        let mut sent = Sent {
            writes: BTreeMap::new(),
            replacements: BTreeMap::new(),
        };
        for event in &journal.events {
            match &event.op {
                Op::Write { content, .. } => {
                    sent.writes.entry(&event.path).or_default().insert(content);
                }
                Op::StrReplace { new, .. } => {
                    sent.replacements.entry(&event.path).or_default().push(new);
                }
                _ => {}
            }
        }
        sent
    }
}

/// A path's history at the end, by version.
fn versions_of<'a>(state: &'a FinalState, path: &str) -> BTreeMap<u64, &'a VersionInfo> {
    state
        .histories
        .get(path)
        .into_iter()
        .flatten()
        .map(|version| (version.version, version))
        .collect()
}

/// Every acknowledged write and `str_replace` is in the history at the
/// version its agent was told, as that kind of operation, with its content.
fn acknowledged_writes_are_kept(journal: &Journal, state: &FinalState) -> Vec<String> {
    let mut failures = Vec::new();
    for event in &journal.events {
        let Outcome::Applied {
            version: Some(version),
        } = event.outcome
        else {
            continue;
        };
        let versions = versions_of(state, &event.path);
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
    failures
}

/// Every version of a checked path written or replaced holds content that
/// some agent sent to that path.
fn every_content_was_sent(state: &FinalState, sent: &Sent<'_>) -> Vec<String> {
    let mut failures = Vec::new();
    for path in PATHS {
        for version in state.histories.get(path).into_iter().flatten() {
            let Some(content) = &version.content else {
                continue;
            };
            let explained = match version.op {
                OpKind::Write => sent
                    .writes
                    .get(path)
                    .is_some_and(|writes| writes.contains(content.as_str())),
                OpKind::StrReplace => sent.replacements.get(path).is_some_and(|replacements| {
                    replacements.iter().any(|new| content.contains(new))
                }),
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
    failures
}

/// Every stale read saw a version that is in the history, with its content.
fn stale_reads_saw_real_versions(journal: &Journal, state: &FinalState) -> Vec<String> {
    let mut failures = Vec::new();
    for read in &journal.stale_reads {
        let versions = versions_of(state, &read.path);
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
