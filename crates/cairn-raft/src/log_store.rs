//! openraft's log storage over `cairn_storage::LogDb`, with group commit.
//!
//! `append` hands entries to a writer task and returns at once; the writer
//! takes every append queued since its last write and writes them in one
//! durable write to the log's segment (one fdatasync), then tells openraft they are
//! flushed. openraft acknowledges nothing (and a follower answers no append
//! request) before that. Until flushed, entries are kept in `Held::pending`,
//! so reads see them immediately; once flushed, the newest of them stay in
//! `Held::recent` (up to `RECENT_BYTES_MAX`), because the entries openraft
//! reads most (to replicate them, to apply them) are the newest: those
//! reads never go to disk.
//!
//! Truncation and purging go through the same queue, in order, and wait.
//! A purge waits only for its record (`LAST_PURGED`, durable): the segments
//! it empties are removed afterwards, `PURGE_STEP_BYTES` at a time (one
//! segment at least, each removal durable), whenever no other job is
//! queued, so a GiB of entries (a log left unpurged through a bulk load,
//! say) does not hold the appends behind it. No entry at or below the last
//! purged index is read meanwhile (`rows`), and one that a crash leaves
//! behind is purged again after the restart.
//!
//! The committed-id hint (`save_committed`, once per commit) goes through
//! the queue too, without waiting: the writer puts the latest one in its
//! next append (or, with no append queued, in an unsynced write). Written
//! on openraft's core task instead, each hint was a write of its own, which
//! waits for the log's one writer, so the core waited behind the writer's
//! fsync and took no new proposals meanwhile.
//!
//! The writer is a thread of its own (`IoMode::Thread`), so an fsync never
//! stalls a runtime worker; under the simulation it is a task
//! (`IoMode::Inline`), since threads would break determinism.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cairn_core::codec;
use cairn_storage::LogDb;
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, RaftLogReader, StorageIOError};
use tokio::sync::{mpsc, oneshot};

use crate::IoMode;
use crate::types::{Entry, LogId, RaftStorageError, TypeConfig, Vote};

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// Most bytes of log entries one append-entries RPC carries (a single larger
/// entry still goes, alone). openraft 0.9 gives an append-entries RPC only
/// `heartbeat_interval_ms` to cross the network and be made durable on the
/// follower; a batch of many large entries could never do that in time, and
/// a lagging follower would be sent the same batch forever.
pub(crate) const REPLICATION_BATCH_BYTES_MAX: usize = 1024 * 1024;

/// Entries read from the log at a time while filling one append-entries batch.
const ROWS_PER_READ: u64 = 16;

/// Bytes of purged segments the writer removes in one step between jobs
/// (one segment at least: a removal and a directory sync, a few
/// milliseconds), so an append waits that long at most.
const PURGE_STEP_BYTES: u64 = 1024 * 1024;

fn any(error: impl std::fmt::Display) -> AnyError {
    AnyError::error(error.to_string())
}

type Rows = Vec<(u64, Arc<Vec<u8>>)>;
type Done = oneshot::Sender<Result<(), String>>;

enum Job {
    Append {
        rows: Rows,
        callback: LogFlushed<TypeConfig>,
    },
    Truncate {
        from: u64,
        done: Done,
    },
    Purge {
        upto: u64,
        last_purged: Vec<u8>,
        done: Done,
    },
    /// The encoded committed id, a hint for restarts; only the latest counts.
    Committed {
        bytes: Vec<u8>,
    },
}

/// Most bytes of durable entries `Held::recent` keeps. Replication and apply
/// read entries shortly after they are appended, a few entries behind the
/// end at most; a follower that lags further is sent entries read from disk.
const RECENT_BYTES_MAX: u64 = 8 * 1024 * 1024;

/// The newest entries of the log, encoded, by index: together always a run
/// of consecutive indexes that ends at the log's last entry (appends go on
/// at the top, the oldest durable ones leave at the bottom, a truncation
/// cuts the top and a purge the bottom), so a read from an index at or
/// above the first held one needs nothing from disk.
#[derive(Default)]
struct Held {
    /// Handed to the writer and not yet durable.
    pending: BTreeMap<u64, Arc<Vec<u8>>>,
    /// Durable, the newest up to `RECENT_BYTES_MAX`, all below `pending`.
    recent: BTreeMap<u64, Arc<Vec<u8>>>,
    recent_bytes: u64,
}

