//! Peer RPC over any byte stream: length-delimited bincode frames. A
//! connection opens with a `Hello` carrying the cluster secret and the node
//! the dialer means to reach; the server drops connections that do not
//! present the secret or that are meant for another node. Then request and response frames
//! alternate. Every call has a deadline; a failed call drops its connection
//! and the next call dials again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cairn_core::codec;
use futures::{SinkExt, StreamExt};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use cairn_core::{Outcome, Proposal};

use crate::local::{self, AdminRequest};
use crate::types::{PeerNode, Raft, TypeConfig};
use crate::{BoxFuture, Connector, Listener, NodeError, PeerStream};

/// The largest frame either side accepts: an append-entries batch of
/// `max_payload_entries` entries, each at most one request, fits well within.
pub const FRAME_BYTES_MAX: usize = 256 * 1024 * 1024;

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type Conn = Framed<Box<dyn PeerStream>, LengthDelimitedCodec>;

fn framed(stream: Box<dyn PeerStream>) -> Conn {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(FRAME_BYTES_MAX)
        .new_codec();
    Framed::new(stream, codec)
}

#[derive(Serialize, Deserialize)]
struct Hello {
    secret: String,
    from: u64,
    /// The node the dialer means to reach, when it knows it. A member whose
    /// recorded address is really another node's (a mistyped learner address,
    /// or the leader's own) must not have that node's Raft answer in its name:
    /// a leader that accepted append-entries from itself would break
    /// openraft's state (it asserts it has no leader role while following).
    to: Option<u64>,
}

#[derive(Serialize, Deserialize)]
enum HelloReply {
    Welcome,
    Rejected(String),
}

#[derive(Serialize, Deserialize)]
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
}

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

/// Compares secrets without stopping at the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) async fn read_frame<T: serde::de::DeserializeOwned>(
    conn: &mut Conn,
) -> std::io::Result<T> {
    let frame = conn
        .next()
        .await
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "peer closed"))??;
    codec::decode(&frame).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

pub(crate) async fn write_frame<T: Serialize>(conn: &mut Conn, value: &T) -> std::io::Result<()> {
    conn.send(Bytes::from(codec::encode(value))).await
}

/// Accepts peer connections until the listener fails, serving each on its own task.
pub(crate) async fn serve(
    mut listener: Box<dyn Listener>,
    raft: Raft,
    node_id: u64,
    secret: Arc<str>,
    contact: Arc<Contact>,
) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "peer listener failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let raft = raft.clone();
        let secret = secret.clone();
        let contact = contact.clone();
        tokio::spawn(async move {
            if let Err(error) = serve_connection(stream, raft, node_id, &secret, &contact).await {
                tracing::debug!(%remote, %error, "peer connection closed");
            }
        });
    }
}

async fn serve_connection(
    stream: Box<dyn PeerStream>,
    raft: Raft,
    node_id: u64,
    secret: &str,
    contact: &Contact,
) -> std::io::Result<()> {
    let mut conn = framed(stream);
    let hello: Hello = tokio::time::timeout(HELLO_TIMEOUT, read_frame(&mut conn))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no hello"))??;
    if !same_secret(&hello.secret, secret) {
        tracing::warn!(from = hello.from, "peer presented a wrong cluster secret");
        let reply = HelloReply::Rejected("wrong cluster secret".into());
        write_frame(&mut conn, &reply).await?;
        return Ok(());
    }
    if let Some(to) = hello.to
        && to != node_id
    {
        tracing::warn!(
            from = hello.from,
            to,
            "peer dialed this node for another node id"
        );
        let reply = HelloReply::Rejected(format!("this is node {node_id}, not node {to}"));
        write_frame(&mut conn, &reply).await?;
        return Ok(());
    }
    write_frame(&mut conn, &HelloReply::Welcome).await?;
    loop {
        let request: PeerRequest = read_frame(&mut conn).await?;
        let response = match request {
            PeerRequest::AppendEntries(rpc) => {
                let result = raft.append_entries(rpc).await;
                if matches!(result, Ok(AppendEntriesResponse::Success)) {
                    contact.touch();
                }
                PeerResponse::AppendEntries(result)
            }
            PeerRequest::Vote(rpc) => PeerResponse::Vote(raft.vote(rpc).await),
            PeerRequest::InstallSnapshot(rpc) => {
                PeerResponse::InstallSnapshot(raft.install_snapshot(rpc).await)
            }
            PeerRequest::Propose(proposal) => {
                PeerResponse::Propose(local::propose(&raft, proposal).await)
            }
            PeerRequest::ReadIndex => PeerResponse::ReadIndex(local::read_index(&raft).await),
            PeerRequest::Admin(request) => PeerResponse::Admin(local::admin(&raft, request).await),
        };
        write_frame(&mut conn, &response).await?;
    }
}

