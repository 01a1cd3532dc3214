//! The change feed of one store (`GET /v1/stores/{store}/watch`): every
//! change in revision order, from the store's audit trail
//! (`cairn_core::read::watch`), as this node has applied it.
//!
//! Any node serves a feed from its own replica: committed entries are applied
//! in log order on every node and never undone, so each node's feed is the
//! same sequence of revisions, only later or sooner. A client that resumes on
//! another node with the last revision it saw (`Last-Event-ID`) gets the next
//! one, whichever node applied it first: no gap and no repeat across a leader
//! change or a node's death. The feed waits on the node's applied index
//! (`AppliedWatch`), never on a timer, except for the heartbeat.
//!
//! The first read checks the token and finds the store (linearizable by
//! default); every later read checks the token again on the replica, so a
//! revoked token or grant ends the stream, and a store deleted (or replaced
//! by another of its name) ends it with `not_found`.

use std::collections::VecDeque;
use std::time::Duration;

use cairn_api::{
    Consistency, WatchChange, WatchEnd, WatchEndReason, WatchHeartbeat, WatchQuery, WatchTooOld,
};
use cairn_core::limits::WATCH_BATCH_EVENTS_MAX;
use cairn_core::read::{self, watch::changes_after};
use cairn_core::{CoreError, Resource};
use cairn_raft::AppliedWatch;
use tokio::time::Instant;

use super::{RequestContext, Service, ServiceResult, wire};

/// The feed's settings (`[watch]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchSettings {
    /// How long a stream may go without an event before a heartbeat.
    pub heartbeat: Duration,
    /// How many revisions back a watch may start.
    pub replay_revisions_max: u64,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            heartbeat: Duration::from_millis(cairn_core::limits::WATCH_HEARTBEAT_MS_DEFAULT),
            replay_revisions_max: cairn_core::limits::WATCH_REPLAY_REVISIONS_MAX_DEFAULT,
        }
    }
}

/// One thing a feed says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    Change(WatchChange),
    Heartbeat(WatchHeartbeat),
    /// The start asked for is older than this node replays; the feed ends.
    TooOld(WatchTooOld),
    /// The feed ends (`until_revision` or `limit` reached).
    End(WatchEnd),
}

/// An open feed: call [`WatchFeed::next`] until it answers `None`.
pub struct WatchFeed {
    service: Service,
    context: RequestContext,
    store: String,
    store_id: u64,
    /// The revision of the next change to send.
    next_revision: u64,
    until_revision: Option<u64>,
    /// Changes still to send before `limit` ends the feed.
    remaining: Option<u64>,
    pending: VecDeque<WatchChange>,
    /// The store's revision at the last read.
    store_revision: u64,
    applied: AppliedWatch,
    heartbeat_at: Instant,
    /// The revision of the last change handed out.
    last_revision: Option<u64>,
    /// Said once the feed has nothing more to say.
    ending: Option<WatchItem>,
    done: bool,
}

impl Service {
    pub fn with_watch(mut self, settings: WatchSettings) -> Service {
        self.watch = settings;
        self
    }

    /// Opens the change feed of `store` for a caller who may read it.
    /// `last_event_id` (the last revision the client saw) takes precedence
    /// over `query.from_revision`.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn watch(
        &self,
        context: &RequestContext,
        store: &str,
        query: WatchQuery,
        last_event_id: Option<u64>,
    ) -> ServiceResult<WatchFeed> {
        if query.limit == Some(0) {
            return Err(CoreError::invalid_request("limit must be positive").into());
        }
        let consistency = query.consistency.unwrap_or_default();
        let info = self
            .read_store(context, store, consistency, |reader, store| {
                read::get_store(reader, store)
            })
            .await?;
        let from = match (last_event_id, query.from_revision) {
            (Some(last), _) => last.saturating_add(1),
            (None, Some(from)) => from,
            (None, None) => info.revision.saturating_add(1),
        }
        // Revision 0 is the store's creation, not a change.
        .max(1);
        if let Some(until) = query.until_revision
            && until < from
        {
            return Err(CoreError::invalid_request(format!(
                "until_revision {until} is before the first revision to send, {from}"
            ))
            .into());
        }
        let settings = self.watch;
        // Revisions `from..=current` would be replayed; past the window the
        // client resynchronizes from a tree read instead.
        let oldest = info
            .revision
            .saturating_add(1)
            .saturating_sub(settings.replay_revisions_max)
            .max(1);
        let ending = (from < oldest).then_some(WatchItem::TooOld(WatchTooOld {
            from_revision: from,
            oldest_revision: oldest,
            current_revision: info.revision,
        }));
        Ok(WatchFeed {
            service: self.clone(),
            context: context.clone(),
            store: store.to_string(),
            store_id: info.id,
            next_revision: from,
            until_revision: query.until_revision,
            remaining: query.limit,
            pending: VecDeque::new(),
            store_revision: info.revision,
            applied: self.node.applied_watch(),
            heartbeat_at: Instant::now() + settings.heartbeat,
            last_revision: None,
            ending,
            done: false,
        })
    }
}

