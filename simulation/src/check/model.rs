//! The sequential model of one versioned file, as the server defines it.
//!
//! A file is absent, or present with a version and a content. Every applied
//! change takes its version from a store-wide revision counter, so the
//! versions of one path strictly increase but skip values; the model never
//! predicts a version, it only checks that the versions agents were told are
//! possible. When an operation with an `Outcome::Unknown` takes effect, its
//! version is unknown too: the model then remembers only what is known about
//! it (`Version::Unobserved`) and learns the exact value when a later read or
//! precondition observes it.
//!
//! `step` is pure and total: it never panics on a history, it answers `None`
//! when an outcome cannot follow from a state.

use crate::history::{Op, Outcome, Precondition};

/// What is known about the version of a present file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// An agent was told this version, or observed it.
    Exact(u64),
    /// Nobody has observed the version yet: it is some value strictly greater
    /// than `greater_than` that is none of `excluded` (values ruled out by
    /// `IfVersion` preconditions that failed).
    ///
    /// Kept canonical by `Version::unobserved` so that equal knowledge is one
    /// value, which the checker's memo relies on: `excluded` is sorted, holds
    /// no duplicates, only values above `greater_than + 1`.
    Unobserved {
        greater_than: u64,
        excluded: Vec<u64>,
    },
}

impl Version {
    /// The canonical form of "greater than `greater_than` and none of `excluded`".
    pub fn unobserved(greater_than: u64, mut excluded: Vec<u64>) -> Version {
        excluded.sort_unstable();
        excluded.dedup();
        let mut greater_than = greater_than;
        // A value excluded right above the bound just raises the bound.
        let mut first_kept = 0;
        for &value in &excluded {
            if value <= greater_than {
                first_kept += 1;
            } else if value == greater_than + 1 {
                greater_than = value;
                first_kept += 1;
            } else {
                break;
            }
        }
        excluded.drain(..first_kept);
        debug_assert!(excluded.iter().all(|&value| value > greater_than + 1));
        Version::Unobserved {
            greater_than,
            excluded,
        }
    }

    /// Whether the file's version can be `version`.
    pub fn admits(&self, version: u64) -> bool {
        match self {
            Version::Exact(exact) => *exact == version,
            Version::Unobserved {
                greater_than,
                excluded,
            } => version > *greater_than && excluded.binary_search(&version).is_err(),
        }
    }

    /// The smallest value the version can have. A later version must be
    /// strictly greater than the actual one, so a later version `v` is
    /// possible exactly when `v > least_possible()`: the actual value can be
    /// chosen as this least one, and nothing can observe it any more once it
    /// is replaced.
    pub fn least_possible(&self) -> u64 {
        match self {
            Version::Exact(exact) => *exact,
            // Canonical form: `greater_than + 1` is never excluded.
            Version::Unobserved { greater_than, .. } => greater_than + 1,
        }
    }

    /// Whether every version `other` admits, this admits too.
    pub fn subsumes(&self, other: &Version) -> bool {
        match (self, other) {
            (_, Version::Exact(version)) => self.admits(*version),
            // An unobserved version admits infinitely many values.
            (Version::Exact(_), Version::Unobserved { .. }) => false,
            (
                Version::Unobserved {
                    greater_than,
                    excluded,
                },
                Version::Unobserved {
                    greater_than: other_greater_than,
                    excluded: other_excluded,
                },
            ) => {
                greater_than <= other_greater_than
                    && excluded.iter().all(|value| {
                        value <= other_greater_than || other_excluded.binary_search(value).is_ok()
                    })
            }
        }
    }

    /// What is known once a precondition `IfVersion(version)` failed on a
    /// present file: its version is not `version`. `None` if it must be.
    fn excluding(&self, version: u64) -> Option<Version> {
        match self {
            Version::Exact(exact) => (*exact != version).then(|| self.clone()),
            Version::Unobserved {
                greater_than,
                excluded,
            } => {
                let mut excluded = excluded.clone();
                excluded.push(version);
                Some(Version::unobserved(*greater_than, excluded))
            }
        }
    }
}

/// The state of one path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileState {
    /// No such file. The next version the path gets is strictly greater than
    /// `next_version_greater_than` (0 at first: versions start at 1).
    Absent {
        next_version_greater_than: u64,
    },
    Present {
        version: Version,
        content: String,
    },
}

