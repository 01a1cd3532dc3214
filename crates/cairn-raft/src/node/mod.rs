//! `Node`: one Cairn replica — the redb files, openraft, and the peer RPC
//! server — behind a small async API the HTTP layer uses.
//!
//! - `mod.rs`: lifecycle (start, initialize, shutdown) and cheap accessors.
//! - `routing`: requests only the leader answers (proposals, membership
//!   changes), run here or forwarded, with the retry rules.
//! - `read`: linearizable and stale reads of the state machine.
//! - `status`: the status report for probes, metrics and `cluster status`.

mod read;
mod routing;
mod status;
pub(crate) use status::matched_indexes;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_storage::{Disk, FileDisk, LOG_FILE, LogDb, SNAPSHOT_DIR, STATE_FILE, StateDb};
use openraft::ServerState;
use openraft::error::{InitializeError, RaftError};

use crate::config::raft_config;
use crate::error::{fatal, from_fatal};
use crate::forward::Forwarder;
use crate::handoff::{self, HandOff, HandOverCounts};
use crate::log_store::LogStore;
use crate::propose_batcher::{ProposalCounts, ProposeBatcher};
use crate::read_batcher::{READS_WAITING_MAX, ReadBatcher};
use crate::scrub;
use crate::snapshot_policy::LogPolicy;
use crate::state_machine::StateMachine;
use crate::transport::{Contact, Network, PeerServer, Refusals};
use crate::types::{PeerNode, Raft};
use crate::{Connector, Listener, NodeConfig, NodeError};

/// How long a forwarded request may wait for the leader's answer.
const FORWARD_DEADLINE: Duration = Duration::from_secs(30);

/// This node's applied log index as it moves: openraft's data metrics,
/// which it publishes once an applied batch is committed to `state.redb`, so
/// a read after `wait_beyond` returns sees the batch.
pub struct AppliedWatch {
    metrics: tokio::sync::watch::Receiver<openraft::metrics::RaftDataMetrics<u64>>,
}

impl AppliedWatch {
    /// The last applied index now.
    pub fn applied_index(&mut self) -> Option<u64> {
        self.metrics
            .borrow_and_update()
            .last_applied
            .map(|id| id.index)
    }

    /// Waits until the applied index is past `seen`: at once if it already
    /// is. Fails only when the node stopped.
    pub async fn wait_beyond(&mut self, seen: Option<u64>) -> Result<(), NodeError> {
        loop {
            if self.applied_index() > seen {
                return Ok(());
            }
            // Other metrics (a leader's quorum acknowledgements) wake this
            // too; the loop looks at the applied index again.
            self.metrics
                .changed()
                .await
                .map_err(|_| NodeError::Unavailable("the node is shutting down".to_string()))?;
        }
    }
}

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
    /// Read-index requests forwarded to the leader, one for every read waiting.
    follower_reads: ReadBatcher<Option<Result<u64, NodeError>>>,
    /// Answers peers' requests; the leader's own requests go through it too.
    peer_server: PeerServer,
    peer_server_task: tokio::task::AbortHandle,
    /// Takes redacted bytes off the disk (`scrub.rs`).
    scrubber_task: tokio::task::AbortHandle,
    /// Says so in the log when openraft stops on an error.
    stop_watch_task: tokio::task::AbortHandle,
    /// Snapshots and purges by log bytes (`snapshot_policy.rs`).
    snapshot_policy_task: tokio::task::AbortHandle,
    /// Hands leadership over while this node is short of disk space
    /// (`handoff.rs`); only on nodes with a `StorageRoom`.
    handoff_task: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.peer_server_task.abort();
        self.scrubber_task.abort();
        self.stop_watch_task.abort();
        self.snapshot_policy_task.abort();
        if let Some(task) = &self.handoff_task {
            task.abort();
        }
    }
}

