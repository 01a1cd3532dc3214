//! `SnapshotFile`: openraft's snapshot data as a file on the node's `Disk`,
//! so a snapshot is built, sent in chunks and received without ever being in
//! memory whole (and, in the simulation, a crash loses what was not synced).
//!
//! The async traits are served by plain blocking file calls, inline. They are
//! short (one chunk at a time), and inline calls keep the node deterministic
//! under turmoil, where `tokio::fs` (which uses `spawn_blocking`) would not be.

use std::io::{Read, Seek, SeekFrom, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use cairn_storage::DiskFile;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

#[derive(Debug)]
pub struct SnapshotFile {
    file: Box<dyn DiskFile>,
    /// The file's name among the snapshot files, so a received snapshot can
    /// be kept under its final name.
    pub name: String,
    /// The state machine that received it (`StateMachine::origin`); 0 for
    /// a snapshot it built or opened.
    pub origin: usize,
    seek_result: Option<std::io::Result<u64>>,
}

impl SnapshotFile {
    pub fn new(file: Box<dyn DiskFile>, name: impl Into<String>) -> SnapshotFile {
        SnapshotFile {
            file,
            name: name.into(),
            origin: 0,
            seek_result: None,
        }
    }

    pub fn with_origin(mut self, origin: usize) -> SnapshotFile {
        self.origin = origin;
        self
    }

    /// The underlying file, for blocking reads and writes.
    pub fn file_mut(&mut self) -> &mut dyn DiskFile {
        &mut *self.file
    }
}

impl AsyncRead for SnapshotFile {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let read = this.file.read(buf.initialize_unfilled());
        Poll::Ready(read.map(|n| buf.advance(n)))
    }
}

impl AsyncWrite for SnapshotFile {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().file.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().file.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().file.sync())
    }
}

impl AsyncSeek for SnapshotFile {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> std::io::Result<()> {
        let this = self.get_mut();
        this.seek_result = Some(this.file.seek(position));
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<u64>> {
        let this = self.get_mut();
        Poll::Ready(match this.seek_result.take() {
            Some(result) => result,
            None => this.file.stream_position(),
        })
    }
}
