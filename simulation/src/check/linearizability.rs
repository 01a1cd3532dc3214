//! A linearizability checker for the history of one path, after Wing & Gong
//! with Lowe's memoization, as in Porcupine.
//!
//! Every operation is a call entry at `invoked_ns` and a return entry at
//! `completed_ns`, in one list sorted by time. The search walks that list
//! depth first: at a call it tries to apply the operation to the model next
//! (and lifts its call and return out of the list); at a return it has
//! found an operation that answered before anything left could go first,
//! so it undoes the last choice.
//!
//! An operation with `Outcome::Unknown` (a lost answer) may take effect at
//! any time after it was invoked, or never. It has no return entry, and its
//! call is kept in a second list; the search succeeds once every operation
//! with a known outcome is placed. Lost answers multiply the orders to try,
//! so the search prunes, each rule sound on its own terms and all checked
//! against a brute-force search in the tests:
//! - dead ends: a configuration (operations placed, model state) is skipped
//!   when one no worse led nowhere (`DeadEnds`); Lowe's memo, extended to
//!   count a configuration with more lost operations placed, or less
//!   latitude on the version, as no better;
//! - lost operations are tried after the known-outcome ones, and only
//!   followed by an operation that depends on them
//!   (`Search::defers_to_another_order`);
//! - identical lost operations are placed in the order of their calls;
//! - versions only grow: an order is dropped as soon as a known-outcome
//!   operation left to place was told a version that can no longer be seen.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::model::{FileState, step, version_told};
use crate::history::{Event, Op, Outcome};

/// The verdict on one path's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    Linearizable,
    /// No order of the operations explains what agents were told.
    NotLinearizable {
        explanation: String,
    },
    /// The search ran out of its step budget first.
    Unknown,
}

/// How many operations of the longest linearizable prefix an explanation shows.
const EXPLANATION_PREFIX_OPERATIONS_MAX: usize = 10;
/// How many candidates for the place after that prefix an explanation shows.
const EXPLANATION_CANDIDATES_MAX: usize = 10;
/// Longer descriptions of an event or a state are cut to this.
const DESCRIPTION_CHARS_MAX: usize = 240;

/// Checks that `events`, the history of one path, is linearizable with
/// respect to the model in `super::model`, in at most `budget` search
/// steps (each one an attempt to place an operation, or an undo).
///
/// Events with `Outcome::NotApplied`, and reads with `Outcome::Unknown`, are
/// dropped: they cannot have changed anything. The `completed_ns` of an
/// event with `Outcome::Unknown` is ignored.
///
/// # Panics
/// If the events are of several paths, or an event with a known outcome has
/// no completion time or completed before it was invoked: the history is
/// then malformed, which is a bug in whoever recorded it.
pub fn check(events: &[Event], budget: u64) -> CheckResult {
    if let Some(first) = events.first() {
        assert!(
            events.iter().all(|event| event.path == first.path),
            "linearizability::check takes the history of one path; got {:?} and others",
            first.path
        );
    }
    let events: Vec<&Event> = events
        .iter()
        .filter(|event| {
            !matches!(
                (&event.op, &event.outcome),
                (_, Outcome::NotApplied) | (Op::Read, Outcome::Unknown)
            )
        })
        .collect();
    for event in &events {
        if event.outcome != Outcome::Unknown {
            let completed_ns = event.completed_ns.unwrap_or_else(|| {
                panic!("an event with a known outcome has no completion time: {event:?}")
            });
            assert!(
                completed_ns >= event.invoked_ns,
                "an event completed before it was invoked: {event:?}"
            );
        }
    }
    Search::new(&events).run(budget)
}

/// No entry: the end of a list.
const NONE: usize = usize::MAX;
/// The sentinel before the first entry of the list of calls and returns of
/// the operations with a known outcome.
const KNOWN_HEAD: usize = 0;
/// The sentinel before the first entry of the list of calls of the
/// operations with an unknown outcome.
const UNKNOWN_HEAD: usize = 1;

struct Entry {
    /// Index into `Search::operations`.
    operation: usize,
    time_ns: u64,
    is_call: bool,
    /// The return entry of a call with a known outcome, else `NONE`.
    return_entry: usize,
    previous: usize,
    next: usize,
}

struct Operation<'a> {
    event: &'a Event,
    outcome_known: bool,
    /// Its bit in the set of placed operations of its kind (known outcome or not).
    slot: usize,
    /// For an unknown-outcome operation, the one invoked last before it
    /// that is identical (same `Op`), else `NONE`. Identical lost operations
    /// are interchangeable, and the earlier one can go wherever the later
    /// one can, so the search places them in the order of their calls.
    identical_before: usize,
}

/// The versions told to the known-outcome operations not placed yet (see
/// `version_told`), as a multiset.
struct VersionsTold(BTreeMap<u64, usize>);

impl VersionsTold {
    fn insert(&mut self, version: Option<u64>) {
        if let Some(version) = version {
            *self.0.entry(version).or_default() += 1;
        }
    }

    fn remove(&mut self, version: Option<u64>) {
        let Some(version) = version else {
            return;
        };
        let count = self
            .0
            .get_mut(&version)
            .expect("removed a version never inserted");
        *count -= 1;
        if *count == 0 {
            self.0.remove(&version);
        }
    }

    /// The least version told, leaving out one `version`.
    fn least_without(&self, version: Option<u64>) -> Option<u64> {
        let mut versions = self.0.iter();
        let (&least, &count) = versions.next()?;
        if Some(least) == version && count == 1 {
            versions.next().map(|(&next, _)| next)
        } else {
            Some(least)
        }
    }
}

