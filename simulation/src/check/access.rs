//! No write succeeded without a grant that allowed it: for every write the
//! member was told succeeded, some moment between sending it and hearing
//! back must have been one where the member held `write`.
//!
//! The gatekeeper changes the grant one change at a time. A change answered
//! as done took effect within its own interval; one never answered may take
//! effect at any time after it was sent. So the grant was certainly *not*
//! `write` from the completion of a done removal until the invocation of the
//! next change that gives `write` (answered or not) — unless a change sent
//! before that removal is still unanswered and might give `write` later.

use crate::access::{AccessJournal, GrantChange};

/// The intervals `[from, until)` in which the member certainly could not write.
fn closed_windows(changes: &[GrantChange]) -> Vec<(u64, u64)> {
    let mut windows = Vec::new();
    for (index, removal) in changes.iter().enumerate() {
        let (false, true, Some(from)) = (removal.write, removal.done, removal.completed_ns) else {
            continue;
        };
        // A grant sent earlier and never answered may land after the removal.
        let pending_before = changes[..index]
            .iter()
            .any(|change| change.write && change.completed_ns.is_none());
        if pending_before {
            continue;
        }
        let until = changes[index + 1..]
            .iter()
            .find(|change| change.write)
            .map_or(u64::MAX, |change| change.invoked_ns);
        windows.push((from, until));
    }
    windows
}

pub fn check(journal: &AccessJournal) -> Vec<String> {
    let windows = closed_windows(&journal.changes);
    let mut failures = Vec::new();
    for write in &journal.applied {
        if let Some((from, until)) = windows
            .iter()
            .find(|(from, until)| *from < write.invoked_ns && write.completed_ns < *until)
        {
            failures.push(format!(
                "the member's write to {} (sent at {} ns, answered at {} ns) succeeded while it \
                 held no write grant (removed at {from} ns, given again at {until} ns)",
                write.path, write.invoked_ns, write.completed_ns
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::MemberWrite;

    fn change(write: bool, invoked_ns: u64, completed_ns: Option<u64>) -> GrantChange {
        GrantChange {
            write,
            invoked_ns,
            completed_ns,
            done: completed_ns.is_some(),
        }
    }

    fn applied(invoked_ns: u64, completed_ns: u64) -> MemberWrite {
        MemberWrite {
            path: "/m/0.md".into(),
            invoked_ns,
            completed_ns,
        }
    }

    #[test]
    fn a_write_inside_a_closed_window_is_caught_and_one_overlapping_a_grant_is_not() {
        let journal = AccessJournal {
            changes: vec![
                change(true, 0, Some(10)),
                change(false, 20, Some(30)),
                change(true, 100, Some(110)),
            ],
            applied: vec![applied(40, 60), applied(90, 105), applied(5, 25)],
            forbidden: 0,
        };
        let failures = check(&journal);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("sent at 40 ns"));
    }

    #[test]
    fn an_unanswered_grant_before_a_removal_leaves_no_window() {
        let journal = AccessJournal {
            changes: vec![change(true, 0, None), change(false, 20, Some(30))],
            applied: vec![applied(40, 60)],
            forbidden: 0,
        };
        assert!(check(&journal).is_empty());
    }
}