impl Held {
    /// The first index held, if any.
    fn first(&self) -> Option<u64> {
        let first = |rows: &BTreeMap<u64, Arc<Vec<u8>>>| rows.first_key_value().map(|(i, _)| *i);
        first(&self.recent).or_else(|| first(&self.pending))
    }

    /// The held entries in `range`, recent then pending.
    fn range(&self, range: (Bound<u64>, Bound<u64>)) -> Rows {
        self.recent
            .range(range)
            .chain(self.pending.range(range))
            .map(|(index, bytes)| (*index, bytes.clone()))
            .collect()
    }

    /// Entries of `rows` the writer made durable move from `pending` to
    /// `recent`, unless a later append replaced them or a truncation
    /// removed them meanwhile; the oldest recent ones leave beyond the bound.
    fn flushed(&mut self, rows: impl Iterator<Item = (u64, Arc<Vec<u8>>)>) {
        for (index, bytes) in rows {
            if self
                .pending
                .get(&index)
                .is_some_and(|held| Arc::ptr_eq(held, &bytes))
            {
                self.pending.remove(&index);
                self.recent_bytes += bytes.len() as u64;
                if let Some(old) = self.recent.insert(index, bytes) {
                    self.recent_bytes -= old.len() as u64;
                }
            }
        }
        while self.recent_bytes > RECENT_BYTES_MAX {
            let Some((_, bytes)) = self.recent.pop_first() else {
                break;
            };
            self.recent_bytes -= bytes.len() as u64;
        }
    }

    /// Drops what `keep` refuses, from both.
    fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        self.pending.retain(|index, _| keep(*index));
        let mut dropped = 0;
        self.recent.retain(|index, bytes| {
            let kept = keep(*index);
            if !kept {
                dropped += bytes.len() as u64;
            }
            kept
        });
        self.recent_bytes -= dropped;
    }
}

type SharedHeld = Arc<Mutex<Held>>;

/// The encoded size of every entry in the log, by index, for the snapshot
/// policy's byte bounds (`snapshot_policy.rs`): kept as entries are
/// appended, truncated and purged; entries written before this start are
/// added by `LogBytes::load`.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogBytes {
    sizes: Arc<Mutex<BTreeMap<u64, u64>>>,
    /// The log store's `readable_from`.
    readable_from: Arc<AtomicU64>,
}