/// A set of operations, one bit each.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn new(bits: usize) -> Bitset {
        Bitset(vec![0; bits.div_ceil(64)])
    }

    fn insert(&mut self, bit: usize) {
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    fn remove(&mut self, bit: usize) {
        self.0[bit / 64] &= !(1 << (bit % 64));
    }

    fn contains(&self, bit: usize) -> bool {
        self.0[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn is_subset_of(&self, other: &Bitset) -> bool {
        self.0
            .iter()
            .zip(&other.0)
            .all(|(mine, theirs)| mine & !theirs == 0)
    }
}

/// The operations placed so far.
#[derive(Clone)]
struct Placed {
    known_outcome: Bitset,
    unknown_outcome: Bitset,
}

/// Configurations from which no linearization exists.
///
/// A configuration is no better than a dead end with the same known-outcome
/// operations placed, a subset of its unknown-outcome ones (those are
/// optional, and block nothing), and a state that subsumes its own (see
/// `FileState::subsumes`): whatever could follow it could follow the dead
/// end. So the dead ends are kept by known-outcome operations placed, then
/// by content, which subsumption needs to be the same, and only those that
/// no other covers.
#[derive(Default)]
struct DeadEnds(HashMap<Bitset, DeadEndsByContent>);

#[derive(Default)]
struct DeadEndsByContent {
    absent: Vec<DeadEnd>,
    present: HashMap<String, Vec<DeadEnd>>,
}

struct DeadEnd {
    unknown_outcome: Bitset,
    state: FileState,
}

impl DeadEnd {
    fn covers(&self, state: &FileState, unknown_outcome: &Bitset) -> bool {
        self.unknown_outcome.is_subset_of(unknown_outcome) && self.state.subsumes(state)
    }
}

impl DeadEnds {
    /// Whether a configuration is known to lead nowhere.
    fn contains(&self, state: &FileState, placed: &Placed) -> bool {
        let Some(by_content) = self.0.get(&placed.known_outcome) else {
            return false;
        };
        let dead_ends = match state {
            FileState::Absent { .. } => Some(&by_content.absent),
            FileState::Present { content, .. } => by_content.present.get(content.as_str()),
        };
        dead_ends.is_some_and(|dead_ends| {
            dead_ends
                .iter()
                .any(|dead_end| dead_end.covers(state, &placed.unknown_outcome))
        })
    }

    fn insert(&mut self, state: &FileState, placed: &Placed) {
        let by_content = self.0.entry(placed.known_outcome.clone()).or_default();
        let dead_ends = match state {
            FileState::Absent { .. } => &mut by_content.absent,
            FileState::Present { content, .. } => {
                by_content.present.entry(content.clone()).or_default()
            }
        };
        let new = DeadEnd {
            unknown_outcome: placed.unknown_outcome.clone(),
            state: state.clone(),
        };
        debug_assert!(
            !dead_ends
                .iter()
                .any(|dead_end| dead_end.covers(state, &placed.unknown_outcome)),
            "a dead end was explored twice"
        );
        dead_ends.retain(|dead_end| !new.covers(&dead_end.state, &dead_end.unknown_outcome));
        dead_ends.push(new);
    }
}

/// Where the walk is.
#[derive(Clone, Copy)]
enum Cursor {
    /// At this entry of the known-outcome list.
    Known(usize),
    /// At this entry of the unknown-outcome list, having reached `barrier`,
    /// the first return in the known-outcome list: only calls up to its
    /// time are candidates.
    Unknown { entry: usize, barrier: usize },
}

/// A placed operation.
struct Frame {
    call: usize,
    /// The model state before it.
    previous_state: FileState,
    /// Where the walk resumes if it is undone.
    resume: Cursor,
}

/// The best partial result, for the explanation of a failure.
struct LongestPrefix {
    /// The operations placed, in order.
    operations: Vec<usize>,
    state: FileState,
    /// The operation whose return was reached with that prefix placed (it
    /// could not be placed next), and the operations that were candidates.
    blocked: Option<(usize, Vec<usize>)>,
}

struct Search<'a> {
    operations: Vec<Operation<'a>>,
    known_outcome_count: usize,
    /// Two doubly linked lists, from `KNOWN_HEAD` and `UNKNOWN_HEAD`.
    entries: Vec<Entry>,
}

impl<'a> Search<'a> {
    fn new(events: &[&'a Event]) -> Search<'a> {
        let mut operations = Vec::with_capacity(events.len());
        let (mut known_outcome_count, mut unknown_outcome_count) = (0, 0);
        for &event in events {
            let outcome_known = event.outcome != Outcome::Unknown;
            let count = if outcome_known {
                &mut known_outcome_count
            } else {
                &mut unknown_outcome_count
            };
            operations.push(Operation {
                event,
                outcome_known,
                slot: *count,
                identical_before: NONE,
            });
            *count += 1;
        }

        // (time, is return, operation): at equal times calls come first, so
        // that an operation that answered when another was sent counts as
        // concurrent with it, which can only accept more histories.
        let mut known_points: Vec<(u64, bool, usize)> = Vec::new();
        let mut unknown_points: Vec<(u64, bool, usize)> = Vec::new();
        for (index, operation) in operations.iter().enumerate() {
            let event = operation.event;
            if operation.outcome_known {
                let completed_ns = event.completed_ns.expect("checked by `check`");
                known_points.push((event.invoked_ns, false, index));
                known_points.push((completed_ns, true, index));
            } else {
                unknown_points.push((event.invoked_ns, false, index));
            }
        }
        known_points.sort_unstable();
        unknown_points.sort_unstable();
        for (position, &(_, _, operation)) in unknown_points.iter().enumerate() {
            let op = &operations[operation].event.op;
            operations[operation].identical_before = unknown_points[..position]
                .iter()
                .rev()
                .map(|&(_, _, earlier)| earlier)
                .find(|&earlier| operations[earlier].event.op == *op)
                .unwrap_or(NONE);
        }

        let sentinel = Entry {
            operation: NONE,
            time_ns: 0,
            is_call: false,
            return_entry: NONE,
            previous: NONE,
            next: NONE,
        };
        let mut entries = vec![sentinel];
        entries.push(Entry { ..entries[0] });
        let mut call_entry_of = vec![NONE; operations.len()];
        for (head, points) in [(KNOWN_HEAD, known_points), (UNKNOWN_HEAD, unknown_points)] {
            let mut previous = head;
            for (time_ns, is_return, operation) in points {
                let index = entries.len();
                if is_return {
                    let call = call_entry_of[operation];
                    assert!(call != NONE, "a return is sorted before its call");
                    entries[call].return_entry = index;
                } else {
                    call_entry_of[operation] = index;
                }
                entries.push(Entry {
                    operation,
                    time_ns,
                    is_call: !is_return,
                    return_entry: NONE,
                    previous,
                    next: NONE,
                });
                entries[previous].next = index;
                previous = index;
            }
        }
        Search {
            operations,
            known_outcome_count,
            entries,
        }
    }

    fn unlink(&mut self, index: usize) {
        let Entry { previous, next, .. } = self.entries[index];
        self.entries[previous].next = next;
        if next != NONE {
            self.entries[next].previous = previous;
        }
    }

    /// Undoes `unlink(index)`; undos must come in the reverse order.
    fn relink(&mut self, index: usize) {
        let Entry { previous, next, .. } = self.entries[index];
        self.entries[previous].next = index;
        if next != NONE {
            self.entries[next].previous = index;
        }
    }

    /// Takes an operation's call and return out of their list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        let return_entry = self.entries[call].return_entry;
        if return_entry != NONE {
            self.unlink(return_entry);
        }
    }

    fn unlift(&mut self, call: usize) {
        let return_entry = self.entries[call].return_entry;
        if return_entry != NONE {
            self.relink(return_entry);
        }
        self.relink(call);
    }

    fn placed_insert(&self, placed: &mut Placed, operation: usize) {
        let Operation {
            outcome_known,
            slot,
            ..
        } = self.operations[operation];
        if outcome_known {
            placed.known_outcome.insert(slot);
        } else {
            placed.unknown_outcome.insert(slot);
        }
    }

    fn is_placed(&self, placed: &Placed, operation: usize) -> bool {
        let Operation {
            outcome_known,
            slot,
            ..
        } = self.operations[operation];
        let set = if outcome_known {
            &placed.known_outcome
        } else {
            &placed.unknown_outcome
        };
        set.contains(slot)
    }

    fn placed_remove(&self, placed: &mut Placed, operation: usize) {
        let Operation {
            outcome_known,
            slot,
            ..
        } = self.operations[operation];
        if outcome_known {
            placed.known_outcome.remove(slot);
        } else {
            placed.unknown_outcome.remove(slot);
        }
    }

    fn run(mut self, budget: u64) -> CheckResult {
        let mut remaining_with_known_outcome = self.known_outcome_count;
        let mut placed = Placed {
            known_outcome: Bitset::new(self.known_outcome_count),
            unknown_outcome: Bitset::new(self.operations.len() - self.known_outcome_count),
        };
        let mut dead_ends = DeadEnds::default();
        let mut versions_told = VersionsTold(BTreeMap::new());
        for operation in &self.operations {
            if operation.outcome_known {
                versions_told.insert(version_told(&operation.event.op, &operation.event.outcome));
            }
        }
        let mut stack: Vec<Frame> = Vec::new();
        let mut state = FileState::initial();
        let mut longest = LongestPrefix {
            operations: Vec::new(),
            state: state.clone(),
            blocked: None,
        };
        let mut steps: u64 = 0;
        let mut cursor = Cursor::Known(self.entries[KNOWN_HEAD].next);

        while remaining_with_known_outcome > 0 {
            if steps >= budget {
                return CheckResult::Unknown;
            }
            steps += 1;
            // The call to try next, and where to go if it does not fit.
            let (call, resume) = match cursor {
                Cursor::Known(entry) => {
                    // A return is left in the list while an operation with a
                    // known outcome remains, and the walk stops at the first.
                    assert!(entry != NONE, "the walk ran past the last return");
                    let Entry { is_call, next, .. } = self.entries[entry];
                    if !is_call {
                        cursor = Cursor::Unknown {
                            entry: self.entries[UNKNOWN_HEAD].next,
                            barrier: entry,
                        };
                        continue;
                    }
                    (entry, Cursor::Known(next))
                }
                Cursor::Unknown { entry, barrier } => {
                    if entry != NONE && self.entries[entry].time_ns <= self.entries[barrier].time_ns
                    {
                        let next = self.entries[entry].next;
                        (
                            entry,
                            Cursor::Unknown {
                                entry: next,
                                barrier,
                            },
                        )
                    } else {
                        // The operation of `barrier` answered before any
                        // operation left could go next: undo the last choice.
                        if stack.len() == longest.operations.len() && longest.blocked.is_none() {
                            let blocked = self.entries[barrier].operation;
                            longest.blocked = Some((blocked, self.candidates_before(barrier)));
                        }
                        let Some(frame) = stack.pop() else {
                            return CheckResult::NotLinearizable {
                                explanation: self.explain(&longest),
                            };
                        };
                        dead_ends.insert(&state, &placed);
                        let undone = self.entries[frame.call].operation;
                        self.placed_remove(&mut placed, undone);
                        let Operation {
                            event,
                            outcome_known,
                            ..
                        } = self.operations[undone];
                        if outcome_known {
                            remaining_with_known_outcome += 1;
                            versions_told.insert(version_told(&event.op, &event.outcome));
                        }
                        state = frame.previous_state;
                        self.unlift(frame.call);
                        cursor = frame.resume;
                        continue;
                    }
                }
            };

            let operation = self.entries[call].operation;
            let Operation {
                event,
                outcome_known,
                identical_before,
                ..
            } = self.operations[operation];
            cursor = resume;
            if identical_before != NONE && !self.is_placed(&placed, identical_before) {
                continue;
            }
            let Some(next_state) = step(&state, &event.op, &event.outcome) else {
                continue;
            };
            // Versions only grow: an operation left to place that was told
            // a version below what can still be seen will never fit.
            let told = outcome_known
                .then(|| version_told(&event.op, &event.outcome))
                .flatten();
            if versions_told
                .least_without(told)
                .is_some_and(|least| least < next_state.versions_from())
            {
                continue;
            }
            if self.defers_to_another_order(&stack, operation, &next_state) {
                continue;
            }
            self.placed_insert(&mut placed, operation);
            if dead_ends.contains(&next_state, &placed) {
                self.placed_remove(&mut placed, operation);
                continue;
            }
            stack.push(Frame {
                call,
                previous_state: std::mem::replace(&mut state, next_state),
                resume,
            });
            if outcome_known {
                remaining_with_known_outcome -= 1;
                versions_told.remove(told);
            }
            self.lift(call);
            if stack.len() > longest.operations.len() {
                longest = LongestPrefix {
                    operations: stack
                        .iter()
                        .map(|frame| self.entries[frame.call].operation)
                        .collect(),
                    state: state.clone(),
                    blocked: None,
                };
            }
            cursor = Cursor::Known(self.entries[KNOWN_HEAD].next);
        }
        CheckResult::Linearizable
    }

    /// Whether placing `operation`, to reach `next_state`, right after an
    /// unknown-outcome operation is pointless because another order that
    /// the search tries anyway does at least as well:
    /// - `operation` placed instead, leaving the unknown-outcome one out,
    ///   fits and leads to a state that subsumes `next_state` (say, two
    ///   writes in a row, the first one lost): one lost operation fewer;
    /// - `operation` has a known outcome, and placed first, then the
    ///   unknown-outcome one, both fit and lead to such a state (say, a
    ///   conditional write that conflicts either way): lost operations are
    ///   tried as late as possible.
    ///
    /// So a lost operation is only followed by one that depends on it. This
    /// spares the search the many orders and subsets of lost operations that
    /// nothing observed. The second rule is only for known-outcome
    /// operations, so that two orders never each defer to the other.
    fn defers_to_another_order(
        &self,
        stack: &[Frame],
        operation: usize,
        next_state: &FileState,
    ) -> bool {
        let Some(last) = stack.last() else {
            return false;
        };
        let last_event = self.operations[self.entries[last.call].operation].event;
        if last_event.outcome != Outcome::Unknown {
            return false;
        }
        let Operation {
            event,
            outcome_known,
            ..
        } = self.operations[operation];
        let Some(instead) = step(&last.previous_state, &event.op, &event.outcome) else {
            return false;
        };
        if instead.subsumes(next_state) {
            return true;
        }
        outcome_known
            && step(&instead, &last_event.op, &last_event.outcome)
                .is_some_and(|swapped| swapped.subsumes(next_state))
    }

    /// The operations that could have been placed next when the walk
    /// reached `barrier`, the first return in the known-outcome list.
    fn candidates_before(&self, barrier: usize) -> Vec<usize> {
        let mut candidates = Vec::new();
        let mut current = self.entries[KNOWN_HEAD].next;
        while current != barrier && current != NONE {
            candidates.push(self.entries[current].operation);
            current = self.entries[current].next;
        }
        let mut current = self.entries[UNKNOWN_HEAD].next;
        while current != NONE && self.entries[current].time_ns <= self.entries[barrier].time_ns {
            candidates.push(self.entries[current].operation);
            current = self.entries[current].next;
        }
        candidates
    }

    fn explain(&self, longest: &LongestPrefix) -> String {
        let describe = |operation: usize| describe_event(self.operations[operation].event);
        let mut text = String::new();
        let _ = writeln!(
            text,
            "no order of the {} operations ({} with a known outcome) explains the history; \
             the longest linearizable prefix places {}:",
            self.operations.len(),
            self.known_outcome_count,
            longest.operations.len()
        );
        let skipped = longest
            .operations
            .len()
            .saturating_sub(EXPLANATION_PREFIX_OPERATIONS_MAX);
        if skipped > 0 {
            let _ = writeln!(text, "  ... {skipped} earlier operations");
        }
        for (position, &operation) in longest.operations.iter().enumerate().skip(skipped) {
            let _ = writeln!(text, "  {}. {}", position + 1, describe(operation));
        }
        let _ = writeln!(
            text,
            "leaving the file {}.",
            truncated(format!("{:?}", longest.state))
        );
        match &longest.blocked {
            Some((blocked, candidates)) => {
                let _ = writeln!(
                    text,
                    "The next place must be taken before this operation answered:\n  {}\n\
                     but no candidate fits there:",
                    describe(*blocked)
                );
                for &candidate in candidates.iter().take(EXPLANATION_CANDIDATES_MAX) {
                    let _ = writeln!(
                        text,
                        "  {}\n    {}",
                        describe(candidate),
                        self.why_not_next(longest, candidate)
                    );
                }
                if candidates.len() > EXPLANATION_CANDIDATES_MAX {
                    let _ = writeln!(
                        text,
                        "  ... {} more",
                        candidates.len() - EXPLANATION_CANDIDATES_MAX
                    );
                }
            }
            // Unreachable: the search fails at a return, with the longest
            // prefix at most as long as the stack was then.
            None => text.push_str("No operation was found to block it.\n"),
        }
        text
    }
}

impl Search<'_> {
    /// Why `candidate` cannot follow the longest prefix, in a sentence.
    fn why_not_next(&self, longest: &LongestPrefix, candidate: usize) -> String {
        let event = self.operations[candidate].event;
        let Some(next_state) = step(&longest.state, &event.op, &event.outcome) else {
            return if event.outcome == Outcome::Unknown {
                "could not have taken effect in that state".to_owned()
            } else {
                "does not fit that state".to_owned()
            };
        };
        let mut in_prefix = vec![false; self.operations.len()];
        for &operation in &longest.operations {
            in_prefix[operation] = true;
        }
        let versions_from = next_state.versions_from();
        let starved = (0..self.operations.len())
            .filter(|&other| {
                other != candidate && !in_prefix[other] && self.operations[other].outcome_known
            })
            .filter_map(|other| {
                let other_event = self.operations[other].event;
                let told = version_told(&other_event.op, &other_event.outcome)?;
                (told < versions_from).then_some((told, other))
            })
            .min();
        match starved {
            Some((told, other)) => format!(
                "fits, but then versions are from {versions_from} on, so this one, \
                 told version {told}, never fits: {}",
                describe_event(self.operations[other].event)
            ),
            None => "fits, but no order of the rest fits after it".to_owned(),
        }
    }
}

fn describe_event(event: &Event) -> String {
    let completed = match (&event.outcome, event.completed_ns) {
        (Outcome::Unknown, _) | (_, None) => "never".to_owned(),
        (_, Some(completed_ns)) => completed_ns.to_string(),
    };
    truncated(format!(
        "client {} [{}..{} ns] {:?} -> {:?}",
        event.client, event.invoked_ns, completed, event.op, event.outcome
    ))
}

fn truncated(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(DESCRIPTION_CHARS_MAX) {
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::history::Precondition;
    use crate::history::build::{applied, found, str_replace, write_if};

    const BUDGET: u64 = 1_000_000;

    fn event(client: u32, invoked_ns: u64, completed_ns: u64, op: Op, outcome: Outcome) -> Event {
        Event {
            client,
            path: "notes/a.md".to_owned(),
            op,
            outcome,
            invoked_ns,
            completed_ns: Some(completed_ns),
        }
    }

    fn unknown(client: u32, invoked_ns: u64, op: Op) -> Event {
        Event {
            client,
            path: "notes/a.md".to_owned(),
            op,
            outcome: Outcome::Unknown,
            invoked_ns,
            completed_ns: None,
        }
    }

    fn write(content: &str) -> Op {
        Op::Write {
            content: content.to_owned(),
            precondition: Precondition::None,
        }
    }

    fn assert_linearizable(events: &[Event]) {
        let result = check(events, BUDGET);
        assert_eq!(result, CheckResult::Linearizable, "{events:#?}");
    }

    /// Returns the explanation.
    fn assert_not_linearizable(events: &[Event]) -> String {
        match check(events, BUDGET) {
            CheckResult::NotLinearizable { explanation } => explanation,
            other => panic!("expected NotLinearizable, got {other:?} for {events:#?}"),
        }
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert_linearizable(&[]);
    }

    #[test]
    fn sequential_history_is_linearizable() {
        assert_linearizable(&[
            event(0, 0, 10, Op::Read, Outcome::Absent),
            event(0, 20, 30, write_if("a", Precondition::IfAbsent), applied(3)),
            event(1, 40, 50, Op::Read, found(3, "a")),
            event(
                1,
                60,
                70,
                write_if("b", Precondition::IfVersion(3)),
                applied(8),
            ),
            event(
                0,
                80,
                90,
                write_if("c", Precondition::IfVersion(3)),
                Outcome::Conflict,
            ),
            event(0, 100, 110, str_replace("b", "bb"), applied(9)),
            event(1, 120, 130, str_replace("b", "c"), Outcome::NoUniqueMatch),
            event(1, 140, 150, Op::Delete, Outcome::Applied { version: None }),
            event(0, 160, 170, Op::Read, Outcome::Absent),
            event(0, 180, 190, str_replace("b", "c"), Outcome::Absent),
            event(0, 200, 210, Op::Delete, Outcome::Absent),
            event(0, 220, 230, write("d"), applied(12)),
            event(1, 240, 250, Op::Read, found(12, "d")),
        ]);
    }

    #[test]
    fn concurrent_writes_read_in_either_order_are_linearizable() {
        // Two writes overlap; the one with the higher version went last.
        // Reads during the overlap may see either.
        let writes = [
            event(0, 0, 100, write("a"), applied(5)),
            event(1, 10, 90, write("b"), applied(4)),
        ];
        for seen in [found(4, "b"), found(5, "a")] {
            let mut history = writes.to_vec();
            history.push(event(2, 20, 30, Op::Read, seen));
            assert_linearizable(&history);
        }
        // After both completed, only the last one.
        let mut history = writes.to_vec();
        history.push(event(2, 110, 120, Op::Read, found(5, "a")));
        assert_linearizable(&history);
        let mut history = writes.to_vec();
        history.push(event(2, 110, 120, Op::Read, found(4, "b")));
        assert_not_linearizable(&history);
    }

    #[test]
    fn operations_touching_in_time_count_as_concurrent() {
        // The read was sent at the instant the write answered.
        assert_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            event(1, 10, 20, Op::Read, Outcome::Absent),
        ]);
        assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            event(1, 11, 20, Op::Read, Outcome::Absent),
        ]);
    }

    #[test]
    fn stale_read_after_a_completed_write_is_not_linearizable() {
        let explanation = assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            event(0, 20, 30, write("b"), applied(2)),
            event(1, 40, 50, Op::Read, found(1, "a")),
        ]);
        // The explanation names the read that cannot be placed once the
        // second write is.
        assert!(explanation.contains("places 1:"), "{explanation}");
        assert!(
            explanation.contains("told version 1, never fits: client 1 [40..50 ns] Read"),
            "{explanation}"
        );
    }

    #[test]
    fn read_of_a_value_no_one_wrote_is_not_linearizable() {
        assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            event(1, 5, 50, Op::Read, found(1, "z")),
        ]);
        assert_not_linearizable(&[event(1, 5, 50, Op::Read, found(1, ""))]);
    }

    #[test]
    fn unknown_write_that_is_later_read_is_linearizable() {
        assert_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            unknown(0, 20, write("b")),
            event(1, 1_000, 1_010, Op::Read, found(7, "b")),
            event(
                1,
                1_020,
                1_030,
                write_if("c", Precondition::IfVersion(7)),
                applied(9),
            ),
        ]);
        // Its version is learnt from the read: a conditional write on another
        // version cannot then apply.
        assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            unknown(0, 20, write("b")),
            event(1, 1_000, 1_010, Op::Read, found(7, "b")),
            event(
                1,
                1_020,
                1_030,
                write_if("c", Precondition::IfVersion(6)),
                applied(9),
            ),
        ]);
    }

    #[test]
    fn two_unknown_edits_that_commute_are_both_read_later() {
        // Either order of the lost edits gives the same file; the search
        // must still try one of them.
        assert_linearizable(&[
            event(0, 0, 10, write("a b"), applied(1)),
            unknown(1, 20, str_replace("a", "x")),
            unknown(2, 20, str_replace("b", "y")),
            event(0, 1_000, 1_010, Op::Read, found(9, "x y")),
        ]);
        // Two identical lost writes, the first one overwritten before the
        // second is read.
        assert_linearizable(&[
            unknown(1, 0, write("lost")),
            unknown(2, 0, write("lost")),
            event(0, 100, 110, Op::Read, found(3, "lost")),
            event(0, 120, 130, write("kept"), applied(4)),
            event(0, 140, 150, Op::Read, found(7, "lost")),
        ]);
        assert_not_linearizable(&[
            unknown(1, 0, write("lost")),
            unknown(2, 0, write("lost")),
            event(0, 100, 110, Op::Read, found(3, "lost")),
            event(0, 120, 130, write("kept"), applied(4)),
            event(0, 140, 150, Op::Read, found(7, "lost")),
            event(0, 160, 170, write("kept"), applied(8)),
            event(0, 180, 190, Op::Read, found(9, "lost")),
        ]);
    }

    #[test]
    fn unknown_write_that_is_never_read_is_linearizable() {
        assert_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            unknown(0, 20, write("b")),
            event(1, 1_000, 1_010, Op::Read, found(1, "a")),
        ]);
        assert_linearizable(&[unknown(0, 20, write("b"))]);
    }

    #[test]
    fn unknown_write_cannot_take_effect_before_it_was_invoked() {
        assert_not_linearizable(&[
            event(1, 0, 10, Op::Read, found(7, "b")),
            unknown(0, 20, write("b")),
        ]);
    }

    #[test]
    fn unknown_write_takes_a_version_above_the_previous_one() {
        // The unknown write went after version 5, so its version is above 5.
        assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(5)),
            unknown(0, 20, write("b")),
            event(1, 1_000, 1_010, Op::Read, found(5, "b")),
        ]);
        assert_linearizable(&[
            event(0, 0, 10, write("a"), applied(5)),
            unknown(0, 20, write("b")),
            event(1, 1_000, 1_010, Op::Read, found(6, "b")),
        ]);
    }

    #[test]
    fn lost_update_is_not_linearizable() {
        // Both conditional writes applied on version 3: one must have seen the other.
        assert_not_linearizable(&[
            event(0, 0, 10, write("base"), applied(3)),
            event(
                1,
                20,
                40,
                write_if("one", Precondition::IfVersion(3)),
                applied(4),
            ),
            event(
                2,
                25,
                45,
                write_if("two", Precondition::IfVersion(3)),
                applied(5),
            ),
        ]);
        // One of them conflicting is fine.
        assert_linearizable(&[
            event(0, 0, 10, write("base"), applied(3)),
            event(
                1,
                20,
                40,
                write_if("one", Precondition::IfVersion(3)),
                applied(4),
            ),
            event(
                2,
                25,
                45,
                write_if("two", Precondition::IfVersion(3)),
                Outcome::Conflict,
            ),
        ]);
        // So is two creations of which one conflicted, but not two that applied.
        assert_not_linearizable(&[
            event(
                1,
                20,
                40,
                write_if("one", Precondition::IfAbsent),
                applied(1),
            ),
            event(
                2,
                25,
                45,
                write_if("two", Precondition::IfAbsent),
                applied(2),
            ),
        ]);
    }

    #[test]
    fn conflict_that_no_state_explains_is_not_linearizable() {
        // The conditional write expected the only version the file ever had.
        assert_not_linearizable(&[
            event(0, 0, 10, write("base"), applied(3)),
            event(
                1,
                20,
                40,
                write_if("one", Precondition::IfVersion(3)),
                Outcome::Conflict,
            ),
        ]);
    }

    #[test]
    fn concurrent_str_replaces_are_linearizable_in_some_order() {
        // Both edits applied, each to its own part of the file.
        assert_linearizable(&[
            event(0, 0, 10, write("alpha beta"), applied(1)),
            event(1, 20, 60, str_replace("alpha", "ALPHA"), applied(3)),
            event(2, 25, 55, str_replace("beta", "BETA"), applied(2)),
            event(0, 70, 80, Op::Read, found(3, "ALPHA BETA")),
        ]);
        // Concurrent edits of the same text: only one can apply; the other
        // finds no match after it.
        assert_linearizable(&[
            event(0, 0, 10, write("alpha beta"), applied(1)),
            event(
                1,
                20,
                60,
                str_replace("alpha", "one"),
                Outcome::NoUniqueMatch,
            ),
            event(2, 25, 55, str_replace("alpha", "two"), applied(2)),
            event(0, 70, 80, Op::Read, found(2, "two beta")),
        ]);
        // Both applying to the same unique text is a lost update.
        assert_not_linearizable(&[
            event(0, 0, 10, write("alpha beta"), applied(1)),
            event(1, 20, 60, str_replace("alpha", "one"), applied(3)),
            event(2, 25, 55, str_replace("alpha", "two"), applied(2)),
        ]);
        // The final read must show both edits.
        assert_not_linearizable(&[
            event(0, 0, 10, write("alpha beta"), applied(1)),
            event(1, 20, 60, str_replace("alpha", "ALPHA"), applied(3)),
            event(2, 25, 55, str_replace("beta", "BETA"), applied(2)),
            event(0, 70, 80, Op::Read, found(3, "ALPHA beta")),
        ]);
    }

    #[test]
    fn version_going_backwards_is_not_linearizable() {
        assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(5)),
            event(0, 20, 30, write("b"), applied(4)),
        ]);
        // Even across a delete: the path's versions come from one counter.
        assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(5)),
            event(0, 20, 30, Op::Delete, Outcome::Applied { version: None }),
            event(0, 40, 50, write("b"), applied(5)),
        ]);
        // Two reads in order must not see versions in the other order.
        assert_not_linearizable(&[
            event(0, 0, 100, write("a"), applied(5)),
            event(1, 0, 100, write("b"), applied(6)),
            event(2, 110, 120, Op::Read, found(6, "b")),
            event(2, 130, 140, Op::Read, found(5, "a")),
        ]);
    }

    #[test]
    fn found_after_a_completed_delete_is_not_linearizable() {
        assert_not_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            event(0, 20, 30, Op::Delete, Outcome::Applied { version: None }),
            event(1, 40, 50, Op::Read, found(1, "a")),
        ]);
        // A concurrent read may see the file before the delete.
        assert_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            event(0, 20, 30, Op::Delete, Outcome::Applied { version: None }),
            event(1, 25, 50, Op::Read, found(1, "a")),
        ]);
    }

    #[test]
    fn not_applied_events_and_unknown_reads_are_dropped() {
        assert_linearizable(&[
            event(0, 0, 10, write("a"), applied(1)),
            event(1, 20, 30, write("zzz"), Outcome::NotApplied),
            unknown(1, 35, Op::Read),
            event(0, 40, 50, Op::Read, found(1, "a")),
        ]);
    }

    #[test]
    fn dead_ends_cover_configurations_no_better_than_them() {
        let absent = |next_version_greater_than| FileState::Absent {
            next_version_greater_than,
        };
        let placed = |known: &[usize], unknown: &[usize]| {
            let mut placed = Placed {
                known_outcome: Bitset::new(70),
                unknown_outcome: Bitset::new(70),
            };
            known
                .iter()
                .for_each(|&bit| placed.known_outcome.insert(bit));
            unknown
                .iter()
                .for_each(|&bit| placed.unknown_outcome.insert(bit));
            placed
        };
        let mut dead_ends = DeadEnds::default();
        dead_ends.insert(&absent(3), &placed(&[0, 1], &[3, 65]));
        assert!(dead_ends.contains(&absent(3), &placed(&[0, 1], &[3, 65])));
        // More lost operations placed, or a later version: no better.
        assert!(dead_ends.contains(&absent(3), &placed(&[0, 1], &[2, 3, 65])));
        assert!(dead_ends.contains(&absent(5), &placed(&[0, 1], &[3, 65])));
        // Fewer lost operations placed, or an earlier version: more options.
        assert!(!dead_ends.contains(&absent(3), &placed(&[0, 1], &[3])));
        assert!(!dead_ends.contains(&absent(3), &placed(&[0, 1], &[])));
        assert!(!dead_ends.contains(&absent(2), &placed(&[0, 1], &[3, 65])));
        // Other known operations, or another file: unrelated.
        assert!(!dead_ends.contains(&absent(3), &placed(&[0], &[3, 65])));
        assert!(!dead_ends.contains(&absent(3), &placed(&[0, 1, 2], &[3, 65])));
        let present = FileState::Present {
            version: super::super::model::Version::Exact(7),
            content: "a".to_owned(),
        };
        assert!(!dead_ends.contains(&present, &placed(&[0, 1], &[3, 65])));
        dead_ends.insert(&present, &placed(&[0, 1], &[3, 65]));
        assert!(dead_ends.contains(&present, &placed(&[0, 1], &[3, 65])));
        // A dead end that covers others replaces them.
        dead_ends.insert(&absent(1), &placed(&[0, 1], &[65]));
        assert!(dead_ends.contains(&absent(2), &placed(&[0, 1], &[4, 65])));
        let known = placed(&[0, 1], &[]).known_outcome;
        assert_eq!(dead_ends.0[&known].absent.len(), 1);
        assert_eq!(dead_ends.0[&known].present["a"].len(), 1);
    }

    #[test]
    fn exhausted_budget_gives_unknown() {
        let history = [
            event(0, 0, 10, write("a"), applied(1)),
            event(1, 20, 30, Op::Read, found(1, "a")),
        ];
        assert_eq!(check(&history, 1), CheckResult::Unknown);
        assert_eq!(check(&history, 2), CheckResult::Linearizable);
        assert_eq!(check(&history, 0), CheckResult::Unknown);
    }

    #[test]
    #[should_panic(expected = "one path")]
    fn events_of_several_paths_are_refused() {
        let mut other = event(1, 20, 30, Op::Read, Outcome::Absent);
        other.path = "notes/b.md".to_owned();
        check(&[event(0, 0, 10, Op::Read, Outcome::Absent), other], BUDGET);
    }

    /// A small deterministic generator, so that tests need no crate.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    /// A random operation, answered as the model in `state` answers it; the
    /// revision counter is shared by the store, so it skips values.
    fn random_operation(
        random: &mut SplitMix64,
        state: &FileState,
        revision: &mut u64,
    ) -> (Op, Outcome, FileState) {
        use super::super::model::Version;
        let words = ["alpha", "beta", "gamma", "alpha beta", "beta beta", ""];
        let word = |random: &mut SplitMix64| words[random.below(words.len() as u64) as usize];
        let current_version = match state {
            FileState::Present {
                version: Version::Exact(version),
                ..
            } => Some(*version),
            _ => None,
        };
        let op = match random.below(6) {
            0 | 1 => Op::Read,
            2 => write(word(random)),
            3 => write_if(
                word(random),
                match (random.below(3), current_version) {
                    (0, _) => Precondition::IfAbsent,
                    (1, Some(version)) => Precondition::IfVersion(version),
                    _ => Precondition::IfVersion(random.below(*revision + 2)),
                },
            ),
            4 => str_replace(word(random), word(random)),
            _ => Op::Delete,
        };
        // Find the outcome the model accepts, trying the possible answers.
        *revision += 1 + random.below(3);
        let mut candidates = vec![
            applied(*revision),
            Outcome::Applied { version: None },
            Outcome::Conflict,
            Outcome::NoUniqueMatch,
            Outcome::Absent,
        ];
        if let FileState::Present { version, content } = state {
            candidates.push(found(version.least_possible(), content));
        }
        for outcome in candidates {
            if let Some(next_state) = step(state, &op, &outcome) {
                return (op, outcome, next_state);
            }
        }
        panic!("no outcome for {op:?} in {state:?}");
    }

    fn random_sequential_history(seed: u64, operations: usize) -> Vec<Event> {
        let mut random = SplitMix64(seed);
        let mut state = FileState::initial();
        let mut revision = 0;
        let mut history = Vec::new();
        for index in 0..operations as u64 {
            let (op, outcome, next_state) = random_operation(&mut random, &state, &mut revision);
            state = next_state;
            let client = random.below(4) as u32;
            history.push(event(client, index * 100, index * 100 + 50, op, outcome));
        }
        history
    }

    #[test]
    fn random_sequential_history_of_200_operations_passes_quickly() {
        for seed in 0..20 {
            let history = random_sequential_history(seed, 200);
            let started = Instant::now();
            assert_linearizable(&history);
            let elapsed = started.elapsed();
            assert!(elapsed.as_millis() < 1_000, "seed {seed} took {elapsed:?}");
            // With a step budget that a greedy walk needs: about one per
            // operation placed plus one per candidate skipped.
            assert_eq!(
                check(&history, 1_000),
                CheckResult::Linearizable,
                "seed {seed}"
            );
        }
    }

    #[test]
    fn random_sequential_history_with_one_changed_answer_fails() {
        for seed in 0..20 {
            let mut history = random_sequential_history(seed, 200);
            // Make one late read stale: it sees an earlier state again.
            let reads: Vec<usize> = history
                .iter()
                .enumerate()
                .filter(|(_, event)| matches!(event.outcome, Outcome::Found { .. }))
                .map(|(index, _)| index)
                .collect();
            let (&first, &last) = (reads.first().unwrap(), reads.last().unwrap());
            if history[first].outcome == history[last].outcome {
                continue;
            }
            history[last].outcome = history[first].outcome.clone();
            assert_not_linearizable(&history);
        }
    }

    /// A concurrent history made by a sequential run of the model: each
    /// operation takes effect at one instant inside its [invoked, completed]
    /// window, so the history is linearizable by construction. Some answers
    /// are lost (`Unknown`): those take effect, or not, unseen.
    fn random_concurrent_history(
        seed: u64,
        clients: u32,
        operations_per_client: usize,
        unknown_per_mille: u64,
    ) -> Vec<Event> {
        let mut random = SplitMix64(seed);
        let mut state = FileState::initial();
        let mut revision = 0;
        let mut history = Vec::new();
        // Per client: the time it is free again.
        let mut free_at_ns = vec![0_u64; clients as usize];
        let mut done = vec![0_usize; clients as usize];
        let mut now_ns = 0_u64;
        while done.iter().any(|&count| count < operations_per_client) {
            now_ns += 1 + random.below(20);
            let client = random.below(u64::from(clients)) as usize;
            if done[client] >= operations_per_client || free_at_ns[client] > now_ns {
                continue;
            }
            let invoked_ns = now_ns
                .saturating_sub(random.below(60))
                .max(free_at_ns[client]);
            let completed_ns = now_ns + random.below(60);
            free_at_ns[client] = completed_ns + 1;
            done[client] += 1;
            let (op, outcome, next_state) = random_operation(&mut random, &state, &mut revision);
            if random.below(1_000) < unknown_per_mille && op != Op::Read {
                // Lost answer: it took effect or not, at random.
                if random.below(2) == 0 {
                    state = next_state;
                }
                history.push(unknown(client as u32, invoked_ns, op));
            } else {
                state = next_state;
                history.push(event(client as u32, invoked_ns, completed_ns, op, outcome));
            }
        }
        history
    }

    /// Whether some order of `events` fits, by trying every order and every
    /// subset of the unknown-outcome events: no memo, no pruning.
    fn brute_force_linearizable(events: &[Event]) -> bool {
        fn unplaced_known(events: &[&Event], placed: &[bool], index: usize) -> bool {
            !placed[index] && events[index].outcome != Outcome::Unknown
        }
        fn search(events: &[&Event], placed: &mut [bool], state: &FileState) -> bool {
            if !(0..events.len()).any(|index| unplaced_known(events, placed, index)) {
                return true;
            }
            for index in 0..events.len() {
                if placed[index] {
                    continue;
                }
                // Nothing left to place answered before this was invoked.
                let invoked_ns = events[index].invoked_ns;
                let callable = (0..events.len()).all(|other| {
                    !unplaced_known(events, placed, other)
                        || events[other].completed_ns.unwrap() >= invoked_ns
                });
                if !callable {
                    continue;
                }
                if let Some(next) = step(state, &events[index].op, &events[index].outcome) {
                    placed[index] = true;
                    let found = search(events, placed, &next);
                    placed[index] = false;
                    if found {
                        return true;
                    }
                }
            }
            false
        }
        let events: Vec<&Event> = events
            .iter()
            .filter(|event| {
                !matches!(
                    (&event.op, &event.outcome),
                    (_, Outcome::NotApplied) | (Op::Read, Outcome::Unknown)
                )
            })
            .collect();
        search(
            &events,
            &mut vec![false; events.len()],
            &FileState::initial(),
        )
    }

    /// A random answer, right or wrong, for `op`.
    fn random_outcome(random: &mut SplitMix64, op: &Op) -> Outcome {
        let contents = ["alpha", "beta", "gamma", "alpha beta", ""];
        let version = random.below(12);
        match (random.below(7), op) {
            (0, Op::Read) => found(version, contents[random.below(5) as usize]),
            (0, _) => applied(version),
            (1, _) => Outcome::Absent,
            (2, Op::Delete) => Outcome::Applied { version: None },
            (2, _) => applied(version),
            (3, _) => Outcome::Conflict,
            (4, _) => Outcome::NoUniqueMatch,
            (5, _) => Outcome::Unknown,
            _ => found(version, contents[random.below(5) as usize]),
        }
    }

    #[test]
    fn agrees_with_brute_force_on_small_histories() {
        let (mut linearizable, mut not_linearizable) = (0, 0);
        for seed in 0..4_000 {
            let mut random = SplitMix64(seed);
            let clients = 2 + random.below(3) as u32;
            let operations_per_client = 1 + random.below(3) as usize;
            let mut history = random_concurrent_history(seed, clients, operations_per_client, 300);
            // Change some answers, so that many histories are wrong.
            for event in history.iter_mut() {
                if random.below(4) == 0 {
                    event.outcome = random_outcome(&mut random, &event.op);
                    if event.outcome == Outcome::Unknown {
                        event.completed_ns = None;
                    } else if event.completed_ns.is_none() {
                        event.completed_ns = Some(event.invoked_ns + random.below(100));
                    }
                }
            }
            let expected = brute_force_linearizable(&history);
            let result = check(&history, BUDGET);
            if expected {
                linearizable += 1;
                assert_eq!(
                    result,
                    CheckResult::Linearizable,
                    "seed {seed}: {history:#?}"
                );
            } else {
                not_linearizable += 1;
                assert!(
                    matches!(result, CheckResult::NotLinearizable { .. }),
                    "seed {seed}: {result:?} for {history:#?}"
                );
            }
        }
        // Both verdicts are well represented.
        assert!(linearizable > 1_000, "{linearizable}");
        assert!(not_linearizable > 1_000, "{not_linearizable}");
    }

    #[test]
    fn random_concurrent_histories_with_unknowns_are_linearizable() {
        for seed in 0..20 {
            let history = random_concurrent_history(seed, 8, 30, 100);
            let started = Instant::now();
            let result = check(&history, 10_000_000);
            let elapsed = started.elapsed();
            assert_eq!(result, CheckResult::Linearizable, "seed {seed}");
            assert!(elapsed.as_secs() < 5, "seed {seed} took {elapsed:?}");
        }
    }
}