/// Dials `addr` and says hello, to node `to` if the caller knows which node
/// it means: a connection ready for requests.
pub(crate) async fn dial(
    connector: &dyn Connector,
    addr: &str,
    secret: &str,
    from: u64,
    to: Option<u64>,
) -> std::io::Result<Conn> {
    let stream = connector.connect(addr).await?;
    let mut conn = framed(stream);
    let hello = Hello {
        secret: secret.to_string(),
        from,
        to,
    };
    write_frame(&mut conn, &hello).await?;
    match read_frame(&mut conn).await? {
        HelloReply::Welcome => Ok(conn),
        HelloReply::Rejected(reason) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            reason,
        )),
    }
}

/// Makes one `PeerClient` per target; openraft asks for one per replication stream.
pub(crate) struct Network {
    pub node_id: u64,
    pub connector: Arc<dyn Connector>,
    pub secret: Arc<str>,
    pub rpc_timeout: Duration,
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
    conn: Option<Conn>,
}

enum CallError {
    Io(std::io::Error),
    Timeout,
}

impl PeerClient {
    async fn exchange(&mut self, request: &PeerRequest) -> std::io::Result<PeerResponse> {
        if self.conn.is_none() {
            let conn = dial(
                &*self.connector,
                &self.addr,
                &self.secret,
                self.from,
                Some(self.target),
            )
            .await?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("connected above");
        write_frame(conn, request).await?;
        read_frame(conn).await
    }

    async fn call(
        &mut self,
        request: PeerRequest,
        ttl: Duration,
    ) -> Result<PeerResponse, CallError> {
        let result = tokio::time::timeout(ttl, self.exchange(&request)).await;
        match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                self.conn = None;
                Err(CallError::Io(error))
            }
            Err(_) => {
                self.conn = None;
                Err(CallError::Timeout)
            }
        }
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
}

impl PeerClient {
    /// One RPC: sends `request`, takes the answer of the expected kind
    /// (`answer`), and turns every failure into openraft's error.
    async fn rpc<T, E: std::error::Error>(
        &mut self,
        request: PeerRequest,
        ttl: Duration,
        action: openraft::RPCTypes,
        answer: impl FnOnce(PeerResponse) -> Option<Result<T, E>>,
    ) -> Result<T, RPCError<u64, PeerNode, E>> {
        match self.call(request, ttl).await {
            Ok(response) => match answer(response) {
                Some(result) => {
                    result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
                }
                None => {
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
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
        let ttl = option.hard_ttl().min(self.rpc_timeout);
        self.rpc(
            PeerRequest::AppendEntries(rpc),
            ttl,
            openraft::RPCTypes::AppendEntries,
            |response| match response {
                PeerResponse::AppendEntries(result) => Some(result),
                _ => None,
            },
        )
        .await
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

/// Dials peers over TCP.
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect(&self, addr: &str) -> BoxFuture<'_, std::io::Result<Box<dyn PeerStream>>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as Box<dyn PeerStream>)
        })
    }
}

/// Accepts peers on a TCP listener.
pub struct TcpPeerListener(pub tokio::net::TcpListener);

impl Listener for TcpPeerListener {
    fn accept(&mut self) -> BoxFuture<'_, std::io::Result<(Box<dyn PeerStream>, String)>> {
        Box::pin(async move {
            let (stream, remote) = self.0.accept().await?;
            stream.set_nodelay(true)?;
            Ok((Box::new(stream) as Box<dyn PeerStream>, remote.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(same_secret("", ""));
    }
}
