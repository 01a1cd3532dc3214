//! The search itself: the history as two linked lists of calls and
//! returns, and a depth-first walk over them that places operations on the
//! model, lifts them out of the lists, and undoes its last choice when an
//! operation answered before anything left could go next.

use std::collections::BTreeMap;

use super::CheckResult;
use super::dead_ends::{Bitset, DeadEnds, Placed};
use crate::check::model::{FileState, step, version_told};
use crate::history::{Event, Outcome};

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

pub(super) struct Operation<'a> {
    pub(super) event: &'a Event,
    pub(super) outcome_known: bool,
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
    fn of_known_outcomes(operations: &[Operation<'_>]) -> VersionsTold {
        let mut versions_told = VersionsTold(BTreeMap::new());
        for operation in operations {
            if operation.outcome_known {
                versions_told.insert(version_told(&operation.event.op, &operation.event.outcome));
            }
        }
        versions_told
    }

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
pub(super) struct LongestPrefix {
    /// The operations placed, in order.
    pub(super) operations: Vec<usize>,
    pub(super) state: FileState,
    /// The operation whose return was reached with that prefix placed (it
    /// could not be placed next), and the operations that were candidates.
    pub(super) blocked: Option<(usize, Vec<usize>)>,
}

/// What the walk does next, from where its cursor is.
enum Move {
    /// Try to place the operation of `call` next; the walk goes on at
    /// `resume` if it does not fit, or when it is undone.
    Try { call: usize, resume: Cursor },
    /// The walk reached `barrier`, the first return in the known-outcome
    /// list: go on along the calls with an unknown outcome up to its time.
    ToUnknown { barrier: usize },
    /// The operation of `barrier` answered before any operation left could
    /// go next: the last choice must be undone.
    Blocked { barrier: usize },
}

/// (time, is return, operation): one end of an operation, in time order.
/// At equal times calls come first, so that an operation that answered when
/// another was sent counts as concurrent with it, which can only accept
/// more histories.
type Point = (u64, bool, usize);

pub(super) struct Search<'a> {
    pub(super) operations: Vec<Operation<'a>>,
    pub(super) known_outcome_count: usize,
    /// Two doubly linked lists, from `KNOWN_HEAD` and `UNKNOWN_HEAD`.
    entries: Vec<Entry>,
    /// Where the walk is.
    cursor: Cursor,
    /// The operations placed, in order.
    stack: Vec<Frame>,
    /// The model state after the operations placed.
    state: FileState,
    placed: Placed,
    remaining_with_known_outcome: usize,
    versions_told: VersionsTold,
    dead_ends: DeadEnds,
    longest: LongestPrefix,
}

