//! `Node`: one Cairn replica — the redb files, openraft, and the peer RPC
//! server — behind a small async API the HTTP layer uses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_core::{Outcome, Proposal, ReadError, StorageError};
use cairn_storage::{Disk, FileDisk, LOG_FILE, LogDb, STATE_FILE, StateDb, StateReader};
use openraft::error::{InitializeError, RaftError};
use openraft::{ServerState, SnapshotPolicy};

use crate::forward::{ForwardFailure, Forwarder};
use crate::local::{self, AdminRequest, from_fatal};
use crate::log_store::LogStore;
use crate::state_machine::StateMachine;
use crate::transport::{self, Contact, Network, PeerRequest, PeerResponse};
use crate::types::{PeerNode, Raft};
use crate::{Connector, Consistency, Listener, NodeConfig, NodeError, NodeStatus, RaftSettings};

/// How long a forwarded request may wait for the leader's answer.
const FORWARD_DEADLINE: Duration = Duration::from_secs(30);
/// Pause before retrying when no leader is known or the leader moved.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

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
    forwarder: Forwarder,
    contact: Arc<Contact>,
    peer_server: tokio::task::AbortHandle,
}

/// Where a request that only the leader can answer goes.
enum Route {
    Local,
    Leader { id: u64, raft_addr: String },
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.peer_server.abort();
    }
}