impl LogBytes {
    fn sizes(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, u64>> {
        self.sizes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the sizes of the entries already on disk that this run has not
    /// appended (one read of the log's rows).
    pub(crate) fn load(&self, db: &LogDb) -> Result<(), cairn_core::StorageError> {
        let on_disk = db.entry_sizes()?;
        let readable_from = self.readable_from.load(Ordering::Acquire);
        let mut sizes = self.sizes();
        for (index, bytes) in on_disk {
            // Purged entries not yet removed count for nothing.
            if index >= readable_from {
                sizes.entry(index).or_insert(bytes);
            }
        }
        Ok(())
    }

    /// Bytes of the entries after `index`.
    pub(crate) fn after(&self, index: u64) -> u64 {
        self.sizes()
            .range((Bound::Excluded(index), Bound::Unbounded))
            .map(|(_, bytes)| bytes)
            .sum()
    }

    /// The highest index up to which the log may be purged so that the
    /// entries after it, up to `upto`, hold at most `keep_bytes`; `None`
    /// when they already do.
    pub(crate) fn purge_point(&self, upto: u64, keep_bytes: u64) -> Option<u64> {
        let sizes = self.sizes();
        let mut kept = 0u64;
        for (index, bytes) in sizes.range(..=upto).rev() {
            kept = kept.saturating_add(*bytes);
            if kept > keep_bytes {
                return Some(*index);
            }
        }
        None
    }

    /// Forgets entries up to and including `index` (purged).
    pub(crate) fn forget_upto(&self, index: u64) {
        let mut sizes = self.sizes();
        *sizes = sizes.split_off(&(index.saturating_add(1)));
    }

    fn forget_from(&self, index: u64) {
        self.sizes().split_off(&index);
    }

    fn record(&self, rows: &Rows) {
        let mut sizes = self.sizes();
        for (index, bytes) in rows {
            sizes.insert(*index, bytes.len() as u64);
        }
    }
}

#[derive(Clone)]
pub struct LogStore {
    db: Arc<LogDb>,
    held: SharedHeld,
    /// The last committed id handed to the writer (`None`: none this run),
    /// so `read_committed` sees it before the writer has written it.
    committed: Arc<Mutex<Option<Option<LogId>>>>,
    /// Unbounded, and bounded in practice by what feeds it: on a leader,
    /// one append per client write in flight (each waits for its commit,
    /// and the HTTP layer bounds each with its request timeout); on a
    /// follower, one append-entries batch per leader, which openraft does
    /// not follow with the next until this one is flushed and answered.
    /// A bound here would have to block openraft's core, which then could
    /// not answer heartbeats.
    jobs: mpsc::UnboundedSender<Job>,
    /// Entry sizes, for the snapshot policy.
    bytes: LogBytes,
    /// One past the last purged index: the first an entry may be read at
    /// (entries below it may still be on disk, waiting to be removed).
    readable_from: Arc<AtomicU64>,
}

impl LogStore {
    /// Starts the writer; it ends when the last clone is dropped. Fails only
    /// if the operating system refuses a thread.
    pub fn new(db: Arc<LogDb>, io: IoMode) -> std::io::Result<LogStore> {
        let held: SharedHeld = Arc::default();
        let (jobs, queue) = mpsc::unbounded_channel();
        // Entries a crash left behind a purge are removed first.
        let last_purged = db
            .meta(LAST_PURGED)
            .map_err(std::io::Error::other)?
            .map(|bytes| codec::decode::<LogId>(&bytes).map(|id| id.index))
            .transpose()
            .map_err(std::io::Error::other)?;
        let mut writer = Writer {
            db: db.clone(),
            held: held.clone(),
            queue,
            purge_upto: last_purged,
        };
        match io {
            IoMode::Thread => {
                std::thread::Builder::new()
                    .name("cairn-log-writer".into())
                    .spawn(move || {
                        loop {
                            let first = match writer.next_job() {
                                Next::Job(job) => job,
                                Next::Again => continue,
                                Next::Wait => match writer.queue.blocking_recv() {
                                    Some(job) => job,
                                    None => return,
                                },
                                Next::Closed => return,
                            };
                            writer.drain(first);
                        }
                    })?;
            }
            IoMode::Inline => {
                tokio::spawn(async move {
                    loop {
                        let first = match writer.next_job() {
                            Next::Job(job) => job,
                            Next::Again => {
                                tokio::task::yield_now().await;
                                continue;
                            }
                            Next::Wait => match writer.queue.recv().await {
                                Some(job) => job,
                                None => return,
                            },
                            Next::Closed => return,
                        };
                        writer.drain(first);
                    }
                });
            }
        }
        let readable_from = Arc::new(AtomicU64::new(last_purged.map_or(0, |index| index + 1)));
        Ok(LogStore {
            db,
            held,
            committed: Arc::default(),
            jobs,
            bytes: LogBytes {
                sizes: Arc::default(),
                readable_from: readable_from.clone(),
            },
            readable_from,
        })
    }

    /// The sizes of the entries, as they change.
    pub(crate) fn log_bytes(&self) -> LogBytes {
        self.bytes.clone()
    }

    /// Called before openraft starts: a committed vote for this node is
    /// saved again as a plain vote, so the node does not resume leading.
    ///
    /// openraft 0.9 restores a node whose saved vote is a committed vote for
    /// itself as leader of the same term at startup, and answers read indexes
    /// from its first entry of that term and the commit index it reloads; that
    /// index is only a hint here (`save_committed` is unsynced), so it may be
    /// lower than writes this leader committed and acknowledged before it
    /// stopped, and its first linearizable reads could miss them (simulation
    /// seed 1060 with `--task-number-shift 1` read version 38 after version 39
    /// was acknowledged). With a plain vote the node must win a new election;
    /// the new term's first entry commits everything before it.
    pub(crate) fn step_down_after_restart(&self, node_id: u64) -> Result<(), RaftStorageError> {
        let Some(vote) = self.read_meta::<Vote>(VOTE)? else {
            return Ok(());
        };
        if !(vote.is_committed() && vote.leader_id().voted_for() == Some(node_id)) {
            return Ok(());
        }
        let plain = Vote::new(vote.leader_id().get_term(), node_id);
        self.db
            .set_meta(VOTE, &codec::encode(&plain))
            .map_err(|e| StorageIOError::write_vote(any(e)).into())
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, RaftStorageError> {
        let bytes = self
            .db
            .meta(name)
            .map_err(|e| StorageIOError::read_logs(any(e)))?;
        bytes
            .map(|bytes| codec::decode(&bytes))
            .transpose()
            .map_err(|e| StorageIOError::read_logs(any(e)).into())
    }

    async fn run(&self, job: impl FnOnce(Done) -> Job) -> Result<(), RaftStorageError> {
        let (done, finished) = oneshot::channel();
        self.jobs
            .send(job(done))
            .map_err(|_| StorageIOError::write_logs(any("the log writer stopped")))?;
        finished
            .await
            .map_err(|_| StorageIOError::write_logs(any("the log writer stopped")))?
            .map_err(|e| StorageIOError::write_logs(any(e)).into())
    }
}

/// The log writer's side of the queue.
struct Writer {
    db: Arc<LogDb>,
    held: SharedHeld,
    queue: mpsc::UnboundedReceiver<Job>,
    /// The highest purged index whose entries may not all be removed yet.
    purge_upto: Option<u64>,
}

/// What the writer does next.
enum Next {
    Job(Job),
    /// It removed a step of purged entries; ask again.
    Again,
    /// Nothing to do until a job comes.
    Wait,
    /// Every `LogStore` is gone.
    Closed,
}

impl Writer {
    /// A queued job if there is one; else one step of a purge, if one is
    /// unfinished. Jobs come first, so an append waits for one step at most.
    fn next_job(&mut self) -> Next {
        match self.queue.try_recv() {
            Ok(job) => Next::Job(job),
            Err(mpsc::error::TryRecvError::Disconnected) => Next::Closed,
            Err(mpsc::error::TryRecvError::Empty) => {
                let Some(upto) = self.purge_upto else {
                    return Next::Wait;
                };
                match self.db.purge_some(upto, PURGE_STEP_BYTES) {
                    Ok(true) => {}
                    Ok(false) => self.purge_upto = None,
                    Err(error) => {
                        // Left on disk, never read; the next purge removes them.
                        tracing::warn!(%error, upto, "removing purged log entries failed");
                        self.purge_upto = None;
                    }
                }
                Next::Again
            }
        }
    }

    /// Takes `first` and every job queued behind it: writes the appends in
    /// one durable write, and runs truncations and purge records in their
    /// place in the order. The latest committed hint goes into the appends'
    /// write, or into an unsynced one of its own when no append follows it.
    fn drain(&mut self, first: Job) {
        let (db, held) = (&*self.db, &self.held);
        let mut appends: Vec<(Rows, LogFlushed<TypeConfig>)> = Vec::new();
        let mut committed: Option<Vec<u8>> = None;
        let mut next = Some(first);
        while let Some(job) = next.take().or_else(|| self.queue.try_recv().ok()) {
            match job {
                Job::Append { rows, callback } => appends.push((rows, callback)),
                Job::Committed { bytes } => committed = Some(bytes),
                Job::Truncate { from, done } => {
                    flush(db, held, &mut appends, &mut committed);
                    save_hint(db, &mut committed);
                    let _ = done.send(db.truncate_from(from).map_err(|e| e.to_string()));
                }
                Job::Purge {
                    upto,
                    last_purged,
                    done,
                } => {
                    flush(db, held, &mut appends, &mut committed);
                    save_hint(db, &mut committed);
                    let result = db.set_meta(LAST_PURGED, &last_purged);
                    if result.is_ok() {
                        self.purge_upto = self.purge_upto.max(Some(upto));
                    }
                    let _ = done.send(result.map_err(|e| e.to_string()));
                }
            }
        }
        flush(db, held, &mut appends, &mut committed);
        save_hint(db, &mut committed);
    }
}

/// Writes a committed hint that no append carried, unsynced (it becomes
/// durable with the next synced commit), and takes it.
fn save_hint(db: &LogDb, committed: &mut Option<Vec<u8>>) {
    if let Some(bytes) = committed.take()
        && let Err(error) = db.set_meta_unsynced(COMMITTED, &bytes)
    {
        // Only a hint: a restart without it applies from the last applied id.
        tracing::warn!(%error, "saving the committed id failed");
    }
}

/// One durable write for every queued append, carrying the committed
/// hint if one is waiting (which is then taken).
#[tracing::instrument(name = "log_flush", level = "debug", skip_all, fields(appends = appends.len()))]
fn flush(
    db: &LogDb,
    held: &SharedHeld,
    appends: &mut Vec<(Rows, LogFlushed<TypeConfig>)>,
    committed: &mut Option<Vec<u8>>,
) {
    if appends.is_empty() {
        return;
    }
    let batch = std::mem::take(appends);
    let rows = batch
        .iter()
        .flat_map(|(rows, _)| rows.iter().map(|(index, bytes)| (*index, bytes.as_slice())));
    let hint = committed.take();
    match db.append_with_meta(rows, hint.as_deref().map(|bytes| (COMMITTED, bytes))) {
        Ok(()) => {
            held.lock().unwrap_or_else(PoisonError::into_inner).flushed(
                batch
                    .iter()
                    .flat_map(|(rows, _)| rows.iter().map(|(i, b)| (*i, b.clone()))),
            );
            for (_, callback) in batch {
                callback.log_io_completed(Ok(()));
            }
        }
        Err(error) => {
            tracing::error!(%error, "log append failed");
            for (_, callback) in batch {
                callback.log_io_completed(Err(std::io::Error::other(error.to_string())));
            }
        }
    }
}

impl LogStore {
    /// The encoded entries in `[start, end)`: those held, and below the first
    /// held one, those on disk.
    fn rows(&self, start: Bound<u64>, end: Bound<u64>) -> Result<Rows, RaftStorageError> {
        // Held first: the writer writes entries to disk before they may leave.
        let (held, first_held) = {
            let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            (held.range((start, end)), held.first())
        };
        // Purged entries may still be on disk: never read them.
        let readable_from = self.readable_from.load(Ordering::Acquire);
        let from = match start {
            Bound::Included(index) => index,
            Bound::Excluded(index) => index.saturating_add(1),
            Bound::Unbounded => 0,
        }
        .max(readable_from);
        let start = Bound::Included(from);
        let disk_end = match first_held {
            Some(first) if from >= first => return Ok(held),
            Some(first) => match end {
                Bound::Included(index) | Bound::Excluded(index) if index < first => end,
                _ => Bound::Excluded(first),
            },
            None => end,
        };
        let nothing_on_disk = match disk_end {
            Bound::Included(index) => from > index,
            Bound::Excluded(index) => from >= index,
            Bound::Unbounded => false,
        };
        if nothing_on_disk {
            return Ok(held);
        }
        let mut rows: Rows = self
            .db
            .range(start, disk_end)
            .map_err(|e| StorageIOError::read_logs(any(e)))?
            .into_iter()
            .map(|(index, bytes)| (index, Arc::new(bytes)))
            .collect();
        rows.extend(held);
        Ok(rows)
    }
}

fn decode_entry(index: u64, bytes: &[u8]) -> Result<Entry, RaftStorageError> {
    codec::decode::<Entry>(bytes)
        .map_err(|e| StorageIOError::read_log_at_index(index, any(e)).into())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, RaftStorageError> {
        let rows = self.rows(range.start_bound().cloned(), range.end_bound().cloned())?;
        rows.iter()
            .map(|(index, bytes)| decode_entry(*index, bytes))
            .collect()
    }

    /// The entries for one append-entries RPC: from `start`, as many as fit
    /// in `REPLICATION_BATCH_BYTES_MAX` (at least one), read a few at a time
    /// so that a long range of large entries is never read whole.
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, RaftStorageError> {
        let mut entries = Vec::new();
        let mut batch_bytes = 0usize;
        let mut from = start;
        while from < end {
            let to = end.min(from.saturating_add(ROWS_PER_READ));
            let rows = self.rows(Bound::Included(from), Bound::Excluded(to))?;
            if rows.is_empty() {
                break;
            }
            for (index, bytes) in &rows {
                if !entries.is_empty() && batch_bytes + bytes.len() > REPLICATION_BATCH_BYTES_MAX {
                    return Ok(entries);
                }
                batch_bytes += bytes.len();
                entries.push(decode_entry(*index, bytes)?);
            }
            from = to;
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, RaftStorageError> {
        let last_purged_log_id: Option<LogId> = self.read_meta(LAST_PURGED)?;
        let unflushed = {
            let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            held.pending
                .last_key_value()
                .or_else(|| held.recent.last_key_value())
                .map(|(index, bytes)| (*index, bytes.to_vec()))
        };
        let last = match unflushed {
            Some(row) => Some(row),
            None => self
                .db
                .last()
                .map_err(|e| StorageIOError::read_logs(any(e)))?,
        };
        let last_log_id = match last {
            Some((index, bytes)) => Some(
                codec::decode::<Entry>(&bytes)
                    .map_err(|e| StorageIOError::read_log_at_index(index, any(e)))?
                    .log_id,
            ),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), RaftStorageError> {
        self.db
            .set_meta(VOTE, &codec::encode(vote))
            .map_err(|e| StorageIOError::write_vote(any(e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, RaftStorageError> {
        self.read_meta(VOTE)
    }

    /// A hint for restarts (apply up to here at once). Queued for the
    /// writer, which writes it with the next append (see the module comment):
    /// entries queued before it are in the same write or an earlier one,
    /// so the hint never reaches the disk ahead of the entries it covers.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), RaftStorageError> {
        *self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(committed);
        self.jobs
            .send(Job::Committed {
                bytes: codec::encode(&committed),
            })
            .map_err(|_| StorageIOError::write_logs(any("the log writer stopped")).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, RaftStorageError> {
        let latest = *self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match latest {
            Some(committed) => Ok(committed),
            None => Ok(self.read_meta::<Option<LogId>>(COMMITTED)?.flatten()),
        }
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), RaftStorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let rows: Rows = entries
            .into_iter()
            .map(|entry| (entry.log_id.index, Arc::new(codec::encode(&entry))))
            .collect();
        let span = tracing::debug_span!(
            "log_append",
            first_log_index = rows.first().map(|(index, _)| *index),
            last_log_index = rows.last().map(|(index, _)| *index),
        );
        self.bytes.record(&rows);
        span.in_scope(|| {
            self.held
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pending
                .extend(rows.iter().cloned());
            self.jobs
                .send(Job::Append { rows, callback })
                .map_err(|_| StorageIOError::write_logs(any("the log writer stopped")).into())
        })
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|index| index < log_id.index);
        self.bytes.forget_from(log_id.index);
        self.run(|done| Job::Truncate {
            from: log_id.index,
            done,
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|index| index > log_id.index);
        self.bytes.forget_upto(log_id.index);
        self.readable_from
            .fetch_max(log_id.index + 1, Ordering::AcqRel);
        self.run(|done| Job::Purge {
            upto: log_id.index,
            last_purged: codec::encode(&log_id),
            done,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use cairn_core::{Command, Limits, Meta, Proposal, Proposals, StoreName, StoreRef};
    use openraft::{EntryPayload, LeaderId};

    use super::*;

    /// An entry whose encoding is a little over `bytes` (blank if 0).
    fn entry(index: u64, bytes: usize) -> Entry {
        let payload = if bytes == 0 {
            EntryPayload::Blank
        } else {
            EntryPayload::Normal(Proposals::one(Proposal {
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
            }))
        };
        Entry {
            log_id: openraft::LogId::new(LeaderId::new(1, 1), index),
            payload,
        }
    }

    /// A log holding entries 1..=`count` of a little over `bytes` each.
    fn log_of(count: u64, bytes: usize) -> (tempfile::TempDir, LogStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = LogDb::open(dir.path()).unwrap();
        let rows: Vec<(u64, Vec<u8>)> = (1..=count)
            .map(|index| (index, codec::encode(&entry(index, bytes))))
            .collect();
        db.append(rows.iter().map(|(index, row)| (*index, row.as_slice())))
            .unwrap();
        (dir, LogStore::new(Arc::new(db), IoMode::Thread).unwrap())
    }

    fn limited(store: &mut LogStore, start: u64, end: u64) -> Vec<u64> {
        let entries = runtime()
            .block_on(store.limited_get_log_entries(start, end))
            .unwrap();
        indexes_of(&entries)
    }

    /// A runtime for a test to block on.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn indexes_of(entries: &[Entry]) -> Vec<u64> {
        entries.iter().map(|entry| entry.log_id.index).collect()
    }

    #[test]
    fn the_committed_hint_is_written_by_the_writer_and_read_back() {
        let (dir, mut store) = log_of(5, 0);
        let runtime = runtime();
        let id = |index| openraft::LogId::new(LeaderId::new(1, 1), index);
        runtime.block_on(async {
            assert_eq!(store.read_committed().await.unwrap(), None);
            store.save_committed(Some(id(2))).await.unwrap();
            store.save_committed(Some(id(3))).await.unwrap();
            // Seen at once, before the writer has written it.
            assert_eq!(store.read_committed().await.unwrap(), Some(id(3)));
            // A truncation runs after the hints queued before it are written.
            store.truncate(id(5)).await.unwrap();
        });
        drop(store);
        // The writer thread may still hold the file briefly after its last job.
        let db = (0..100)
            .find_map(|_| match LogDb::open(dir.path()) {
                Ok(db) => Some(db),
                Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                }
            })
            .expect("the log reopens");
        let mut reopened = LogStore::new(Arc::new(db), IoMode::Thread).unwrap();
        let (committed, last) = runtime.block_on(async {
            let committed = reopened.read_committed().await.unwrap();
            let state = reopened.get_log_state().await.unwrap();
            (committed, state.last_log_id)
        });
        assert_eq!(committed, Some(id(3)));
        assert_eq!(last, Some(id(4)));
    }

    /// Appends `indexes` through openraft's interface and waits until flushed.
    fn append_flushed(
        runtime: &tokio::runtime::Runtime,
        store: &mut LogStore,
        indexes: std::ops::Range<u64>,
        bytes: usize,
    ) {
        use openraft::storage::RaftLogStorageExt;
        runtime.block_on(async {
            let last = indexes.end - 1;
            let entries: Vec<Entry> = indexes.map(|index| entry(index, bytes)).collect();
            store.blocking_append(entries).await.unwrap();
            let state = store.get_log_state().await.unwrap();
            assert_eq!(state.last_log_id.map(|id| id.index), Some(last));
        });
    }

    fn indexes(
        runtime: &tokio::runtime::Runtime,
        store: &mut LogStore,
        range: std::ops::Range<u64>,
    ) -> Vec<u64> {
        indexes_of(&runtime.block_on(store.try_get_log_entries(range)).unwrap())
    }

    #[test]
    fn the_newest_durable_entries_are_read_from_memory_and_older_ones_from_disk() {
        let (_dir, mut store) = log_of(10, 0);
        let runtime = runtime();
        // Entries of a quarter of the bound: the newest four stay held.
        let quarter = (RECENT_BYTES_MAX / 4) as usize;
        append_flushed(&runtime, &mut store, 11..17, quarter);
        let first_held = store.held.lock().unwrap().first();
        assert!(
            first_held.is_some_and(|first| first > 11 && first <= 14),
            "{first_held:?}"
        );
        assert!(store.held.lock().unwrap().recent_bytes <= RECENT_BYTES_MAX);
        assert!(store.held.lock().unwrap().pending.is_empty());
        // Any range reads the same, across disk and memory.
        assert_eq!(
            indexes(&runtime, &mut store, 1..17),
            (1..17).collect::<Vec<u64>>()
        );
        assert_eq!(
            indexes(&runtime, &mut store, 9..13),
            (9..13).collect::<Vec<u64>>()
        );
        assert_eq!(indexes(&runtime, &mut store, 15..30), vec![15, 16]);
        // A truncation cuts the held entries too; the next append is read back, not the old one.
        runtime
            .block_on(store.truncate(openraft::LogId::new(LeaderId::new(1, 1), 15)))
            .unwrap();
        assert_eq!(indexes(&runtime, &mut store, 13..30), vec![13, 14]);
        append_flushed(&runtime, &mut store, 15..16, 0);
        let entries = runtime.block_on(store.try_get_log_entries(15..16)).unwrap();
        assert_eq!(entries.len(), 1);
        assert!(matches!(entries[0].payload, EntryPayload::Blank));
        // A purge drops them from the bottom.
        runtime
            .block_on(store.purge(openraft::LogId::new(LeaderId::new(1, 1), 14)))
            .unwrap();
        assert_eq!(indexes(&runtime, &mut store, 1..30), vec![15]);
    }

    #[test]
    fn a_purge_is_recorded_at_once_and_its_entries_removed_in_steps_between_appends() {
        // 48 entries of a little over a MiB: a dozen steps of removal.
        let (_dir, mut store) = log_of(48, 1024 * 1024);
        let runtime = runtime();
        let id = |index| openraft::LogId::new(LeaderId::new(1, 1), index);
        runtime.block_on(store.purge(id(40))).unwrap();
        // Recorded: the log state says so, and no purged entry is read
        // whatever the writer removed so far.
        let state = runtime.block_on(store.get_log_state()).unwrap();
        assert_eq!(state.last_purged_log_id, Some(id(40)));
        assert_eq!(
            indexes(&runtime, &mut store, 1..60),
            (41..=48).collect::<Vec<u64>>()
        );
        assert_eq!(indexes(&runtime, &mut store, 10..20), Vec::<u64>::new());
        assert_eq!(store.bytes.after(0), store.bytes.after(40));
        // Appends go on while the entries are removed.
        append_flushed(&runtime, &mut store, 49..52, 0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while store.db.first_index().unwrap() != Some(41) {
            assert!(
                std::time::Instant::now() < deadline,
                "purged entries were not removed"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            indexes(&runtime, &mut store, 1..60),
            (41..52).collect::<Vec<u64>>()
        );
        let db = store.db.clone();
        drop(store);

        // Entries a crash left behind a recorded purge are removed after a
        // restart and never read meanwhile.
        db.set_meta(LAST_PURGED, &codec::encode(&id(45))).unwrap();
        let mut store = LogStore::new(db.clone(), IoMode::Thread).unwrap();
        assert_eq!(
            indexes(&runtime, &mut store, 1..60),
            (46..52).collect::<Vec<u64>>()
        );
        store.bytes.load(&db).unwrap();
        assert_eq!(store.bytes.after(0), store.bytes.after(45));
        while db.first_index().unwrap() != Some(46) {
            assert!(
                std::time::Instant::now() < deadline,
                "left-behind entries were not removed"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn small_entries_fill_a_batch_up_to_the_end_of_the_range() {
        let (_dir, mut store) = log_of(40, 0);
        assert_eq!(limited(&mut store, 3, 40), (3..40).collect::<Vec<u64>>());
    }

    #[test]
    fn large_entries_fill_a_batch_up_to_the_byte_limit() {
        let (_dir, mut store) = log_of(10, REPLICATION_BATCH_BYTES_MAX / 3);
        // Three entries of a little over a third do not fit; two do.
        assert_eq!(limited(&mut store, 2, 11), vec![2, 3]);
    }

    #[test]
    fn an_entry_over_the_byte_limit_goes_alone() {
        let (_dir, mut store) = log_of(3, REPLICATION_BATCH_BYTES_MAX + 1);
        assert_eq!(limited(&mut store, 1, 4), vec![1]);
    }
}
