//! The Raft layer. `Node` is the one facade the HTTP server uses: propose a
//! command, read the state machine at a chosen consistency, inspect metrics.
//!
//! **Architecture invariant:** this crate knows nothing of HTTP routes.
//! Peers are reached only through `Connector`, and peer RPCs are accepted
//! only from a `Listener`, so the simulation can swap the network.

// openraft's `StorageError` (about 224 bytes) is what its storage traits must
// return; our helpers return it too rather than boxing and unboxing it.
#![allow(clippy::result_large_err)]

mod config;
#[cfg(test)]
mod conformance;
mod error;
mod forward;
mod handoff;
mod leader;
mod log_store;
mod node;
mod propose_batcher;
mod read_batcher;
mod scrub;
mod snapshot_data;
mod snapshot_policy;
mod state_machine;
mod transport;
pub mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What `Node::read` hands its closure: a read transaction on the state
/// machine. Re-exported so callers need no direct dependency on storage.
pub use cairn_storage::StateReader;
/// `[storage] cache_bytes`: its default and least value.
pub use cairn_storage::{CACHE_BYTES_DEFAULT, CACHE_BYTES_MIN};
pub use config::RaftSettings;
pub use error::NodeError;

pub use handoff::HandOverCounts;
pub use leader::AdminRequest;
pub use node::{AppliedWatch, Node};
pub use propose_batcher::ProposalCounts;
pub use transport::{
    FRAME_BYTES_MAX, FRAME_ENTRY_OVERHEAD_BYTES_MAX, NodeTls, PROTOCOL_VERSION,
    TLS_HANDSHAKE_TIMEOUT_MS, TLS_HANDSHAKES_IN_FLIGHT_MAX, TcpConnector, TcpPeerListener,
    TlsConnector, TlsError, TlsListener,
};
pub use types::PeerNode;

/// A peer connection's byte stream.
pub trait PeerStream:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static
{
}
impl<T> PeerStream for T where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static
{
}

/// A boxed future, as the seams' object-safe methods return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Dials peers. `TcpConnector` on real sockets; the simulation has its own.
pub trait Connector: Send + Sync + 'static {
    fn connect(&self, addr: &str) -> BoxFuture<'_, std::io::Result<Box<dyn PeerStream>>>;
}

/// Accepts peer connections. `tokio::net::TcpListener` on real sockets.
pub trait Listener: Send + 'static {
    fn accept(&mut self) -> BoxFuture<'_, std::io::Result<(Box<dyn PeerStream>, String)>>;
}

/// Whether this node has room for more data, asked before it takes what
/// would grow its storage from another node. The server answers from the
/// data directory's free space (`cairn_server::disk::DiskGuard`); without
/// one (`NodeConfig::storage_room` is `None`, as in the simulation) every
/// request is taken.
///
/// Raft cannot refuse an entry it has appended, and a storage error stops
/// it for good, so a follower refuses *before* its disk is full: the leader
/// retries the refused entries (or snapshot chunk) later, heartbeats and
/// votes still pass, and the follower catches up by itself once there is room.
pub trait StorageRoom: Send + Sync + std::fmt::Debug + 'static {
    /// `Err(why)` while this node must not take `bytes` more of the leader's
    /// log entries or snapshot (a floor below the client writes' reserve,
    /// so client writes stop first and replication keeps some headroom).
    fn admit_replication(&self, bytes: u64) -> Result<(), String>;

    /// `Err(why)` while this node, as the leader, must not propose
    /// `proposal` that another node forwarded to it: the same rule the
    /// forwarding node's own service applies to its clients' writes.
    fn admit_proposal(&self, proposal: &cairn_core::Proposal) -> Result<(), String>;

    /// `Some(why)` while this node is below the reserve its client writes
    /// need: as the leader it hands leadership to a voter with room, it
    /// refuses to take over from another leader, and it does not stand for
    /// election while a leader is heard from (`handoff.rs`).
    fn below_reserve(&self) -> Option<String>;
}

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub node_id: u64,
    /// Holds the Raft log's segments, `state.redb` and its content file, and `snapshots/`.
    pub data_dir: PathBuf,
    /// Where the redb databases live instead of `data_dir` (the simulation's disk).
    pub disk: Option<std::sync::Arc<dyn cairn_storage::Disk>>,
    /// The page cache of `state.redb` (`[storage] cache_bytes`;
    /// `cairn_storage::cache_bytes_for`).
    /// A `disk` given here brings its own.
    pub cache_bytes: u64,
    /// How the Raft log's writer runs.
    pub io: IoMode,
    /// The address peers dial to reach this node's Raft port.
    pub raft_advertise_addr: String,
    /// The address clients (and forwarding peers) use for this node's HTTP API.
    pub api_advertise_addr: String,
    pub tags: BTreeMap<String, String>,
    /// Checked on every peer connection.
    pub cluster_secret: String,
    pub raft: RaftSettings,
    /// Asked before taking replicated entries, snapshot chunks and forwarded
    /// proposals; `None` takes everything.
    pub storage_room: Option<std::sync::Arc<dyn StorageRoom>>,
}

