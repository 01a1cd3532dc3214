//! Peer RPC over any byte stream: length-delimited bincode frames. A
//! connection opens with a hello carrying the protocol version and the
//! cluster secret; the server drops connections that do not match. Then
//! request and response frames alternate.
//!
//! - `frame`: the codec, the frame limit, the hello.
//! - `server`: accepts connections and answers requests.
//! - `client`: openraft's `RaftNetwork`, the leader's side of replication.
//! - `tcp`: the seams on real sockets.
//! - `tls`: TLS over any seam: mutual TLS between peers, and the listener the
//!   HTTP API uses when TLS is on.

mod client;
mod frame;
mod server;
mod tcp;
mod tls;

use cairn_core::{Outcome, Proposal};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::NodeError;
use crate::leader::AdminRequest;
use crate::types::TypeConfig;

pub(crate) use client::Network;
pub(crate) use frame::{Conn, dial, read_frame, write_frame};
pub use frame::{FRAME_BYTES_MAX, FRAME_ENTRY_OVERHEAD_BYTES_MAX, PROTOCOL_VERSION};
pub(crate) use server::{Contact, PeerServer, Refusals};
pub use tcp::{TcpConnector, TcpPeerListener};
pub use tls::{
    NodeTls, TLS_HANDSHAKE_TIMEOUT_MS, TLS_HANDSHAKES_IN_FLIGHT_MAX, TlsConnector, TlsError,
    TlsListener,
};

#[derive(Clone, Serialize, Deserialize)]
pub(crate) enum PeerRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A write received by a follower, for the leader to propose.
    Propose(Proposal),
    /// A follower asks the leader for a read index.
    ReadIndex,
    /// A membership change, for the leader to make.
    Admin(AdminRequest),
    /// The leader of `term`, short of disk space, asks a voter to take over:
    /// to stand for election once the leader has been quiet for its lease
    /// and the voter holds `last_log_index` (`handoff.rs`).
    HandOver {
        term: u64,
        last_log_index: Option<u64>,
    },
}

impl PeerRequest {
    /// The request's kind, for logs and spans.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            PeerRequest::AppendEntries(_) => "append_entries",
            PeerRequest::Vote(_) => "vote",
            PeerRequest::InstallSnapshot(_) => "install_snapshot",
            PeerRequest::Propose(_) => "propose",
            PeerRequest::ReadIndex => "read_index",
            PeerRequest::Admin(_) => "admin",
            PeerRequest::HandOver { .. } => "hand_over",
        }
    }
}

type SnapshotResult = Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>;

#[derive(Serialize, Deserialize)]
pub(crate) enum PeerResponse {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(SnapshotResult),
    Propose(Result<Outcome, NodeError>),
    ReadIndex(Result<u64, NodeError>),
    Admin(Result<(), NodeError>),
    /// The follower has no room for the request's entries or snapshot chunk
    /// (`StorageRoom`) and did not take them; the leader retries later. For
    /// append-entries, `heartbeat` answers the same request without its
    /// entries, which the follower did take: it keeps the follower's
    /// election timer and commit index going, and a `Conflict` or a higher
    /// vote in it stands for the whole request.
    StorageRefused {
        reason: String,
        heartbeat: Option<Result<AppendEntriesResponse<u64>, RaftError<u64>>>,
    },
    /// `Ok` when the voter will stand for election once the leader is
    /// quiet; `Err(why)` when it will not (no room of its own, not a
    /// follower of that leader in that term).
    HandOver(Result<(), String>),
}
