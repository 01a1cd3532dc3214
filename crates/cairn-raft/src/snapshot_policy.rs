//! `LogPolicy`: when a node builds a snapshot and purges its log, by entries
//! and by bytes, and never while its disk is below the replication floor.
//!
//! openraft 0.9's `SnapshotPolicy` counts entries only
//! (`snapshot_logs_since_last`), and its purge keeps
//! `max_in_snapshot_log_to_keep` entries behind a snapshot, whatever their
//! size. A bulk load writes few, large entries (256 files a transaction):
//! issue 12's million-file load wrote 4,256 entries and about 1 GiB of log,
//! never reached the entry count, so no snapshot was built, the log was never
//! purged, and a new node caught up by replaying the whole log (432 s).
//! And openraft's policy starts a build whatever the disk's free space.
//!
//! So openraft's own policy is off (`SnapshotPolicy::Never`, `config.rs`), and
//! this task looks at the log every `POLL_MS` (tokio's clock, which the
//! simulation drives) and
//! 1. has openraft build a snapshot (`trigger().snapshot()`) when more than
//!    `snapshot_logs_since_last` entries were applied since the last
//!    snapshot, or the entries after it hold more than
//!    `snapshot_log_bytes_since_last`. A build only makes the state
//!    durable (a snapshot is the state itself: `state_machine.rs`), so the
//!    bounds need not grow with the state's size;
//! 2. has openraft purge the log behind the snapshot
//!    (`trigger().purge_log(i)`) down to the entries that hold at most
//!    `max_in_snapshot_log_bytes_to_keep` (openraft's own purge by entry
//!    count still runs after every build; the further of the two wins). A
//!    leader purges only what no replication is using; a follower behind the
//!    purge gets the snapshot instead.
//!
//! Nothing here changes what is acknowledged: a snapshot build makes the
//! state machine durable before openraft sees the snapshot
//! (`StateMachine::build`), and openraft purges only entries a snapshot
//! covers.
//!
//! A node below its replication floor (`StorageRoom::admit_replication`
//! refuses) asks for no snapshot, and so purges nothing new: the build's
//! sync and the purge's transaction write to a disk that has no room for
//! them. It asks once the disk has room again; the log keeps its entries
//! meanwhile (the floor also stops new ones arriving). The scrubber
//! (`scrub.rs`) waits for room the same way.

use std::sync::Arc;
use std::time::Duration;

use crate::log_store::LogBytes;
use crate::types::Raft;
use crate::{IoMode, StorageRoom};

/// How often the log's size is looked at.
pub(crate) const POLL_MS: u64 = 250;

pub(crate) struct LogPolicy {
    pub node_id: u64,
    pub raft: Raft,
    pub bytes: LogBytes,
    pub db: std::sync::Arc<cairn_storage::LogDb>,
    /// Build a snapshot once more entries than this were applied after the
    /// last one...
    pub since_last_entries_max: u64,
    /// ...or once the log after the last one holds more bytes than this.
    pub since_last_bytes_max: u64,
    /// Keep at most this many bytes of entries behind the snapshot.
    pub keep_bytes_max: u64,
    /// Whether the disk has room above the replication floor (none: always).
    pub room: Option<Arc<dyn StorageRoom>>,
    /// Where the start's read of every entry's size runs.
    pub io: IoMode,
}

/// How far the log is past the last snapshot, against the bounds.
#[derive(Clone, Copy, Debug)]
struct SinceSnapshot {
    entries: u64,
    entries_max: u64,
    bytes: u64,
    bytes_max: u64,
}

impl SinceSnapshot {
    fn past_a_bound(&self) -> bool {
        self.entries > self.entries_max || self.bytes > self.bytes_max
    }
}

/// Whether to ask openraft for a snapshot now: the log since the last one
/// passed a bound, no build was asked for at this snapshot yet, and the disk
/// is not below the replication floor (`room` answers `Err(why)` then).
fn build_wanted(
    since: SinceSnapshot,
    asked_at_this_snapshot: bool,
    room: Result<(), String>,
) -> Result<bool, String> {
    if !since.past_a_bound() || asked_at_this_snapshot {
        return Ok(false);
    }
    room.map(|()| true)
}

