//! The node's status: Raft role, term, indexes, membership, and the
//! commit index as the leader computes it from what each voter holds.

use std::collections::BTreeMap;

use openraft::ServerState;

use super::Node;
use crate::NodeStatus;

/// The last log index the leader knows each follower holds (empty on a node
/// that is not leading).
pub(crate) fn matched_indexes(
    metrics: &openraft::RaftMetrics<u64, crate::types::PeerNode>,
) -> BTreeMap<u64, Option<u64>> {
    metrics
        .replication
        .as_ref()
        .map(|replication| {
            replication
                .iter()
                .map(|(id, log_id)| (*id, log_id.map(|log_id| log_id.index)))
                .collect()
        })
        .unwrap_or_default()
}

impl Node {
    pub fn status(&self) -> NodeStatus {
        let metrics = self.inner.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let matched = matched_indexes(&metrics);
        // The index a majority of voters hold: the commit index as the leader sees it.
        let committed_index = metrics.replication.as_ref().and_then(|_| {
            let mut held: Vec<u64> = membership
                .voter_ids()
                .map(|id| {
                    if id == metrics.id {
                        metrics.last_log_index.unwrap_or(0)
                    } else {
                        matched.get(&id).copied().flatten().unwrap_or(0)
                    }
                })
                .collect();
            held.sort_unstable_by(|a, b| b.cmp(a));
            held.get(held.len() / 2).copied()
        });
        NodeStatus {
            node_id: metrics.id,
            state: match metrics.state {
                ServerState::Leader => "Leader",
                ServerState::Follower => "Follower",
                ServerState::Candidate => "Candidate",
                ServerState::Learner => "Learner",
                ServerState::Shutdown => "Shutdown",
            }
            .to_string(),
            current_term: metrics.current_term,
            current_leader: metrics.current_leader,
            last_log_index: metrics.last_log_index,
            last_applied: metrics.last_applied.map(|id| id.index),
            committed_index,
            matched,
            snapshot_index: metrics.snapshot.map(|id| id.index),
            purged_index: metrics.purged.map(|id| id.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            nodes: membership
                .nodes()
                .map(|(id, node)| (*id, node.clone()))
                .collect(),
            running: metrics.running_state.is_ok(),
            stopped_reason: match &metrics.running_state {
                Err(openraft::error::Fatal::Stopped) | Ok(()) => None,
                Err(error) => Some(crate::error::stopped_reason(error)),
            },
            refusing_replication: self.inner.peer_server.refusals.reason(),
            handing_over_to: self.inner.peer_server.handoff.handing_over_to(),
        }
    }
}
