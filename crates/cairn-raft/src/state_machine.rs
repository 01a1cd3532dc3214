//! openraft's state machine over `cairn_storage::StateDb`. Each batch of
//! committed entries is applied in one redb transaction, together with the
//! last applied log id and membership, so the data and the applied index
//! never disagree (no entry is applied twice). The transaction is not
//! synced: the entries are already durable in the Raft log, which a crash
//! replays from the last applied id that reached the disk. Building a
//! snapshot makes every apply it covers durable (`StateDb::persist`, after
//! its read transaction began), because the log behind a snapshot may then
//! be purged.
//!
//! Every `STATE_SYNC_APPLIES_MAX` batches, or once `STATE_SYNC_INTERVAL_MS`
//! has passed since the last synced one (tokio's clock, which the simulation
//! drives), a batch commits synced instead. redb reuses a page freed by a
//! commit only after a synced commit follows it, so with unsynced commits
//! alone `state.redb` grew by every page a write replaced until the next
//! snapshot (issue 12 measured 6.7 GiB on disk for 1 GiB of content). What
//! is acknowledged does not depend on it: the Raft log is the durable record,
//! and the synced apply is only where a restart's replay begins.
//!
//! A snapshot is the state itself, as of one redb read transaction
//! (`StateDb::export`): building one makes the state durable up to the
//! applied index that transaction sees, and sending one encodes the rows
//! as they are read (`SnapshotData::State`), self-describing (its header
//! holds the applied log id and membership). No snapshot file is kept:
//! a copy of the whole state took as much disk as the state's content
//! again, and writing it, at every build, competed with requests for the
//! disk and the cores. A received snapshot is written to `recv-N.tmp`
//! under `<data_dir>/snapshots/`, imported, and removed (`SnapshotFile`
//! removes it when dropped, so an abandoned receipt goes too). Memory stays
//! bounded: nothing holds a whole snapshot.

use std::io::{BufReader, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_core::codec;
use cairn_core::{Outcome, StorageError};
use cairn_storage::{Disk, RaftValues, StateDb, StateReader, snapshot_header};
use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};

use crate::scrub::ScrubSignal;
use crate::snapshot_data::{SnapshotData, SnapshotFile};
use crate::types::{
    Entry, LogId, RaftStorageError, Snapshot, SnapshotMeta, StoredMembership, TypeConfig,
};

const APPLIED: &str = "applied";
/// Set (synced) before a snapshot's import begins; the import replaces every
/// raft value, so it is there afterwards only if an import was cut short.
const INSTALLING: &str = "installing";
const MEMBERSHIP: &str = "membership";
/// Most applied batches committed unsynced in a row (see the module doc).
pub(crate) const STATE_SYNC_APPLIES_MAX: u64 = 64;
/// Longest time between synced applies while entries are applied.
pub(crate) const STATE_SYNC_INTERVAL_MS: u64 = 1_000;

/// When the next apply commits synced: counted per state machine.
#[derive(Clone, Copy, Debug)]
struct SyncPoint {
    applies_since: u64,
    at: tokio::time::Instant,
}

impl SyncPoint {
    fn now() -> SyncPoint {
        SyncPoint {
            applies_since: 0,
            at: tokio::time::Instant::now(),
        }
    }

    /// Whether the batch being applied now commits synced.
    fn due(&self) -> bool {
        self.applies_since + 1 >= STATE_SYNC_APPLIES_MAX
            || self.at.elapsed() >= std::time::Duration::from_millis(STATE_SYNC_INTERVAL_MS)
    }
}

fn any(error: impl std::fmt::Display) -> AnyError {
    AnyError::error(error.to_string())
}

fn read_error(error: impl std::fmt::Display) -> RaftStorageError {
    StorageIOError::read_snapshot(None, any(error)).into()
}

fn write_error(error: impl std::fmt::Display) -> RaftStorageError {
    StorageIOError::write_snapshot(None, any(error)).into()
}

