//! redb-backed storage: the Raft log and vote (`LogDb`, in `raft-log.redb`)
//! and the state machine's tables (`StateDb`, in `state.redb`).
//!
//! **Architecture invariant:** this crate knows nothing of HTTP and nothing of
//! openraft's types: the Raft layer hands it encoded bytes.
//!
//! Durability: write transactions commit with `Durability::Immediate` (an
//! fsync) unless their name says otherwise. The Raft log's appends,
//! truncations, purges and vote are synced, and the Raft layer acknowledges
//! nothing before its log entry is durable. Two kinds of write are not:
//! the state machine's applies (`StateDb::write_unsynced`), which a crash
//! replays from the durable log, and the committed-index hint
//! (`LogDb::set_meta_unsynced`). `StateDb::persist` makes unsynced applies
//! durable; the Raft layer calls it before a snapshot lets the log behind
//! it be purged. A snapshot's import commits synced.
//!
//! Two files rather than one because redb has one writer per database: log
//! appends and state-machine applies run concurrently in openraft.

mod log;
mod snapshot;
mod state;

pub use log::LogDb;
pub use snapshot::{RaftValues, SNAPSHOT_FORMAT, snapshot_header};
pub use state::{StateDb, StateReader, StateWriter};

use cairn_core::StorageError;

/// The file names under a node's data directory.
pub const LOG_FILE: &str = "raft-log.redb";
pub const STATE_FILE: &str = "state.redb";

pub(crate) fn storage_error(error: impl Into<redb::Error>) -> StorageError {
    StorageError::new(error.into())
}

/// Opens (or creates) a redb file.
pub(crate) fn open_database(path: &std::path::Path) -> Result<redb::Database, StorageError> {
    redb::Database::create(path).map_err(storage_error)
}

/// Where a node's redb databases live. Nodes use files in their data
/// directory; the simulation supplies a disk that models crashes (writes
/// not yet synced are lost).
pub trait Disk: Send + Sync + std::fmt::Debug + 'static {
    /// Opens (or creates) the database called `name` (`LOG_FILE`, `STATE_FILE`).
    fn database(&self, name: &str) -> Result<redb::Database, StorageError>;
}

/// redb files in a directory.
#[derive(Clone, Debug)]
pub struct FileDisk(pub std::path::PathBuf);

impl Disk for FileDisk {
    fn database(&self, name: &str) -> Result<redb::Database, StorageError> {
        open_database(&self.0.join(name))
    }
}

pub(crate) fn begin_write(db: &redb::Database) -> Result<redb::WriteTransaction, StorageError> {
    let mut txn = db.begin_write().map_err(storage_error)?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(|error| StorageError::corrupt(format!("set durability: {error}")))?;
    Ok(txn)
}
