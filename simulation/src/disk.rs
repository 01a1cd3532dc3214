//! A disk that forgets: redb backends in memory, kept by the harness across a
//! node's restarts, where a crash loses every write not yet synced — as a
//! power cut would. `Durability::Immediate` commits sync, so what a node
//! acknowledged must survive; anything else may vanish.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cairn_core::StorageError;
use redb::StorageBackend;

const PAGE: usize = 4096;

#[derive(Debug, Default)]
struct File {
    /// What reads see: every write, synced or not.
    current: Vec<u8>,
    /// What survives a crash: the state at the last sync.
    durable: Vec<u8>,
    /// Pages written since the last sync.
    dirty: BTreeSet<usize>,
}

impl File {
    fn sync(&mut self) {
        let len = self.current.len();
        self.durable.resize(len, 0);
        for page in std::mem::take(&mut self.dirty) {
            let start = page * PAGE;
            if start >= len {
                continue;
            }
            let end = (start + PAGE).min(len);
            self.durable[start..end].copy_from_slice(&self.current[start..end]);
        }
    }

    fn crash(&mut self) {
        self.current = self.durable.clone();
        self.dirty.clear();
    }
}

/// One node's disk: its redb files by name.
#[derive(Debug, Default)]
pub struct SimDisk {
    files: Mutex<BTreeMap<String, Arc<Mutex<File>>>>,
    /// Bumped by every crash; backends of an older incarnation stop working,
    /// so a dying process cannot write after its crash.
    incarnation: Arc<AtomicU64>,
}

impl SimDisk {
    /// The node lost power: unsynced writes are gone and the old process's
    /// open files are dead.
    pub fn crash(&self) {
        self.incarnation.fetch_add(1, Ordering::SeqCst);
        for file in self.files.lock().expect("disk lock").values() {
            file.lock().expect("file lock").crash();
        }
    }

    /// Bytes held durably, over all files.
    pub fn durable_bytes(&self) -> u64 {
        self.files
            .lock()
            .expect("disk lock")
            .values()
            .map(|file| file.lock().expect("file lock").durable.len() as u64)
            .sum()
    }
}

impl cairn_storage::Disk for SimDisk {
    fn database(&self, name: &str) -> Result<redb::Database, StorageError> {
        let file = self
            .files
            .lock()
            .expect("disk lock")
            .entry(name.to_string())
            .or_default()
            .clone();
        let backend = Backend {
            file,
            incarnation: self.incarnation.load(Ordering::SeqCst),
            current: self.incarnation.clone(),
        };
        redb::Database::builder()
            .create_with_backend(backend)
            .map_err(|error| StorageError::new(redb::Error::from(error)))
    }
}

#[derive(Debug)]
struct Backend {
    file: Arc<Mutex<File>>,
    incarnation: u64,
    current: Arc<AtomicU64>,
}

impl Backend {
    fn file(&self) -> std::io::Result<std::sync::MutexGuard<'_, File>> {
        if self.current.load(Ordering::SeqCst) != self.incarnation {
            return Err(std::io::Error::other("the node crashed; this file is gone"));
        }
        Ok(self.file.lock().expect("file lock"))
    }
}

fn out_of_range() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, "offset out of range")
}

impl StorageBackend for Backend {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file()?.current.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let file = self.file()?;
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let source = file
            .current
            .get(start..start + out.len())
            .ok_or_else(out_of_range)?;
        out.copy_from_slice(source);
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let mut file = self.file()?;
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        let old = file.current.len();
        file.current.resize(len, 0);
        // A grown file's new pages are unsynced until the next sync.
        for page in old / PAGE..len.div_ceil(PAGE) {
            file.dirty.insert(page);
        }
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.file()?.sync();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut file = self.file()?;
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start + data.len();
        file.current
            .get_mut(start..end)
            .ok_or_else(out_of_range)?
            .copy_from_slice(data);
        for page in start / PAGE..end.div_ceil(PAGE) {
            file.dirty.insert(page);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_storage::Disk;
    use redb::{ReadableDatabase, TableDefinition};

    const T: TableDefinition<u64, u64> = TableDefinition::new("t");

    #[test]
    fn synced_commits_survive_a_crash_and_unsynced_ones_do_not() {
        let disk = SimDisk::default();
        {
            let db = disk.database("x.redb").unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(T).unwrap().insert(1, 10).unwrap();
            txn.commit().unwrap();
            let mut txn = db.begin_write().unwrap();
            txn.set_durability(redb::Durability::None).unwrap();
            txn.open_table(T).unwrap().insert(2, 20).unwrap();
            txn.commit().unwrap();
            disk.crash();
            // The dead process's database can no longer write.
        }
        let db = disk.database("x.redb").unwrap();
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(T).unwrap();
        assert_eq!(table.get(1).unwrap().unwrap().value(), 10);
        assert!(table.get(2).unwrap().is_none());
    }
}
