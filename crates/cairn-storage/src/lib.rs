//! Storage: the Raft log and vote (`LogDb`, in segment files `raft-log.seg-*`)
//! and the state machine's tables (`StateDb`, in redb file `state.redb`).
//!
//! **Architecture invariant:** this crate knows nothing of HTTP and nothing of
//! openraft's types: the Raft layer hands it encoded bytes.
//!
//! Durability: writes are synced (redb's `Durability::Immediate`, the log's
//! `fdatasync`) unless their name says otherwise. The Raft log's appends,
//! truncations, purge records and vote are synced, and the Raft layer acknowledges
//! nothing before its log entry is durable. Two kinds of write are not:
//! the state machine's applies (`StateDb::write_unsynced`), which a crash
//! replays from the durable log, and the committed-index hint
//! (`LogDb::set_meta_unsynced`). `StateDb::persist` makes unsynced applies
//! durable; the Raft layer calls it before a snapshot lets the log behind
//! it be purged. A snapshot's import commits synced. A state's version
//! content lives in a content file beside `state.redb` (`content.rs`),
//! written before each commit and synced before each synced one.
//!
//! The log is not a redb database (`log.rs` says why); its appends and the
//! state machine's applies run concurrently in openraft, each with its own
//! writer.

mod content;
mod log;
mod snapshot;
mod state;

pub use content::{COMPACTION_DEAD_BYTES_MIN, content_file_name, is_content_file_of};
pub use log::{LogDb, log_segment_name, log_segment_of};
pub use snapshot::{RaftValues, SNAPSHOT_FORMAT, StateExport, snapshot_header};
pub use state::{StateDb, StateReader, StateWriter};

use cairn_core::StorageError;
use std::sync::Arc;

/// The file names under a node's data directory (the log's are its
/// segments' prefix: `log_segment_name`).
pub const LOG_FILE: &str = "raft-log";
/// The redb file that held the Raft log before segments (`LogDb::import_redb`).
pub const OLDER_LOG_FILE: &str = "raft-log.redb";
pub const STATE_FILE: &str = "state.redb";

pub(crate) fn storage_error(error: impl Into<redb::Error>) -> StorageError {
    StorageError::new(error.into())
}

/// The page cache of a node's state database, unless configured
/// (`[storage] cache_bytes`): 256 MiB. redb's own default is 1 GiB for each
/// database, so a node's memory grew with its data up to about 2 GiB. With
/// this default a node stays under about 64 MiB + 1.2 × 256 MiB resident
/// (issue 12's target) whatever it holds, and the pages every read walks
/// (the B-tree branches of a million-file store's tables, a few tens of
/// MiB) stay cached.
pub const CACHE_BYTES_DEFAULT: u64 = 256 * 1024 * 1024;

/// The smallest cache accepted: below it redb's write buffer (half the
/// cache) would spill every transaction's pages to the file as it goes.
pub const CACHE_BYTES_MIN: u64 = 8 * 1024 * 1024;

/// The page cache database `name` gets out of `cache_bytes`: the state all
/// of it (the log is not a database; the OS page cache serves its
/// segments); a rewrite's copy (`<name>.rewrite`, written front to back,
/// never read) `CACHE_BYTES_MIN`, so a rewrite does not hold a second cache
/// the size of the first.
pub fn cache_bytes_for(name: &str, cache_bytes: u64) -> usize {
    let bytes = if name.ends_with(".rewrite") {
        CACHE_BYTES_MIN.min(cache_bytes)
    } else {
        cache_bytes
    };
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// A snapshot file as a `Disk` gives it: read, written and sought in place.
pub trait DiskFile:
    std::io::Read + std::io::Write + std::io::Seek + Send + Sync + std::fmt::Debug
{
    /// Makes every byte written so far durable (`fsync`).
    fn sync(&mut self) -> std::io::Result<()>;
}

impl DiskFile for std::fs::File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_all()
    }
}

