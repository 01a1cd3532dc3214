//! The peer client: openraft's `RaftNetwork`, one `PeerClient` per
//! replication target. Every call has a deadline; a failed call, or one
//! dropped before its answer came, drops its connection and the next call
//! dials again.
//!
//! openraft makes a client per replication stream, and a fresh one for every
//! leadership check (a read-index round sends each voter a heartbeat through
//! a client of its own, dropped after the call). So that each round does not
//! dial and say hello anew, a client that is dropped with an idle connection
//! (its last answer read) leaves it in a pool shared by the clients of one
//! `Network`, and a client without a connection takes one from there first.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use cairn_core::codec;
use futures::{FutureExt, StreamExt};
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    ReplicationClosed, StreamingError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, Vote};

use super::frame::{self, Conn, FRAME_BYTES_MAX, read_frame, write_encoded};
use super::{PeerRequest, PeerResponse};
use crate::Connector;
use crate::types::{Entry, PeerNode, Snapshot, TypeConfig};

/// openraft's pause before sending again to a peer it could not reach (its default).
const UNREACHABLE_RETRY: Duration = Duration::from_millis(500);

/// Idle connections kept per peer (its id and address) for the next client.
const IDLE_PER_PEER_MAX: usize = 8;

/// Connections whose last answer was read, by peer id and address. A
/// `BTreeMap`, as in the forwarder: closing them in a fixed order keeps
/// simulation runs of one seed alike.
#[derive(Clone, Default)]
pub(crate) struct IdleConns(Arc<Mutex<BTreeMap<PeerKey, Vec<Conn>>>>);

/// A peer's node id and Raft address.
type PeerKey = (u64, String);

impl IdleConns {
    /// An idle connection to the peer that it has not closed meanwhile.
    fn take(&self, target: u64, addr: &str) -> Option<Conn> {
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = idle.get_mut(&(target, addr.to_string()))?;
        while let Some(mut conn) = conns.pop() {
            // Idle means the peer owes us nothing: anything readable now is EOF or junk.
            if conn.next().now_or_never().is_none() {
                return Some(conn);
            }
        }
        None
    }

    fn put(&self, target: u64, addr: &str, conn: Conn) {
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = idle.entry((target, addr.to_string())).or_default();
        if conns.len() < IDLE_PER_PEER_MAX {
            conns.push(conn);
        }
    }
}

/// Makes one `PeerClient` per target; openraft asks for one per replication
/// stream and one per leadership check.
pub(crate) struct Network {
    pub node_id: u64,
    pub connector: Arc<dyn Connector>,
    pub secret: Arc<str>,
    pub rpc_timeout: Duration,
    pub idle: IdleConns,
    /// How long openraft waits before sending again to a follower that
    /// refused entries for want of room: a heartbeat interval, since the
    /// refused request (as a heartbeat) is all the follower hears meanwhile.
    pub refused_retry: Duration,
    pub refusing: RefusingPeers,
}

/// How often entries or a snapshot chunk go to a peer that refused them
/// for want of room, to learn whether it has room again. In between, only
/// the request without its entries goes (a heartbeat), and snapshot chunks
/// not at all: a full follower is not sent megabytes it will refuse, which
/// on a busy machine delayed its heartbeats past its election timeout.
const REFUSED_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The peers whose last answer to entries or a snapshot chunk was
/// `StorageRefused`, and when it came, shared by the clients of one
/// `Network`: the snapshot has a client of its own, and openraft asks the
/// replication stream's client for its backoff after a snapshot failed.
#[derive(Clone, Default)]
pub(crate) struct RefusingPeers(Arc<Mutex<BTreeMap<u64, tokio::time::Instant>>>);

impl RefusingPeers {
    fn set(&self, target: u64, refusing: bool) {
        let mut peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if refusing {
            peers.insert(target, tokio::time::Instant::now());
        } else {
            peers.remove(&target);
        }
    }

    fn contains(&self, target: u64) -> bool {
        let peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        peers.contains_key(&target)
    }

