//! `NodeError`, what every `Node` call answers on failure, and the mapping
//! from openraft's errors to it.

use openraft::error::{CheckIsLeaderError, ClientWriteError, Fatal, ForwardToLeader, RaftError};

use crate::types::PeerNode;

#[derive(Clone, Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum NodeError {
    /// This node is not the leader; retry there (or wait for an election).
    #[error("not the leader (leader: {leader_id:?})")]
    NotLeader {
        leader_id: Option<u64>,
        leader_api_addr: Option<String>,
    },
    /// The cluster cannot answer now (no quorum, shutting down); retryable.
    /// Nothing was applied.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Contact with the leader was lost after a write was handed to it: it
    /// may or may not be applied. Retry with the same idempotency key.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// A membership change the cluster refuses (unknown node, change in progress).
    #[error("membership change refused: {0}")]
    Membership(String),
    /// Storage or Raft failed; the node is unhealthy.
    #[error("fatal: {0}")]
    Fatal(String),
    /// The leader's disk is below its reserve and it refused a forwarded
    /// write that would grow the data. Nothing was proposed.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// openraft stopped on this node after an error (a storage failure):
    /// it takes part in nothing until the process restarts. Nothing was proposed.
    #[error("stopped: {0}")]
    Stopped(String),
}

/// What an operator reads when Raft stopped on a node: why, and what to do.
pub(crate) fn stopped_reason(error: &Fatal<u64>) -> String {
    format!(
        "Raft stopped on this node after an error ({error}); it serves only stale reads until restarted. Make room on (or repair) the data directory's disk, then restart the process: it reopens its files and catches up, and nothing acknowledged is lost"
    )
}

/// openraft's stop as a `NodeError`: a shutdown is `Unavailable`, an error `Stopped`.
pub(crate) fn stopped(error: &Fatal<u64>) -> NodeError {
    match error {
        Fatal::Stopped => NodeError::Unavailable("the node is shutting down".into()),
        other => NodeError::Stopped(stopped_reason(other)),
    }
}

pub(crate) fn fatal(error: impl std::fmt::Display) -> NodeError {
    NodeError::Fatal(error.to_string())
}

pub(crate) fn not_leader(forward: ForwardToLeader<u64, PeerNode>) -> NodeError {
    NodeError::NotLeader {
        leader_id: forward.leader_id,
        leader_api_addr: forward.leader_node.map(|node| node.api_addr),
    }
}

pub(crate) fn from_fatal(error: Fatal<u64>) -> NodeError {
    stopped(&error)
}

pub(crate) fn from_write_error(
    error: RaftError<u64, ClientWriteError<u64, PeerNode>>,
) -> NodeError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => not_leader(forward),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
            NodeError::Membership(error.to_string())
        }
        RaftError::Fatal(error) => from_fatal(error),
    }
}

pub(crate) fn from_leader_check(
    error: RaftError<u64, CheckIsLeaderError<u64, PeerNode>>,
) -> NodeError {
    match error {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)) => not_leader(forward),
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(error)) => {
            NodeError::Unavailable(error.to_string())
        }
        RaftError::Fatal(error) => from_fatal(error),
    }
}
