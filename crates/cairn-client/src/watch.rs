//! The change feed: `GET /v1/stores/{store}/watch` as a stream of
//! [`WatchEvent`]s parsed from server-sent events.

use bytes::{Buf, BytesMut};
use cairn_api::watch::event;
use cairn_api::{Problem, WatchChange, WatchEnd, WatchHeartbeat, WatchQuery, WatchTooOld, headers};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

/// Longest server-sent event the client accepts, in bytes (a change names
/// at most `txn_ops_max` paths).
pub const WATCH_EVENT_BYTES_MAX: usize = 16 * 1024 * 1024;

/// One event of the change feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    Change(WatchChange),
    Heartbeat(WatchHeartbeat),
    /// The start asked for is further back than the node replays; the stream ends.
    TooOld(WatchTooOld),
    /// The stream ends (`until_revision`, `limit`, or the node shutting down).
    End(WatchEnd),
    /// The feed failed (access lost, store deleted); the stream ends.
    Error(Problem),
}

/// An open change feed. [`WatchStream::next`] answers `None` once the
/// server closed the stream.
pub struct WatchStream {
    body: hyper::body::Incoming,
    buffer: BytesMut,
    last_event_id: Option<u64>,
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream")
            .field("last_event_id", &self.last_event_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens `store`'s change feed. With `last_event_id` (the revision of the
    /// last change seen) the feed resumes after it, whatever
    /// `query.from_revision` says. The client's timeout covers the opening
    /// only; reading waits as long as the stream lasts (heartbeats come at
    /// the server's `[watch] heartbeat_ms`).
    pub async fn watch(
        &self,
        store: &str,
        query: WatchQuery,
        last_event_id: Option<u64>,
    ) -> Result<WatchStream, ClientError> {
        let target = Target::store_route(store, "watch").with_query(&query)?;
        let mut outgoing = Outgoing::get(target).header("accept", "text/event-stream")?;
        if let Some(id) = last_event_id {
            outgoing = outgoing.header(headers::LAST_EVENT_ID, &id.to_string())?;
        }
        let body = self.open_stream(outgoing).await?;
        Ok(WatchStream {
            body,
            buffer: BytesMut::new(),
            last_event_id,
        })
    }
}

impl WatchStream {
    /// The `id:` of the last change received (its revision): what to resume
    /// from with [`Client::watch`].
    pub fn last_event_id(&self) -> Option<u64> {
        self.last_event_id
    }

    /// The next event, waiting for it; `None` when the server closed the
    /// stream. Comments and events of names this client does not know are
    /// skipped.
    pub async fn next(&mut self) -> Result<Option<WatchEvent>, ClientError> {
        loop {
            while let Some(block) = self.take_block() {
                if let Some(event) = self.parse(&block)? {
                    return Ok(Some(event));
                }
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(error)) => {
                    return Err(ClientError::Transport(format!(
                        "read event stream: {error}"
                    )));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                    if self.buffer.len() > WATCH_EVENT_BYTES_MAX {
                        return Err(ClientError::Decode(format!(
                            "a server-sent event longer than {WATCH_EVENT_BYTES_MAX} bytes"
                        )));
                    }
                }
            }
        }
    }

    /// One event's lines (up to a blank line), if the buffer holds a whole one.
    fn take_block(&mut self) -> Option<String> {
        let text = &self.buffer[..];
        let (end, separator) = [&b"\n\n"[..], b"\r\n\r\n"]
            .iter()
            .filter_map(|sep| {
                text.windows(sep.len())
                    .position(|window| window == *sep)
                    .map(|at| (at, sep.len()))
            })
            .min()?;
        let block = String::from_utf8_lossy(&text[..end]).into_owned();
        self.buffer.advance(end + separator);
        Some(block)
    }

    fn parse(&mut self, block: &str) -> Result<Option<WatchEvent>, ClientError> {
        let mut name = "message";
        let mut data = String::new();
        let mut id = None;
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = value,
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                "id" => id = Some(value),
                _ => {}
            }
        }
        let event = match name {
            event::CHANGE => {
                let change: WatchChange = decode(name, &data)?;
                if id != Some(change.revision.to_string().as_str()) {
                    return Err(ClientError::Decode(format!(
                        "change of revision {} came with id {id:?}",
                        change.revision
                    )));
                }
                self.last_event_id = Some(change.revision);
                WatchEvent::Change(change)
            }
            event::HEARTBEAT => WatchEvent::Heartbeat(decode(name, &data)?),
            event::TOO_OLD => WatchEvent::TooOld(decode(name, &data)?),
            event::END => WatchEvent::End(decode(name, &data)?),
            event::ERROR => WatchEvent::Error(decode(name, &data)?),
            _ => return Ok(None),
        };
        Ok(Some(event))
    }
}

fn decode<T: DeserializeOwned>(name: &str, data: &str) -> Result<T, ClientError> {
    serde_json::from_str(data)
        .map_err(|error| ClientError::Decode(format!("event {name}: {error}: {data}")))
}
