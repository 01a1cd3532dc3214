//! The peer server: accepts connections on the `Listener`, checks each
//! one's hello, then answers its requests in order: Raft's own RPCs, and
//! what followers ask of the leader (proposals, read indexes, membership).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_core::codec;
use futures::StreamExt;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotResponse};

use super::frame::{self, write_frame};
use super::{PeerRequest, PeerResponse};
use crate::handoff::{self, HandOff};
use crate::leader::{self, LeaderReads};
use crate::propose_batcher::ProposeBatcher;
use crate::types::Raft;
use crate::{Listener, NodeError, PeerStream, StorageRoom};

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

/// An episode of refusing the leader's entries for want of room: logged
/// when it begins and when it ends, not at every refused request.
pub(crate) struct Refusals {
    current: Mutex<Option<Episode>>,
}

struct Episode {
    since: tokio::time::Instant,
    reason: String,
    refused: u64,
}

impl Refusals {
    pub(crate) fn new() -> Refusals {
        Refusals {
            current: Mutex::new(None),
        }
    }

    fn refused(&self, node_id: u64, reason: &str) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match current.as_mut() {
            Some(episode) => {
                episode.refused += 1;
                episode.reason = reason.to_string();
            }
            None => {
                tracing::warn!(
                    node_id,
                    %reason,
                    "refusing the leader's entries and snapshots until there is room; this node falls behind (reads of it go stale) but stays a member, and catches up by itself once space is freed"
                );
                *current = Some(Episode {
                    since: tokio::time::Instant::now(),
                    reason: reason.to_string(),
                    refused: 1,
                });
            }
        }
    }

    fn admitted(&self, node_id: u64) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(episode) = current.take() {
            tracing::warn!(
                node_id,
                refused_ms = episode.since.elapsed().as_millis() as u64,
                refused_requests = episode.refused,
                "there is room again: taking the leader's entries and catching up"
            );
        }
    }

    /// Why the node refuses replication now, if it does.
    pub(crate) fn reason(&self) -> Option<String> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map(|episode| episode.reason.clone())
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
    /// Asked before taking entries, snapshot chunks and forwarded proposals.
    pub room: Option<Arc<dyn StorageRoom>>,
    pub refusals: Arc<Refusals>,
    /// Leadership handed over for want of room (`handoff.rs`): whether this
    /// leader steps aside, and when a leader was last heard from.
    pub handoff: Arc<HandOff>,
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
            let frame = conn.next().await.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "peer closed")
            })??;
            let request: PeerRequest = codec::decode(&frame)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let frame_bytes = frame.len() as u64;
            drop(frame);
            let from_leader = matches!(
                request,
                PeerRequest::AppendEntries(_) | PeerRequest::InstallSnapshot(_)
            );
            let response = match self.refuse_for_room(from, request, frame_bytes).await {
                Ok(request) => self.answer(from, request).await,
                Err(refused) => refused,
            };
            if from_leader {
                // Taken by openraft, which renewed this node's vote with it
                // (accepted or not): the leader lease runs from about now.
                self.handoff.heard_from_leader();
            }
            write_frame(&mut conn, &response).await?;
        }
    }

    /// `Err(answer)` when this node has no room for what `request` would
    /// make it store (`StorageRoom`): a batch of entries or a snapshot chunk
    /// from the leader, or a write another node forwarded to this one as the
    /// leader. Heartbeats, votes and reads always pass, so a node short of
    /// space stays a quiet member. A refused batch is still taken as a
    /// heartbeat (the same request without its entries).
    async fn refuse_for_room(
        &self,
        from: u64,
        request: PeerRequest,
        frame_bytes: u64,
    ) -> Result<PeerRequest, PeerResponse> {
        let Some(room) = &self.room else {
            return Ok(request);
        };
        match request {
            PeerRequest::AppendEntries(rpc) if !rpc.entries.is_empty() => {
                match room.admit_replication(frame_bytes) {
                    Ok(()) => {
                        self.refusals.admitted(self.node_id);
                        Ok(PeerRequest::AppendEntries(rpc))
                    }
                    Err(reason) => {
                        self.refusals.refused(self.node_id, &reason);
                        let heartbeat = AppendEntriesRequest {
                            vote: rpc.vote,
                            prev_log_id: rpc.prev_log_id,
                            leader_commit: rpc.leader_commit,
                            entries: Vec::new(),
                        };
                        drop(rpc);
                        let result = self.raft.append_entries(heartbeat).await;
                        if matches!(result, Ok(AppendEntriesResponse::Success)) {
                            self.contact.touch();
                        }
                        Err(PeerResponse::StorageRefused {
                            reason,
                            heartbeat: Some(result),
                        })
                    }
                }
            }
            PeerRequest::InstallSnapshot(rpc) => match room.admit_replication(frame_bytes) {
                Ok(()) => {
                    self.refusals.admitted(self.node_id);
                    Ok(PeerRequest::InstallSnapshot(rpc))
                }
                Err(reason) => {
                    self.refusals.refused(self.node_id, &reason);
                    // openraft 0.9 sends no heartbeats while a snapshot is on
                    // its way: the refused chunk keeps the election timer
                    // going instead (an empty append-entries with no
                    // previous entry and no commit index changes nothing else).
                    let keep_alive = AppendEntriesRequest {
                        vote: rpc.vote,
                        prev_log_id: None,
                        leader_commit: None,
                        entries: Vec::new(),
                    };
                    drop(rpc);
                    match self.raft.append_entries(keep_alive).await {
                        Ok(AppendEntriesResponse::HigherVote(vote)) => {
                            Err(PeerResponse::InstallSnapshot(Ok(InstallSnapshotResponse {
                                vote,
                            })))
                        }
                        _ => Err(PeerResponse::StorageRefused {
                            reason,
                            heartbeat: None,
                        }),
                    }
                }
            },
            PeerRequest::Propose(proposal)
                if from != self.node_id
                    && self.raft.metrics().borrow().current_leader == Some(self.node_id) =>
            {
                match room.admit_proposal(&proposal) {
                    Ok(()) => Ok(PeerRequest::Propose(proposal)),
                    Err(reason) => Err(PeerResponse::Propose(Err(NodeError::StorageFull(reason)))),
                }
            }
            other => Ok(other),
        }
    }

    /// Answers one request from node `from`. Also the leader's own path for
    /// the requests only a leader answers, so both routes behave alike.
    #[tracing::instrument(
        name = "peer_request",
        level = "debug",
        skip_all,
        fields(node_id = self.node_id, from = from, request = request.kind())
    )]
    pub(crate) async fn answer(&self, from: u64, request: PeerRequest) -> PeerResponse {
        let raft = &self.raft;
        match request {
            // A leader handing over answers nothing that would reach its
            // followers; every node retries `NotLeader` until the new
            // leader is known.
            PeerRequest::Propose(_) if self.handoff.stepping_aside() => {
                PeerResponse::Propose(Err(HandOff::not_leader()))
            }
            PeerRequest::ReadIndex if self.handoff.stepping_aside() => {
                PeerResponse::ReadIndex(Err(HandOff::not_leader()))
            }
            PeerRequest::Admin(_) if self.handoff.stepping_aside() => {
                PeerResponse::Admin(Err(HandOff::not_leader()))
            }
            PeerRequest::HandOver {
                term,
                last_log_index,
            } => PeerResponse::HandOver(self.take_over(from, term, last_log_index)),
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

    /// Node `leader`, the leader of `term`, asks this node to take over:
    /// refused when this node is below its own reserve or does not follow
    /// that leader in that term; else it stands for election on a task of
    /// its own once the leader has gone quiet (`handoff::elect_when_quiet`).
    fn take_over(&self, leader: u64, term: u64, last_log_index: Option<u64>) -> Result<(), String> {
        if let Some(reason) = self.room.as_ref().and_then(|room| room.below_reserve()) {
            return Err(format!("no room of its own: {reason}"));
        }
        {
            let metrics = self.raft.metrics();
            let metrics = metrics.borrow();
            if metrics.current_term != term
                || metrics.current_leader != Some(leader)
                || metrics.state != openraft::ServerState::Follower
            {
                return Err(format!(
                    "not a follower of node {leader} in term {term} (term {}, leader {:?}, {:?})",
                    metrics.current_term, metrics.current_leader, metrics.state
                ));
            }
        }
        tokio::spawn(handoff::elect_when_quiet(
            self.node_id,
            self.raft.clone(),
            self.handoff.clone(),
            leader,
            term,
            last_log_index,
        ));
        Ok(())
    }
}
