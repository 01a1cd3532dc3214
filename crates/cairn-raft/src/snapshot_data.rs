//! `SnapshotData`: openraft's snapshot data. A snapshot a node sends is its
//! state as of one read transaction, encoded as it is read
//! (`cairn_storage::StateExport`): nothing is written out to send it. A
//! snapshot a node receives goes into a file on the node's `Disk`, chunk by
//! chunk, and is imported from there. Neither is ever in memory whole (and,
//! in the simulation, a crash loses what of a received file was not synced).
//!
//! The async traits are served by plain blocking calls, inline. They are
//! short (one chunk at a time), and inline calls keep the node deterministic
//! under turmoil, where `tokio::fs` (which uses `spawn_blocking`) would not be.

use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use cairn_storage::{Disk, DiskFile, StateExport};
use futures::FutureExt;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError,
};
use openraft::network::{RPCOption, RaftNetwork};
use openraft::raft::{InstallSnapshotRequest, SnapshotResponse};
use openraft::{AnyError, OptionalSend, StorageIOError, Vote};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use crate::types::{Snapshot, TypeConfig};

/// Most failed sends of one chunk in a row before the transfer gives up
/// (openraft's replication then starts a new one).
const CHUNK_ATTEMPTS_MAX: u32 = 5;
/// The pause after the first failed send of a chunk; doubled for each
/// failure after it, up to `CHUNK_RETRY_MAX`.
const CHUNK_RETRY_BASE: Duration = Duration::from_millis(10);
const CHUNK_RETRY_MAX: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub enum SnapshotData {
    /// Being received, into a file (`begin_receiving_snapshot`).
    Received(SnapshotFile),
    /// The state as of one read transaction: what a node sends. It is read
    /// front to back once; it cannot be written or seek backwards.
    State(Box<StateExport>),
}

/// A received snapshot's file. It lasts as long as this value: imported
/// or abandoned (a transfer cut short, replaced by a newer one), the file
/// is removed when openraft drops it, so no receipt outlives its use.
pub struct SnapshotFile {
    file: Box<dyn DiskFile>,
    disk: Arc<dyn Disk>,
    /// The file's name among the snapshot files.
    name: String,
    /// The state machine that received it (`StateMachine::origin`).
    pub origin: usize,
    seek_result: Option<std::io::Result<u64>>,
}

impl std::fmt::Debug for SnapshotFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFile")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Drop for SnapshotFile {
    fn drop(&mut self) {
        if let Err(error) = self.disk.remove_snapshot_file(&self.name) {
            tracing::warn!(file = %self.name, %error, "removing a received snapshot file failed");
        }
    }
}

impl SnapshotFile {
    /// A new file `name` on `disk`, for state machine `origin`.
    pub fn create(
        disk: Arc<dyn Disk>,
        name: String,
        origin: usize,
    ) -> std::io::Result<SnapshotFile> {
        let file = disk.snapshot_file(&name, true)?.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "the disk made no snapshot file",
            )
        })?;
        Ok(SnapshotFile {
            file,
            disk,
            name,
            origin,
            seek_result: None,
        })
    }

    /// The underlying file, for blocking reads and writes.
    pub fn file_mut(&mut self) -> &mut dyn DiskFile {
        &mut *self.file
    }
}

fn unsupported(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("a snapshot of the state is read front to back; it cannot {what}"),
    )
}

impl Read for SnapshotData {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            SnapshotData::Received(received) => received.file.read(buf),
            SnapshotData::State(export) => export.read(buf),
        }
    }
}

impl AsyncRead for SnapshotData {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let read = self.get_mut().read(buf.initialize_unfilled());
        Poll::Ready(read.map(|n| buf.advance(n)))
    }
}