impl<'a> Search<'a> {
    pub(super) fn new(events: &[&'a Event]) -> Search<'a> {
        let (mut operations, known_outcome_count) = operations_of(events);
        let (known_points, unknown_points) = points_of(&operations);
        link_identical_lost_operations(&mut operations, &unknown_points);
        let entries = linked_entries(operations.len(), known_points, unknown_points);
        let placed = Placed {
            known_outcome: Bitset::new(known_outcome_count),
            unknown_outcome: Bitset::new(operations.len() - known_outcome_count),
        };
        let state = FileState::initial();
        Search {
            cursor: Cursor::Known(entries[KNOWN_HEAD].next),
            stack: Vec::new(),
            longest: LongestPrefix {
                operations: Vec::new(),
                state: state.clone(),
                blocked: None,
            },
            state,
            placed,
            remaining_with_known_outcome: known_outcome_count,
            versions_told: VersionsTold::of_known_outcomes(&operations),
            dead_ends: DeadEnds::default(),
            operations,
            known_outcome_count,
            entries,
        }
    }

    /// Walks until every operation with a known outcome is placed, the walk
    /// has undone every choice, or `budget` steps are spent.
    pub(super) fn run(mut self, budget: u64) -> CheckResult {
        let mut steps: u64 = 0;
        while self.remaining_with_known_outcome > 0 {
            if steps >= budget {
                return CheckResult::Unknown;
            }
            steps += 1;
            match self.next_move() {
                Move::Try { call, resume } => self.try_place(call, resume),
                Move::ToUnknown { barrier } => {
                    self.cursor = Cursor::Unknown {
                        entry: self.entries[UNKNOWN_HEAD].next,
                        barrier,
                    };
                }
                Move::Blocked { barrier } => {
                    self.remember_blocked(barrier);
                    let Some(frame) = self.stack.pop() else {
                        return CheckResult::NotLinearizable {
                            explanation: self.explain(&self.longest),
                        };
                    };
                    self.undo(frame);
                }
            }
        }
        CheckResult::Linearizable
    }

    fn next_move(&self) -> Move {
        match self.cursor {
            Cursor::Known(entry) => {
                // A return is left in the list while an operation with a
                // known outcome remains, and the walk stops at the first.
                assert!(entry != NONE, "the walk ran past the last return");
                let Entry { is_call, next, .. } = self.entries[entry];
                if is_call {
                    Move::Try {
                        call: entry,
                        resume: Cursor::Known(next),
                    }
                } else {
                    Move::ToUnknown { barrier: entry }
                }
            }
            Cursor::Unknown { entry, barrier } => {
                if entry != NONE && self.entries[entry].time_ns <= self.entries[barrier].time_ns {
                    let next = self.entries[entry].next;
                    Move::Try {
                        call: entry,
                        resume: Cursor::Unknown {
                            entry: next,
                            barrier,
                        },
                    }
                } else {
                    Move::Blocked { barrier }
                }
            }
        }
    }

    /// Places the operation of `call` next if it fits and leads somewhere
    /// not known to be a dead end; else the walk goes on at `resume`.
    fn try_place(&mut self, call: usize, resume: Cursor) {
        self.cursor = resume;
        let operation = self.entries[call].operation;
        let Some((next_state, told)) = self.fits_next(operation) else {
            return;
        };
        self.mark_placed(operation);
        if self.dead_ends.contains(&next_state, &self.placed) {
            self.unmark_placed(operation);
            return;
        }
        self.place(call, resume, next_state, told);
    }

    /// The model state after `operation` and the version it was told (if
    /// its outcome is known), when it may be placed next; else `None`.
    fn fits_next(&self, operation: usize) -> Option<(FileState, Option<u64>)> {
        let Operation {
            event,
            outcome_known,
            identical_before,
            ..
        } = self.operations[operation];
        if identical_before != NONE && !self.is_placed(identical_before) {
            return None;
        }
        let next_state = step(&self.state, &event.op, &event.outcome)?;
        // Versions only grow: an operation left to place that was told
        // a version below what can still be seen will never fit.
        let told = outcome_known
            .then(|| version_told(&event.op, &event.outcome))
            .flatten();
        if self
            .versions_told
            .least_without(told)
            .is_some_and(|least| least < next_state.versions_from())
        {
            return None;
        }
        if self.defers_to_another_order(operation, &next_state) {
            return None;
        }
        Some((next_state, told))
    }

    /// Pushes the operation of `call` on the stack, with `next_state` the
    /// model state after it, and starts the walk again from the first entry.
    fn place(&mut self, call: usize, resume: Cursor, next_state: FileState, told: Option<u64>) {
        let operation = self.entries[call].operation;
        self.stack.push(Frame {
            call,
            previous_state: std::mem::replace(&mut self.state, next_state),
            resume,
        });
        if self.operations[operation].outcome_known {
            self.remaining_with_known_outcome -= 1;
            self.versions_told.remove(told);
        }
        self.lift(call);
        if self.stack.len() > self.longest.operations.len() {
            self.longest = LongestPrefix {
                operations: self
                    .stack
                    .iter()
                    .map(|frame| self.entries[frame.call].operation)
                    .collect(),
                state: self.state.clone(),
                blocked: None,
            };
        }
        self.cursor = Cursor::Known(self.entries[KNOWN_HEAD].next);
    }

    /// Undoes the placing of `frame`, popped off the stack, and records the
    /// configuration it led to as a dead end.
    fn undo(&mut self, frame: Frame) {
        self.dead_ends.insert(&self.state, &self.placed);
        let undone = self.entries[frame.call].operation;
        self.unmark_placed(undone);
        let Operation {
            event,
            outcome_known,
            ..
        } = self.operations[undone];
        if outcome_known {
            self.remaining_with_known_outcome += 1;
            self.versions_told
                .insert(version_told(&event.op, &event.outcome));
        }
        self.state = frame.previous_state;
        self.unlift(frame.call);
        self.cursor = frame.resume;
    }

    /// Keeps, for the explanation, what blocked the longest prefix when the
    /// walk is blocked with that prefix placed for the first time.
    fn remember_blocked(&mut self, barrier: usize) {
        if self.stack.len() == self.longest.operations.len() && self.longest.blocked.is_none() {
            let blocked = self.entries[barrier].operation;
            self.longest.blocked = Some((blocked, self.candidates_before(barrier)));
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

    fn mark_placed(&mut self, operation: usize) {
        let Operation {
            outcome_known,
            slot,
            ..
        } = self.operations[operation];
        if outcome_known {
            self.placed.known_outcome.insert(slot);
        } else {
            self.placed.unknown_outcome.insert(slot);
        }
    }

    fn is_placed(&self, operation: usize) -> bool {
        let Operation {
            outcome_known,
            slot,
            ..
        } = self.operations[operation];
        let set = if outcome_known {
            &self.placed.known_outcome
        } else {
            &self.placed.unknown_outcome
        };
        set.contains(slot)
    }

    fn unmark_placed(&mut self, operation: usize) {
        let Operation {
            outcome_known,
            slot,
            ..
        } = self.operations[operation];
        if outcome_known {
            self.placed.known_outcome.remove(slot);
        } else {
            self.placed.unknown_outcome.remove(slot);
        }
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
    fn defers_to_another_order(&self, operation: usize, next_state: &FileState) -> bool {
        let Some(last) = self.stack.last() else {
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
}

/// One operation per event, each with its slot among those of its kind
/// (known outcome or not); and how many have a known outcome.
fn operations_of<'a>(events: &[&'a Event]) -> (Vec<Operation<'a>>, usize) {
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
    (operations, known_outcome_count)
}

/// The calls and returns of the operations with a known outcome, and the
/// calls of those with an unknown outcome, each sorted.
fn points_of(operations: &[Operation<'_>]) -> (Vec<Point>, Vec<Point>) {
    let mut known_points: Vec<Point> = Vec::new();
    let mut unknown_points: Vec<Point> = Vec::new();
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
    (known_points, unknown_points)
}

/// Sets `identical_before` of every unknown-outcome operation, from the
/// calls of those operations in time order.
fn link_identical_lost_operations(operations: &mut [Operation<'_>], unknown_points: &[Point]) {
    for (position, &(_, _, operation)) in unknown_points.iter().enumerate() {
        let op = &operations[operation].event.op;
        operations[operation].identical_before = unknown_points[..position]
            .iter()
            .rev()
            .map(|&(_, _, earlier)| earlier)
            .find(|&earlier| operations[earlier].event.op == *op)
            .unwrap_or(NONE);
    }
}

/// The two sentinels, then the entries of both lists, linked in time order;
/// `operation` in a point is below `operations_count`.
fn linked_entries(
    operations_count: usize,
    known_points: Vec<Point>,
    unknown_points: Vec<Point>,
) -> Vec<Entry> {
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
    let mut call_entry_of = vec![NONE; operations_count];
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
    entries
}
