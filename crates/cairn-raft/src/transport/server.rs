//! The peer server: accepts connections on the `Listener`, checks each
//! one's hello, then answers its requests in order: Raft's own RPCs, and
//! what followers ask of the leader (proposals, read indexes, membership).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openraft::raft::AppendEntriesResponse;

use super::frame::{self, read_frame, write_frame};
use super::{PeerRequest, PeerResponse};
use crate::leader::{self, LeaderReads};
use crate::propose_batcher::ProposeBatcher;
use crate::types::Raft;
use crate::{Listener, PeerStream};

/// When this node last accepted entries (or a heartbeat) from a leader.
pub(crate) struct Contact {
    origin: tokio::time::Instant,
    /// Milliseconds after `origin`; `u64::MAX` until the first contact.
    last_ms: AtomicU64,
}

impl Contact {
    pub(crate) fn new() -> Contact {
        Contact {
            origin: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(u64::MAX),
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// `u64::MAX` if no leader was ever heard from.
    pub(crate) fn millis_since_last(&self) -> u64 {
        match self.last_ms.load(Ordering::Relaxed) {
            u64::MAX => u64::MAX,
            last => self.now_ms().saturating_sub(last),
        }
    }
}

/// What the peer server needs to answer requests.
#[derive(Clone)]
pub(crate) struct PeerServer {
    pub node_id: u64,
    pub raft: Raft,
    pub secret: Arc<str>,
    pub contact: Arc<Contact>,
    /// Read-index rounds as the leader, for forwarded and local reads alike.
    pub leader_reads: Arc<LeaderReads>,
    /// Proposals as the leader, forwarded and local alike, batched into entries.
    pub proposals: Arc<ProposeBatcher>,
}

impl PeerServer {
    /// Accepts peer connections until the listener fails, serving each on its own task.
    pub(crate) async fn serve(self, mut listener: Box<dyn Listener>) {
        loop {
            let (stream, remote) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "peer listener failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let server = self.clone();
            tokio::spawn(async move {
                if let Err(error) = server.serve_connection(stream).await {
                    tracing::debug!(%remote, %error, "peer connection closed");
                }
            });
        }
    }

    async fn serve_connection(&self, stream: Box<dyn PeerStream>) -> std::io::Result<()> {
        let mut conn = frame::framed(stream);
        let from = frame::accept_hello(&mut conn, &self.secret, self.node_id).await?;
        loop {
            let request: PeerRequest = read_frame(&mut conn).await?;
            let response = self.answer(from, request).await;
            write_frame(&mut conn, &response).await?;
        }
    }

    /// Answers one request from node `from`. Also the leader's own path for
    /// the requests only a leader answers, so both routes behave alike.
    #[tracing::instrument(
        name = "peer_request",
        skip_all,
        fields(node_id = self.node_id, from = from, request = request.kind())
    )]
    pub(crate) async fn answer(&self, from: u64, request: PeerRequest) -> PeerResponse {
        let raft = &self.raft;
        match request {
            PeerRequest::AppendEntries(rpc) => {
                let result = raft.append_entries(rpc).await;
                if matches!(result, Ok(AppendEntriesResponse::Success)) {
                    self.contact.touch();
                }
                PeerResponse::AppendEntries(result)
            }
            PeerRequest::Vote(rpc) => PeerResponse::Vote(raft.vote(rpc).await),
            PeerRequest::InstallSnapshot(rpc) => {
                PeerResponse::InstallSnapshot(raft.install_snapshot(rpc).await)
            }
            PeerRequest::Propose(proposal) => {
                PeerResponse::Propose(self.proposals.propose(raft, proposal).await)
            }
            PeerRequest::ReadIndex => {
                PeerResponse::ReadIndex(leader::read_index(raft, &self.leader_reads).await)
            }
            PeerRequest::Admin(request) => PeerResponse::Admin(leader::admin(raft, request).await),
        }
    }
}
