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
//!
//! The parts: `search` walks the lists and places operations, `dead_ends`
//! remembers configurations that led nowhere, `explain` turns a failed
//! search into sentences.

mod dead_ends;
mod explain;
mod search;
#[cfg(test)]
mod tests;

use crate::history::{Event, Op, Outcome};
use search::Search;

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
