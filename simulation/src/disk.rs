//! A disk that forgets: redb backends in memory, kept by the harness across a
//! node's restarts, where a crash loses every write not yet synced — as a
//! power cut would. `Durability::Immediate` commits sync, so what a node
//! acknowledged must survive; anything else may vanish. Data files (content
//! files, Raft log segments) also tear: a crash keeps a random half of the
//! pages written since their last sync and loses the rest, as a disk that
//! wrote some of a write's pages before the power went would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cairn_core::StorageError;
use cairn_storage::{DataFile, DiskFile};
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

    /// Loses what was not synced; with `tears`, keeps the unsynced pages
    /// `keeps(tears, page)` picks.
    fn crash(&mut self, tears: Option<u64>) {
        let dirty = std::mem::take(&mut self.dirty);
        if let Some(tears) = tears {
            for page in dirty.into_iter().filter(|page| keeps(tears, *page)) {
                let start = page * PAGE;
                let end = (start + PAGE).min(self.current.len());
                if start >= end {
                    continue;
                }
                if self.durable.len() < end {
                    self.durable.resize(end, 0);
                }
                self.durable[start..end].copy_from_slice(&self.current[start..end]);
            }
        }
        self.current = self.durable.clone();
    }
}

/// Whether a crash keeps unsynced `page` of a file torn with `tears`: half
/// of the pages, which half decided by `tears`.
fn keeps(tears: u64, page: usize) -> bool {
    let mut hash = cairn_core::hash::Fnv1a::new();
    hash.feed(&tears.to_le_bytes());
    hash.feed(&(page as u64).to_le_bytes());
    // FNV-1a's low bits mix poorly (the lowest is a parity of its input's
    // lowest bits): a high one.
    (hash.value() >> 59) & 1 == 0
}

/// One node's disk: its files by name.
#[derive(Debug, Default)]
pub struct SimDisk {
    files: Mutex<BTreeMap<String, Arc<Mutex<File>>>>,
    /// Where the pages data files keep in crashes come from.
    tears: u64,
    /// Bumped by every crash; backends of an older incarnation stop working,
    /// so a dying process cannot write after its crash.
    incarnation: Arc<AtomicU64>,
}

impl SimDisk {
    /// A disk whose crashes tear data files as `tears` picks.
    pub fn tearing(tears: u64) -> SimDisk {
        SimDisk {
            tears,
            ..SimDisk::default()
        }
    }

    /// The node lost power: unsynced writes are gone (but for the pages of
    /// data files a tear keeps) and the old process's open files are dead.
    pub fn crash(&self) {
        let incarnation = self.incarnation.fetch_add(1, Ordering::SeqCst);
        for (key, file) in self.files.lock().expect("disk lock").iter() {
            let tears = key.starts_with(&data_key("")).then(|| {
                let mut hash = cairn_core::hash::Fnv1a::new();
                hash.feed(&self.tears.to_le_bytes());
                hash.feed(&incarnation.to_le_bytes());
                hash.feed(key.as_bytes());
                hash.value()
            });
            file.lock().expect("file lock").crash(tears);
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
        let file = self.file(name.to_string());
        redb::Database::builder()
            .create_with_backend(self.backend(file))
            .map_err(|error| StorageError::new(redb::Error::from(error)))
    }

    fn snapshot_file(
        &self,
        name: &str,
        create: bool,
    ) -> std::io::Result<Option<Box<dyn DiskFile>>> {
        let mut files = self.files.lock().expect("disk lock");
        let key = snapshot_key(name);
        let file = if create {
            // A new file: its old bytes are gone from what reads see, and the
            // durable state keeps whatever was synced until the next sync.
            let file = files.entry(key).or_default().clone();
            let mut opened = file.lock().expect("file lock");
            opened.current.clear();
            opened.dirty.insert(0);
            drop(opened);
            file
        } else {
            match files.get(&key) {
                Some(file) => file.clone(),
                None => return Ok(None),
            }
        };
        Ok(Some(Box::new(SimFile {
            backend: self.backend(file),
            position: 0,
        })))
    }

    fn remove_snapshot_file(&self, name: &str) -> std::io::Result<()> {
        self.files
            .lock()
            .expect("disk lock")
            .remove(&snapshot_key(name));
        Ok(())
    }

    fn snapshot_file_names(&self) -> std::io::Result<Vec<String>> {
        Ok(self.names_under(&snapshot_key("")))
    }

    fn data_file(&self, name: &str) -> Result<Arc<dyn DataFile>, StorageError> {
        Ok(Arc::new(self.backend(self.file(data_key(name)))))
    }

    fn remove_data_file(&self, name: &str) -> Result<(), StorageError> {
        // An open handle keeps the bytes (its `Arc`), as an unlinked file's does.
        self.files
            .lock()
            .expect("disk lock")
            .remove(&data_key(name));
        Ok(())
    }

    fn data_file_names(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.names_under(&data_key("")))
    }
}

