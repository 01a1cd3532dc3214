//! `Node`: one Cairn replica — the redb files, openraft, and the peer RPC
//! server — behind a small async API the HTTP layer uses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_core::{Outcome, Proposal, ReadError, StorageError};
use cairn_storage::{LOG_FILE, LogDb, STATE_FILE, StateDb, StateReader};
use openraft::error::{CheckIsLeaderError, ClientWriteError, Fatal, InitializeError, RaftError};
use openraft::{ServerState, SnapshotPolicy};

use crate::log_store::LogStore;
use crate::state_machine::StateMachine;
use crate::transport::{self, Network};
use crate::types::{PeerNode, Raft};
use crate::{Connector, Consistency, Listener, NodeConfig, NodeError, NodeStatus, RaftSettings};

/// A running replica. Cheap to clone; every clone is the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    config: NodeConfig,
    raft: Raft,
    state: Arc<StateDb>,
    log: Arc<LogDb>,
    peer_server: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.peer_server.abort();
    }
}

fn fatal(error: impl std::fmt::Display) -> NodeError {
    NodeError::Fatal(error.to_string())
}

fn from_fatal(error: Fatal<u64>) -> NodeError {
    match error {
        Fatal::Stopped => NodeError::Unavailable("the node is shutting down".into()),
        other => fatal(other),
    }
}

/// openraft's configuration from ours; `validate` rejects inconsistent timings.
pub(crate) fn raft_config(settings: &RaftSettings) -> Result<openraft::Config, NodeError> {
    let config = openraft::Config {
        cluster_name: "cairn".into(),
        heartbeat_interval: settings.heartbeat_interval_ms,
        election_timeout_min: settings.election_timeout_min_ms,
        election_timeout_max: settings.election_timeout_max_ms,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_logs_since_last),
        max_in_snapshot_log_to_keep: settings.max_in_snapshot_log_to_keep,
        max_payload_entries: settings.max_payload_entries,
        snapshot_max_chunk_size: 1024 * 1024,
        install_snapshot_timeout: settings.rpc_timeout_ms.max(1000),
        ..openraft::Config::default()
    };
    config
        .validate()
        .map_err(|error| NodeError::Fatal(format!("invalid raft settings: {error}")))
}

impl RaftSettings {
    /// Checks the settings the way openraft will, with a message that says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_interval_ms == 0 {
            return Err("raft.heartbeat_interval_ms must be positive".into());
        }
        if self.election_timeout_min_ms <= self.heartbeat_interval_ms {
            return Err(format!(
                "raft.election_timeout_min_ms ({}) must exceed raft.heartbeat_interval_ms ({})",
                self.election_timeout_min_ms, self.heartbeat_interval_ms
            ));
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return Err(format!(
                "raft.election_timeout_max_ms ({}) must exceed raft.election_timeout_min_ms ({})",
                self.election_timeout_max_ms, self.election_timeout_min_ms
            ));
        }
        if self.snapshot_logs_since_last == 0 {
            return Err("raft.snapshot_logs_since_last must be positive".into());
        }
        if self.max_payload_entries == 0 {
            return Err("raft.max_payload_entries must be positive".into());
        }
        if self.rpc_timeout_ms == 0 {
            return Err("raft.rpc_timeout_ms must be positive".into());
        }
        raft_config(self)
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 1000,
            snapshot_logs_since_last: 10_000,
            max_in_snapshot_log_to_keep: 1_000,
            max_payload_entries: 256,
            rpc_timeout_ms: 2_000,
        }
    }
}