impl LogPolicy {
    /// Runs until openraft stops.
    pub async fn run(self) {
        // The entries written before this start: their sizes count too.
        // Reading them reads the whole log (a GiB after a bulk load, for
        // seconds), so it runs in the background: on a runtime worker it
        // held that worker, and openraft's start behind it.
        let (bytes, db) = (self.bytes.clone(), self.db.clone());
        let loaded = self
            .io
            .background("log-sizes", move || {
                bytes.load(&db).map_err(std::io::Error::other)
            })
            .await;
        if let Err(error) = loaded.and_then(|loaded| loaded) {
            tracing::warn!(node_id = self.node_id, %error, "reading the log's entry sizes failed");
        }
        let mut ticker = tokio::time::interval(Duration::from_millis(POLL_MS));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The snapshot index a build was asked for at, so it is asked once.
        let mut asked_at: Option<Option<u64>> = None;
        loop {
            ticker.tick().await;
            let (snapshot, purged, applied, running) = {
                let metrics = self.raft.metrics();
                let metrics = metrics.borrow();
                (
                    metrics.snapshot.map(|id| id.index),
                    metrics.purged.map(|id| id.index),
                    metrics.last_applied.map(|id| id.index),
                    metrics.running_state.is_ok(),
                )
            };
            if !running {
                return;
            }
            if let Some(purged) = purged {
                self.bytes.forget_upto(purged);
            }
            let since = SinceSnapshot {
                entries: applied.unwrap_or(0).saturating_sub(snapshot.unwrap_or(0)),
                entries_max: self.since_last_entries_max,
                bytes: self.bytes.after(snapshot.unwrap_or(0)),
                bytes_max: self.since_last_bytes_max,
            };
            let room = match &self.room {
                Some(room) => room.admit_replication(0),
                None => Ok(()),
            };
            match build_wanted(since, asked_at == Some(snapshot), room) {
                Ok(false) => {}
                Ok(true) => {
                    tracing::info!(
                        node_id = self.node_id,
                        entries = since.entries,
                        bytes = since.bytes,
                        "the log since the last snapshot passed a bound: building a snapshot"
                    );
                    if self.raft.trigger().snapshot().await.is_err() {
                        return;
                    }
                    asked_at = Some(snapshot);
                }
                Err(why) => tracing::debug!(
                    node_id = self.node_id,
                    entries = since.entries,
                    bytes = since.bytes,
                    %why,
                    "the log since the last snapshot passed a bound, but the disk is below the replication floor: no snapshot now"
                ),
            }
            if let Some(snapshot) = snapshot
                && let Some(upto) = self.bytes.purge_point(snapshot, self.keep_bytes_max)
                && purged.is_none_or(|purged| upto > purged)
                && self.raft.trigger().purge_log(upto).await.is_err()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// The byte bounds are computed over the entries' sizes: after an index,
    /// and how far to purge so that what stays behind a snapshot is within
    /// the bound.
    #[test]
    fn sizes_give_the_bytes_after_an_index_and_the_purge_point() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(cairn_storage::LogDb::open(dir.path()).unwrap());
        db.append((1..=10u64).map(|i| (i, vec![0u8; 100 * i as usize])))
            .unwrap();
        let bytes = LogBytes::default();
        bytes.load(&db).unwrap();
        assert_eq!(bytes.after(0), 5_500);
        assert_eq!(bytes.after(8), 1_900);
        // Behind a snapshot at 8, keep at most 1,500 bytes: 8 and 7 (1,500),
        // so everything up to 6 goes.
        assert_eq!(bytes.purge_point(8, 1_500), Some(6));
        assert_eq!(bytes.purge_point(8, 1_499), Some(7));
        // All of it fits: nothing to purge.
        assert_eq!(bytes.purge_point(8, 10_000), None);
        bytes.forget_upto(6);
        assert_eq!(bytes.after(0), 3_400);
        assert_eq!(bytes.purge_point(8, 1_500), None);
    }

    /// A build is asked for past either bound, once per snapshot, and not
    /// while the disk is below the replication floor (asked again once it
    /// has room).
    #[test]
    fn a_build_is_wanted_past_a_bound_and_never_below_the_floor() {
        let below = || Err("below the floor".to_string());
        let since = |entries, bytes| SinceSnapshot {
            entries,
            entries_max: 10,
            bytes,
            bytes_max: 100,
        };
        assert_eq!(build_wanted(since(10, 100), false, Ok(())), Ok(false));
        assert_eq!(build_wanted(since(10, 101), false, Ok(())), Ok(true));
        assert_eq!(build_wanted(since(11, 0), false, Ok(())), Ok(true));
        assert_eq!(build_wanted(since(11, 101), true, Ok(())), Ok(false));
        assert_eq!(
            build_wanted(since(10, 101), false, below()),
            Err("below the floor".to_string())
        );
        assert_eq!(
            build_wanted(since(11, 0), false, below()),
            Err("below the floor".to_string())
        );
        // Under the bounds the floor is not even looked at.
        assert_eq!(build_wanted(since(3, 10), false, below()), Ok(false));
    }
}
