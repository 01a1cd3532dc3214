//! Per-message faults on the peer network. Turmoil's TCP delivers every
//! byte in order, so a lost or repeated message is modelled one level up,
//! on the peer protocol's frames (4-byte big-endian length, then the body),
//! in the stream the dialing node's `PeerConnector` hands to Raft:
//!
//! - a **lost request**: the frame never leaves, and nothing more does on
//!   that connection; the call times out and the caller dials again;
//! - a **lost response**: the request is delivered and handled, its answer
//!   (and anything after it) never reaches the caller;
//! - a **duplicated request**: the frame is sent twice, so the receiver
//!   handles it twice (a retry whose first attempt had arrived after all);
//!   the caller sees the first answer, and the second is dropped unread.
//!
//! The hello that opens a connection is never touched. The nemesis sets the
//! rates; each decision comes from the run's seed.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::rng::Rng;

/// Bytes of a frame's length prefix.
const PREFIX: usize = 4;

/// The rates the nemesis sets and what they did, shared by every node's
/// connector in a run.
#[derive(Debug)]
pub struct PeerFaults(Mutex<State>);

#[derive(Debug)]
struct State {
    rng: Rng,
    loss_percent: u64,
    duplicate_percent: u64,
    counts: PeerFaultCounts,
}

/// How many messages the faults took or repeated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerFaultCounts {
    pub requests_lost: u64,
    pub responses_lost: u64,
    pub requests_duplicated: u64,
}

/// What becomes of one request frame.
enum Fate {
    Deliver,
    LoseRequest,
    LoseResponse,
    Duplicate,
}

impl PeerFaults {
    pub fn new(rng: Rng) -> PeerFaults {
        PeerFaults(Mutex::new(State {
            rng,
            loss_percent: 0,
            duplicate_percent: 0,
            counts: PeerFaultCounts::default(),
        }))
    }

    /// From now on, each request is lost (half of them on the way back)
    /// with probability `loss_percent` / 100, else sent twice with
    /// probability `duplicate_percent` / 100. Zeros heal.
    pub fn set(&self, loss_percent: u64, duplicate_percent: u64) {
        let mut state = self.0.lock().expect("peer faults lock");
        state.loss_percent = loss_percent;
        state.duplicate_percent = duplicate_percent;
    }

    pub fn counts(&self) -> PeerFaultCounts {
        self.0.lock().expect("peer faults lock").counts
    }

    fn fate(&self) -> Fate {
        let mut state = self.0.lock().expect("peer faults lock");
        if state.loss_percent == 0 && state.duplicate_percent == 0 {
            return Fate::Deliver;
        }
        let (loss, duplicate) = (state.loss_percent, state.duplicate_percent);
        if state.rng.chance(loss) {
            if state.rng.chance(50) {
                state.counts.requests_lost += 1;
                Fate::LoseRequest
            } else {
                state.counts.responses_lost += 1;
                Fate::LoseResponse
            }
        } else if state.rng.chance(duplicate) {
            state.counts.requests_duplicated += 1;
            Fate::Duplicate
        } else {
            Fate::Deliver
        }
    }
}

/// What becomes of one answer from the peer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Hand,
    /// The answer to a duplicate: dropped, the connection goes on.
    Skip,
    /// A lost answer: dropped, and the connection hears nothing more.
    Lose,
}

/// A dialed peer connection under `PeerFaults`.
pub struct FaultyStream<S> {
    inner: S,
    faults: std::sync::Arc<PeerFaults>,
    /// Bytes written by the caller, not yet a whole frame.
    written: Vec<u8>,
    /// Whole frames decided on, waiting to go out.
    outgoing: VecDeque<u8>,
    /// Frames written so far (the first is the hello).
    frames_out: u64,
    /// Bytes read from the peer, not yet a whole frame.
    read: Vec<u8>,
    /// Whole frames for the caller.
    incoming: VecDeque<u8>,
    /// What becomes of each answer the peer will send, in order.
    answers: VecDeque<Answer>,
    /// A request was lost: nothing more goes out, nothing comes in.
    silent: bool,
    /// A response was lost: nothing more comes in.
    deaf: bool,
}

impl<S> FaultyStream<S> {
    pub fn new(inner: S, faults: std::sync::Arc<PeerFaults>) -> FaultyStream<S> {
        FaultyStream {
            inner,
            faults,
            written: Vec::new(),
            outgoing: VecDeque::new(),
            frames_out: 0,
            read: Vec::new(),
            incoming: VecDeque::new(),
            answers: VecDeque::new(),
            silent: false,
            deaf: false,
        }
    }

    /// Moves each whole frame of `written` to `outgoing` as its fate says.
    fn decide(&mut self) {
        while let Some(frame_len) = whole_frame(&self.written) {
            let frame: Vec<u8> = self.written.drain(..frame_len).collect();
            self.frames_out += 1;
            if self.silent {
                continue;
            }
            let fate = if self.frames_out == 1 {
                Fate::Deliver
            } else {
                self.faults.fate()
            };
            match fate {
                Fate::Deliver => {
                    self.outgoing.extend(&frame);
                    self.answers.push_back(Answer::Hand);
                }
                Fate::LoseRequest => self.silent = true,
                Fate::LoseResponse => {
                    self.outgoing.extend(&frame);
                    self.answers.push_back(Answer::Lose);
                }
                Fate::Duplicate => {
                    self.outgoing.extend(&frame);
                    self.outgoing.extend(&frame);
                    self.answers.push_back(Answer::Hand);
                    self.answers.push_back(Answer::Skip);
                }
            }
        }
    }
}