impl WatchFeed {
    /// The revision of the last change handed out, if any.
    pub fn last_revision(&self) -> Option<u64> {
        self.last_revision
    }

    /// The next item, waiting for one; `None` once the feed has ended. An
    /// error ends the feed too (the token lost access, the store is gone,
    /// the node is stopping).
    pub async fn next(&mut self) -> ServiceResult<Option<WatchItem>> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(item) = self.ending.take() {
                self.done = true;
                return Ok(Some(item));
            }
            if let Some(change) = self.pending.pop_front() {
                return Ok(Some(self.send(change)));
            }
            // The applied index before the read: anything applied after it
            // wakes the wait below, so nothing slips between read and wait.
            let seen = self.applied.applied_index();
            self.read_more().await.inspect_err(|_| self.done = true)?;
            if !self.pending.is_empty() {
                continue;
            }
            tokio::select! {
                woken = self.applied.wait_beyond(seen) => {
                    woken.inspect_err(|_| self.done = true)?;
                }
                () = tokio::time::sleep_until(self.heartbeat_at) => {
                    self.heartbeat_at = Instant::now() + self.service.watch.heartbeat;
                    return Ok(Some(WatchItem::Heartbeat(WatchHeartbeat {
                        revision: self.store_revision,
                    })));
                }
            }
        }
    }

    /// Hands out one change and decides whether the feed ends after it.
    fn send(&mut self, change: WatchChange) -> WatchItem {
        debug_assert_eq!(change.revision, self.next_revision);
        self.next_revision = change.revision + 1;
        self.heartbeat_at = Instant::now() + self.service.watch.heartbeat;
        let last_revision = Some(change.revision);
        self.last_revision = last_revision;
        if let Some(remaining) = self.remaining.as_mut() {
            *remaining -= 1;
        }
        let reason = if self
            .until_revision
            .is_some_and(|until| change.revision >= until)
        {
            Some(WatchEndReason::UntilRevision)
        } else if self.remaining == Some(0) {
            Some(WatchEndReason::Limit)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.pending.clear();
            self.ending = Some(WatchItem::End(WatchEnd {
                reason,
                last_revision,
            }));
        }
        WatchItem::Change(change)
    }

    /// Reads the changes from `next_revision` on that this replica holds.
    async fn read_more(&mut self) -> ServiceResult<()> {
        let store_id = self.store_id;
        let after = self.next_revision - 1;
        let (revision, events) = self
            .service
            .read_store(
                &self.context,
                &self.store,
                Consistency::Stale,
                |reader, store| {
                    let info = read::get_store(reader, store)?;
                    if info.id != store_id {
                        // Deleted, and its name reused: not the store watched.
                        return Err(
                            CoreError::not_found(Resource::Store, store.name.as_str()).into()
                        );
                    }
                    let events = changes_after(reader, store_id, after, WATCH_BATCH_EVENTS_MAX)?;
                    Ok((info.revision, events))
                },
            )
            .await?;
        self.store_revision = revision;
        self.pending
            .extend(events.into_iter().map(wire::watch_change));
        Ok(())
    }
}
