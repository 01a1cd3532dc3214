//! The Raft log and its metadata (vote, committed id, last purged id), as
//! opaque bytes encoded by the Raft layer.

use std::ops::Bound;
use std::path::Path;

use cairn_core::StorageError;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use crate::{Disk, Rewrite, begin_write, copy_table, open_database, storage_error};

/// log index → encoded entry.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// name → encoded value (`vote`, `committed`, `last_purged`).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

pub struct LogDb {
    /// Behind a lock only so that `rewrite` can swap in a fresh file: every
    /// other method holds the read side for its whole transaction.
    db: RwLock<Arc<redb::Database>>,
}

impl LogDb {
    pub fn open(path: &Path) -> Result<LogDb, StorageError> {
        LogDb::with_database(open_database(path)?)
    }

    pub fn with_database(db: redb::Database) -> Result<LogDb, StorageError> {
        let txn = begin_write(&db)?;
        txn.open_table(ENTRIES).map_err(storage_error)?;
        txn.open_table(META).map_err(storage_error)?;
        txn.commit().map_err(storage_error)?;
        Ok(LogDb {
            db: RwLock::new(Arc::new(db)),
        })
    }

    fn db(&self) -> RwLockReadGuard<'_, Arc<redb::Database>> {
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rewrites the file with only what it holds now (see `crate::rewrite`),
    /// so that entries purged before leave no bytes behind in freed pages.
    pub fn rewrite(&self, disk: &dyn Disk, name: &str) -> Result<Rewrite, StorageError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        crate::rewrite(&mut db, disk, name, |from, to| {
            copy_table(from, to, ENTRIES)?;
            copy_table(from, to, META)
        })
    }

    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let db = self.db();
        let txn = db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(META).map_err(storage_error)?;
        Ok(table
            .get(name)
            .map_err(storage_error)?
            .map(|value| value.value().to_vec()))
    }

    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.set_meta_with(name, value, redb::Durability::Immediate)
    }

    /// As `set_meta`, but durable only with the next synced commit (for hints
    /// such as the committed id, which may be lost in a crash).
    pub fn set_meta_unsynced(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.set_meta_with(name, value, redb::Durability::None)
    }

    fn set_meta_with(
        &self,
        name: &str,
        value: &[u8],
        durability: redb::Durability,
    ) -> Result<(), StorageError> {
        let db = self.db();
        let mut txn = begin_write(&db)?;
        txn.set_durability(durability)
            .map_err(|error| StorageError::corrupt(format!("set durability: {error}")))?;
        txn.open_table(META)
            .map_err(storage_error)?
            .insert(name, value)
            .map_err(storage_error)?;
        txn.commit().map_err(storage_error)
    }

    /// Appends (or overwrites) entries in one durable transaction.
    pub fn append<B: AsRef<[u8]>>(
        &self,
        entries: impl IntoIterator<Item = (u64, B)>,
    ) -> Result<(), StorageError> {
        self.append_with_meta(entries, None)
    }

    /// As `append`, and sets one metadata value in the same transaction
    /// (the Raft layer's committed-id hint rides along this way instead of
    /// paying for a transaction of its own).
    pub fn append_with_meta<B: AsRef<[u8]>>(
        &self,
        entries: impl IntoIterator<Item = (u64, B)>,
        meta: Option<(&str, &[u8])>,
    ) -> Result<(), StorageError> {
        let db = self.db();
        let txn = begin_write(&db)?;
        {
            let mut table = txn.open_table(ENTRIES).map_err(storage_error)?;
            for (index, bytes) in entries {
                table.insert(index, bytes.as_ref()).map_err(storage_error)?;
            }
        }
        if let Some((name, value)) = meta {
            txn.open_table(META)
                .map_err(storage_error)?
                .insert(name, value)
                .map_err(storage_error)?;
        }
        txn.commit().map_err(storage_error)
    }

    /// Removes every entry at `from` and after (a conflicting suffix).
    pub fn truncate_from(&self, from: u64) -> Result<(), StorageError> {
        let db = self.db();
        let txn = begin_write(&db)?;
        txn.open_table(ENTRIES)
            .map_err(storage_error)?
            .retain_in(from.., |_, _| false)
            .map_err(storage_error)?;
        txn.commit().map_err(storage_error)
    }

    /// Removes entries up to and including `upto`, oldest first, until
    /// `bytes_max` bytes of them are gone (at least one entry), in one
    /// unsynced transaction; whether any such entry is left. A purge done in
    /// steps leaves the writer free for appends between them; the caller
    /// records the purge (`set_meta`) before the first, so an entry a crash
    /// leaves behind is below the last purged id, never read, and removed
    /// by the next purge.
    pub fn purge_some(&self, upto: u64, bytes_max: u64) -> Result<bool, StorageError> {
        let db = self.db();
        let mut txn = begin_write(&db)?;
        txn.set_durability(redb::Durability::None)
            .map_err(|error| StorageError::corrupt(format!("set durability: {error}")))?;
        let left = {
            let mut table = txn.open_table(ENTRIES).map_err(storage_error)?;
            let mut removed = 0u64;
            let mut purged = table
                .extract_from_if(..=upto, |_, _| true)
                .map_err(storage_error)?;
            while removed < bytes_max {
                let Some(item) = purged.next() else { break };
                let (_, bytes) = item.map_err(storage_error)?;
                removed += bytes.value().len() as u64;
            }
            drop(purged);
            table
                .first()
                .map_err(storage_error)?
                .is_some_and(|(index, _)| index.value() <= upto)
        };
        txn.commit().map_err(storage_error)?;
        Ok(left)
    }

    /// The index of the first entry, if the log holds any.
    pub fn first_index(&self) -> Result<Option<u64>, StorageError> {
        let db = self.db();
        let txn = db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(ENTRIES).map_err(storage_error)?;
        Ok(table
            .first()
            .map_err(storage_error)?
            .map(|(index, _)| index.value()))
    }

    /// The entries with indexes in `(start, end)`, in order.
    pub fn range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let db = self.db();
        let txn = db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(ENTRIES).map_err(storage_error)?;
        let mut entries = Vec::new();
        for item in table.range((start, end)).map_err(storage_error)? {
            let (index, bytes) = item.map_err(storage_error)?;
            entries.push((index.value(), bytes.value().to_vec()));
        }
        Ok(entries)
    }

    /// The index and encoded size of every entry, in order.
    pub fn entry_sizes(&self) -> Result<Vec<(u64, u64)>, StorageError> {
        let db = self.db();
        let txn = db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(ENTRIES).map_err(storage_error)?;
        let mut sizes = Vec::new();
        for item in table.iter().map_err(storage_error)? {
            let (index, bytes) = item.map_err(storage_error)?;
            sizes.push((index.value(), bytes.value().len() as u64));
        }
        Ok(sizes)
    }

    /// The last entry, if the log holds any.
    pub fn last(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let db = self.db();
        let txn = db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(ENTRIES).map_err(storage_error)?;
        Ok(table
            .last()
            .map_err(storage_error)?
            .map(|(index, bytes)| (index.value(), bytes.value().to_vec())))
    }

    /// How many entries the log holds (for metrics).
    pub fn len(&self) -> Result<u64, StorageError> {
        use redb::ReadableTableMetadata;
        let db = self.db();
        let txn = db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(ENTRIES).map_err(storage_error)?;
        table.len().map_err(storage_error)
    }

    pub fn is_empty(&self) -> Result<bool, StorageError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(log: &LogDb) -> Vec<u64> {
        log.range(Bound::Unbounded, Bound::Unbounded)
            .unwrap()
            .into_iter()
            .map(|(index, _)| index)
            .collect()
    }

    #[test]
    fn append_truncate_purge_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.redb");
        {
            let log = LogDb::open(&path).unwrap();
            log.append((1..=10).map(|i| (i, vec![i as u8]))).unwrap();
            log.truncate_from(8).unwrap();
            assert_eq!(entries(&log), (1..=7).collect::<Vec<_>>());
            log.set_meta("last_purged", b"3").unwrap();
            // One byte a step: one entry at a time, oldest first.
            assert!(log.purge_some(3, 1).unwrap());
            assert_eq!(log.first_index().unwrap(), Some(2));
            assert!(log.purge_some(3, 1).unwrap());
            assert!(!log.purge_some(3, 1).unwrap());
            assert!(!log.purge_some(3, 1).unwrap());
            assert_eq!(entries(&log), (4..=7).collect::<Vec<_>>());
            log.set_meta("vote", b"v").unwrap();
        }
        let log = LogDb::open(&path).unwrap();
        assert_eq!(entries(&log), (4..=7).collect::<Vec<_>>());
        assert_eq!(log.last().unwrap(), Some((7, vec![7])));
        assert_eq!(log.meta("vote").unwrap(), Some(b"v".to_vec()));
        assert_eq!(log.meta("last_purged").unwrap(), Some(b"3".to_vec()));
        assert_eq!(
            log.range(Bound::Included(5), Bound::Excluded(7))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(log.len().unwrap(), 4);
        assert_eq!(
            log.entry_sizes().unwrap(),
            vec![(4, 1), (5, 1), (6, 1), (7, 1)]
        );
    }

    #[test]
    fn an_append_carries_a_meta_value_in_its_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.redb");
        {
            let log = LogDb::open(&path).unwrap();
            log.append_with_meta([(1, b"one")], Some(("committed", b"c1")))
                .unwrap();
            log.append_with_meta([(2, b"two")], None).unwrap();
        }
        let log = LogDb::open(&path).unwrap();
        assert_eq!(entries(&log), vec![1, 2]);
        assert_eq!(log.meta("committed").unwrap(), Some(b"c1".to_vec()));
        assert_eq!(log.meta("vote").unwrap(), None);
    }
}
