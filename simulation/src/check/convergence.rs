//! After healing, every member's state machine is byte-identical (equal
//! digests at the same applied index). Replicas that differ would answer the
//! same read differently depending on which node a load balancer picked.

use crate::run::FinalState;

pub fn check(state: &FinalState) -> Vec<String> {
    let mut failures = Vec::new();
    if state.members.is_empty() {
        return vec!["no node knew the cluster's members after healing".to_string()];
    }
    let first = state.digests.get(&state.members[0]);
    for member in &state.members {
        match state.digests.get(member) {
            None => failures.push(format!("member n{member} did not answer after healing")),
            Some(digest) if Some(digest) != first => failures.push(format!(
                "member n{member} has digest {digest:?}, n{} has {first:?}",
                state.members[0]
            )),
            Some(_) => {}
        }
    }
    failures
}