/// A file read and written at offsets by many threads (`Disk::data_file`):
/// a state's content file or a Raft log segment.
pub trait DataFile: Send + Sync + std::fmt::Debug {
    /// The file's length in bytes.
    fn size(&self) -> std::io::Result<u64>;
    /// Fills `out` from `offset`; an error if the file ends first.
    fn read_at(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()>;
    /// Writes `data` at `offset`, growing the file if needed.
    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()>;
    fn set_len(&self, len: u64) -> std::io::Result<()>;
    /// Makes every byte written so far durable (`fdatasync`).
    fn sync(&self) -> std::io::Result<()>;
    /// Reserves the file's blocks up to `len` bytes (zeros; the file grows to
    /// `len` if shorter), so that later writes there change no metadata and
    /// their sync is one data write. Best effort: where the file system
    /// cannot, nothing happens.
    fn allocate(&self, _len: u64) {}
}

impl DataFile for std::fs::File {
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, out, offset)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, data, offset)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        std::fs::File::set_len(self, len)
    }

    fn sync(&self) -> std::io::Result<()> {
        self.sync_data()
    }

    fn allocate(&self, len: u64) {
        // Mode 0: the blocks are allocated and the size grows to `len`.
        let _ = rustix::fs::fallocate(self, rustix::fs::FallocateFlags::empty(), 0, len);
    }
}

/// The folder under the data directory that holds the snapshot files.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Where a node's redb databases and snapshot files live. Nodes use files in
/// their data directory; the simulation supplies a disk that models crashes
/// (writes not yet synced are lost).
pub trait Disk: Send + Sync + std::fmt::Debug + 'static {
    /// Opens (or creates) the database called `name` (`LOG_FILE`, `STATE_FILE`).
    fn database(&self, name: &str) -> Result<redb::Database, StorageError>;

    /// Removes database `name` if it exists. `Ok(false)`: this disk cannot
    /// remove or rename databases, so `rewrite` compacts in place instead.
    fn remove(&self, _name: &str) -> Result<bool, StorageError> {
        Ok(false)
    }

    /// Renames database `from` to `to`, replacing it, durably.
    fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        Err(StorageError::corrupt(format!(
            "this disk cannot rename {from} to {to}"
        )))
    }

    /// Opens snapshot file `name` for reading and writing: a new, empty one
    /// (replacing any) when `create`, else the existing one (`None` if there
    /// is none).
    fn snapshot_file(&self, name: &str, create: bool)
    -> std::io::Result<Option<Box<dyn DiskFile>>>;

    /// Removes snapshot file `name`, if it exists.
    fn remove_snapshot_file(&self, name: &str) -> std::io::Result<()>;

    /// The names of the snapshot files.
    fn snapshot_file_names(&self) -> std::io::Result<Vec<String>>;

    /// Opens (or creates) data file `name`: a state's content file
    /// (`content_file_name`) or a Raft log segment (`log.rs`). The name is
    /// durable when this returns.
    fn data_file(&self, name: &str) -> Result<Arc<dyn DataFile>, StorageError>;

    /// Removes data file `name`, if it exists, durably. A handle already
    /// open keeps reading it.
    fn remove_data_file(&self, name: &str) -> Result<(), StorageError>;

    /// The names of the data files (with any other file of the directory:
    /// callers pick theirs by name).
    fn data_file_names(&self) -> Result<Vec<String>, StorageError>;
}

/// redb and content files in a directory, snapshot files in its `snapshots/` folder.
#[derive(Clone, Debug)]
pub struct FileDisk {
    dir: std::path::PathBuf,
    /// The page cache of the state database (`cache_bytes_for`).
    cache_bytes: u64,
}

impl FileDisk {
    /// The files in `dir`, with `CACHE_BYTES_DEFAULT` of page cache.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> FileDisk {
        FileDisk {
            dir: dir.into(),
            cache_bytes: CACHE_BYTES_DEFAULT,
        }
    }

    /// The same files with `cache_bytes` of page cache for both databases.
    pub fn with_cache_bytes(mut self, cache_bytes: u64) -> FileDisk {
        self.cache_bytes = cache_bytes;
        self
    }

    fn snapshots(&self) -> std::path::PathBuf {
        self.dir.join(SNAPSHOT_DIR)
    }
}

