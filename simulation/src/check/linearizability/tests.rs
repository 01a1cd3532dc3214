//! The checker against hand-made histories, and against a brute-force
//! search on random small ones.

use std::time::Instant;

use super::*;
use crate::check::model::{FileState, Version, step};
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
