//! The dead-end memo of the search: configurations (operations placed,
//! model state) from which no linearization exists, so that the search
//! never explores one twice, nor one no better than one it explored.

use std::collections::HashMap;

use crate::check::model::FileState;

/// A set of operations, one bit each.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Bitset(Vec<u64>);

impl Bitset {
    pub(super) fn new(bits: usize) -> Bitset {
        Bitset(vec![0; bits.div_ceil(64)])
    }

    pub(super) fn insert(&mut self, bit: usize) {
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    pub(super) fn remove(&mut self, bit: usize) {
        self.0[bit / 64] &= !(1 << (bit % 64));
    }

    pub(super) fn contains(&self, bit: usize) -> bool {
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
pub(super) struct Placed {
    pub(super) known_outcome: Bitset,
    pub(super) unknown_outcome: Bitset,
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
pub(super) struct DeadEnds(HashMap<Bitset, DeadEndsByContent>);

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
    pub(super) fn contains(&self, state: &FileState, placed: &Placed) -> bool {
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

    pub(super) fn insert(&mut self, state: &FileState, placed: &Placed) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::model::Version;

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
            version: Version::Exact(7),
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
}