impl FileState {
    /// The state before any operation: absent.
    pub fn initial() -> FileState {
        FileState::Absent {
            next_version_greater_than: 0,
        }
    }

    /// Whether everything that can follow `other` can follow this state
    /// too: the same file, with at least as many possible versions. The
    /// checker uses it to prune configurations that are no better than
    /// one it has seen.
    pub fn subsumes(&self, other: &FileState) -> bool {
        match (self, other) {
            (
                FileState::Absent {
                    next_version_greater_than,
                },
                FileState::Absent {
                    next_version_greater_than: other_next_version_greater_than,
                },
            ) => next_version_greater_than <= other_next_version_greater_than,
            (
                FileState::Present { version, content },
                FileState::Present {
                    version: other_version,
                    content: other_content,
                },
            ) => content == other_content && version.subsumes(other_version),
            _ => false,
        }
    }

    /// No version the file can be seen at, now or later, is below this:
    /// versions only grow. So an operation told a smaller version cannot
    /// come after this state (see `version_told`).
    pub fn versions_from(&self) -> u64 {
        match self {
            FileState::Absent {
                next_version_greater_than,
            } => next_version_greater_than + 1,
            FileState::Present { version, .. } => version.least_possible(),
        }
    }

    /// Every new version must be strictly greater than this.
    fn next_version_greater_than(&self) -> u64 {
        match self {
            FileState::Absent {
                next_version_greater_than,
            } => *next_version_greater_than,
            FileState::Present { version, .. } => version.least_possible(),
        }
    }

    /// The state after a change that wrote `content`, with the version the
    /// agent was told (`Some`) or an unknown one (`None`). `None` if a told
    /// version does not exceed the previous one.
    fn changed_to(&self, content: String, new_version: Option<u64>) -> Option<FileState> {
        let greater_than = self.next_version_greater_than();
        let version = match new_version {
            Some(version) if version > greater_than => Version::Exact(version),
            Some(_) => return None,
            None => Version::unobserved(greater_than, Vec::new()),
        };
        Some(FileState::Present { version, content })
    }

    /// The state after a delete took effect.
    fn deleted(&self) -> FileState {
        FileState::Absent {
            next_version_greater_than: self.next_version_greater_than(),
        }
    }
}

/// The state after `op` answered `outcome` in `state`, or `None` if that
/// outcome is impossible there.
///
/// `Outcome::Unknown` means here "the operation took effect and changed the
/// file": `None` when it could not have. That it may not have taken effect
/// at all, or failed, changes nothing, which the checker models by leaving
/// the operation out; so a read with an unknown outcome is always `None`.
/// `Outcome::NotApplied` leaves the state as it is.
pub fn step(state: &FileState, op: &Op, outcome: &Outcome) -> Option<FileState> {
    if *outcome == Outcome::NotApplied {
        return Some(state.clone());
    }
    match op {
        Op::Read => read(state, outcome),
        Op::Write {
            content,
            precondition,
        } => write(state, content, precondition, outcome),
        Op::StrReplace { old, new } => str_replace(state, old, new, outcome),
        Op::Delete => delete(state, outcome),
    }
}

/// The smallest version that `op`, answering `outcome`, observed or was
/// told: it can only follow a state whose `versions_from` is at most that.
pub fn version_told(op: &Op, outcome: &Outcome) -> Option<u64> {
    match (op, outcome) {
        (_, Outcome::Found { version, .. }) => Some(*version),
        (
            Op::Write {
                precondition: Precondition::IfVersion(expected),
                ..
            },
            Outcome::Applied { .. },
        ) => Some(*expected),
        (_, Outcome::Applied { version }) => *version,
        _ => None,
    }
}

fn read(state: &FileState, outcome: &Outcome) -> Option<FileState> {
    match (state, outcome) {
        (FileState::Absent { .. }, Outcome::Absent) => Some(state.clone()),
        (
            FileState::Present { version, content },
            Outcome::Found {
                version: found_version,
                content: found_content,
            },
        ) if content == found_content && version.admits(*found_version) => {
            Some(FileState::Present {
                version: Version::Exact(*found_version),
                content: content.clone(),
            })
        }
        _ => None,
    }
}

