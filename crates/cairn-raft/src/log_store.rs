//! openraft's log storage over `cairn_storage::LogDb`: entries, vote,
//! committed id and last purged id, each write durable before it returns.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::Arc;

use cairn_core::codec;
use cairn_storage::LogDb;
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, RaftLogReader, StorageIOError};

use crate::types::{Entry, LogId, RaftStorageError, TypeConfig, Vote};

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

fn any(error: impl std::fmt::Display) -> AnyError {
    AnyError::error(error.to_string())
}

#[derive(Clone)]
pub struct LogStore {
    db: Arc<LogDb>,
}

impl LogStore {
    pub fn new(db: Arc<LogDb>) -> LogStore {
        LogStore { db }
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
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, RaftStorageError> {
        let start = range.start_bound().cloned();
        let end = range.end_bound().cloned();
        let rows = self
            .db
            .range(start, end)
            .map_err(|e| StorageIOError::read_logs(any(e)))?;
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
        let last = self
            .db
            .last()
            .map_err(|e| StorageIOError::read_logs(any(e)))?;
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

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), RaftStorageError> {
        self.db
            .set_meta(COMMITTED, &codec::encode(&committed))
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
        let rows: Vec<(u64, Vec<u8>)> = entries
            .into_iter()
            .map(|entry| (entry.log_id.index, codec::encode(&entry)))
            .collect();
        // The commit is durable (`Durability::Immediate`) when `append` returns.
        let result = self.db.append(rows);
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                callback.log_io_completed(Err(std::io::Error::other(error.to_string())));
                Err(StorageIOError::write_logs(any(error)).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.db
            .truncate_from(log_id.index)
            .map_err(|e| StorageIOError::write_logs(any(e)).into())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), RaftStorageError> {
        self.db
            .purge_upto(log_id.index, LAST_PURGED, &codec::encode(&log_id))
            .map_err(|e| StorageIOError::write_logs(any(e)).into())
    }
}