/// Removes the file at `path`; one already gone is no error.
fn remove_if_exists(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Makes a rename in `dir` durable; best effort where directories cannot be opened.
fn sync_dir(dir: &std::path::Path) {
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

impl Disk for FileDisk {
    fn database(&self, name: &str) -> Result<redb::Database, StorageError> {
        redb::Database::builder()
            .set_cache_size(cache_bytes_for(name, self.cache_bytes))
            .create(self.dir.join(name))
            .map_err(storage_error)
    }

    fn remove(&self, name: &str) -> Result<bool, StorageError> {
        remove_if_exists(&self.dir.join(name)).map_err(StorageError::new)?;
        Ok(true)
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        std::fs::rename(self.dir.join(from), self.dir.join(to)).map_err(StorageError::new)?;
        sync_dir(&self.dir);
        Ok(())
    }

    fn snapshot_file(
        &self,
        name: &str,
        create: bool,
    ) -> std::io::Result<Option<Box<dyn DiskFile>>> {
        let dir = self.snapshots();
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        if create {
            std::fs::create_dir_all(&dir)?;
            options.create(true).truncate(true);
        }
        match options.open(dir.join(name)) {
            Ok(file) => Ok(Some(Box::new(file))),
            Err(error) if !create && error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn remove_snapshot_file(&self, name: &str) -> std::io::Result<()> {
        remove_if_exists(&self.snapshots().join(name))
    }

    fn snapshot_file_names(&self) -> std::io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(self.snapshots()) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut names = Vec::new();
        for entry in entries {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    fn data_file(&self, name: &str) -> Result<Arc<dyn DataFile>, StorageError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join(name))
            .map_err(StorageError::new)?;
        // The file's name must be durable before a synced commit names it.
        sync_dir(&self.dir);
        Ok(Arc::new(file))
    }

    fn remove_data_file(&self, name: &str) -> Result<(), StorageError> {
        remove_if_exists(&self.dir.join(name)).map_err(StorageError::new)?;
        sync_dir(&self.dir);
        Ok(())
    }

    fn data_file_names(&self) -> Result<Vec<String>, StorageError> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(StorageError::new)? {
            let entry = entry.map_err(StorageError::new)?;
            if entry.file_type().is_ok_and(|kind| kind.is_file())
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// How `rewrite` got rid of freed pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// The file was replaced by a fresh one into which only the live records
    /// were copied: no page of the old file survives.
    Fresh,
    /// The disk cannot replace files (the simulation's): redb compacted the
    /// file in place, which moves pages and truncates the file but may leave
    /// stale bytes in pages that stay free. `false`: there were live read
    /// transactions, so nothing was done.
    Compacted(bool),
}

/// A rewrite replaces a database (the database `name` on `disk`) by a fresh
/// copy that holds only its live records: `copy_fresh`, then `replace`. A
/// page redb freed (an overwritten or deleted value) keeps its old bytes
/// until reused, and compaction does not zero the pages that stay free; a
/// fresh file never held them.
///
/// The first half of a rewrite, which readers need not wait for: `copy`
/// copies every table of `db` into a new database `<name>.rewrite`, which is
/// synced and closed. No write may commit to `db` meanwhile. `false`: this
/// disk cannot replace files (the simulation's), and nothing was copied.
pub(crate) fn copy_fresh(
    db: &redb::Database,
    disk: &dyn Disk,
    name: &str,
    copy: impl FnOnce(&redb::Database, &redb::Database) -> Result<(), StorageError>,
) -> Result<bool, StorageError> {
    let fresh_name = format!("{name}.rewrite");
    if !disk.remove(&fresh_name)? {
        return Ok(false);
    }
    let fresh = disk.database(&fresh_name)?;
    copy(db, &fresh)?;
    check_same_tables(db, &fresh, name)?;
    Ok(true)
}

/// The second half, with `db` held exclusively: the copy `copy_fresh` made
/// is renamed over `name` and reopened in place of `db` (`fresh`), or, on a
/// disk that cannot replace files, redb compacts `db` in place.
pub(crate) fn replace(
    db: &mut Arc<redb::Database>,
    disk: &dyn Disk,
    name: &str,
    fresh: bool,
) -> Result<Rewrite, StorageError> {
    if !fresh {
        // A reader still holding the database is a transaction in progress.
        let Some(db) = Arc::get_mut(db) else {
            return Ok(Rewrite::Compacted(false));
        };
        return match db.compact() {
            Ok(_) => Ok(Rewrite::Compacted(true)),
            Err(redb::CompactionError::TransactionInProgress) => Ok(Rewrite::Compacted(false)),
            Err(error) => Err(StorageError::new(redb::Error::from(error))),
        };
    }
    disk.rename(&format!("{name}.rewrite"), name)?;
    // Readers of the old file keep it open until they are done.
    *db = Arc::new(disk.database(name)?);
    Ok(Rewrite::Fresh)
}

/// Every table of `from` must be in `to`: a table `copy` does not know of
/// would be lost, so the rewrite is refused before anything is replaced.
fn check_same_tables(
    from: &redb::Database,
    to: &redb::Database,
    name: &str,
) -> Result<(), StorageError> {
    use redb::{ReadableDatabase, TableHandle};
    let names = |db: &redb::Database| -> Result<Vec<String>, StorageError> {
        let txn = db.begin_read().map_err(storage_error)?;
        let mut names: Vec<String> = txn
            .list_tables()
            .map_err(storage_error)?
            .map(|table| table.name().to_string())
            .collect();
        names.sort();
        Ok(names)
    };
    let (before, after) = (names(from)?, names(to)?);
    if before != after {
        return Err(StorageError::corrupt(format!(
            "rewriting {name} would change its tables from {before:?} to {after:?}"
        )));
    }
    Ok(())
}

/// Copies every record of table `definition` from `from` into `to`, in one
/// synced write transaction.
pub(crate) fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::Database,
    to: &redb::Database,
    definition: redb::TableDefinition<'_, K, V>,
) -> Result<(), StorageError> {
    use redb::{ReadableDatabase, ReadableTable};
    let read = from.begin_read().map_err(storage_error)?;
    let source = read.open_table(definition).map_err(storage_error)?;
    let write = begin_write(to)?;
    {
        let mut target = write.open_table(definition).map_err(storage_error)?;
        for item in source.iter().map_err(storage_error)? {
            let (key, value) = item.map_err(storage_error)?;
            target
                .insert(key.value(), value.value())
                .map_err(storage_error)?;
        }
    }
    write.commit().map_err(storage_error)
}

pub(crate) fn begin_write(db: &redb::Database) -> Result<redb::WriteTransaction, StorageError> {
    let mut txn = db.begin_write().map_err(storage_error)?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(|error| StorageError::corrupt(format!("set durability: {error}")))?;
    Ok(txn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state gets the configured cache, a rewrite's copy of it the least.
    #[test]
    fn the_state_gets_the_cache_and_a_copy_the_least() {
        let total = CACHE_BYTES_DEFAULT;
        assert_eq!(cache_bytes_for(STATE_FILE, total) as u64, total);
        let copy = format!("{STATE_FILE}.rewrite");
        assert_eq!(cache_bytes_for(&copy, total) as u64, CACHE_BYTES_MIN);
        let dir = tempfile::tempdir().unwrap();
        let disk = FileDisk::new(dir.path()).with_cache_bytes(CACHE_BYTES_MIN);
        let db = StateDb::open_on(Arc::new(disk), STATE_FILE).unwrap();
        db.write(|writer| {
            cairn_core::kv::KvWrite::put(writer, cairn_core::kv::Table::Content, b"k", b"v")
        })
        .unwrap();
    }
}