    /// How long until the next probe of `target`.
    fn hold_left(&self, target: u64) -> Duration {
        let peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        peers.get(&target).map_or(Duration::ZERO, |since| {
            REFUSED_PROBE_INTERVAL.saturating_sub(since.elapsed())
        })
    }

    /// The peer refused within the last `REFUSED_PROBE_INTERVAL`.
    fn refused_lately(&self, target: u64) -> bool {
        let peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        peers
            .get(&target)
            .is_some_and(|since| since.elapsed() < REFUSED_PROBE_INTERVAL)
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &PeerNode) -> PeerClient {
        PeerClient {
            from: self.node_id,
            target,
            addr: node.raft_addr.clone(),
            connector: self.connector.clone(),
            secret: self.secret.clone(),
            rpc_timeout: self.rpc_timeout,
            conn: None,
            idle: self.idle.clone(),
            refused_retry: self.refused_retry,
            refusing: self.refusing.clone(),
        }
    }
}

pub(crate) struct PeerClient {
    from: u64,
    target: u64,
    addr: String,
    connector: Arc<dyn Connector>,
    secret: Arc<str>,
    rpc_timeout: Duration,
    /// Set only between calls, once the last call's answer was read.
    conn: Option<Conn>,
    idle: IdleConns,
    refused_retry: Duration,
    /// While the target refuses for want of room, openraft's backoff is
    /// `refused_retry`, not its default for an unreachable node.
    refusing: RefusingPeers,
}

impl Drop for PeerClient {
    fn drop(&mut self) {
        // `conn` is never set while a call is in flight (`exchange` holds
        // it), so what is left here owes no answer: the next client may use it.
        if let Some(conn) = self.conn.take() {
            self.idle.put(self.target, &self.addr, conn);
        }
    }
}

enum CallError {
    Io(std::io::Error),
    Timeout,
}

/// How many leading `entries` fit in a frame of `frame_bytes_max` next to the
/// rest of a request whose whole encoding took `frame_bytes`; `None` if not
/// even one does.
fn entries_that_fit(entries: &[Entry], frame_bytes: usize, frame_bytes_max: usize) -> Option<u64> {
    let sizes: Vec<usize> = entries.iter().map(codec::encoded_len).collect();
    // Overestimates the envelope slightly (a shorter list has a shorter
    // length prefix), which errs on the side of fitting.
    let envelope = frame_bytes.saturating_sub(sizes.iter().sum());
    let budget = frame_bytes_max.saturating_sub(envelope);
    let mut used = 0usize;
    let mut fitting = 0u64;
    for size in sizes {
        used += size;
        if used > budget {
            break;
        }
        fitting += 1;
    }
    (fitting > 0).then_some(fitting)
}

/// openraft's error for a request whose frame would be over the limit. For
/// an append-entries batch: how many of its entries fit, and openraft sends
/// that many next. Nothing else can be split, so it is a network error.
fn too_large<E: std::error::Error>(
    request: &PeerRequest,
    frame_bytes: usize,
) -> RPCError<u64, PeerNode, E> {
    let fitting = match request {
        PeerRequest::AppendEntries(rpc) => {
            entries_that_fit(&rpc.entries, frame_bytes, FRAME_BYTES_MAX)
        }
        _ => None,
    };
    match fitting {
        Some(entries) => {
            tracing::debug!(
                frame_bytes,
                entries,
                "append-entries batch over the frame limit; splitting"
            );
            RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(entries))
        }
        None => {
            let error = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a {} request of {frame_bytes} bytes is over the {FRAME_BYTES_MAX}-byte frame limit",
                    request.kind()
                ),
            );
            tracing::error!(%error, "cannot send a peer request");
            RPCError::Network(NetworkError::new(&error))
        }
    }
}