fn write(
    state: &FileState,
    new_content: &str,
    precondition: &Precondition,
    outcome: &Outcome,
) -> Option<FileState> {
    // The state as the precondition leaves it if it holds (it may learn the
    // version), or `None` if it fails.
    let state_if_holds = match (precondition, state) {
        (Precondition::None, _) => Some(state.clone()),
        (Precondition::IfAbsent, FileState::Absent { .. }) => Some(state.clone()),
        (Precondition::IfAbsent, FileState::Present { .. }) => None,
        (Precondition::IfVersion(_), FileState::Absent { .. }) => None,
        (Precondition::IfVersion(expected), FileState::Present { version, content }) => {
            version.admits(*expected).then(|| FileState::Present {
                version: Version::Exact(*expected),
                content: content.clone(),
            })
        }
    };
    match outcome {
        Outcome::Applied {
            version: Some(new_version),
        } => state_if_holds?.changed_to(new_content.to_owned(), Some(*new_version)),
        Outcome::Unknown => state_if_holds?.changed_to(new_content.to_owned(), None),
        Outcome::Conflict => match (precondition, state) {
            (Precondition::None, _) => None,
            (Precondition::IfAbsent, FileState::Absent { .. }) => None,
            (Precondition::IfAbsent, FileState::Present { .. }) => Some(state.clone()),
            (Precondition::IfVersion(_), FileState::Absent { .. }) => Some(state.clone()),
            (Precondition::IfVersion(expected), FileState::Present { version, content }) => {
                Some(FileState::Present {
                    version: version.excluding(*expected)?,
                    content: content.clone(),
                })
            }
        },
        _ => None,
    }
}

fn str_replace(state: &FileState, old: &str, new: &str, outcome: &Outcome) -> Option<FileState> {
    match (state, outcome) {
        (FileState::Absent { .. }, Outcome::Absent) => Some(state.clone()),
        (FileState::Absent { .. }, _) => None,
        (FileState::Present { content, .. }, Outcome::NoUniqueMatch) => {
            unique_occurrence(content, old)
                .is_none()
                .then(|| state.clone())
        }
        (FileState::Present { content, .. }, Outcome::Applied { version: Some(v) }) => {
            let offset = unique_occurrence(content, old)?;
            state.changed_to(replaced(content, offset, old, new), Some(*v))
        }
        (FileState::Present { content, .. }, Outcome::Unknown) => {
            let offset = unique_occurrence(content, old)?;
            state.changed_to(replaced(content, offset, old, new), None)
        }
        (FileState::Present { .. }, _) => None,
    }
}

fn delete(state: &FileState, outcome: &Outcome) -> Option<FileState> {
    match (state, outcome) {
        (FileState::Present { .. }, Outcome::Applied { version: None } | Outcome::Unknown) => {
            Some(state.deleted())
        }
        (FileState::Absent { .. }, Outcome::Absent) => Some(state.clone()),
        _ => None,
    }
}

/// The byte offset of `old` in `content` if it occurs there exactly once,
/// counting overlapping occurrences as the server does ("aa" occurs twice in
/// "aaa"). The empty string occurs at every character boundary.
pub fn unique_occurrence(content: &str, old: &str) -> Option<usize> {
    let mut first = None;
    let mut search_from = 0;
    while let Some(relative) = content[search_from..].find(old) {
        let offset = search_from + relative;
        if first.is_some() {
            return None;
        }
        first = Some(offset);
        // Resume one character later so that overlapping occurrences count.
        match content[offset..].chars().next() {
            Some(character) => search_from = offset + character.len_utf8(),
            None => break,
        }
    }
    first
}