impl AsyncWrite for SnapshotData {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(match self.get_mut() {
            SnapshotData::Received(received) => received.file.write(buf),
            SnapshotData::State(_) => Err(unsupported("be written")),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(match self.get_mut() {
            SnapshotData::Received(received) => received.file.flush(),
            SnapshotData::State(_) => Ok(()),
        })
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(match self.get_mut() {
            SnapshotData::Received(received) => received.file.sync(),
            SnapshotData::State(_) => Ok(()),
        })
    }
}

impl AsyncSeek for SnapshotData {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> std::io::Result<()> {
        match self.get_mut() {
            SnapshotData::Received(received) => {
                received.seek_result = Some(received.file.seek(position));
                Ok(())
            }
            // Only where it already is (openraft's receiver seeks to each
            // chunk's offset).
            SnapshotData::State(export) => match position {
                SeekFrom::Start(at) if at == export.position() => Ok(()),
                SeekFrom::Current(0) => Ok(()),
                _ => Err(unsupported("seek")),
            },
        }
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<u64>> {
        Poll::Ready(match self.get_mut() {
            SnapshotData::Received(received) => match received.seek_result.take() {
                Some(result) => result,
                None => received.file.stream_position(),
            },
            SnapshotData::State(export) => Ok(export.position()),
        })
    }
}

/// Reads the next `chunk_bytes` of `data` (fewer only at its end).
fn next_chunk(
    data: &mut SnapshotData,
    chunk_bytes: usize,
    meta: &crate::types::SnapshotMeta,
) -> Result<Vec<u8>, StreamingError<TypeConfig, Fatal<u64>>> {
    let mut chunk = vec![0; chunk_bytes];
    let mut filled = 0;
    while filled < chunk_bytes {
        let n = data.read(&mut chunk[filled..]).map_err(|error| {
            let error = AnyError::error(error.to_string());
            openraft::StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                error,
            ))
        })?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    chunk.truncate(filled);
    Ok(chunk)
}

/// Sends `snapshot` to `net`'s peer in chunks read front to back: the
/// node's `RaftNetwork::full_snapshot`. openraft's own chunked sender asks
/// the data for its length first and seeks back to resend a chunk, and a
/// snapshot of the state (`SnapshotData::State`) knows its length only at
/// its end and cannot seek. So each chunk is read one ahead (the last one
/// goes with `done`) and a chunk that failed is sent again from memory.
/// The errors are handled as openraft's sender handles them, except that a
/// receiver that lost track of the transfer (`SnapshotMismatch`) ends it:
/// openraft's replication starts a new one, from a new read of the state.
pub(crate) async fn send_in_chunks<N: RaftNetwork<TypeConfig> + ?Sized>(
    net: &mut N,
    vote: Vote<u64>,
    mut snapshot: Snapshot,
    cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
    option: RPCOption,
) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
    let chunk_bytes = option.snapshot_chunk_size().unwrap_or(1024 * 1024).max(1);
    let meta = snapshot.meta.clone();
    let mut cancel = std::pin::pin!(cancel);
    let mut offset = 0u64;
    let mut chunk = next_chunk(&mut snapshot.snapshot, chunk_bytes, &meta)?;
    loop {
        let next = next_chunk(&mut snapshot.snapshot, chunk_bytes, &meta)?;
        let done = next.is_empty();
        let sent = chunk.len() as u64;
        let request = InstallSnapshotRequest {
            vote,
            meta: meta.clone(),
            offset,
            data: chunk,
            done,
        };
        let mut failures = 0;
        let mut unreachable_pauses = None;
        let response = loop {
            if let Some(closed) = cancel.as_mut().now_or_never() {
                return Err(closed.into());
            }
            let error = match net.install_snapshot(request.clone(), option.clone()).await {
                Ok(response) => break response,
                Err(error) => error,
            };
            tracing::warn!(%error, offset, "sending a snapshot chunk failed");
            // A transient error: the chunk goes again after a pause, unless
            // it failed `CHUNK_ATTEMPTS_MAX` times in a row.
            failures += 1;
            let (pause, give_up): (_, StreamingError<TypeConfig, Fatal<u64>>) = match error {
                RPCError::RemoteError(RemoteError {
                    target,
                    target_node,
                    source: RaftError::Fatal(fatal),
                }) => {
                    return Err(RemoteError {
                        target,
                        target_node,
                        source: fatal,
                    }
                    .into());
                }
                RPCError::RemoteError(RemoteError {
                    source: RaftError::APIError(InstallSnapshotError::SnapshotMismatch(mismatch)),
                    ..
                }) => {
                    let why = AnyError::error(format!(
                        "the receiver lost track of the snapshot ({mismatch}); it is sent anew"
                    ));
                    return Err(NetworkError::new(&why).into());
                }
                RPCError::PayloadTooLarge(too_large) => {
                    let why = AnyError::error(format!("snapshot chunk too large: {too_large}"));
                    return Err(NetworkError::new(&why).into());
                }
                RPCError::Unreachable(unreachable) => {
                    let pause = unreachable_pauses
                        .get_or_insert_with(|| net.backoff())
                        .next()
                        .unwrap_or(CHUNK_RETRY_MAX);
                    (pause, unreachable.into())
                }
                RPCError::Timeout(timeout) => (retry_pause(failures), timeout.into()),
                RPCError::Network(network) => (retry_pause(failures), network.into()),
            };
            if failures >= CHUNK_ATTEMPTS_MAX {
                return Err(give_up);
            }
            tokio::time::sleep(pause).await;
        };
        if response.vote > vote || done {
            return Ok(SnapshotResponse::new(response.vote));
        }
        offset += sent;
        chunk = next;
    }
}

