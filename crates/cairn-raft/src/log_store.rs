//! openraft's log storage over `cairn_storage::LogDb`, with group commit.
//!
//! `append` hands entries to a writer task and returns at once; the writer
//! takes every append queued since its last commit and writes them in one
//! durable redb transaction (one fsync), then tells openraft they are
//! flushed. openraft acknowledges nothing (and a follower answers no append
//! request) before that. Until flushed, entries are kept in `pending`, so
//! reads see them immediately.
//!
//! Truncation and purging go through the same queue, in order, and wait.
//!
//! The writer is a thread of its own (`IoMode::Thread`), so an fsync never
//! stalls a runtime worker; under the simulation it is a task
//! (`IoMode::Inline`), since threads would break determinism.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};

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
}

/// Encoded entries handed to the writer and not yet durable, by index.
type Pending = Arc<Mutex<BTreeMap<u64, Arc<Vec<u8>>>>>;

#[derive(Clone)]
pub struct LogStore {
    db: Arc<LogDb>,
    pending: Pending,
    jobs: mpsc::UnboundedSender<Job>,
}

impl LogStore {
    /// Starts the writer; it ends when the last clone is dropped.
    pub fn new(db: Arc<LogDb>, io: IoMode) -> LogStore {
        let pending: Pending = Arc::default();
        let (jobs, queue) = mpsc::unbounded_channel();
        let (writer_db, writer_pending) = (db.clone(), pending.clone());
        match io {
            IoMode::Thread => {
                std::thread::Builder::new()
                    .name("cairn-log-writer".into())
                    .spawn(move || {
                        let mut queue = queue;
                        while let Some(first) = queue.blocking_recv() {
                            drain(&writer_db, &writer_pending, &mut queue, first);
                        }
                    })
                    .expect("start the log writer thread");
            }
            IoMode::Inline => {
                tokio::spawn(async move {
                    let mut queue = queue;
                    while let Some(first) = queue.recv().await {
                        drain(&writer_db, &writer_pending, &mut queue, first);
                    }
                });
            }
        }
        LogStore { db, pending, jobs }
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

/// Takes `first` and every job queued behind it: commits the appends in one
/// transaction, and runs truncations and purges in their place in the order.
fn drain(db: &LogDb, pending: &Pending, queue: &mut mpsc::UnboundedReceiver<Job>, first: Job) {
    let mut appends: Vec<(Rows, LogFlushed<TypeConfig>)> = Vec::new();
    let mut next = Some(first);
    while let Some(job) = next.take().or_else(|| queue.try_recv().ok()) {
        match job {
            Job::Append { rows, callback } => appends.push((rows, callback)),
            Job::Truncate { from, done } => {
                flush(db, pending, &mut appends);
                let _ = done.send(db.truncate_from(from).map_err(|e| e.to_string()));
            }
            Job::Purge {
                upto,
                last_purged,
                done,
            } => {
                flush(db, pending, &mut appends);
                let result = db
                    .purge_upto(upto, LAST_PURGED, &last_purged)
                    .map_err(|e| e.to_string());
                let _ = done.send(result);
            }
        }
    }
    flush(db, pending, &mut appends);
}

/// One durable transaction for every queued append.
fn flush(db: &LogDb, pending: &Pending, appends: &mut Vec<(Rows, LogFlushed<TypeConfig>)>) {
    if appends.is_empty() {
        return;
    }
    let batch = std::mem::take(appends);
    let rows = batch
        .iter()
        .flat_map(|(rows, _)| rows.iter().map(|(index, bytes)| (*index, bytes.as_slice())));
    match db.append(rows) {
        Ok(()) => {
            {
                let mut pending = pending.lock().expect("pending lock");
                for (index, bytes) in batch.iter().flat_map(|(rows, _)| rows) {
                    // Only if no later append replaced it meanwhile.
                    if pending
                        .get(index)
                        .is_some_and(|held| Arc::ptr_eq(held, bytes))
                    {
                        pending.remove(index);
                    }
                }
            }
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

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, RaftStorageError> {
        let start = range.start_bound().cloned();
        let end = range.end_bound().cloned();
        // Pending first: the writer moves entries to disk before it drops them from pending.
        let unflushed: Vec<(u64, Arc<Vec<u8>>)> = self
            .pending
            .lock()
            .expect("pending lock")
            .range((start, end))
            .map(|(index, bytes)| (*index, bytes.clone()))
            .collect();
        let mut rows: BTreeMap<u64, Arc<Vec<u8>>> = self
            .db
            .range(start, end)
            .map_err(|e| StorageIOError::read_logs(any(e)))?
            .into_iter()
            .map(|(index, bytes)| (index, Arc::new(bytes)))
            .collect();
        rows.extend(unflushed);
        rows.iter()
            .map(|(index, bytes)| {
                codec::decode::<Entry>(bytes)
                    .map_err(|e| StorageIOError::read_log_at_index(*index, any(e)).into())
            })
            .collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, RaftStorageError> {
        let last_purged_log_id: Option<LogId> = self.read_meta(LAST_PURGED)?;
        let unflushed = self
            .pending
            .lock()
            .expect("pending lock")
            .last_key_value()
            .map(|(index, bytes)| (*index, bytes.to_vec()));
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

    /// A hint for restarts (apply up to here at once); it rides along with
    /// the next synced commit rather than costing its own fsync.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), RaftStorageError> {
        self.db
            .set_meta_unsynced(COMMITTED, &codec::encode(&committed))
            .map_err(|e| StorageIOError::write_logs(any(e)).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, RaftStorageError> {
        Ok(self.read_meta::<Option<LogId>>(COMMITTED)?.flatten())
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
        self.pending
            .lock()
            .expect("pending lock")
            .extend(rows.iter().cloned());
        self.jobs
            .send(Job::Append { rows, callback })
            .map_err(|_| StorageIOError::write_logs(any("the log writer stopped")).into())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.pending
            .lock()
            .expect("pending lock")
            .retain(|index, _| *index < log_id.index);
        self.run(|done| Job::Truncate {
            from: log_id.index,
            done,
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.pending
            .lock()
            .expect("pending lock")
            .retain(|index, _| *index > log_id.index);
        self.run(|done| Job::Purge {
            upto: log_id.index,
            last_purged: codec::encode(&log_id),
            done,
        })
        .await
    }
}