/// The length of the first whole frame in `bytes`, prefix included.
fn whole_frame(bytes: &[u8]) -> Option<usize> {
    let prefix: [u8; PREFIX] = bytes.get(..PREFIX)?.try_into().ok()?;
    let len = PREFIX + u32::from_be_bytes(prefix) as usize;
    (bytes.len() >= len).then_some(len)
}

impl<S: AsyncWrite + Unpin> FaultyStream<S> {
    /// Writes what `outgoing` holds, as far as the inner stream takes it.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.outgoing.is_empty() {
            let (front, _) = self.outgoing.as_slices();
            match Pin::new(&mut self.inner).poll_write(cx, front) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.outgoing.drain(..n);
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FaultyStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // One frame's worth is buffered at most before the caller flushes.
        if let Poll::Ready(Err(error)) = this.drain(cx) {
            return Poll::Ready(Err(error));
        }
        this.written.extend_from_slice(buf);
        this.decide();
        if let Poll::Ready(Err(error)) = this.drain(cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FaultyStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.incoming.is_empty() {
                let n = this.incoming.len().min(buf.remaining());
                let bytes: Vec<u8> = this.incoming.drain(..n).collect();
                buf.put_slice(&bytes);
                return Poll::Ready(Ok(()));
            }
            if (this.silent || this.deaf) && this.incoming.is_empty() {
                // The lost message's caller waits for its timeout; the
                // connection is dropped with it.
                return Poll::Pending;
            }
            let mut chunk = [0u8; 8192];
            let mut chunk_buf = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut chunk_buf) {
                Poll::Ready(Ok(())) if chunk_buf.filled().is_empty() => {
                    // End of stream: hand over what is whole, then the end.
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(())) => {
                    this.read.extend_from_slice(chunk_buf.filled());
                    while !this.deaf
                        && let Some(frame_len) = whole_frame(&this.read)
                    {
                        let frame: Vec<u8> = this.read.drain(..frame_len).collect();
                        match this.answers.pop_front().unwrap_or(Answer::Hand) {
                            Answer::Hand => this.incoming.extend(&frame),
                            Answer::Skip => {}
                            Answer::Lose => this.deaf = true,
                        }
                    }
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        frame
    }

    async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
        let mut prefix = [0u8; PREFIX];
        stream.read_exact(&mut prefix).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
        stream.read_exact(&mut body).await.unwrap();
        body
    }

    /// A peer that answers each frame with `re:` and the frame.
    fn echo(mut server: DuplexStream) -> tokio::task::JoinHandle<Vec<Vec<u8>>> {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let mut prefix = [0u8; PREFIX];
                if server.read_exact(&mut prefix).await.is_err() {
                    return seen;
                }
                let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
                server.read_exact(&mut body).await.unwrap();
                let mut answer = b"re:".to_vec();
                answer.extend_from_slice(&body);
                seen.push(body);
                server.write_all(&frame(&answer)).await.unwrap();
            }
        })
    }

    async fn call(stream: &mut FaultyStream<DuplexStream>, body: &[u8]) -> Option<Vec<u8>> {
        stream.write_all(&frame(body)).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::timeout(Duration::from_millis(200), read_frame(stream))
            .await
            .ok()
    }

    #[tokio::test]
    async fn a_duplicated_request_is_handled_twice_and_answered_once() {
        let faults = Arc::new(PeerFaults::new(Rng::new(7)));
        let (client, server) = tokio::io::duplex(1 << 16);
        let peer = echo(server);
        let mut stream = FaultyStream::new(client, faults.clone());
        assert_eq!(call(&mut stream, b"hello").await.unwrap(), b"re:hello");
        faults.set(0, 100);
        assert_eq!(call(&mut stream, b"one").await.unwrap(), b"re:one");
        faults.set(0, 0);
        // The duplicate's answer is skipped: the next call reads its own.
        assert_eq!(call(&mut stream, b"two").await.unwrap(), b"re:two");
        drop(stream);
        let seen = peer.await.unwrap();
        assert_eq!(seen, [&b"hello"[..], b"one", b"one", b"two"]);
        assert_eq!(faults.counts().requests_duplicated, 1);
    }

    #[tokio::test]
    async fn a_lost_message_leaves_its_call_unanswered_and_the_hello_is_never_lost() {
        let faults = Arc::new(PeerFaults::new(Rng::new(11)));
        faults.set(100, 0);
        let (client, server) = tokio::io::duplex(1 << 16);
        let peer = echo(server);
        let mut stream = FaultyStream::new(client, faults.clone());
        assert_eq!(call(&mut stream, b"hello").await.unwrap(), b"re:hello");
        assert_eq!(call(&mut stream, b"one").await, None);
        // The connection stays mute after a loss.
        faults.set(0, 0);
        assert_eq!(call(&mut stream, b"two").await, None);
        drop(stream);
        let seen = peer.await.unwrap();
        let counts = faults.counts();
        assert_eq!(counts.requests_lost + counts.responses_lost, 1);
        // A lost request never arrives; a lost answer's request did.
        let expected: &[&[u8]] = if counts.requests_lost == 1 {
            &[b"hello"]
        } else {
            &[b"hello", b"one", b"two"]
        };
        assert_eq!(seen, expected);
    }
}
