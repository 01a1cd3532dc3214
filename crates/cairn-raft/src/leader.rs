//! What a node does with requests it must answer itself as the leader:
//! proposals and membership changes forwarded by followers, read indexes
//! for its own reads and those followers ask for. Never forwards again, so
//! requests cannot loop.

use std::collections::BTreeSet;

use cairn_core::{Outcome, Proposal};
use openraft::ChangeMembers;
use openraft::error::{Fatal, RaftError};
use serde::{Deserialize, Serialize};

use crate::NodeError;
use crate::error::{from_leader_check, from_write_error};
use crate::read_batcher::ReadBatcher;
use crate::types::{PeerNode, Raft};

/// A membership change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Start replicating to a new node, which does not vote yet.
    AddLearner { node_id: u64, node: PeerNode },
    /// Make a learner a voter.
    Promote { node_id: u64 },
    /// Take a voter or learner out of the cluster.
    Remove { node_id: u64 },
}

/// Proposes on this node; `NotLeader` if it is not the leader (nothing appended).
pub(crate) async fn propose(raft: &Raft, proposal: Proposal) -> Result<Outcome, NodeError> {
    match raft.client_write(proposal).await {
        Ok(response) => Ok(response.data),
        // Stopped with the entry possibly appended: another leader may commit it.
        Err(RaftError::Fatal(Fatal::Stopped)) => Err(NodeError::OutcomeUnknown(
            "the node stopped while the write was in flight".into(),
        )),
        // Stopped by an error (a storage failure) with the entry perhaps
        // appended and replicated: another leader may yet commit it.
        Err(RaftError::Fatal(error)) => Err(NodeError::OutcomeUnknown(format!(
            "Raft stopped on the leader while the write was in flight ({error})"
        ))),
        Err(error) => Err(from_write_error(error)),
    }
}

/// The leader's read-index rounds, shared by its own linearizable reads and
/// the read indexes followers ask of it.
pub(crate) type LeaderReads = ReadBatcher<Result<u64, NodeError>>;

/// As the leader: the index a reader must have applied to see every write
/// committed before this call. Concurrent callers share one quorum round,
/// always one that started after they called (see `ReadBatcher`).
pub(crate) async fn read_index(raft: &Raft, reads: &LeaderReads) -> Result<u64, NodeError> {
    reads.run(|| confirm_leadership(raft)).await?
}

/// One round: confirms leadership with a quorum (a heartbeat to every
/// voter) and answers the read index openraft computed when it began.
async fn confirm_leadership(raft: &Raft) -> Result<u64, NodeError> {
    let (read_log_id, _applied) = raft.get_read_log_id().await.map_err(from_leader_check)?;
    Ok(read_log_id.map_or(0, |id| id.index))
}

pub(crate) async fn admin(raft: &Raft, request: AdminRequest) -> Result<(), NodeError> {
    let result = match request {
        AdminRequest::AddLearner { node_id, node } => raft.add_learner(node_id, node, false).await,
        AdminRequest::Promote { node_id } => {
            raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node_id])), true)
                .await
        }
        AdminRequest::Remove { node_id } => {
            let metrics = raft.metrics().borrow().clone();
            let membership = metrics.membership_config.membership();
            let ids = BTreeSet::from([node_id]);
            if membership.voter_ids().any(|id| id == node_id) {
                raft.change_membership(ChangeMembers::RemoveVoters(ids), false)
                    .await
            } else if membership.learner_ids().any(|id| id == node_id) {
                raft.change_membership(ChangeMembers::RemoveNodes(ids), false)
                    .await
            } else {
                return Err(NodeError::Membership(format!(
                    "node {node_id} is not a member"
                )));
            }
        }
    };
    result.map(|_| ()).map_err(from_write_error)
}