/// The last applied log id and membership recorded in the state machine.
pub fn applied_state(
    reader: &StateReader,
) -> Result<(Option<LogId>, StoredMembership), StorageError> {
    let applied = match reader.raft_value(APPLIED)? {
        Some(bytes) => codec::decode(&bytes)?,
        None => None,
    };
    let membership = match reader.raft_value(MEMBERSHIP)? {
        Some(bytes) => codec::decode(&bytes)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

/// The state digest (`cairn_core::kv::state_digest`) and the index of the
/// last entry applied to the state `reader` sees: one read transaction for
/// both, so they describe the same state however long the digest takes.
pub fn digest_and_applied(reader: &StateReader) -> Result<(u64, Option<u64>), StorageError> {
    let (applied, _) = applied_state(reader)?;
    let digest = cairn_core::kv::state_digest(reader)?;
    Ok((digest, applied.map(|id| id.index)))
}

/// The snapshot meta that a snapshot's raft values describe.
fn meta_from(raft: &RaftValues) -> Result<SnapshotMeta, StorageError> {
    let value = |name: &str| raft.iter().find(|(key, _)| key == name).map(|(_, v)| v);
    let applied: Option<LogId> = match value(APPLIED) {
        Some(bytes) => codec::decode(bytes)?,
        None => None,
    };
    let membership: StoredMembership = match value(MEMBERSHIP) {
        Some(bytes) => codec::decode(bytes)?,
        None => StoredMembership::default(),
    };
    let snapshot_id = match applied {
        Some(id) => format!("{}-{}", id.leader_id, id.index),
        None => "empty".to_string(),
    };
    Ok(SnapshotMeta {
        last_log_id: applied,
        last_membership: membership,
        snapshot_id,
    })
}

#[derive(Clone)]
pub struct StateMachine {
    db: Arc<StateDb>,
    /// Holds the snapshot files.
    disk: Arc<dyn Disk>,
    received: Arc<AtomicU64>,
    /// Told when a redaction was applied or a snapshot installed (`scrub.rs`).
    scrub: ScrubSignal,
    /// The node's Raft log, to tell whether an install replaces any entry.
    log: Option<Arc<cairn_storage::LogDb>>,
    /// The last synced apply.
    synced: SyncPoint,
}

impl StateMachine {
    /// `disk` holds received snapshot files; any there now is a leftover
    /// (of a receipt cut short, or a snapshot file an earlier version kept)
    /// and is removed.
    pub fn new(db: Arc<StateDb>, disk: Arc<dyn Disk>) -> std::io::Result<StateMachine> {
        for name in disk.snapshot_file_names()? {
            disk.remove_snapshot_file(&name)?;
        }
        Ok(StateMachine {
            db,
            disk,
            received: Arc::new(AtomicU64::new(0)),
            scrub: ScrubSignal::detached(),
            log: None,
            synced: SyncPoint::now(),
        })
    }

    /// Tells this state machine's received snapshot files from others'.
    fn origin(&self) -> usize {
        Arc::as_ptr(&self.received) as usize
    }

    /// The node's log, looked at before a snapshot install (see
    /// `holds_nothing_older`).
    pub fn with_log(mut self, log: Arc<cairn_storage::LogDb>) -> StateMachine {
        self.log = Some(log);
        self
    }

    /// Whether this node holds nothing a snapshot install would leave
    /// behind: it applied nothing, no earlier import was cut short (whose
    /// uncommitted pages may hold content), and its log holds no entry.
    /// Then an install needs no scrub after it: no freed page and no log
    /// entry can hold bytes a redaction in the snapshot removed. A new
    /// node catching up is such a node, and the scrub's rewrite of the
    /// whole state (seconds per GiB, during which nothing is applied) was
    /// most of its catch-up time.
    fn holds_nothing_older(&self) -> Result<bool, StorageError> {
        let Some(log) = &self.log else {
            return Ok(false);
        };
        let reader = self.db.reader()?;
        let (applied, _) = applied_state(&reader)?;
        let interrupted = reader.raft_value(INSTALLING)?.is_some();
        Ok(applied.is_none() && !interrupted && log.is_empty()?)
    }

    /// Tells `scrub` whenever removed bytes must leave the disk.
    pub fn with_scrub(mut self, scrub: ScrubSignal) -> StateMachine {
        self.scrub = scrub;
        self
    }

    /// The state as of now, as a snapshot to send.
    fn snapshot(&self) -> Result<Snapshot, RaftStorageError> {
        let export = self.db.export().map_err(read_error)?;
        let meta = meta_from(export.raft_values()).map_err(read_error)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotData::State(Box::new(export))),
        })
    }

    /// A new file to receive a snapshot into.
    fn receiving_file(&self) -> Result<SnapshotFile, RaftStorageError> {
        let n = self.received.fetch_add(1, Ordering::Relaxed);
        SnapshotFile::create(self.disk.clone(), format!("recv-{n}.tmp"), self.origin())
            .map_err(write_error)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    /// A snapshot is the state as of one read transaction: a build only
    /// makes that state durable, since openraft may purge the entries it
    /// covers once it has it.
    #[tracing::instrument(name = "snapshot_build", level = "debug", skip_all)]
    async fn build_snapshot(&mut self) -> Result<Snapshot, RaftStorageError> {
        let snapshot = self.snapshot()?;
        // Synced after the read transaction began, not before: an apply may
        // have committed (unsynced) in between, and the snapshot covers it.
        self.db.persist().map_err(write_error)?;
        Ok(snapshot)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership), RaftStorageError> {
        let reader = self
            .db
            .reader()
            .map_err(|e| StorageIOError::read_state_machine(any(e)))?;
        applied_state(&reader).map_err(|e| StorageIOError::read_state_machine(any(e)).into())
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Outcome>>, RaftStorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(Vec::new());
        };
        let span = tracing::debug_span!(
            "apply",
            first_log_index = first.log_id.index,
            last_log_index = last.log_id.index,
        );
        let _entered = span.enter();
        let last = last.log_id;
        // Mostly unsynced: the Raft log is durable, and a crash replays from
        // the last synced apply (the applied id commits with the effects).
        // `build` persists before a snapshot lets the log be purged; a synced
        // batch now and then lets redb reuse the pages earlier ones freed.
        let sync = self.synced.due();
        let outcomes = self
            .db
            .write_synced_if(sync, |writer| {
                let mut outcomes = Vec::with_capacity(entries.len());
                for entry in &entries {
                    let outcome = match &entry.payload {
                        EntryPayload::Blank => Vec::new(),
                        EntryPayload::Normal(proposals) => {
                            cairn_core::apply_entry(writer, entry.log_id.index, proposals)?
                        }
                        EntryPayload::Membership(membership) => {
                            let stored =
                                StoredMembership::new(Some(entry.log_id), membership.clone());
                            writer.set_raft_value(MEMBERSHIP, &codec::encode(&stored))?;
                            Vec::new()
                        }
                    };
                    outcomes.push(outcome);
                }
                writer.set_raft_value(APPLIED, &codec::encode(&Some(last)))?;
                Ok(outcomes)
            })
            .map_err(|e| StorageIOError::apply(last, any(e)))?;
        if sync {
            self.synced = SyncPoint::now();
        } else {
            self.synced.applies_since += 1;
        }
        // A redaction's bytes are still in the log, the content file and
        // freed pages: the scrubber takes them off once this batch is
        // applied. It also rewrites the content file once enough of it is
        // content overwritten or deleted.
        if self.db.compaction_due()
            || outcomes
                .iter()
                .flatten()
                .any(|outcome| matches!(outcome, Outcome::Redacted(_)))
        {
            self.scrub.request(last.index);
        }
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotData>, RaftStorageError> {
        Ok(Box::new(SnapshotData::Received(self.receiving_file()?)))
    }

    #[tracing::instrument(
        name = "snapshot_install",
        level = "debug",
        skip_all,
        fields(snapshot_id = %meta.snapshot_id, last_log_index = meta.last_log_id.map(|id| id.index))
    )]
    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<SnapshotData>,
    ) -> Result<(), RaftStorageError> {
        let fail = |e: StorageError| -> RaftStorageError {
            StorageIOError::write_snapshot(Some(meta.signature()), any(e)).into()
        };
        let mut received = match *snapshot {
            SnapshotData::Received(file) if file.origin == self.origin() => file,
            mut other => {
                // Not received through `begin_receiving_snapshot` here
                // (openraft's conformance suite installs one state machine's
                // snapshot into another): it becomes a file of this disk first.
                let mut copy = self.receiving_file()?;
                if let SnapshotData::Received(source) = &mut other {
                    source
                        .file_mut()
                        .seek(SeekFrom::Start(0))
                        .map_err(write_error)?;
                }
                std::io::copy(&mut other, copy.file_mut()).map_err(write_error)?;
                copy
            }
        };
        let file = received.file_mut();
        file.sync().map_err(write_error)?;
        file.seek(SeekFrom::Start(0)).map_err(write_error)?;
        let raft = snapshot_header(&mut BufReader::new(&mut *file)).map_err(fail)?;
        let described = meta_from(&raft).map_err(fail)?;
        if described.last_log_id != meta.last_log_id {
            return Err(write_error(format!(
                "received snapshot covers {:?}, its meta says {:?}",
                described.last_log_id, meta.last_log_id
            )));
        }
        file.seek(SeekFrom::Start(0)).map_err(write_error)?;
        let fresh = self.holds_nothing_older().map_err(fail)?;
        self.db
            .write(|writer| writer.set_raft_value(INSTALLING, &[1]))
            .map_err(fail)?;
        self.db
            .import_from(&mut BufReader::new(&mut *file))
            .map_err(fail)?;
        // The state holds it all now (the import commits synced); the file
        // goes with `received`.
        // The import freed the pages of the old state, which may hold bytes
        // a redaction in the snapshot removed; and the log it replaces may
        // hold the entries that wrote them. A node that held nothing before
        // has neither.
        if let Some(id) = meta.last_log_id
            && !fresh
        {
            self.scrub.request(id.index);
        }
        Ok(())
    }

    /// The state as of now, unless nothing was applied yet. openraft asks
    /// at every start and whenever a follower needs a snapshot; what it gets
    /// may be newer than the last one built, which openraft accepts (a
    /// follower's match index only moves forward).
    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, RaftStorageError> {
        let snapshot = self.snapshot()?;
        Ok(snapshot.meta.last_log_id.is_some().then_some(snapshot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest is paired with the applied index of the state it read,
    /// even when entries are applied while it is taken (as a catching-up
    /// follower's are during a digest of hundreds of MiB).
    #[tokio::test]
    async fn a_digest_names_the_applied_index_of_the_state_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let disk: Arc<dyn Disk> = Arc::new(cairn_storage::FileDisk::new(dir.path()));
        let state = Arc::new(StateDb::open_on(disk.clone(), "state.redb").unwrap());
        let mut machine = StateMachine::new(state.clone(), disk.clone()).unwrap();
        let blank = |index: u64| Entry {
            log_id: openraft::LogId::new(openraft::LeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        };
        machine.apply([blank(1), blank(2), blank(3)]).await.unwrap();
        let reader = state.reader().unwrap();
        machine.apply([blank(4), blank(5)]).await.unwrap();
        let (digest, applied) = digest_and_applied(&reader).unwrap();
        assert_eq!(applied, Some(3), "the reader's state, not the node's now");
        assert_eq!(digest, cairn_core::kv::state_digest(&reader).unwrap());
        let (_, now) = digest_and_applied(&state.reader().unwrap()).unwrap();
        assert_eq!(now, Some(5));
    }

    /// A snapshot is the state as of its read: what one machine sends,
    /// received chunk by chunk into a file of another's disk, installs the
    /// same state there; the received file is gone once imported, and so is
    /// one whose transfer was abandoned. Nothing is left under `snapshots/`.
    #[tokio::test]
    async fn a_sent_snapshot_installs_and_leaves_no_file_behind() {
        use cairn_core::kv::{KvWrite, Table};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let machine_on = |name: &str| {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            let disk: Arc<dyn Disk> = Arc::new(cairn_storage::FileDisk::new(dir.path().join(name)));
            let state = Arc::new(StateDb::open_on(disk.clone(), "state.redb").unwrap());
            (
                StateMachine::new(state.clone(), disk.clone()).unwrap(),
                state,
                disk,
            )
        };
        let (mut leader, leader_state, _) = machine_on("leader");
        let (mut follower, follower_state, follower_disk) = machine_on("follower");
        assert!(leader.get_current_snapshot().await.unwrap().is_none());
        let blank = |index: u64| Entry {
            log_id: openraft::LogId::new(openraft::LeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        };
        leader.apply([blank(1), blank(2)]).await.unwrap();
        leader_state
            .write(|writer| {
                for i in 0u32..600 {
                    writer.put(Table::Content, &i.to_be_bytes(), &[7; 1000])?;
                }
                Ok(())
            })
            .unwrap();
        let digest = |state: &StateDb| cairn_core::kv::state_digest(&state.reader().unwrap());
        let expected = digest(&leader_state).unwrap();
        let snapshot = leader.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(snapshot.meta.last_log_id.map(|id| id.index), Some(2));
        // Written after the snapshot's read: not in it.
        leader.apply([blank(3)]).await.unwrap();
        leader_state
            .write(|writer| writer.put(Table::Content, b"later", b"x"))
            .unwrap();

        let mut abandoned = follower.begin_receiving_snapshot().await.unwrap();
        abandoned.write_all(b"half a snapshot").await.unwrap();
        assert_eq!(follower_disk.snapshot_file_names().unwrap().len(), 1);
        drop(abandoned);
        assert!(follower_disk.snapshot_file_names().unwrap().is_empty());

        let mut received = follower.begin_receiving_snapshot().await.unwrap();
        let mut data = snapshot.snapshot;
        let mut chunk = vec![0; 64 * 1024];
        loop {
            let n = data.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            received.write_all(&chunk[..n]).await.unwrap();
        }
        follower
            .install_snapshot(&snapshot.meta, received)
            .await
            .unwrap();
        assert!(follower_disk.snapshot_file_names().unwrap().is_empty());
        let (applied, _) = applied_state(&follower_state.reader().unwrap()).unwrap();
        assert_eq!(applied.map(|id| id.index), Some(2));
        assert_eq!(digest(&follower_state).unwrap(), expected);
    }

    /// A snapshot install skips the scrub only on a node that holds
    /// nothing older: no applied state, no import cut short, no log entry.
    #[test]
    fn only_a_node_holding_nothing_installs_without_a_scrub() {
        let dir = tempfile::tempdir().unwrap();
        let disk: Arc<dyn Disk> = Arc::new(cairn_storage::FileDisk::new(dir.path()));
        let fresh = |state: &Arc<StateDb>, log: &Arc<cairn_storage::LogDb>| {
            StateMachine::new(state.clone(), disk.clone())
                .unwrap()
                .with_log(log.clone())
                .holds_nothing_older()
                .unwrap()
        };
        let new_state = |name: &str| Arc::new(StateDb::open_on(disk.clone(), name).unwrap());
        let log = Arc::new(cairn_storage::LogDb::open_on(disk.clone(), "log").unwrap());
        let empty_log = Arc::new(cairn_storage::LogDb::open_on(disk.clone(), "empty").unwrap());

        let state = new_state("a.redb");
        assert!(fresh(&state, &empty_log), "a new node");
        assert!(
            !StateMachine::new(state.clone(), disk.clone())
                .unwrap()
                .holds_nothing_older()
                .unwrap(),
            "without its log, a node is never taken as fresh"
        );
        log.append([(1u64, b"entry".as_slice())]).unwrap();
        assert!(!fresh(&state, &log), "a log entry");

        let interrupted = new_state("b.redb");
        interrupted
            .write(|writer| writer.set_raft_value(INSTALLING, &[1]))
            .unwrap();
        assert!(!fresh(&interrupted, &empty_log), "an import cut short");

        let applied = new_state("c.redb");
        let id: LogId = openraft::LogId::new(openraft::LeaderId::new(1, 1), 3);
        applied
            .write(|writer| writer.set_raft_value(APPLIED, &codec::encode(&Some(id))))
            .unwrap();
        assert!(!fresh(&applied, &empty_log), "applied state");
    }

    /// Once the content file holds more dead content than live (past the
    /// floor), the next apply asks the scrubber for the rewrite that gives
    /// the space back.
    #[tokio::test]
    async fn dead_content_asks_for_a_rewrite() {
        use cairn_core::kv::{KvWrite, Table};
        let dir = tempfile::tempdir().unwrap();
        let disk: Arc<dyn Disk> = Arc::new(cairn_storage::FileDisk::new(dir.path()));
        let state = Arc::new(StateDb::open_on(disk.clone(), "state.redb").unwrap());
        let (signal, mut wanted) = crate::scrub::channel();
        let mut machine = StateMachine::new(state.clone(), disk.clone())
            .unwrap()
            .with_scrub(signal);
        let blank = |index: u64| Entry {
            log_id: openraft::LogId::new(openraft::LeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        };
        machine.apply([blank(1)]).await.unwrap();
        assert!(!wanted.has_changed().unwrap(), "nothing is dead yet");
        let chunk = vec![1u8; 1024 * 1024];
        for _ in 0..=cairn_storage::COMPACTION_DEAD_BYTES_MIN / chunk.len() as u64 {
            state
                .write_unsynced(|writer| writer.put(Table::Content, b"churn", &chunk))
                .unwrap();
        }
        machine.apply([blank(2)]).await.unwrap();
        assert_eq!(*wanted.borrow_and_update(), 2);
    }
}
