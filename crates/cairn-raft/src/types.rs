//! openraft's type configuration for Cairn.

use std::collections::BTreeMap;

use cairn_core::{Outcome, Proposals};
use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// Log entries carry `Proposals` (one or more, batched by the leader's
    /// `ProposeBatcher`); applying one answers an `Outcome` per proposal,
    /// in order (none for blank and membership entries).
    pub TypeConfig:
        D = Proposals,
        R = Vec<Outcome>,
        NodeId = u64,
        Node = PeerNode,
        SnapshotData = crate::snapshot_data::SnapshotData,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<u64>;
pub type Vote = openraft::Vote<u64>;
pub type StoredMembership = openraft::StoredMembership<u64, PeerNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, PeerNode>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type RaftStorageError = openraft::StorageError<u64>;

/// What the cluster knows about a member: where to reach it and its tags.
/// Stored in the membership config, so every node can find every other.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// The Raft port peers dial.
    pub raft_addr: String,
    /// The HTTP API (for clients, and for forwarding).
    pub api_addr: String,
    /// Free-form labels such as `region`.
    pub tags: BTreeMap<String, String>,
}

impl std::fmt::Display for PeerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "raft={} api={}", self.raft_addr, self.api_addr)
    }
}
