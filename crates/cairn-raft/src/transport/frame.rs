//! The peer protocol's framing: length-delimited bincode frames, and the
//! hello that opens every connection (protocol version, cluster secret,
//! sender's id).

use std::time::Duration;

use bytes::Bytes;
use cairn_core::codec;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::{Connector, PeerStream};

/// The largest frame either side accepts. An append-entries batch larger
/// than this is cut down by the peer client (`PayloadTooLarge`), and
/// `RaftSettings::validate_with_limits` makes sure one entry always fits.
pub const FRAME_BYTES_MAX: usize = 256 * 1024 * 1024;

/// What a log entry, in an append-entries frame, may hold beyond the HTTP
/// request body it was made from: its log id, the frame's envelope, the
/// proposal's metadata and limits, and the path and labels taken from the
/// request line and headers, which the HTTP server reads into a buffer of
/// well under this size.
pub const FRAME_ENTRY_OVERHEAD_BYTES_MAX: usize = 1024 * 1024;

/// The version of the peer protocol (hello, requests, responses). Bump it
/// whenever any of them changes encoding; nodes of different versions
/// refuse each other at the hello instead of misreading each other's frames.
pub const PROTOCOL_VERSION: u32 = 4;

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type Conn = Framed<Box<dyn PeerStream>, LengthDelimitedCodec>;

pub(crate) fn framed(stream: Box<dyn PeerStream>) -> Conn {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(FRAME_BYTES_MAX)
        .new_codec();
    Framed::new(stream, codec)
}

/// The first frame on a connection. Its layout is the same in every protocol
/// version, a version number and the rest as opaque bytes, so a node can
/// always read a peer's version and refuse a different one by name.
#[derive(Serialize, Deserialize)]
struct Hello {
    protocol_version: u32,
    /// A `HelloBody`, encoded as this protocol version encodes it.
    body: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct HelloBody {
    secret: String,
    from: u64,
    /// The node the dialer means to reach, when it knows it. A member whose
    /// recorded address is really another node's (a mistyped learner address,
    /// or the leader's own) must not have that node's Raft answer in its name:
    /// a leader that accepted append-entries from itself would break
    /// openraft's state (it asserts it has no leader role while following).
    to: Option<u64>,
}

/// The answer to a hello; like `Hello`, the same in every protocol version.
#[derive(Serialize, Deserialize)]
enum HelloReply {
    Welcome,
    Rejected(String),
}

/// Compares secrets without stopping at the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decides on a peer's hello to node `node_id`: the sender's node id, or
/// why it is refused.
fn check_hello(hello: &Hello, secret: &str, node_id: u64) -> Result<u64, String> {
    if hello.protocol_version != PROTOCOL_VERSION {
        return Err(format!(
            "peer protocol version {} differs from this node's version {PROTOCOL_VERSION}",
            hello.protocol_version
        ));
    }
    let body: HelloBody =
        codec::decode(&hello.body).map_err(|error| format!("undecodable hello: {error}"))?;
    if !same_secret(&body.secret, secret) {
        return Err(format!("wrong cluster secret from node {}", body.from));
    }
    if let Some(to) = body.to
        && to != node_id
    {
        return Err(format!(
            "node {} dialed node {to}, but this is node {node_id}",
            body.from
        ));
    }
    Ok(body.from)
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
    write_encoded(conn, Bytes::from(codec::encode(value))).await
}

/// Sends a frame encoded beforehand (by a caller that measured it first).
pub(crate) async fn write_encoded(conn: &mut Conn, frame: Bytes) -> std::io::Result<()> {
    conn.send(frame).await
}

/// Reads a new connection's hello to node `node_id` and answers it: the
/// sender's node id if it is welcome, else an error after telling the peer
/// why it is not.
pub(crate) async fn accept_hello(
    conn: &mut Conn,
    secret: &str,
    node_id: u64,
) -> std::io::Result<u64> {
    let hello: Hello = tokio::time::timeout(HELLO_TIMEOUT, read_frame(conn))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no hello"))??;
    match check_hello(&hello, secret, node_id) {
        Ok(from) => {
            write_frame(conn, &HelloReply::Welcome).await?;
            Ok(from)
        }
        Err(reason) => {
            tracing::warn!(%reason, "refused a peer connection");
            write_frame(conn, &HelloReply::Rejected(reason.clone())).await?;
            Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                reason,
            ))
        }
    }
}