impl SimDisk {
    /// The file under `key`, made empty if there is none.
    fn file(&self, key: String) -> Arc<Mutex<File>> {
        self.files
            .lock()
            .expect("disk lock")
            .entry(key)
            .or_default()
            .clone()
    }

    fn backend(&self, file: Arc<Mutex<File>>) -> Backend {
        Backend {
            file,
            incarnation: self.incarnation.load(Ordering::SeqCst),
            current: self.incarnation.clone(),
        }
    }

    /// The names of the files whose key starts with `prefix`, without it.
    fn names_under(&self, prefix: &str) -> Vec<String> {
        self.files
            .lock()
            .expect("disk lock")
            .keys()
            .filter_map(|key| key.strip_prefix(prefix).map(str::to_string))
            .collect()
    }
}

fn snapshot_key(name: &str) -> String {
    format!("{}/{name}", cairn_storage::SNAPSHOT_DIR)
}

/// Data files live in a namespace of their own, as snapshot files do.
fn data_key(name: &str) -> String {
    format!("data/{name}")
}

/// A snapshot file on a `SimDisk`: what it writes is lost in a crash unless
/// synced, and a crashed process's handle stops working.
#[derive(Debug)]
struct SimFile {
    backend: Backend,
    position: u64,
}

impl std::io::Read for SimFile {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let file = self.backend.file()?;
        let start = usize::try_from(self.position).map_err(|_| out_of_range())?;
        let available = file.current.len().saturating_sub(start);
        let n = available.min(out.len());
        out[..n].copy_from_slice(&file.current[start..start + n]);
        drop(file);
        self.position += n as u64;
        Ok(n)
    }
}

