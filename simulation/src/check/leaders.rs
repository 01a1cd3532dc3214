//! Raft's election safety, as seen from outside: in any term at most one
//! node ever says it is the leader. Two leaders in one term could both
//! acknowledge conflicting writes.

use std::collections::{BTreeMap, BTreeSet};

use crate::run::Sample;

pub fn check(samples: &[Sample]) -> Vec<String> {
    let mut leaders: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for (node, term, state) in samples {
        if state == "Leader" {
            leaders.entry(*term).or_default().insert(*node);
        }
    }
    leaders
        .into_iter()
        .filter(|(_, nodes)| nodes.len() > 1)
        .map(|(term, nodes)| format!("term {term} had several leaders: {nodes:?}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_leaders_in_one_term_are_caught() {
        let ok = vec![(1, 1, "Leader".to_string()), (2, 2, "Leader".to_string())];
        assert!(check(&ok).is_empty());
        let bad = vec![(1, 3, "Leader".to_string()), (2, 3, "Leader".to_string())];
        assert_eq!(check(&bad).len(), 1);
    }
}