/// The pause after `failures` failed sends of one chunk in a row.
fn retry_pause(failures: u32) -> Duration {
    let doubled = CHUNK_RETRY_BASE.saturating_mul(1 << failures.saturating_sub(1).min(5));
    doubled.min(CHUNK_RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use cairn_core::kv::{KvWrite, Table};
    use cairn_storage::StateDb;
    use openraft::error::{RPCError, Timeout};
    use openraft::raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotResponse, VoteRequest,
        VoteResponse,
    };
    use openraft::{RPCTypes, SnapshotMeta};

    use super::*;
    use crate::types::PeerNode;

    type InstallError = RPCError<u64, PeerNode, RaftError<u64, InstallSnapshotError>>;

    /// A peer that answers each chunk as the script says (an error, or
    /// `None`: taken, written at its offset as openraft's receiver does).
    #[derive(Default)]
    struct ScriptedPeer {
        script: VecDeque<Option<InstallError>>,
        /// (offset, bytes, done) of every chunk taken.
        taken: Vec<(u64, usize, bool)>,
        data: Vec<u8>,
    }

    impl RaftNetwork<TypeConfig> for ScriptedPeer {
        async fn append_entries(
            &mut self,
            _: AppendEntriesRequest<TypeConfig>,
            _: RPCOption,
        ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
            unreachable!("only snapshot chunks are sent")
        }

        async fn install_snapshot(
            &mut self,
            rpc: InstallSnapshotRequest<TypeConfig>,
            _: RPCOption,
        ) -> Result<InstallSnapshotResponse<u64>, InstallError> {
            if let Some(Some(error)) = self.script.pop_front() {
                return Err(error);
            }
            self.data.truncate(rpc.offset as usize);
            self.data.extend_from_slice(&rpc.data);
            self.taken.push((rpc.offset, rpc.data.len(), rpc.done));
            Ok(InstallSnapshotResponse { vote: rpc.vote })
        }

        async fn vote(
            &mut self,
            _: VoteRequest<u64>,
            _: RPCOption,
        ) -> Result<VoteResponse<u64>, RPCError<u64, PeerNode, RaftError<u64>>> {
            unreachable!("only snapshot chunks are sent")
        }
    }

    fn timeout() -> InstallError {
        RPCError::Timeout(Timeout {
            action: RPCTypes::InstallSnapshot,
            id: 1,
            target: 2,
            timeout: Duration::from_millis(1),
        })
    }

    /// A state of about 2.5 MiB (three chunks of 1 MiB), exported.
    fn exported(dir: &std::path::Path) -> (Snapshot, Vec<u8>) {
        let db = StateDb::open(&dir.join("state.redb")).unwrap();
        db.write(|writer| {
            for i in 0u32..2_500 {
                writer.put(Table::Content, &i.to_be_bytes(), &[i as u8; 1000])?;
            }
            Ok(())
        })
        .unwrap();
        let mut whole = Vec::new();
        db.export_to(&mut whole).unwrap();
        let snapshot = Snapshot {
            meta: SnapshotMeta::default(),
            snapshot: Box::new(SnapshotData::State(Box::new(db.export().unwrap()))),
        };
        (snapshot, whole)
    }

    async fn send(
        peer: &mut ScriptedPeer,
        snapshot: Snapshot,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let never = std::future::pending::<ReplicationClosed>();
        let option = RPCOption::new(Duration::from_secs(1));
        send_in_chunks(peer, Vote::new_committed(1, 1), snapshot, never, option).await
    }

    /// Chunks go in order, one MiB each but the last, which alone says
    /// `done`; a chunk that failed (a timeout, a network error) is sent
    /// again at its offset, and the peer ends up with every byte.
    #[tokio::test]
    async fn chunks_go_in_order_and_a_failed_one_goes_again() {
        let dir = tempfile::tempdir().unwrap();
        let (snapshot, whole) = exported(dir.path());
        let network_error = RPCError::Network(NetworkError::new(&AnyError::error("reset")));
        let mut peer = ScriptedPeer {
            script: [None, Some(timeout()), None, Some(network_error), None].into(),
            ..ScriptedPeer::default()
        };
        send(&mut peer, snapshot).await.unwrap();
        let mib = 1024 * 1024;
        assert_eq!(
            peer.taken,
            [
                (0, mib, false),
                (mib as u64, mib, false),
                (2 * mib as u64, whole.len() - 2 * mib, true)
            ]
        );
        assert_eq!(peer.data, whole);
    }

    /// Failures in a row end the transfer after `CHUNK_ATTEMPTS_MAX`
    /// sends; a receiver that lost track of it ends it at once (openraft
    /// starts a new one from a new read of the state).
    #[tokio::test]
    async fn a_chunk_failing_again_and_again_or_a_mismatch_ends_the_transfer() {
        let dir = tempfile::tempdir().unwrap();
        let (snapshot, _) = exported(dir.path());
        let mut peer = ScriptedPeer {
            script: (0..CHUNK_ATTEMPTS_MAX).map(|_| Some(timeout())).collect(),
            ..ScriptedPeer::default()
        };
        let error = send(&mut peer, snapshot).await.unwrap_err();
        assert!(matches!(error, StreamingError::Timeout(_)), "{error}");
        assert!(peer.taken.is_empty());

        let (snapshot, _) = exported(&dir.path().join("..").join(dir.path()));
        let mismatch = InstallSnapshotError::SnapshotMismatch(openraft::error::SnapshotMismatch {
            expect: openraft::SnapshotSegmentId {
                id: "a".into(),
                offset: 0,
            },
            got: openraft::SnapshotSegmentId {
                id: "a".into(),
                offset: 7,
            },
        });
        let mut peer = ScriptedPeer {
            script: [
                None,
                Some(RPCError::RemoteError(RemoteError::new(
                    2,
                    RaftError::APIError(mismatch),
                ))),
            ]
            .into(),
            ..ScriptedPeer::default()
        };
        let error = send(&mut peer, snapshot).await.unwrap_err();
        assert!(matches!(error, StreamingError::Network(_)), "{error}");
        assert_eq!(peer.taken.len(), 1);
    }
}