impl std::io::Write for SimFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.backend.write_at(self.position, data)?;
        self.position += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for SimFile {
    fn seek(&mut self, position: std::io::SeekFrom) -> std::io::Result<u64> {
        let len = self.backend.len()?;
        let target = match position {
            std::io::SeekFrom::Start(offset) => Some(offset),
            std::io::SeekFrom::End(delta) => len.checked_add_signed(delta),
            std::io::SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = target.ok_or_else(out_of_range)?;
        Ok(self.position)
    }
}

impl DiskFile for SimFile {
    fn sync(&mut self) -> std::io::Result<()> {
        self.backend.sync_data()
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

/// A content file on a `SimDisk`: lost in a crash unless synced, as a
/// snapshot file is.
impl DataFile for Backend {
    fn size(&self) -> std::io::Result<u64> {
        StorageBackend::len(self)
    }

    fn read_at(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        StorageBackend::read(self, offset, out)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let end = offset + data.len() as u64;
        if end > StorageBackend::len(self)? {
            StorageBackend::set_len(self, end)?;
        }
        StorageBackend::write(self, offset, data)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        StorageBackend::set_len(self, len)
    }

    fn sync(&self) -> std::io::Result<()> {
        self.sync_data()
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

    #[test]
    fn a_snapshot_file_keeps_only_what_was_synced_through_a_crash() {
        use std::io::{Read, Write};
        let disk = SimDisk::default();
        let mut receiving = disk.snapshot_file("recv-0.tmp", true).unwrap().unwrap();
        receiving.write_all(b"synced").unwrap();
        receiving.sync().unwrap();
        receiving.write_all(b" and not").unwrap();
        assert_eq!(disk.snapshot_file_names().unwrap(), ["recv-0.tmp"]);
        disk.crash();
        // The dead process's handle no longer writes.
        assert!(receiving.write_all(b"!").is_err());
        let mut received = disk.snapshot_file("recv-0.tmp", false).unwrap().unwrap();
        let mut text = String::new();
        received.read_to_string(&mut text).unwrap();
        assert_eq!(text, "synced");
        disk.remove_snapshot_file("recv-0.tmp").unwrap();
        assert!(disk.snapshot_file("recv-0.tmp", false).unwrap().is_none());
    }

    /// The state's content file through a power cut: content of synced
    /// commits survives, content of unsynced ones goes with the commits that
    /// named it (the file is cut back to the durable state's end), and the
    /// state writes on from there.
    #[test]
    fn content_of_unsynced_commits_goes_with_them_in_a_crash() {
        use cairn_core::kv::{KvRead, KvWrite, Table};
        use cairn_storage::{STATE_FILE, StateDb, content_file_name};
        let disk = Arc::new(SimDisk::default());
        let content_len = |disk: &SimDisk| {
            let file = disk.data_file(&content_file_name(STATE_FILE, 0)).unwrap();
            file.size().unwrap()
        };
        {
            let db = StateDb::open_on(disk.clone(), STATE_FILE).unwrap();
            db.write(|writer| writer.put(Table::Content, b"a", b"synced"))
                .unwrap();
            db.write_unsynced(|writer| {
                writer.put(Table::Content, b"a", b"overwritten")?;
                writer.put(Table::Content, b"b", b"never synced")
            })
            .unwrap();
            assert_eq!(content_len(&disk), 6 + 11 + 12);
            disk.crash();
            // The dead process cannot write any more.
            assert!(
                db.write(|writer| writer.put(Table::Content, b"c", b"x"))
                    .is_err()
            );
        }
        let db = StateDb::open_on(disk.clone(), STATE_FILE).unwrap();
        assert_eq!(content_len(&disk), 6);
        let reader = db.reader().unwrap();
        assert_eq!(
            reader.get(Table::Content, b"a").unwrap(),
            Some(b"synced".to_vec())
        );
        assert_eq!(reader.get(Table::Content, b"b").unwrap(), None);
        db.write_unsynced(|writer| writer.put(Table::Content, b"b", b"again"))
            .unwrap();
        db.persist().unwrap();
        disk.crash();
        drop((reader, db));
        let db = StateDb::open_on(disk.clone(), STATE_FILE).unwrap();
        assert_eq!(
            db.reader().unwrap().get(Table::Content, b"b").unwrap(),
            Some(b"again".to_vec())
        );
    }

    /// A crash between a write and its sync, with the unsynced pages torn
    /// every which way: the log opens with every synced append, an
    /// unsynced value whole or not at all, and writes on.
    #[test]
    fn a_torn_log_keeps_every_synced_append() {
        use cairn_storage::{LOG_FILE, LogDb};
        use std::ops::Bound;
        let entry = |index: u64| vec![index as u8; 500 + (index as usize * 997) % 3000];
        let entries = |log: &LogDb| log.range(Bound::Unbounded, Bound::Unbounded).unwrap();
        let open = |disk: &Arc<SimDisk>| LogDb::open_with(disk.clone(), LOG_FILE, 16 * 1024);
        let hint = vec![7u8; 10_000];
        let (mut kept, mut lost) = (0, 0);
        for tears in 0..64 {
            let disk = Arc::new(SimDisk::tearing(tears));
            {
                let log = open(&disk).unwrap();
                for index in 1..=30 {
                    log.append([(index, entry(index))]).unwrap();
                }
                log.set_meta_unsynced("committed", &hint).unwrap();
                disk.crash();
            }
            let log = open(&disk).unwrap();
            let expected: Vec<(u64, Vec<u8>)> = (1..=30).map(|i| (i, entry(i))).collect();
            assert_eq!(entries(&log), expected, "tears {tears}");
            match log.meta("committed").unwrap() {
                None => lost += 1,
                Some(value) => {
                    assert_eq!(value, hint, "tears {tears}");
                    kept += 1;
                }
            }
            log.append([(31, entry(31))]).unwrap();
            log.set_meta_unsynced("committed", b"c31").unwrap();
            disk.crash();
            drop(log);
            let log = open(&disk).unwrap();
            assert_eq!(entries(&log).len(), 31, "tears {tears}");
        }
        // Both happened: the value's pages all kept, and some of them lost.
        assert!(kept > 0 && lost > 0, "kept {kept}, lost {lost}");
    }
}