/// Where blocking log I/O (the fsync of each group commit) runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoMode {
    /// A dedicated thread: the runtime's workers never wait on the disk.
    #[default]
    Thread,
    /// A task on the runtime, for the deterministic simulation.
    Inline,
}

/// The nice value of a thread doing background work (0 is the normal
/// priority, 19 the lowest): a digest or audit verification at a million files
/// scans 4 GiB of state and wants a core for seconds, which on a small
/// machine would otherwise come out of the requests and replication served
/// meanwhile.
const BACKGROUND_NICE: i32 = 10;

impl IoMode {
    /// Runs `work`, which reads or writes for long without yielding, where
    /// it holds no runtime worker (and the task queued in that worker's LIFO
    /// slot): under `Thread` on a thread of its own named `name`, at
    /// `BACKGROUND_NICE`; under `Inline` (the simulation, where a thread
    /// would break determinism) on the calling task. Fails only if the
    /// operating system refuses a thread.
    pub(crate) async fn background<T: Send + 'static>(
        self,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<T> {
        match self {
            IoMode::Thread => {
                let (done, result) = tokio::sync::oneshot::channel();
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || {
                        // The calling thread's nice value (Linux keeps one per thread).
                        if let Err(error) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
                            tracing::debug!(%error, "background work keeps the normal CPU priority");
                        }
                        let _ = done.send(work());
                    })?;
                result.await.map_err(std::io::Error::other)
            }
            IoMode::Inline => Ok(work()),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// Through the leader's read index: sees every write acknowledged before the read began.
    #[default]
    Linearizable,
    /// From the local replica as it is.
    Stale,
}

/// A snapshot of the node's Raft state for `/ready`, `/metrics` and `cluster status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    pub node_id: u64,
    /// `Leader`, `Follower`, `Candidate` or `Learner`.
    pub state: String,
    pub current_term: u64,
    pub current_leader: Option<u64>,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    /// The highest index a quorum of voters holds (known on the leader only).
    pub committed_index: Option<u64>,
    /// On the leader: the last index each member is known to hold.
    pub matched: BTreeMap<u64, Option<u64>>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Every member's addresses and tags.
    pub nodes: BTreeMap<u64, PeerNode>,
    /// Whether openraft is running (false after a storage failure).
    pub running: bool,
    /// Why openraft stopped, when it stopped on an error (not a shutdown).
    pub stopped_reason: Option<String>,
    /// Why this node refuses the leader's entries now (`StorageRoom`), if it does.
    pub refusing_replication: Option<String>,
    /// The voter this leader, below its storage reserve, is handing
    /// leadership over to, while it does.
    pub handing_over_to: Option<u64>,
}