/// Waits until openraft stops on an error and says so, with what to do: a
/// storage error (a full disk the reserve did not prevent, an I/O error)
/// stops openraft for good, and the node is then a member that neither
/// votes nor takes entries until its process restarts. Not restarted in
/// process: the redb files may need reopening after a failed write, and a
/// restart is the path every crash already takes (`Node::start` reopens,
/// steps down, catches up from the leader).
async fn watch_for_stop(
    node_id: u64,
    mut metrics: tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, PeerNode>>,
) {
    loop {
        if let Err(error) = &metrics.borrow_and_update().running_state {
            if !matches!(error, openraft::error::Fatal::Stopped) {
                tracing::error!(
                    node_id,
                    %error,
                    "{}",
                    crate::error::stopped_reason(error)
                );
            }
            return;
        }
        if metrics.changed().await.is_err() {
            return;
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
            None => Arc::new(
                FileDisk::new(config.data_dir.clone()).with_cache_bytes(config.cache_bytes),
            ),
        };
        let log = Arc::new(LogDb::open_on(disk.clone(), LOG_FILE).map_err(fatal)?);
        if config.disk.is_none() {
            import_older_log(&log, &config.data_dir)?;
        }
        let state = Arc::new(StateDb::open_on(disk.clone(), STATE_FILE).map_err(fatal)?);
        let secret: Arc<str> = config.cluster_secret.as_str().into();
        let connector_for_forwarding = connector.clone();
        let network = Network {
            node_id: config.node_id,
            connector,
            secret: secret.clone(),
            rpc_timeout: Duration::from_millis(config.raft.rpc_timeout_ms),
            idle: Default::default(),
            refused_retry: Duration::from_millis(config.raft.heartbeat_interval_ms),
            refusing: Default::default(),
        };
        let log_store = LogStore::new(log.clone(), config.io).map_err(fatal)?;
        let log_bytes = log_store.log_bytes();
        // openraft 0.9 would restore a committed vote for itself as leadership
        // of the same term, answering linearizable reads from an unsynced
        // commit index; a restarted node wins a new election instead.
        log_store
            .step_down_after_restart(config.node_id)
            .map_err(fatal)?;
        let (scrub_signal, scrub_wanted) = scrub::channel();
        let state_machine = StateMachine::new(state.clone(), disk.clone())
            .map_err(fatal)?
            .with_scrub(scrub_signal)
            .with_log(log.clone());
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config(&config.raft)?),
            network,
            log_store,
            state_machine,
        )
        .await
        .map_err(fatal)?;
        let scrubber = scrub::Scrubber {
            node_id: config.node_id,
            raft: raft.clone(),
            state: state.clone(),
            log: log.clone(),
            room: config.storage_room.clone(),
            io: config.io,
        };
        let scrubber_task = tokio::spawn(scrubber.run(scrub_wanted)).abort_handle();
        let snapshot_policy = LogPolicy {
            node_id: config.node_id,
            raft: raft.clone(),
            bytes: log_bytes,
            db: log.clone(),
            since_last_entries_max: config.raft.snapshot_logs_since_last,
            since_last_bytes_max: config.raft.snapshot_log_bytes_since_last,
            keep_bytes_max: config.raft.max_in_snapshot_log_bytes_to_keep,
            room: config.storage_room.clone(),
            io: config.io,
        };
        let snapshot_policy_task = tokio::spawn(snapshot_policy.run()).abort_handle();
        let handoff = Arc::new(HandOff::new(
            Duration::from_millis(config.raft.election_timeout_max_ms),
            Duration::from_millis(config.raft.heartbeat_interval_ms),
        ));
        let peer_server = PeerServer {
            node_id: config.node_id,
            raft: raft.clone(),
            secret: secret.clone(),
            contact: Arc::new(Contact::new()),
            leader_reads: Arc::new(ReadBatcher::new(READS_WAITING_MAX)),
            proposals: Arc::new(ProposeBatcher::new()),
            room: config.storage_room.clone(),
            refusals: Arc::new(Refusals::new()),
            handoff: handoff.clone(),
        };
        let peer_server_task = tokio::spawn(peer_server.clone().serve(listener)).abort_handle();
        let stop_watch_task =
            tokio::spawn(watch_for_stop(config.node_id, raft.metrics())).abort_handle();
        let handoff_task = config.storage_room.clone().map(|room| {
            let controller = handoff::Controller {
                node_id: config.node_id,
                raft: raft.clone(),
                handoff,
                room,
                asker: Forwarder::new(
                    config.node_id,
                    connector_for_forwarding.clone(),
                    secret.clone(),
                    Duration::from_millis(config.raft.rpc_timeout_ms),
                ),
            };
            tokio::spawn(controller.run()).abort_handle()
        });
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
                follower_reads: ReadBatcher::new(READS_WAITING_MAX),
                peer_server,
                peer_server_task,
                scrubber_task,
                stop_watch_task,
                snapshot_policy_task,
                handoff_task,
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

    /// Milliseconds since this node last heard from a leader (0 on the leader):
    /// how far behind a stale read may be, at most, plus replication delay.
    pub fn staleness_ms(&self) -> u64 {
        if self.inner.raft.metrics().borrow().state == ServerState::Leader {
            return 0;
        }
        self.inner.peer_server.contact.millis_since_last()
    }

    /// What this node proposed as the leader since it started: entries and
    /// the proposals batched into them.
    pub fn proposal_counts(&self) -> ProposalCounts {
        self.inner.peer_server.proposals.counts()
    }

    /// Hand-overs of leadership this node began and saw through, for want of
    /// disk space, since it started.
    pub fn hand_over_counts(&self) -> HandOverCounts {
        self.inner.peer_server.handoff.counts()
    }

    /// Whether this node leads now (cheap: no copy of the whole status).
    pub fn is_leader(&self) -> bool {
        self.inner.raft.metrics().borrow().state == ServerState::Leader
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

    /// Follows the applied log index, for readers that wait until the state
    /// machine moves (the change feed) instead of polling it.
    pub fn applied_watch(&self) -> AppliedWatch {
        AppliedWatch {
            metrics: self.inner.raft.data_metrics(),
        }
    }

    /// How many entries the Raft log holds now.
    pub fn log_entries(&self) -> Result<u64, NodeError> {
        self.inner.log.len().map_err(fatal)
    }

    /// Sizes of the Raft log's segments, the state (`state.redb` and its content
    /// file) and the snapshot files (those being received: no other is
    /// kept), in bytes.
    pub fn file_bytes(&self) -> (Option<u64>, Option<u64>, Option<u64>) {
        let dir = &self.inner.config.data_dir;
        let state = std::fs::read_dir(dir).ok().map(|files| {
            files
                .flatten()
                .filter(|file| {
                    file.file_name().to_str().is_some_and(|name| {
                        name == STATE_FILE || cairn_storage::is_content_file_of(name, STATE_FILE)
                    })
                })
                .filter_map(|file| file.metadata().ok())
                .map(|meta| meta.len())
                .sum()
        });
        let snapshots = std::fs::read_dir(dir.join(SNAPSHOT_DIR)).ok().map(|files| {
            files
                .flatten()
                .filter_map(|file| file.metadata().ok())
                .map(|meta| meta.len())
                .sum()
        });
        (Some(self.inner.log.file_bytes()), state, snapshots)
    }

    /// A digest of the whole state machine (`cairn_core::kv::state_digest`).
    pub async fn state_digest(&self) -> Result<u64, NodeError> {
        Ok(self.state_digest_applied().await?.0)
    }

    /// The state digest and the last applied log index of the state it was
    /// taken over, both from one read transaction. The applied index from
    /// `status` is read apart from the digest: on a node still applying, a
    /// digest that takes seconds describes an older state than the index
    /// read after it, and two replicas looked equal in index but not in
    /// digest. The digest reads every row, so it runs in the background
    /// (`IoMode::background`): on a runtime worker it held that worker for
    /// as long, and a node asked for digests in a row stopped replicating.
    pub async fn state_digest_applied(&self) -> Result<(u64, Option<u64>), NodeError> {
        self.read_in_background(crate::Consistency::Stale, "state-digest", |reader| {
            Ok(crate::state_machine::digest_and_applied(reader)?)
        })
        .await?
        .map_err(fatal)
    }

    /// Stops openraft and the peer server. Everything acknowledged is already on disk.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.inner.peer_server_task.abort();
        self.inner.scrubber_task.abort();
        self.inner.stop_watch_task.abort();
        self.inner.snapshot_policy_task.abort();
        if let Some(task) = &self.inner.handoff_task {
            task.abort();
        }
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

/// Moves the Raft log of an older build (`raft-log.redb`) into `log`'s
/// segments, then removes the file. A crash before the removal imports it
/// again at the next start, which writes the same entries and values.
fn import_older_log(log: &LogDb, data_dir: &std::path::Path) -> Result<(), NodeError> {
    let older = data_dir.join(cairn_storage::OLDER_LOG_FILE);
    if !older.exists() {
        return Ok(());
    }
    tracing::info!(path = %older.display(), "moving the Raft log into segment files");
    log.import_redb(&older).map_err(fatal)?;
    std::fs::remove_file(&older).map_err(fatal)
}