impl Node {
    /// Opens (or creates) the redb files under `config.data_dir`, starts
    /// openraft and the peer RPC server on `listener`.
    pub async fn start(
        config: NodeConfig,
        listener: Box<dyn Listener>,
        connector: Arc<dyn Connector>,
    ) -> Result<Node, NodeError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|error| {
            NodeError::Fatal(format!(
                "cannot create data directory {}: {error}",
                config.data_dir.display()
            ))
        })?;
        let log = Arc::new(LogDb::open(&config.data_dir.join(LOG_FILE)).map_err(fatal)?);
        let state = Arc::new(StateDb::open(&config.data_dir.join(STATE_FILE)).map_err(fatal)?);
        let secret: Arc<str> = config.cluster_secret.as_str().into();
        let network = Network {
            node_id: config.node_id,
            connector,
            secret: secret.clone(),
            rpc_timeout: Duration::from_millis(config.raft.rpc_timeout_ms),
        };
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config(&config.raft)?),
            network,
            LogStore::new(log.clone()),
            StateMachine::new(state.clone()),
        )
        .await
        .map_err(fatal)?;
        let peer_server =
            tokio::spawn(transport::serve(listener, raft.clone(), secret)).abort_handle();
        Ok(Node {
            inner: Arc::new(Inner {
                config,
                raft,
                state,
                log,
                peer_server,
            }),
        })
    }

    pub fn id(&self) -> u64 {
        self.inner.config.node_id
    }

    /// This node as a cluster member: its addresses and tags.
    pub fn peer_node(&self) -> PeerNode {
        let config = &self.inner.config;
        PeerNode {
            raft_addr: config.raft_advertise_addr.clone(),
            api_addr: config.api_advertise_addr.clone(),
            tags: config.tags.clone(),
        }
    }

    /// Makes this node a one-member cluster if it has never been initialized;
    /// a no-op on a node that already has a log or a membership.
    pub async fn initialize_single(&self) -> Result<(), NodeError> {
        let raft = &self.inner.raft;
        if raft.is_initialized().await.map_err(from_fatal)? {
            return Ok(());
        }
        let members = BTreeMap::from([(self.id(), self.peer_node())]);
        match raft.initialize(members).await {
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(RaftError::APIError(error)) => Err(fatal(error)),
            Err(RaftError::Fatal(error)) => Err(from_fatal(error)),
        }
    }

    /// Proposes a command and waits until it is committed and applied here.
    pub async fn propose(&self, proposal: Proposal) -> Result<Outcome, NodeError> {
        match self.inner.raft.client_write(proposal).await {
            Ok(response) => Ok(response.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                Err(NodeError::NotLeader {
                    leader_id: forward.leader_id,
                    leader_api_addr: forward.leader_node.map(|node| node.api_addr),
                })
            }
            Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(error))) => {
                Err(fatal(error))
            }
            Err(RaftError::Fatal(error)) => Err(from_fatal(error)),
        }
    }

    /// Waits until this node's state machine has applied everything the
    /// cluster committed before this call (the leader's read index).
    pub async fn linearize(&self) -> Result<(), NodeError> {
        match self.inner.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward))) => {
                Err(NodeError::NotLeader {
                    leader_id: forward.leader_id,
                    leader_api_addr: forward.leader_node.map(|node| node.api_addr),
                })
            }
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(error))) => {
                Err(NodeError::Unavailable(error.to_string()))
            }
            Err(RaftError::Fatal(error)) => Err(from_fatal(error)),
        }
    }

    /// Runs `read` against the state machine once it is as fresh as `consistency` demands.
    pub async fn read<T>(
        &self,
        consistency: Consistency,
        read: impl FnOnce(&StateReader) -> Result<T, ReadError>,
    ) -> Result<Result<T, ReadError>, NodeError> {
        if consistency == Consistency::Linearizable {
            self.linearize().await?;
        }
        let reader = self.inner.state.reader().map_err(fatal)?;
        Ok(read(&reader))
    }

    pub fn status(&self) -> NodeStatus {
        let metrics = self.inner.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
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
            snapshot_index: metrics.snapshot.map(|id| id.index),
            purged_index: metrics.purged.map(|id| id.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            nodes: membership
                .nodes()
                .map(|(id, node)| (*id, node.clone()))
                .collect(),
            running: metrics.running_state.is_ok(),
        }
    }

    /// How many entries the Raft log holds now.
    pub fn log_entries(&self) -> Result<u64, NodeError> {
        self.inner.log.len().map_err(fatal)
    }

    /// A digest of the whole state machine (`cairn_core::kv::state_digest`).
    pub fn state_digest(&self) -> Result<u64, NodeError> {
        let reader = self.inner.state.reader().map_err(fatal)?;
        cairn_core::kv::state_digest(&reader).map_err(|error: StorageError| fatal(error))
    }

    /// Stops openraft and the peer server. Everything acknowledged is already on disk.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.inner.peer_server.abort();
        self.inner.raft.shutdown().await.map_err(fatal)?;
        // openraft's storage tasks end shortly after its core does; wait for
        // them to let go of the redb files so the node can be reopened in
        // this process (tests, the simulation's restarts).
        for _ in 0..500 {
            if Arc::strong_count(&self.inner.state) == 1 && Arc::strong_count(&self.inner.log) == 1
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(NodeError::Fatal(
            "storage still in use after shutdown".into(),
        ))
    }
}