/// Says hello as protocol version `protocol_version`, from node `from` to
/// node `to` when the caller knows it, and waits for the answer.
async fn say_hello(
    conn: &mut Conn,
    protocol_version: u32,
    secret: &str,
    (from, to): (u64, Option<u64>),
) -> std::io::Result<()> {
    let body = HelloBody {
        secret: secret.to_string(),
        from,
        to,
    };
    let hello = Hello {
        protocol_version,
        body: codec::encode(&body),
    };
    write_frame(conn, &hello).await?;
    match read_frame(conn).await? {
        HelloReply::Welcome => Ok(()),
        HelloReply::Rejected(reason) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            reason,
        )),
    }
}

/// Dials `addr` and says hello, to node `to` if the caller knows which node
/// it means: a connection ready for requests.
pub(crate) async fn dial(
    connector: &dyn Connector,
    addr: &str,
    secret: &str,
    (from, to): (u64, Option<u64>),
) -> std::io::Result<Conn> {
    let stream = connector.connect(addr).await?;
    let mut conn = framed(stream);
    say_hello(&mut conn, PROTOCOL_VERSION, secret, (from, to)).await?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Conn, Conn) {
        let (dialer, acceptor) = tokio::io::duplex(64 * 1024);
        (framed(Box::new(dialer)), framed(Box::new(acceptor)))
    }

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(same_secret("", ""));
    }

    #[tokio::test]
    async fn a_peer_of_the_same_version_and_secret_is_welcome() {
        let (mut dialer, mut acceptor) = pair();
        let accepted = tokio::spawn(async move { accept_hello(&mut acceptor, "s3cret", 1).await });
        say_hello(&mut dialer, PROTOCOL_VERSION, "s3cret", (7, Some(1)))
            .await
            .unwrap();
        assert_eq!(accepted.await.unwrap().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_peer_of_another_version_is_refused_naming_both_versions() {
        let other = PROTOCOL_VERSION + 41;
        let (mut dialer, mut acceptor) = pair();
        let accepted = tokio::spawn(async move { accept_hello(&mut acceptor, "s3cret", 1).await });
        let refused = say_hello(&mut dialer, other, "s3cret", (7, Some(1)))
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        let message = refused.to_string();
        assert!(message.contains(&format!("version {other}")), "{message}");
        assert!(
            message.contains(&format!("version {PROTOCOL_VERSION}")),
            "{message}"
        );
        let server_side = accepted.await.unwrap().unwrap_err();
        assert_eq!(server_side.kind(), std::io::ErrorKind::PermissionDenied);
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused() {
        let (mut dialer, mut acceptor) = pair();
        let accepted = tokio::spawn(async move { accept_hello(&mut acceptor, "s3cret", 1).await });
        let refused = say_hello(&mut dialer, PROTOCOL_VERSION, "guess", (7, Some(1)))
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("wrong cluster secret"),
            "{refused}"
        );
        assert!(accepted.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_hello_meant_for_another_node_is_refused() {
        let (mut dialer, mut acceptor) = pair();
        let accepted = tokio::spawn(async move { accept_hello(&mut acceptor, "s3cret", 1).await });
        let refused = say_hello(&mut dialer, PROTOCOL_VERSION, "s3cret", (7, Some(2)))
            .await
            .unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("dialed node 2, but this is node 1"),
            "{refused}"
        );
        assert!(accepted.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_hello_that_names_no_node_is_welcome() {
        let (mut dialer, mut acceptor) = pair();
        let accepted = tokio::spawn(async move { accept_hello(&mut acceptor, "s3cret", 1).await });
        say_hello(&mut dialer, PROTOCOL_VERSION, "s3cret", (7, None))
            .await
            .unwrap();
        assert_eq!(accepted.await.unwrap().unwrap(), 7);
    }
}