fn fatal(error: impl std::fmt::Display) -> NodeError {
    NodeError::Fatal(error.to_string())
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
        let disk: Arc<dyn Disk> = match &config.disk {
            Some(disk) => disk.clone(),
            None => Arc::new(FileDisk(config.data_dir.clone())),
        };
        let log =
            Arc::new(LogDb::with_database(disk.database(LOG_FILE).map_err(fatal)?).map_err(fatal)?);
        let state = Arc::new(
            StateDb::with_database(disk.database(STATE_FILE).map_err(fatal)?).map_err(fatal)?,
        );
        let secret: Arc<str> = config.cluster_secret.as_str().into();
        let connector_for_forwarding = connector.clone();
        let network = Network {
            node_id: config.node_id,
            connector,
            secret: secret.clone(),
            rpc_timeout: Duration::from_millis(config.raft.rpc_timeout_ms),
        };
        let log_store = LogStore::new(log.clone(), config.io);
        log_store
            .step_down_after_restart(config.node_id)
            .map_err(fatal)?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config(&config.raft)?),
            network,
            log_store,
            StateMachine::new(state.clone(), config.data_dir.join("snapshots")).map_err(fatal)?,
        )
        .await
        .map_err(fatal)?;
        let contact = Arc::new(Contact::new());
        let peer_server = tokio::spawn(transport::serve(
            listener,
            raft.clone(),
            secret.clone(),
            contact.clone(),
        ))
        .abort_handle();
        let forwarder = Forwarder::new(
            config.node_id,
            connector_for_forwarding,
            secret,
            FORWARD_DEADLINE,
        );
        Ok(Node {
            inner: Arc::new(Inner {
                config,
                raft,
                state,
                log,
                forwarder,
                contact,
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
        self.initialize(BTreeMap::from([(self.id(), self.peer_node())]))
            .await
    }

    /// Makes `members` (this node among them) the first voters of a new
    /// cluster, if this node has never been initialized; otherwise a no-op.
    pub async fn initialize(&self, members: BTreeMap<u64, PeerNode>) -> Result<(), NodeError> {
        let raft = &self.inner.raft;
        if raft.is_initialized().await.map_err(from_fatal)? {
            return Ok(());
        }
        match raft.initialize(members).await {
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(RaftError::APIError(error)) => Err(fatal(error)),
            Err(RaftError::Fatal(error)) => Err(from_fatal(error)),
        }
    }

    /// Waits until a leader is known, then says how to reach it. Bounded
    /// only by the caller (the HTTP layer's request timeout).
    async fn route(&self) -> Result<Route, NodeError> {
        let mut metrics = self.inner.raft.metrics();
        loop {
            let (leader, raft_addr) = {
                let current = metrics.borrow_and_update();
                if let Err(error) = &current.running_state {
                    return Err(fatal(error));
                }
                let leader = current.current_leader;
                let addr = leader.and_then(|id| {
                    current
                        .membership_config
                        .membership()
                        .get_node(&id)
                        .map(|node| node.raft_addr.clone())
                });
                (leader, addr)
            };
            match (leader, raft_addr) {
                (Some(id), _) if id == self.id() => return Ok(Route::Local),
                (Some(id), Some(raft_addr)) => return Ok(Route::Leader { id, raft_addr }),
                _ => {
                    if metrics.changed().await.is_err() {
                        return Err(NodeError::Unavailable("the node is shutting down".into()));
                    }
                }
            }
        }
    }

    /// Sends a request to the leader; `Ok(None)` means "leader moved, route again".
    async fn to_leader(
        &self,
        leader: u64,
        raft_addr: &str,
        request: &PeerRequest,
        sent: &AtomicBool,
    ) -> Result<Option<PeerResponse>, ForwardFailure> {
        match self.inner.forwarder.call(raft_addr, request, sent).await {
            Ok(response) => Ok(Some(response)),
            Err(ForwardFailure::NotSent(error)) => {
                tracing::debug!(leader, %error, "leader unreachable; routing again");
                tokio::time::sleep(RETRY_PAUSE).await;
                Ok(None)
            }
            Err(failure) => Err(failure),
        }
    }

    /// Runs a request that changes state on the leader: here, or forwarded to
    /// the one this node knows. Retries only while it certainly took no
    /// effect. If `timeout` passes first, the answer is `Unavailable` when
    /// nothing was handed to a leader yet, else `OutcomeUnknown`.
    async fn on_leader<T>(
        &self,
        request: PeerRequest,
        timeout: Duration,
        local: impl AsyncFn(&Raft, &PeerRequest) -> Result<T, NodeError>,
        answer: impl Fn(PeerResponse) -> Option<Result<T, NodeError>>,
    ) -> Result<T, NodeError> {
        let sent = AtomicBool::new(false);
        let attempt = async {
            loop {
                let result = match self.route().await? {
                    Route::Local => {
                        sent.store(true, Ordering::Relaxed);
                        local(&self.inner.raft, &request).await
                    }
                    Route::Leader { id, raft_addr } => {
                        match self.to_leader(id, &raft_addr, &request, &sent).await {
                            Ok(Some(response)) => answer(response)
                                .ok_or_else(|| fatal("the leader answered with the wrong kind"))?,
                            Ok(None) => continue,
                            Err(ForwardFailure::NoAnswer(detail)) => {
                                Err(NodeError::OutcomeUnknown(detail))
                            }
                            Err(ForwardFailure::NotSent(error)) => {
                                Err(NodeError::Unavailable(error.to_string()))
                            }
                        }
                    }
                };
                match result {
                    // Leadership moved. The entry may still have been appended
                    // (openraft answers pending writes this way when a leader
                    // steps down) and may yet commit: `sent` stays set, and
                    // the retry is safe only because every proposal carries an
                    // idempotency key (the server adds one if the client did not).
                    Err(NodeError::NotLeader { .. }) => tokio::time::sleep(RETRY_PAUSE).await,
                    other => return other,
                }
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) if sent.load(Ordering::Relaxed) => Err(NodeError::OutcomeUnknown(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
            Err(_) => Err(NodeError::Unavailable(format!(
                "no leader could take the request within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    /// Proposes a command through the leader and waits until it is
    /// committed and applied there, for at most `timeout`.
    pub async fn propose(
        &self,
        proposal: Proposal,
        timeout: Duration,
    ) -> Result<Outcome, NodeError> {
        self.on_leader(
            PeerRequest::Propose(proposal),
            timeout,
            async |raft, request| match request {
                PeerRequest::Propose(proposal) => local::propose(raft, proposal.clone()).await,
                _ => unreachable!("a proposal"),
            },
            |response| match response {
                PeerResponse::Propose(result) => Some(result),
                _ => None,
            },
        )
        .await
    }

    /// A membership change, made by the leader wherever it is asked.
    pub async fn admin(&self, request: AdminRequest, timeout: Duration) -> Result<(), NodeError> {
        self.on_leader(
            PeerRequest::Admin(request),
            timeout,
            async |raft, request| match request {
                PeerRequest::Admin(admin) => local::admin(raft, admin.clone()).await,
                _ => unreachable!("a membership change"),
            },
            |response| match response {
                PeerResponse::Admin(result) => Some(result),
                _ => None,
            },
        )
        .await
    }

    /// Waits until this node's state machine has applied everything the
    /// cluster committed before this call: the leader's read index, asked
    /// of the leader when this node is a follower or learner.
    pub async fn linearize(&self) -> Result<(), NodeError> {
        loop {
            let result = match self.route().await? {
                Route::Local => local::linearize(&self.inner.raft).await,
                Route::Leader { id, raft_addr } => {
                    match self
                        .to_leader(
                            id,
                            &raft_addr,
                            &PeerRequest::ReadIndex,
                            &AtomicBool::new(false),
                        )
                        .await
                    {
                        Ok(Some(PeerResponse::ReadIndex(Ok(index)))) => {
                            self.inner
                                .raft
                                .wait(None)
                                .applied_index_at_least(Some(index), "linearizable read")
                                .await
                                .map_err(|error| NodeError::Unavailable(error.to_string()))?;
                            Ok(())
                        }
                        Ok(Some(PeerResponse::ReadIndex(Err(error)))) => Err(error),
                        Ok(Some(_)) => return Err(fatal("leader answered with the wrong kind")),
                        // A read changes nothing: any failure is safe to retry.
                        Ok(None) | Err(_) => {
                            tokio::time::sleep(RETRY_PAUSE).await;
                            continue;
                        }
                    }
                }
            };
            match result {
                Err(NodeError::NotLeader { .. }) => tokio::time::sleep(RETRY_PAUSE).await,
                other => return other,
            }
        }
    }

    /// Milliseconds since this node last heard from a leader (0 on the leader):
    /// how far behind a stale read may be, at most, plus replication delay.
    pub fn staleness_ms(&self) -> u64 {
        if self.inner.raft.metrics().borrow().state == ServerState::Leader {
            return 0;
        }
        self.inner.contact.millis_since_last()
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

    /// The last log index applied here (cheap: no copy of the whole status).
    pub fn applied_index(&self) -> Option<u64> {
        self.inner
            .raft
            .metrics()
            .borrow()
            .last_applied
            .map(|id| id.index)
    }

    pub fn status(&self) -> NodeStatus {
        let metrics = self.inner.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let matched: BTreeMap<u64, Option<u64>> = metrics
            .replication
            .as_ref()
            .map(|replication| {
                replication
                    .iter()
                    .map(|(id, log_id)| (*id, log_id.map(|log_id| log_id.index)))
                    .collect()
            })
            .unwrap_or_default();
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
        }
    }

    /// How many entries the Raft log holds now.
    pub fn log_entries(&self) -> Result<u64, NodeError> {
        self.inner.log.len().map_err(fatal)
    }

    /// Sizes of `raft-log.redb`, `state.redb` and the current snapshot, in bytes.
    pub fn file_bytes(&self) -> (Option<u64>, Option<u64>, Option<u64>) {
        let size = |name: &str| {
            std::fs::metadata(self.inner.config.data_dir.join(name))
                .ok()
                .map(|meta| meta.len())
        };
        (
            size(LOG_FILE),
            size(STATE_FILE),
            size(crate::state_machine::CURRENT_SNAPSHOT),
        )
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
