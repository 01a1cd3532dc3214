//! Probes and cluster administration: `/health`, `/ready`, `/v1/admin/*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /health`: `{"status": "ok"}` while the process runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
}

/// `GET /ready`: the node knows a leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ready {
    /// `ready`.
    pub status: String,
    pub leader: Option<u64>,
}

/// A member's addresses and labels, as kept in the Raft membership.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeerView {
    /// The Raft port peers dial (`host:port`).
    pub raft_addr: String,
    /// The HTTP API (`host:port`).
    pub api_addr: String,
    /// Free-form labels such as `region`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl PeerView {
    /// The `region` tag, if the node has one.
    pub fn region(&self) -> Option<&str> {
        self.tags.get("region").map(String::as_str)
    }
}

/// A node's Raft role, as openraft names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ServerState {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Leader => "Leader",
            ServerState::Follower => "Follower",
            ServerState::Candidate => "Candidate",
            ServerState::Learner => "Learner",
            ServerState::Shutdown => "Shutdown",
        }
    }
}

impl std::str::FromStr for ServerState {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [
            ServerState::Leader,
            ServerState::Follower,
            ServerState::Candidate,
            ServerState::Learner,
            ServerState::Shutdown,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
        .ok_or_else(|| format!("unknown Raft state {name:?}"))
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /v1/admin/status`: one node's view of the cluster.
///
/// Fields added later are `#[serde(default)]` so that a newer client can read
/// an older server's status; unknown fields are ignored so that an older
/// client can read a newer one's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeStatusView {
    pub node_id: u64,
    /// This node's own addresses and tags (also known before it is a member).
    #[serde(rename = "self")]
    pub self_node: PeerView,
    pub state: ServerState,
    pub current_term: u64,
    pub current_leader: Option<u64>,
    pub last_log_index: Option<u64>,
    /// The highest index a quorum holds; known on the leader only.
    #[serde(default)]
    pub committed_index: Option<u64>,
    pub last_applied: Option<u64>,
    #[serde(default)]
    pub snapshot_index: Option<u64>,
    #[serde(default)]
    pub purged_index: Option<u64>,
    #[serde(default)]
    pub voters: Vec<u64>,
    #[serde(default)]
    pub learners: Vec<u64>,
    /// Every member's addresses and tags, by node id. JSON object keys are
    /// strings, so the document names the ids' decimal text as the key type.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, PeerView>))]
    pub nodes: BTreeMap<u64, PeerView>,
    /// On the leader: the last log index each member is known to hold, by
    /// node id (its decimal text, as for `nodes`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, Option<u64>>))]
    pub matched: BTreeMap<u64, Option<u64>>,
    /// Milliseconds since this node last heard from a leader: 0 on the
    /// leader, `null` if it never has.
    #[serde(default)]
    pub staleness_ms: Option<u64>,
    /// Whether Raft is running (false after a storage failure or shutdown).
    pub running: bool,
    /// Why Raft stopped on this node, and what to do, if it stopped on an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// Why this node refuses the leader's entries now (its data directory is
    /// below the replication floor, half of `[storage] reserve_bytes`), if it
    /// does: it falls behind, and catches up by itself once space is freed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusing_replication: Option<String>,
    /// The voter this leader is handing leadership over to, while it does:
    /// its data directory is below `[storage] reserve_bytes`, so it pauses
    /// heartbeats, writes and linearizable reads (they wait, then go to the
    /// new leader) until that voter is elected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handing_over_to: Option<u64>,
}

impl NodeStatusView {
    pub fn is_leader(&self) -> bool {
        self.state == ServerState::Leader
    }

    /// Whether `node_id` is in the membership as a voter or a learner.
    pub fn is_member(&self, node_id: u64) -> bool {
        self.voters.contains(&node_id) || self.learners.contains(&node_id)
    }
}

/// `GET /v1/admin/digest`: the state machine digest at `last_applied`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DigestView {
    /// 16 hex digits; equal on replicas that applied the same log.
    pub digest: String,
    pub last_applied: Option<u64>,
}

/// The body of `POST /v1/admin/learners`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LearnerRequest {
    /// A positive id, unique in the cluster.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub node_id: u64,
    /// `host:port` of the new node's Raft port.
    pub raft_addr: String,
    /// `host:port` of the new node's HTTP API.
    pub api_addr: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl LearnerRequest {
    /// The request that adds the node whose status this is, as it describes itself.
    pub fn from_status(status: &NodeStatusView) -> LearnerRequest {
        LearnerRequest {
            node_id: status.node_id,
            raft_addr: status.self_node.raft_addr.clone(),
            api_addr: status.self_node.api_addr.clone(),
            tags: status.self_node.tags.clone(),
        }
    }
}