impl PeerClient {
    /// Sends one request and reads its answer. The connection is kept for
    /// the next call only once the answer is read: openraft drops an
    /// append-entries call when its own timeout (one heartbeat interval)
    /// fires, and a connection kept with that request in flight would hand
    /// its answer to the next call. A stale `Success` read as the answer to
    /// a later batch made the leader count entries the follower had not yet
    /// appended; killed then, the follower came back with fewer entries than
    /// the leader had counted (openraft's "follower log reversion"), and a
    /// write could be committed without a durable quorum.
    async fn exchange(&mut self, frame: Bytes) -> std::io::Result<PeerResponse> {
        let idle = match self.conn.take() {
            Some(conn) => Some(conn),
            None => self.idle.take(self.target, &self.addr),
        };
        let mut conn = match idle {
            Some(conn) => conn,
            None => {
                frame::dial(
                    &*self.connector,
                    &self.addr,
                    &self.secret,
                    (self.from, Some(self.target)),
                )
                .await?
            }
        };
        write_encoded(&mut conn, frame).await?;
        let response = read_frame(&mut conn).await?;
        self.conn = Some(conn);
        Ok(response)
    }

    async fn call(&mut self, frame: Bytes, ttl: Duration) -> Result<PeerResponse, CallError> {
        let result = tokio::time::timeout(ttl, self.exchange(frame)).await;
        // On failure `exchange` has already dropped the connection.
        match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(CallError::Io(error)),
            Err(_) => Err(CallError::Timeout),
        }
    }

    /// Empty append-entries under `vote` (no previous entry, no commit
    /// index: they change nothing but the follower's election timer) every
    /// `refused_retry` until the next probe of the target; the target's
    /// vote if it is higher than `vote`.
    async fn keep_alive(
        &mut self,
        vote: openraft::Vote<u64>,
        ttl: Duration,
    ) -> Option<openraft::Vote<u64>> {
        let request = PeerRequest::AppendEntries(AppendEntriesRequest {
            vote,
            prev_log_id: None,
            leader_commit: None,
            entries: Vec::new(),
        });
        let frame = Bytes::from(codec::encode(&request));
        loop {
            let response = self.call(frame.clone(), ttl.min(self.rpc_timeout)).await;
            if let Ok(PeerResponse::AppendEntries(Ok(AppendEntriesResponse::HigherVote(higher)))) =
                response
            {
                return Some(higher);
            }
            let left = self.refusing.hold_left(self.target);
            if left.is_zero() {
                return None;
            }
            tokio::time::sleep(left.min(self.refused_retry)).await;
        }
    }

    /// Transient: openraft backs off (`backoff`) and sends again.
    fn refused<E: std::error::Error>(&self, reason: &str) -> RPCError<u64, PeerNode, E> {
        let error = std::io::Error::other(format!(
            "node {} has no room for more data: {reason}",
            self.target
        ));
        RPCError::Unreachable(Unreachable::new(&error))
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        error: CallError,
        action: openraft::RPCTypes,
        ttl: Duration,
    ) -> RPCError<u64, PeerNode, E> {
        match error {
            CallError::Io(error) => RPCError::Unreachable(Unreachable::new(&error)),
            CallError::Timeout => RPCError::Timeout(openraft::error::Timeout {
                action,
                id: self.from,
                target: self.target,
                timeout: ttl,
            }),
        }
    }

    /// One RPC: encodes `request` once, refuses it if the frame would be
    /// over the limit, sends it, takes the answer of the expected kind
    /// (`answer`), and turns every failure into openraft's error.
    async fn rpc<T, E: std::error::Error>(
        &mut self,
        request: PeerRequest,
        ttl: Duration,
        action: openraft::RPCTypes,
        answer: impl FnOnce(PeerResponse) -> Option<Result<T, E>>,
    ) -> Result<T, RPCError<u64, PeerNode, E>> {
        let mut carries_data = match &request {
            PeerRequest::AppendEntries(rpc) => !rpc.entries.is_empty(),
            PeerRequest::InstallSnapshot(_) => true,
            _ => false,
        };
        // A peer that refused lately gets no data until the next probe: the
        // request as a heartbeat, and a snapshot chunk not at all.
        let held_back = carries_data && self.refusing.refused_lately(self.target);
        let request = match request {
            _ if !held_back => request,
            PeerRequest::AppendEntries(rpc) => {
                carries_data = false;
                PeerRequest::AppendEntries(AppendEntriesRequest {
                    vote: rpc.vote,
                    prev_log_id: rpc.prev_log_id,
                    leader_commit: rpc.leader_commit,
                    entries: Vec::new(),
                })
            }
            PeerRequest::InstallSnapshot(rpc) => {
                // openraft 0.9 sends no heartbeats to a follower while a
                // snapshot is on its way: keep it from standing for election
                // with empty append-entries until the next probe, instead of
                // offering it the next chunk (a megabyte) at once.
                let response = self.keep_alive(rpc.vote, ttl).await;
                return match response {
                    Some(vote) => Ok(answer(PeerResponse::InstallSnapshot(Ok(
                        InstallSnapshotResponse { vote },
                    )))
                    .and_then(Result::ok)
                    .ok_or_else(|| self.refused("it answered out of kind"))?),
                    None => Err(self.refused("it refused lately; asking again soon")),
                };
            }
            other => other,
        };
        let frame = Bytes::from(codec::encode(&request));
        if frame.len() > FRAME_BYTES_MAX {
            return Err(too_large(&request, frame.len()));
        }
        // The frame holds everything now; do not keep a second copy while waiting.
        drop(request);
        let response = self.call(frame, ttl).await;
        match &response {
            Ok(PeerResponse::StorageRefused { .. }) if !held_back => {
                self.refusing.set(self.target, true)
            }
            Ok(_) if carries_data => self.refusing.set(self.target, false),
            _ => {}
        }
        let response = match response {
            // The answer to the request without its entries stands for the
            // whole request, unless it is a success: the entries were not taken.
            Ok(PeerResponse::StorageRefused {
                heartbeat: Some(heartbeat),
                ..
            }) if !matches!(heartbeat, Ok(AppendEntriesResponse::Success)) => {
                Ok(PeerResponse::AppendEntries(heartbeat))
            }
            Ok(PeerResponse::StorageRefused { reason, .. }) => {
                tracing::debug!(target = self.target, %reason, "the peer has no room; retrying later");
                return Err(self.refused(&reason));
            }
            Ok(PeerResponse::AppendEntries(Ok(AppendEntriesResponse::Success))) if held_back => {
                return Err(self.refused("it refused lately; asking again soon"));
            }
            other => other,
        };
        match response {
            Ok(response) => match answer(response) {
                Some(result) => {
                    result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
                }
                None => {
                    // A peer that answers out of kind is not trusted with the next request.
                    self.conn = None;
                    let error = std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "response of the wrong kind",
                    );
                    Err(RPCError::Network(NetworkError::new(&error)))
                }
            },
            Err(error) => Err(self.rpc_error(error, action, ttl)),
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    fn backoff(&self) -> Backoff {
        let pause = if self.refusing.contains(self.target) {
            self.refused_retry
        } else {
            UNREACHABLE_RETRY
        };
        Backoff::new(std::iter::repeat(pause))
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
        // openraft 0.9 gives an append-entries call one heartbeat interval
        // (`hard_ttl`) and then retries the same batch. A batch the follower
        // cannot take in that time (a slow or busy disk, a large catch-up)
        // would time out forever and the follower never catch up. So a batch
        // of several entries gets `soft_ttl`, and running out of it answers
        // "too large, send half as many": openraft sends that many for its
        // next few calls. One entry (or a heartbeat) keeps the whole interval.
        let entries = rpc.entries.len();
        let ttl = if entries > 1 {
            option.soft_ttl()
        } else {
            option.hard_ttl()
        }
        .min(self.rpc_timeout);
        let answer = self
            .rpc(
                PeerRequest::AppendEntries(rpc),
                ttl,
                openraft::RPCTypes::AppendEntries,
                |response| match response {
                    PeerResponse::AppendEntries(result) => Some(result),
                    _ => None,
                },
            )
            .await;
        match answer {
            Err(RPCError::Timeout(_)) if entries > 1 => {
                let half = (entries / 2) as u64;
                tracing::debug!(
                    target = self.target,
                    entries,
                    half,
                    ?ttl,
                    "append-entries batch not answered in time; sending half as many"
                );
                // The connection went with the timed-out call, so no late answer is read as the next one's.
                debug_assert!(self.conn.is_none());
                Err(RPCError::PayloadTooLarge(
                    PayloadTooLarge::new_entries_hint(half),
                ))
            }
            other => other,
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, PeerNode, RaftError<u64, InstallSnapshotError>>,
    > {
        // A snapshot chunk may take longer than ordinary RPCs; openraft's
        // `install_snapshot_timeout` bounds it.
        let ttl = option.hard_ttl().max(self.rpc_timeout);
        self.rpc(
            PeerRequest::InstallSnapshot(rpc),
            ttl,
            openraft::RPCTypes::InstallSnapshot,
            |response| match response {
                PeerResponse::InstallSnapshot(result) => Some(result),
                _ => None,
            },
        )
        .await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        crate::snapshot_data::send_in_chunks(self, vote, snapshot, cancel, option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
        let ttl = option.hard_ttl().min(self.rpc_timeout);
        self.rpc(
            PeerRequest::Vote(rpc),
            ttl,
            openraft::RPCTypes::Vote,
            |response| match response {
                PeerResponse::Vote(result) => Some(result),
                _ => None,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use cairn_core::{Command, Limits, Meta, Proposal, Proposals, StoreName, StoreRef};
    use openraft::{EntryPayload, LeaderId, LogId, Vote};

    use super::*;

    /// A log entry whose encoding is a little over `bytes`.
    fn entry(index: u64, bytes: usize) -> Entry {
        let proposal = Proposal {
            meta: Meta {
                time_ms: 0,
                agent: "a".repeat(bytes),
                session: String::new(),
                idempotency_key: None,
                limits: Limits::default(),
                principal: None,
                request_id: String::new(),
            },
            command: Command::CreateStore {
                store: StoreRef::new(1, StoreName::parse("notes").unwrap()),
                owner: None,
            },
        };
        Entry {
            log_id: LogId::new(LeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Proposals::one(proposal)),
        }
    }

    fn frame_bytes(entries: Vec<Entry>) -> usize {
        let request = PeerRequest::AppendEntries(AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries,
        });
        codec::encode(&request).len()
    }

    /// A peer that answers every append-entries request in the order it
    /// reads them: `Conflict` to one whose `prev_log_id` is at index 7,
    /// `Success` to any other, and the first request on each connection only
    /// after `first_answer_delay`.
    struct OrderedPeer {
        first_answer_delay: Duration,
    }

    impl Connector for OrderedPeer {
        fn connect(
            &self,
            _addr: &str,
        ) -> crate::BoxFuture<'_, std::io::Result<Box<dyn crate::PeerStream>>> {
            let delay = self.first_answer_delay;
            Box::pin(async move {
                let (dialer, acceptor) = tokio::io::duplex(64 * 1024);
                tokio::spawn(async move {
                    let mut conn = frame::framed(Box::new(acceptor));
                    frame::accept_hello(&mut conn, "s3cret", 2).await.unwrap();
                    let mut first = true;
                    while let Ok(request) = read_frame::<PeerRequest>(&mut conn).await {
                        let PeerRequest::AppendEntries(rpc) = request else {
                            panic!("expected append-entries, got {}", request.kind());
                        };
                        if std::mem::take(&mut first) {
                            tokio::time::sleep(delay).await;
                        }
                        let answer = match rpc.prev_log_id {
                            Some(prev) if prev.index == 7 => AppendEntriesResponse::Conflict,
                            _ => AppendEntriesResponse::Success,
                        };
                        let response = PeerResponse::AppendEntries(Ok(answer));
                        if frame::write_frame(&mut conn, &response).await.is_err() {
                            break;
                        }
                    }
                });
                Ok(Box::new(dialer) as Box<dyn crate::PeerStream>)
            })
        }
    }

    fn append_after(prev_index: u64) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: Some(LogId::new(LeaderId::new(1, 1), prev_index)),
            leader_commit: None,
            entries: vec![entry(prev_index + 1, 10)],
        }
    }

    /// A client of node 1 to an `OrderedPeer` (node 2) answering its first
    /// request after `first_answer_delay`.
    fn client_of_ordered_peer(first_answer_delay: Duration) -> PeerClient {
        PeerClient {
            from: 1,
            target: 2,
            addr: "peer-2".into(),
            connector: Arc::new(OrderedPeer { first_answer_delay }),
            secret: "s3cret".into(),
            rpc_timeout: Duration::from_secs(5),
            conn: None,
            idle: IdleConns::default(),
            refused_retry: Duration::from_millis(100),
            refusing: RefusingPeers::default(),
        }
    }

    /// openraft bounds every append-entries call with its own timeout and
    /// drops the call when it fires. The answer to the dropped request must
    /// not be taken as the answer to the next one: a stale `Success` would
    /// make the leader count entries the follower has not yet made durable
    /// (the soak's "follower log reversion": a follower killed then came back
    /// with fewer entries than the leader believed it held).
    #[tokio::test]
    async fn a_dropped_call_leaves_no_answer_for_the_next_call() {
        let mut client = client_of_ordered_peer(Duration::from_millis(200));
        let option = || RPCOption::new(Duration::from_secs(5));
        // The first call is dropped before its answer comes, as openraft's timeout does.
        let dropped = tokio::time::timeout(
            Duration::from_millis(50),
            client.append_entries(append_after(3), option()),
        )
        .await;
        assert!(dropped.is_err(), "the first call should still be waiting");
        // Its answer (`Success`) is on its way meanwhile.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let answer = client.append_entries(append_after(7), option()).await;
        assert!(
            matches!(answer, Ok(AppendEntriesResponse::Conflict)),
            "the second call got {answer:?}, not its own answer (Conflict)"
        );
    }

    /// A batch the peer does not answer within `soft_ttl` comes back as "too
    /// large, send half as many", so openraft's next calls carry fewer
    /// entries; a single entry that times out is a plain timeout.
    #[tokio::test]
    async fn a_batch_not_answered_in_time_is_split_in_half() {
        let mut client = client_of_ordered_peer(Duration::from_secs(60));
        let option = || RPCOption::new(Duration::from_millis(200));
        let mut batch = append_after(3);
        batch.entries = (4..9).map(|index| entry(index, 10)).collect();
        match client.append_entries(batch, option()).await {
            Err(RPCError::PayloadTooLarge(too_large)) => assert_eq!(too_large.entries_hint(), 2),
            other => panic!("a 5-entry batch not answered in time gave {other:?}"),
        }
        match client.append_entries(append_after(3), option()).await {
            Err(RPCError::Timeout(_)) => {}
            other => panic!("one entry not answered in time gave {other:?}"),
        }
    }

    /// Counts the connections it was asked for.
    struct CountingPeer {
        inner: OrderedPeer,
        dialed: Arc<std::sync::atomic::AtomicU64>,
    }

    impl Connector for CountingPeer {
        fn connect(
            &self,
            addr: &str,
        ) -> crate::BoxFuture<'_, std::io::Result<Box<dyn crate::PeerStream>>> {
            self.dialed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.connect(addr)
        }
    }

    /// Leadership checks make a client per call; the second reuses the
    /// first's connection, and a call dropped mid-flight leaves none behind.
    #[tokio::test]
    async fn clients_of_one_network_share_idle_connections() {
        let dialed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut network = Network {
            node_id: 1,
            connector: Arc::new(CountingPeer {
                inner: OrderedPeer {
                    first_answer_delay: Duration::from_millis(200),
                },
                dialed: dialed.clone(),
            }),
            secret: "s3cret".into(),
            rpc_timeout: Duration::from_secs(5),
            idle: IdleConns::default(),
            refused_retry: Duration::from_millis(100),
            refusing: RefusingPeers::default(),
        };
        let node = PeerNode::default();
        let option = || RPCOption::new(Duration::from_secs(5));
        let dials = || dialed.load(std::sync::atomic::Ordering::Relaxed);
        let mut first = network.new_client(2, &node).await;
        let answer = first.append_entries(append_after(3), option()).await;
        assert!(matches!(answer, Ok(AppendEntriesResponse::Success)));
        drop(first);
        let mut second = network.new_client(2, &node).await;
        let answer = second.append_entries(append_after(7), option()).await;
        assert!(matches!(answer, Ok(AppendEntriesResponse::Conflict)));
        assert_eq!(
            dials(),
            1,
            "the second client reused the first's connection"
        );
        // While the second holds that connection, a third dials its own; its
        // call is dropped before the (delayed) answer comes.
        let mut third = network.new_client(2, &node).await;
        let dropped = tokio::time::timeout(
            Duration::from_millis(50),
            third.append_entries(append_after(3), option()),
        )
        .await;
        assert!(dropped.is_err(), "the third call should still be waiting");
        assert_eq!(dials(), 2);
        drop(second);
        drop(third);
        // Only the second's connection is idle: the third's owes an answer
        // (`Success`, on its way), which would be read as the next call's.
        let mut fourth = network.new_client(2, &node).await;
        let answer = fourth.append_entries(append_after(7), option()).await;
        assert!(
            matches!(answer, Ok(AppendEntriesResponse::Conflict)),
            "the fourth call got {answer:?}, not its own answer (Conflict)"
        );
        assert_eq!(dials(), 2);
    }

    /// A follower with no room: answers append-entries requests that carry
    /// entries with `StorageRefused`, and counts them; its heartbeat answer
    /// (to those, and to requests without entries) is `Conflict` when
    /// `prev_log_id` is at index 7 and `Success` otherwise.
    struct FullPeer {
        refused: Arc<std::sync::atomic::AtomicU64>,
    }

    impl Connector for FullPeer {
        fn connect(
            &self,
            _addr: &str,
        ) -> crate::BoxFuture<'_, std::io::Result<Box<dyn crate::PeerStream>>> {
            let refused = self.refused.clone();
            Box::pin(async move {
                let (dialer, acceptor) = tokio::io::duplex(64 * 1024);
                tokio::spawn(async move {
                    let mut conn = frame::framed(Box::new(acceptor));
                    frame::accept_hello(&mut conn, "s3cret", 2).await.unwrap();
                    while let Ok(request) = read_frame::<PeerRequest>(&mut conn).await {
                        let PeerRequest::AppendEntries(rpc) = request else {
                            panic!("expected append-entries, got {}", request.kind());
                        };
                        let heartbeat = match rpc.prev_log_id {
                            Some(prev) if prev.index == 7 => AppendEntriesResponse::Conflict,
                            _ => AppendEntriesResponse::Success,
                        };
                        let response = if rpc.entries.is_empty() {
                            PeerResponse::AppendEntries(Ok(heartbeat))
                        } else {
                            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            PeerResponse::StorageRefused {
                                reason: "disk below the floor".into(),
                                heartbeat: Some(Ok(heartbeat)),
                            }
                        };
                        if frame::write_frame(&mut conn, &response).await.is_err() {
                            break;
                        }
                    }
                });
                Ok(Box::new(dialer) as Box<dyn crate::PeerStream>)
            })
        }
    }

    /// Entries a follower refused for want of room are a transient failure
    /// (openraft sends them again after `refused_retry`, not after its
    /// default pause for an unreachable node, which could outlast the
    /// follower's election timeout); until the next probe only heartbeats
    /// go to it, and a conflict in one is the answer to the whole request.
    #[tokio::test]
    async fn refused_entries_are_retried_soon_as_heartbeats_and_a_conflict_still_counts() {
        let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let refusals = || refused.load(std::sync::atomic::Ordering::Relaxed);
        let mut network = Network {
            node_id: 1,
            connector: Arc::new(FullPeer {
                refused: refused.clone(),
            }),
            secret: "s3cret".into(),
            rpc_timeout: Duration::from_secs(5),
            idle: IdleConns::default(),
            refused_retry: Duration::from_millis(150),
            refusing: RefusingPeers::default(),
        };
        let mut client = network.new_client(2, &PeerNode::default()).await;
        let option = || RPCOption::new(Duration::from_secs(5));
        let answer = client.append_entries(append_after(3), option()).await;
        match answer {
            Err(RPCError::Unreachable(error)) => {
                assert!(
                    error.to_string().contains("disk below the floor"),
                    "{error}"
                );
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
        assert_eq!(refusals(), 1);
        assert_eq!(client.backoff().next(), Some(Duration::from_millis(150)));
        // Within the probe interval the entries stay here: the peer sees a heartbeat.
        let answer = client.append_entries(append_after(3), option()).await;
        assert!(
            matches!(answer, Err(RPCError::Unreachable(_))),
            "{answer:?}"
        );
        let answer = client.append_entries(append_after(7), option()).await;
        assert!(
            matches!(answer, Ok(AppendEntriesResponse::Conflict)),
            "{answer:?}"
        );
        assert_eq!(refusals(), 1, "no entries were sent to the full peer");
        // Another client of the network (openraft's snapshot sender, or the
        // stream after a snapshot failed) pauses as briefly, and sends no chunk.
        let mut other = network.new_client(2, &PeerNode::default()).await;
        assert_eq!(other.backoff().next(), Some(Duration::from_millis(150)));
        let chunk = InstallSnapshotRequest {
            vote: Vote::new_committed(1, 1),
            meta: Default::default(),
            offset: 0,
            data: vec![0; 16],
            done: true,
        };
        let answer = other.install_snapshot(chunk, option()).await;
        assert!(
            matches!(answer, Err(RPCError::Unreachable(_))),
            "{answer:?}"
        );
        // After the probe interval the entries go again.
        tokio::time::sleep(REFUSED_PROBE_INTERVAL).await;
        let answer = client.append_entries(append_after(3), option()).await;
        assert!(
            matches!(answer, Err(RPCError::Unreachable(_))),
            "{answer:?}"
        );
        assert_eq!(refusals(), 2);
        // A peer that cannot be reached, and never refused, gets openraft's usual pause.
        network.connector = Arc::new(NoPeer);
        let mut unreachable = network.new_client(3, &PeerNode::default()).await;
        let answer = unreachable.append_entries(append_after(3), option()).await;
        assert!(
            matches!(answer, Err(RPCError::Unreachable(_))),
            "{answer:?}"
        );
        assert_eq!(unreachable.backoff().next(), Some(UNREACHABLE_RETRY));
    }

    /// Refuses every connection.
    struct NoPeer;

    impl Connector for NoPeer {
        fn connect(
            &self,
            _addr: &str,
        ) -> crate::BoxFuture<'_, std::io::Result<Box<dyn crate::PeerStream>>> {
            Box::pin(async {
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "refused",
                ))
            })
        }
    }

    #[test]
    fn a_batch_over_the_frame_limit_is_cut_to_the_entries_that_fit() {
        let frame_bytes_max = 4000;
        let entries: Vec<Entry> = (1..=6).map(|index| entry(index, 1000)).collect();
        let whole = frame_bytes(entries.clone());
        assert!(whole > frame_bytes_max);
        // Each entry is a little over a quarter of the frame: three fit, not four.
        assert_eq!(entries_that_fit(&entries, whole, frame_bytes_max), Some(3));
        assert!(frame_bytes(entries[..3].to_vec()) <= frame_bytes_max);
        assert!(frame_bytes(entries[..4].to_vec()) > frame_bytes_max);
        // A batch that fits whole is not cut.
        assert_eq!(entries_that_fit(&entries, whole, whole), Some(6));
    }

    #[test]
    fn an_entry_larger_than_a_frame_cannot_be_cut_down() {
        let entries = vec![entry(1, 5000)];
        let whole = frame_bytes(entries.clone());
        assert_eq!(entries_that_fit(&entries, whole, 4000), None);
    }

    #[test]
    fn only_an_append_entries_batch_is_split() {
        let request = PeerRequest::ReadIndex;
        let error: RPCError<u64, PeerNode, RaftError<u64>> =
            too_large(&request, FRAME_BYTES_MAX + 1);
        assert!(matches!(error, RPCError::Network(_)), "{error}");
        let batch = PeerRequest::AppendEntries(AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries: vec![entry(1, 10), entry(2, 10)],
        });
        let error: RPCError<u64, PeerNode, RaftError<u64>> = too_large(&batch, FRAME_BYTES_MAX + 1);
        assert!(matches!(error, RPCError::PayloadTooLarge(_)), "{error}");
    }
}