/// `content` with the `old` found at `offset` replaced by `new`.
fn replaced(content: &str, offset: usize, old: &str, new: &str) -> String {
    debug_assert_eq!(content.get(offset..offset + old.len()), Some(old));
    let mut result = String::with_capacity(content.len() - old.len() + new.len());
    result.push_str(&content[..offset]);
    result.push_str(new);
    result.push_str(&content[offset + old.len()..]);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::{applied, found, str_replace, write_if};

    fn present(version: u64, content: &str) -> FileState {
        FileState::Present {
            version: Version::Exact(version),
            content: content.to_owned(),
        }
    }

    fn present_unobserved(greater_than: u64, content: &str) -> FileState {
        FileState::Present {
            version: Version::unobserved(greater_than, Vec::new()),
            content: content.to_owned(),
        }
    }

    fn absent(next_version_greater_than: u64) -> FileState {
        FileState::Absent {
            next_version_greater_than,
        }
    }

    #[test]
    fn initial_state_is_absent_and_versions_start_above_zero() {
        let initial = FileState::initial();
        assert_eq!(
            step(&initial, &Op::Read, &Outcome::Absent),
            Some(initial.clone())
        );
        assert_eq!(step(&initial, &Op::Read, &found(1, "")), None);
        let unconditional = write_if("a", Precondition::None);
        assert_eq!(step(&initial, &unconditional, &applied(0)), None);
        assert_eq!(
            step(&initial, &unconditional, &applied(1)),
            Some(present(1, "a"))
        );
    }

    #[test]
    fn read_found_matches_exact_version_and_content_only() {
        let state = present(5, "hello");
        assert_eq!(
            step(&state, &Op::Read, &found(5, "hello")),
            Some(state.clone())
        );
        assert_eq!(step(&state, &Op::Read, &found(6, "hello")), None);
        assert_eq!(step(&state, &Op::Read, &found(4, "hello")), None);
        assert_eq!(step(&state, &Op::Read, &found(5, "hullo")), None);
        assert_eq!(step(&state, &Op::Read, &Outcome::Absent), None);
        assert_eq!(step(&absent(5), &Op::Read, &found(5, "hello")), None);
    }

    #[test]
    fn read_found_learns_an_unobserved_version() {
        let state = present_unobserved(5, "x");
        assert_eq!(
            step(&state, &Op::Read, &found(9, "x")),
            Some(present(9, "x"))
        );
        assert_eq!(
            step(&state, &Op::Read, &found(6, "x")),
            Some(present(6, "x"))
        );
        assert_eq!(step(&state, &Op::Read, &found(5, "x")), None);
        assert_eq!(step(&state, &Op::Read, &found(9, "y")), None);
    }

    #[test]
    fn read_with_unknown_outcome_is_left_to_the_checker() {
        assert_eq!(step(&present(1, "a"), &Op::Read, &Outcome::Unknown), None);
    }

    #[test]
    fn not_applied_changes_nothing() {
        let state = present(3, "a");
        for op in [
            Op::Read,
            Op::Delete,
            write_if("b", Precondition::None),
            str_replace("a", "b"),
        ] {
            assert_eq!(step(&state, &op, &Outcome::NotApplied), Some(state.clone()));
        }
    }

    #[test]
    fn unconditional_write_needs_a_greater_version() {
        let op = write_if("new", Precondition::None);
        assert_eq!(
            step(&present(5, "old"), &op, &applied(6)),
            Some(present(6, "new"))
        );
        assert_eq!(
            step(&present(5, "old"), &op, &applied(100)),
            Some(present(100, "new"))
        );
        assert_eq!(step(&present(5, "old"), &op, &applied(5)), None);
        assert_eq!(step(&present(5, "old"), &op, &applied(4)), None);
        assert_eq!(step(&absent(7), &op, &applied(7)), None);
        assert_eq!(step(&absent(7), &op, &applied(8)), Some(present(8, "new")));
        assert_eq!(step(&present(5, "old"), &op, &Outcome::Conflict), None);
        assert_eq!(
            step(&present(5, "old"), &op, &Outcome::Applied { version: None }),
            None
        );
        assert_eq!(step(&present(5, "old"), &op, &Outcome::Absent), None);
        assert_eq!(step(&present(5, "old"), &op, &Outcome::NoUniqueMatch), None);
        assert_eq!(step(&present(5, "old"), &op, &found(5, "old")), None);
    }

    #[test]
    fn write_after_an_unobserved_version_skips_at_least_one_value() {
        // The unobserved version is at least 6, so the next is at least 7.
        let op = write_if("new", Precondition::None);
        let state = present_unobserved(5, "old");
        assert_eq!(step(&state, &op, &applied(6)), None);
        assert_eq!(step(&state, &op, &applied(7)), Some(present(7, "new")));
    }

    #[test]
    fn if_version_write_applies_only_at_that_version() {
        let op = write_if("new", Precondition::IfVersion(5));
        assert_eq!(
            step(&present(5, "old"), &op, &applied(6)),
            Some(present(6, "new"))
        );
        assert_eq!(step(&present(4, "old"), &op, &applied(6)), None);
        assert_eq!(step(&absent(0), &op, &applied(6)), None);
        assert_eq!(step(&present(5, "old"), &op, &Outcome::Conflict), None);
        assert_eq!(
            step(&present(4, "old"), &op, &Outcome::Conflict),
            Some(present(4, "old"))
        );
        assert_eq!(step(&absent(3), &op, &Outcome::Conflict), Some(absent(3)));
        // The precondition observes an unobserved version.
        assert_eq!(
            step(&present_unobserved(2, "old"), &op, &applied(9)),
            Some(present(9, "new"))
        );
        assert_eq!(step(&present_unobserved(5, "old"), &op, &applied(9)), None);
    }

    #[test]
    fn if_version_conflict_rules_out_that_version() {
        let state = present_unobserved(2, "old");
        let after_conflict = step(
            &state,
            &write_if("new", Precondition::IfVersion(7)),
            &Outcome::Conflict,
        )
        .unwrap();
        assert_eq!(step(&after_conflict, &Op::Read, &found(7, "old")), None);
        assert_eq!(
            step(&after_conflict, &Op::Read, &found(8, "old")),
            Some(present(8, "old"))
        );
        // Excluding the least value raises the bound a later write must exceed.
        let after_second_conflict = step(
            &state,
            &write_if("new", Precondition::IfVersion(3)),
            &Outcome::Conflict,
        )
        .unwrap();
        assert_eq!(after_second_conflict, present_unobserved(3, "old"));
        let unconditional = write_if("newer", Precondition::None);
        assert_eq!(
            step(&after_second_conflict, &unconditional, &applied(4)),
            None
        );
        assert!(step(&after_second_conflict, &unconditional, &applied(5)).is_some());
    }

    #[test]
    fn if_absent_write_applies_only_when_absent() {
        let op = write_if("new", Precondition::IfAbsent);
        assert_eq!(step(&absent(4), &op, &applied(5)), Some(present(5, "new")));
        assert_eq!(step(&absent(4), &op, &applied(4)), None);
        assert_eq!(step(&present(4, "old"), &op, &applied(5)), None);
        assert_eq!(step(&absent(4), &op, &Outcome::Conflict), None);
        assert_eq!(
            step(&present(4, "old"), &op, &Outcome::Conflict),
            Some(present(4, "old"))
        );
    }

    #[test]
    fn unknown_write_that_took_effect_has_an_unobserved_version() {
        let unconditional = write_if("new", Precondition::None);
        assert_eq!(
            step(&present(5, "old"), &unconditional, &Outcome::Unknown),
            Some(present_unobserved(5, "new"))
        );
        assert_eq!(
            step(&absent(3), &unconditional, &Outcome::Unknown),
            Some(present_unobserved(3, "new"))
        );
        // Chained unknown writes: each one at least one above the last.
        assert_eq!(
            step(
                &present_unobserved(5, "old"),
                &unconditional,
                &Outcome::Unknown
            ),
            Some(present_unobserved(6, "new"))
        );
        let conditional = write_if("new", Precondition::IfVersion(5));
        assert_eq!(
            step(&present(5, "old"), &conditional, &Outcome::Unknown),
            Some(present_unobserved(5, "new"))
        );
        // A write that could not have taken effect is left to the checker.
        assert_eq!(
            step(&present(4, "old"), &conditional, &Outcome::Unknown),
            None
        );
        let create = write_if("new", Precondition::IfAbsent);
        assert_eq!(step(&present(4, "old"), &create, &Outcome::Unknown), None);
        assert_eq!(
            step(&absent(4), &create, &Outcome::Unknown),
            Some(present_unobserved(4, "new"))
        );
    }

    #[test]
    fn str_replace_applies_to_a_unique_occurrence() {
        let op = str_replace("world", "there");
        assert_eq!(
            step(&present(1, "hello world!"), &op, &applied(2)),
            Some(present(2, "hello there!"))
        );
        assert_eq!(step(&present(1, "hello world!"), &op, &applied(1)), None);
        assert_eq!(
            step(&present(1, "hello world!"), &op, &Outcome::NoUniqueMatch),
            None
        );
        assert_eq!(
            step(&present(1, "hello world!"), &op, &Outcome::Absent),
            None
        );
        assert_eq!(
            step(
                &present(1, "hello world!"),
                &op,
                &Outcome::Applied { version: None }
            ),
            None
        );
        assert_eq!(
            step(&present(1, "hello world!"), &op, &Outcome::Unknown),
            Some(present_unobserved(1, "hello there!"))
        );
    }

    #[test]
    fn str_replace_without_a_unique_occurrence_changes_nothing() {
        let op = str_replace("ab", "x");
        for content in ["", "cd", "ab ab", "a b"] {
            let state = present(3, content);
            assert_eq!(
                step(&state, &op, &Outcome::NoUniqueMatch),
                Some(state.clone()),
                "{content:?}"
            );
            assert_eq!(step(&state, &op, &applied(4)), None, "{content:?}");
            assert_eq!(step(&state, &op, &Outcome::Unknown), None, "{content:?}");
        }
    }

    #[test]
    fn str_replace_counts_overlapping_occurrences() {
        assert_eq!(unique_occurrence("aaa", "aa"), None);
        assert_eq!(unique_occurrence("aab", "aa"), Some(0));
        assert_eq!(unique_occurrence("abab", "aba"), Some(0));
        assert_eq!(unique_occurrence("ababa", "aba"), None);
        assert_eq!(unique_occurrence("héllo wörld", "ö"), Some(8));
        assert_eq!(unique_occurrence("ab", ""), None);
        assert_eq!(unique_occurrence("", ""), Some(0));
        let op = str_replace("aa", "b");
        assert_eq!(
            step(&present(1, "aaa"), &op, &Outcome::NoUniqueMatch),
            Some(present(1, "aaa"))
        );
        assert_eq!(step(&present(1, "aaa"), &op, &applied(2)), None);
        assert_eq!(
            step(
                &present(1, "héllo wörld"),
                &str_replace("ö", "o"),
                &applied(2)
            ),
            Some(present(2, "héllo world"))
        );
    }

    #[test]
    fn str_replace_on_an_absent_file_answers_absent() {
        let op = str_replace("a", "b");
        assert_eq!(step(&absent(2), &op, &Outcome::Absent), Some(absent(2)));
        assert_eq!(step(&absent(2), &op, &applied(3)), None);
        assert_eq!(step(&absent(2), &op, &Outcome::NoUniqueMatch), None);
        assert_eq!(step(&absent(2), &op, &Outcome::Unknown), None);
    }

    #[test]
    fn delete_makes_a_present_file_absent() {
        let deleted = Outcome::Applied { version: None };
        assert_eq!(
            step(&present(4, "a"), &Op::Delete, &deleted),
            Some(absent(4))
        );
        assert_eq!(step(&absent(4), &Op::Delete, &deleted), None);
        assert_eq!(
            step(&absent(4), &Op::Delete, &Outcome::Absent),
            Some(absent(4))
        );
        assert_eq!(step(&present(4, "a"), &Op::Delete, &Outcome::Absent), None);
        assert_eq!(step(&present(4, "a"), &Op::Delete, &applied(5)), None);
        assert_eq!(
            step(&present(4, "a"), &Op::Delete, &Outcome::Unknown),
            Some(absent(4))
        );
        assert_eq!(step(&absent(4), &Op::Delete, &Outcome::Unknown), None);
        // The version of a file created again still grows.
        assert_eq!(
            step(&present_unobserved(4, "a"), &Op::Delete, &deleted),
            Some(absent(5))
        );
        let create = write_if("b", Precondition::IfAbsent);
        assert_eq!(step(&absent(4), &create, &applied(4)), None);
        assert_eq!(
            step(&absent(4), &create, &applied(5)),
            Some(present(5, "b"))
        );
    }

    #[test]
    fn versions_from_bounds_every_version_told_later() {
        assert_eq!(FileState::initial().versions_from(), 1);
        assert_eq!(absent(4).versions_from(), 5);
        assert_eq!(present(4, "a").versions_from(), 4);
        assert_eq!(present_unobserved(4, "a").versions_from(), 5);
        let conditional = write_if("b", Precondition::IfVersion(3));
        assert_eq!(version_told(&conditional, &applied(9)), Some(3));
        assert_eq!(version_told(&conditional, &Outcome::Conflict), None);
        assert_eq!(version_told(&conditional, &Outcome::Unknown), None);
        let unconditional = write_if("b", Precondition::None);
        assert_eq!(version_told(&unconditional, &applied(9)), Some(9));
        assert_eq!(version_told(&Op::Read, &found(7, "a")), Some(7));
        assert_eq!(version_told(&Op::Read, &Outcome::Absent), None);
        assert_eq!(
            version_told(&Op::Delete, &Outcome::Applied { version: None }),
            None
        );
        // Every rule keeps the bound: told versions below it never fit.
        let states = [
            absent(4),
            present(4, "a"),
            present_unobserved(4, "a"),
            FileState::Present {
                version: Version::unobserved(4, vec![7]),
                content: "a".to_owned(),
            },
        ];
        let ops = [
            Op::Read,
            Op::Delete,
            unconditional,
            conditional,
            write_if("b", Precondition::IfVersion(5)),
            write_if("b", Precondition::IfAbsent),
            str_replace("a", "b"),
        ];
        let mut outcomes = vec![
            Outcome::Absent,
            Outcome::Applied { version: None },
            Outcome::Conflict,
            Outcome::NoUniqueMatch,
            Outcome::Unknown,
        ];
        for version in 0..10 {
            outcomes.push(applied(version));
            outcomes.push(found(version, "a"));
        }
        for state in &states {
            for op in &ops {
                for outcome in &outcomes {
                    let Some(next) = step(state, op, outcome) else {
                        continue;
                    };
                    assert!(next.versions_from() >= state.versions_from(), "{next:?}");
                    if let Some(told) = version_told(op, outcome) {
                        assert!(told >= state.versions_from(), "{op:?} {outcome:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn subsumption_compares_what_can_follow() {
        assert!(absent(3).subsumes(&absent(3)));
        assert!(absent(3).subsumes(&absent(5)));
        assert!(!absent(5).subsumes(&absent(3)));
        assert!(!absent(0).subsumes(&present(1, "a")));
        assert!(!present(1, "a").subsumes(&absent(0)));
        assert!(present(4, "a").subsumes(&present(4, "a")));
        assert!(!present(4, "a").subsumes(&present(5, "a")));
        assert!(!present(4, "a").subsumes(&present(4, "b")));
        assert!(present_unobserved(3, "a").subsumes(&present(4, "a")));
        assert!(!present_unobserved(4, "a").subsumes(&present(4, "a")));
        assert!(!present(4, "a").subsumes(&present_unobserved(3, "a")));
        assert!(present_unobserved(3, "a").subsumes(&present_unobserved(3, "a")));
        assert!(present_unobserved(3, "a").subsumes(&present_unobserved(5, "a")));
        assert!(!present_unobserved(5, "a").subsumes(&present_unobserved(3, "a")));
        assert!(!present_unobserved(3, "a").subsumes(&present_unobserved(3, "b")));
        let excluding = |greater_than, excluded: Vec<u64>| FileState::Present {
            version: Version::unobserved(greater_than, excluded),
            content: "a".to_owned(),
        };
        assert!(!excluding(3, vec![9]).subsumes(&present_unobserved(3, "a")));
        assert!(present_unobserved(3, "a").subsumes(&excluding(3, vec![9])));
        assert!(excluding(3, vec![9]).subsumes(&excluding(5, vec![9, 12])));
        assert!(excluding(3, vec![5]).subsumes(&excluding(6, vec![])));
        assert!(!excluding(3, vec![9]).subsumes(&excluding(5, vec![12])));
        assert!(!excluding(3, vec![9]).subsumes(&present(9, "a")));
    }

    #[test]
    fn unobserved_version_is_canonical() {
        assert_eq!(
            Version::unobserved(3, vec![9, 4, 2, 5, 9, 7]),
            Version::Unobserved {
                greater_than: 5,
                excluded: vec![7, 9],
            }
        );
        let version = Version::unobserved(3, vec![9, 4, 7]);
        assert!(!version.admits(3));
        assert!(!version.admits(4));
        assert!(version.admits(5));
        assert!(!version.admits(7));
        assert!(version.admits(8));
        assert_eq!(version.least_possible(), 5);
    }
}
