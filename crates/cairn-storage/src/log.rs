//! The Raft log and its metadata (vote, committed id, last purged id), as
//! opaque bytes encoded by the Raft layer, in segment files made for appends.
//!
//! Why not redb, which held the log before: a redb commit of one entry cost
//! 268 µs on the bench machine (B-tree pages, allocator state and a header
//! written in place, then synced) where one write and one `fdatasync` into
//! a file's allocated blocks cost 140 µs, and every client write pays a log
//! sync on the leader and then on a follower, one after the other.
//!
//! Layout: segments `<name>.seg-<sequence>`, each a run of records
//!
//! ```text
//! len: u32 LE | sum: u64 LE | kind: u8 | body      (len = 1 + body length)
//! ```
//!
//! kinds: `ENTRY` (index u64 LE ‖ encoded entry), `META` (name length u8 ‖
//! name ‖ value), `TRUNCATE` (from u64 LE). `sum` is FNV-1a 64 of the previous
//! record's sum (for the first, a seed made from the sequence) ‖ kind ‖ body:
//! a record counts only after every record before it, so bytes an earlier
//! write left at a place never pass for a record there. Replay applies the
//! records in order: an entry replaces the one at its index (later ones stay,
//! as in the redb table this replaced), a truncation removes the entries from
//! its index on, a meta record sets its value.
//!
//! Invariants:
//! - A batch of records is one write and, unless unsynced
//!   (`set_meta_unsynced`), one `fdatasync`: an append, a truncation and
//!   `set_meta` return once durable. The index in memory names durable
//!   entries only.
//! - A segment's blocks are allocated ahead of its writes, `ALLOCATE_AHEAD`
//!   at a time (`DataFile::allocate`), so most syncs write data and no file
//!   metadata. A new segment starts with a `META` record of
//!   every value, so no older segment is needed for metadata, and the
//!   segment before it is synced first: only the last segment can end in a
//!   torn or unsynced record.
//! - Open replays the segments in order. A segment ends at a record of
//!   length 0 (allocated, never written) or at the end of its file; the last
//!   one also at a record that is short or fails its sum (a write a crash
//!   tore or never synced), and it is cut there, so nothing a crash left
//!   behind that point comes back. Such a record in any other segment is
//!   corruption: the log refuses to open.
//! - Segments are removed oldest first, each durably before the next
//!   (`purge_some`): one whose entries are all gone (purged, truncated or
//!   replaced) goes once every older one has gone, so a truncation record is
//!   never lost while an entry it removed is still on disk.
//! - Every read of an entry checks its record's sum.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cairn_core::StorageError;
use cairn_core::hash::Fnv1a;

use crate::{DataFile, Disk, FileDisk, Rewrite};

/// A segment takes new records until it holds this many bytes (a larger
/// batch still goes, into a segment of its own).
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Bytes allocated past a write that passes a segment's allocated end. Not
/// the whole segment at once: a node's disk may be small (the soak runs
/// nodes on 32 MiB), and allocated blocks count as used.
const ALLOCATE_AHEAD: u64 = 2 * 1024 * 1024;

/// len (4) ‖ sum (8) ‖ kind (1).
const HEADER: usize = 13;
const ENTRY: u8 = 1;
const META: u8 = 2;
const TRUNCATE: u8 = 3;

/// Bytes read at a time while replaying a segment.
const READ_CHUNK: usize = 1024 * 1024;

/// Bytes of records a rewrite encodes before writing them out.
const COPY_BUFFER_BYTES: usize = 1024 * 1024;

/// The name of segment `sequence` of log `name`.
pub fn log_segment_name(name: &str, sequence: u64) -> String {
    format!("{name}.seg-{sequence:020}")
}

/// The sequence of `file` if it is a segment of log `name`.
pub fn log_segment_of(file: &str, name: &str) -> Option<u64> {
    file.strip_prefix(name)?
        .strip_prefix(".seg-")?
        .parse::<u64>()
        .ok()
}

/// Where an entry's record is.
#[derive(Clone, Copy, Debug)]
struct Loc {
    sequence: u64,
    /// The record's first byte in its segment.
    offset: u64,
    /// The record's `len` field.
    len: u32,
    /// The sum of the record before it.
    prev: u64,
}

impl Loc {
    fn entry_bytes(&self) -> u64 {
        u64::from(self.len) - 1 - 8
    }
}

#[derive(Debug)]
struct Segment {
    file: Arc<dyn DataFile>,
    /// Entries of the index in this segment.
    live: u64,
}

/// An entry's index, where it is, and its segment's file.
type Located = (u64, Loc, Arc<dyn DataFile>);

#[derive(Debug, Default)]
struct Index {
    entries: BTreeMap<u64, Loc>,
    meta: BTreeMap<String, Vec<u8>>,
    segments: BTreeMap<u64, Segment>,
}

impl Index {
    fn insert(&mut self, index: u64, loc: Loc) {
        if let Some(old) = self.entries.insert(index, loc) {
            self.forget(old);
        }
        if let Some(segment) = self.segments.get_mut(&loc.sequence) {
            segment.live += 1;
        }
    }

    fn forget(&mut self, loc: Loc) {
        if let Some(segment) = self.segments.get_mut(&loc.sequence) {
            segment.live -= 1;
        }
    }

    /// The entries with indexes in `range`, each with its segment's file,
    /// to read once the lock is let go.
    fn located(&self, range: (Bound<u64>, Bound<u64>)) -> Result<Vec<Located>, StorageError> {
        self.entries
            .range(range)
            .map(|(at, loc)| {
                let segment = self.segments.get(&loc.sequence).ok_or_else(|| {
                    StorageError::corrupt(format!("raft log: no segment {}", loc.sequence))
                })?;
                Ok((*at, *loc, segment.file.clone()))
            })
            .collect()
    }

    fn truncate_from(&mut self, from: u64) {
        for (_, loc) in self.entries.split_off(&from) {
            self.forget(loc);
        }
    }

    fn purge_upto(&mut self, upto: u64) {
        let kept = self.entries.split_off(&upto.saturating_add(1));
        for (_, loc) in std::mem::replace(&mut self.entries, kept) {
            self.forget(loc);
        }
    }

    /// Applies one replayed record.
    fn apply(&mut self, loc: Loc, kind: u8, body: &[u8]) -> Result<(), StorageError> {
        match kind {
            ENTRY => self.insert(index_of(body)?, loc),
            TRUNCATE => self.truncate_from(index_of(body)?),
            META => {
                let (name, value) = decode_meta(body)?;
                self.meta.insert(name.to_string(), value.to_vec());
            }
            other => {
                return Err(StorageError::corrupt(format!(
                    "raft log: unknown record kind {other}"
                )));
            }
        }
        Ok(())
    }
}

fn index_of(body: &[u8]) -> Result<u64, StorageError> {
    let bytes = body
        .get(..8)
        .ok_or_else(|| StorageError::corrupt("raft log: a record too short for its index"))?;
    Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

fn decode_meta(body: &[u8]) -> Result<(&str, &[u8]), StorageError> {
    let bad = || StorageError::corrupt("raft log: a malformed metadata record");
    let (&len, rest) = body.split_first().ok_or_else(bad)?;
    let name = rest.get(..usize::from(len)).ok_or_else(bad)?;
    let name = std::str::from_utf8(name).map_err(|_| bad())?;
    Ok((name, &rest[usize::from(len)..]))
}

/// The segment being written.
#[derive(Debug)]
struct Tail {
    sequence: u64,
    file: Arc<dyn DataFile>,
    /// Where the next record goes.
    end: u64,
    /// Blocks are allocated up to here.
    allocated: u64,
    /// The last record's sum.
    sum: u64,
    /// Records were written since the last sync.
    unsynced: bool,
}

/// Records encoded for one write, chained from the record before them.
struct Batch {
    sequence: u64,
    start: u64,
    bytes: Vec<u8>,
    sum: u64,
}

impl Batch {
    fn after(tail: &Tail) -> Batch {
        Batch {
            sequence: tail.sequence,
            start: tail.end,
            bytes: Vec::new(),
            sum: tail.sum,
        }
    }

    fn record(&mut self, kind: u8, parts: &[&[u8]]) -> Result<Loc, StorageError> {
        let body: usize = parts.iter().map(|part| part.len()).sum();
        let len = u32::try_from(body + 1)
            .map_err(|_| StorageError::corrupt("raft log: an entry of 4 GiB or more"))?;
        let loc = Loc {
            sequence: self.sequence,
            offset: self.start + self.bytes.len() as u64,
            len,
            prev: self.sum,
        };
        let sum = record_sum(self.sum, kind, parts);
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(&sum.to_le_bytes());
        self.bytes.push(kind);
        for part in parts {
            self.bytes.extend_from_slice(part);
        }
        self.sum = sum;
        Ok(loc)
    }

    fn entry(&mut self, index: u64, bytes: &[u8]) -> Result<Loc, StorageError> {
        self.record(ENTRY, &[&index.to_le_bytes(), bytes])
    }

    fn meta(&mut self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        let len = u8::try_from(name.len())
            .map_err(|_| StorageError::corrupt("raft log: a metadata name over 255 bytes"))?;
        self.record(META, &[&[len], name.as_bytes(), value])?;
        Ok(())
    }

    /// Writes the records where they go and moves the tail past them.
    fn write(self, tail: &mut Tail, sync: bool) -> Result<(), StorageError> {
        let end = self.start + self.bytes.len() as u64;
        if end > tail.allocated {
            tail.allocated = end + ALLOCATE_AHEAD;
            tail.file.allocate(tail.allocated);
        }
        tail.file.write_at(self.start, &self.bytes).map_err(io)?;
        tail.end = end;
        tail.sum = self.sum;
        tail.unsynced = true;
        if sync {
            tail.file.sync().map_err(io)?;
            tail.unsynced = false;
        }
        Ok(())
    }
}

fn record_sum(prev: u64, kind: u8, parts: &[&[u8]]) -> u64 {
    let mut hash = Fnv1a::new();
    hash.feed(&prev.to_le_bytes());
    hash.feed(&[kind]);
    for part in parts {
        hash.feed(part);
    }
    hash.value()
}

fn seed(sequence: u64) -> u64 {
    let mut hash = Fnv1a::new();
    hash.feed(b"cairn raft log segment");
    hash.feed(&sequence.to_le_bytes());
    hash.value()
}

fn io(error: std::io::Error) -> StorageError {
    StorageError::corrupt(format!("raft log: {error}"))
}

/// A segment's bytes, read a chunk at a time.
struct Chunks<'a> {
    file: &'a dyn DataFile,
    size: u64,
    start: u64,
    buf: Vec<u8>,
}

impl Chunks<'_> {
    /// `len` bytes at `at`; `None` past the end of the file.
    fn get(&mut self, at: u64, len: usize) -> Result<Option<&[u8]>, StorageError> {
        let end = at + len as u64;
        if end > self.size {
            return Ok(None);
        }
        if at < self.start || end > self.start + self.buf.len() as u64 {
            let want = (len.max(READ_CHUNK) as u64).min(self.size - at);
            self.buf.resize(want as usize, 0);
            self.file.read_at(at, &mut self.buf).map_err(io)?;
            self.start = at;
        }
        let from = (at - self.start) as usize;
        Ok(Some(&self.buf[from..from + len]))
    }
}

/// Replays segment `sequence` into `index`: where its records end and the
/// last one's sum. A damaged record ends the last segment and is an error in
/// any other.
fn replay(
    file: &dyn DataFile,
    sequence: u64,
    last: bool,
    index: &mut Index,
) -> Result<(u64, u64), StorageError> {
    let size = file.size().map_err(io)?;
    let mut chunks = Chunks {
        file,
        size,
        start: 0,
        buf: Vec::new(),
    };
    let (mut at, mut prev) = (0u64, seed(sequence));
    loop {
        let Some(header) = chunks.get(at, HEADER)? else {
            break;
        };
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        if len == 0 {
            break;
        }
        let sum = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
        let kind = header[12];
        let body_len = len as usize - 1;
        let body = chunks
            .get(at + HEADER as u64, body_len)?
            .filter(|body| record_sum(prev, kind, &[body]) == sum);
        let Some(body) = body else {
            if last {
                break;
            }
            return Err(StorageError::corrupt(format!(
                "raft log: segment {sequence} is damaged at byte {at}"
            )));
        };
        let loc = Loc {
            sequence,
            offset: at,
            len,
            prev,
        };
        index.apply(loc, kind, body)?;
        prev = sum;
        at += (HEADER + body_len) as u64;
    }
    Ok((at, prev))
}

pub struct LogDb {
    disk: Arc<dyn Disk>,
    name: String,
    /// `SEGMENT_BYTES` but in tests.
    segment_bytes: u64,
    /// Writers, one at a time; taken before `index`.
    tail: Mutex<Tail>,
    index: RwLock<Index>,
}

impl std::fmt::Debug for LogDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogDb").field("name", &self.name).finish()
    }
}

impl LogDb {
    /// The log `LOG_FILE` in directory `dir` (tests and tools).
    pub fn open(dir: &Path) -> Result<LogDb, StorageError> {
        LogDb::open_on(Arc::new(FileDisk::new(dir)), crate::LOG_FILE)
    }

    /// Opens (or creates) log `name` on `disk`, replaying its segments.
    pub fn open_on(disk: Arc<dyn Disk>, name: &str) -> Result<LogDb, StorageError> {
        LogDb::open_with(disk, name, SEGMENT_BYTES)
    }

    /// As `open_on`, with segments of `segment_bytes` (tests: small ones).
    pub fn open_with(
        disk: Arc<dyn Disk>,
        name: &str,
        segment_bytes: u64,
    ) -> Result<LogDb, StorageError> {
        let mut sequences: Vec<u64> = disk
            .data_file_names()?
            .iter()
            .filter_map(|file| log_segment_of(file, name))
            .collect();
        sequences.sort_unstable();
        let mut index = Index::default();
        let mut tail = None;
        for (at, &sequence) in sequences.iter().enumerate() {
            let file = disk.data_file(&log_segment_name(name, sequence))?;
            index.segments.insert(
                sequence,
                Segment {
                    file: file.clone(),
                    live: 0,
                },
            );
            let last = at + 1 == sequences.len();
            let (end, sum) = replay(&*file, sequence, last, &mut index)?;
            if last {
                // What a crash left past the last record goes: it could
                // otherwise follow a later write that happens to end alike.
                if file.size().map_err(io)? > end {
                    file.set_len(end).map_err(io)?;
                    file.sync().map_err(io)?;
                }
                tail = Some(Tail {
                    sequence,
                    file,
                    end,
                    allocated: end,
                    sum,
                    unsynced: false,
                });
            }
        }
        let tail = match tail {
            Some(tail) => tail,
            None => new_segment(&*disk, name, 1, &mut index)?,
        };
        Ok(LogDb {
            disk,
            name: name.to_string(),
            segment_bytes,
            tail: Mutex::new(tail),
            index: RwLock::new(index),
        })
    }

    fn tail(&self) -> MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A batch after the tail, in a new segment if `bytes` more would take
    /// the tail past `SEGMENT_BYTES`.
    fn batch(&self, tail: &mut Tail, bytes: usize) -> Result<Batch, StorageError> {
        if tail.end > 0 && tail.end + bytes as u64 > self.segment_bytes {
            if tail.unsynced {
                tail.file.sync().map_err(io)?;
            }
            let mut index = self.index_mut();
            *tail = new_segment(&*self.disk, &self.name, tail.sequence + 1, &mut index)?;
        }
        Ok(Batch::after(tail))
    }

    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.index().meta.get(name).cloned())
    }

    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.set_meta_with(name, value, true)
    }

    /// As `set_meta`, but durable only with the next synced write (for hints
    /// such as the committed id, which may be lost in a crash).
    pub fn set_meta_unsynced(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.set_meta_with(name, value, false)
    }

    fn set_meta_with(&self, name: &str, value: &[u8], sync: bool) -> Result<(), StorageError> {
        let mut tail = self.tail();
        let mut batch = self.batch(&mut tail, HEADER + 1 + name.len() + value.len())?;
        batch.meta(name, value)?;
        batch.write(&mut tail, sync)?;
        self.index_mut()
            .meta
            .insert(name.to_string(), value.to_vec());
        Ok(())
    }

    /// Appends (or overwrites) entries in one durable write.
    pub fn append<B: AsRef<[u8]>>(
        &self,
        entries: impl IntoIterator<Item = (u64, B)>,
    ) -> Result<(), StorageError> {
        self.append_with_meta(entries, None)
    }

    /// As `append`, and sets one metadata value in the same write (the Raft
    /// layer's committed-id hint rides along this way instead of paying for
    /// a write of its own).
    pub fn append_with_meta<B: AsRef<[u8]>>(
        &self,
        entries: impl IntoIterator<Item = (u64, B)>,
        meta: Option<(&str, &[u8])>,
    ) -> Result<(), StorageError> {
        let entries: Vec<(u64, B)> = entries.into_iter().collect();
        let bytes = entries
            .iter()
            .map(|(_, bytes)| HEADER + 8 + bytes.as_ref().len())
            .sum::<usize>()
            + meta.map_or(0, |(name, value)| HEADER + 1 + name.len() + value.len());
        let mut tail = self.tail();
        let mut batch = self.batch(&mut tail, bytes)?;
        let mut locs = Vec::with_capacity(entries.len());
        for (index, bytes) in &entries {
            locs.push((*index, batch.entry(*index, bytes.as_ref())?));
        }
        if let Some((name, value)) = meta {
            batch.meta(name, value)?;
        }
        batch.write(&mut tail, true)?;
        let mut index = self.index_mut();
        for (at, loc) in locs {
            index.insert(at, loc);
        }
        if let Some((name, value)) = meta {
            index.meta.insert(name.to_string(), value.to_vec());
        }
        Ok(())
    }

    /// Removes every entry at `from` and after (a conflicting suffix), durably.
    pub fn truncate_from(&self, from: u64) -> Result<(), StorageError> {
        let mut tail = self.tail();
        let mut batch = self.batch(&mut tail, HEADER + 8)?;
        batch.record(TRUNCATE, &[&from.to_le_bytes()])?;
        batch.write(&mut tail, true)?;
        self.index_mut().truncate_from(from);
        Ok(())
    }

    /// Forgets the entries up to and including `upto`, then removes the
    /// oldest segments that hold no entry any more, until `bytes_max` bytes
    /// of them are gone (at least one segment); whether such a segment is
    /// left. The caller records the purge (`set_meta`) first: an entry a
    /// crash brings back (its segment not yet removed) is below the last
    /// purged id, never read, and forgotten by the next purge.
    pub fn purge_some(&self, upto: u64, bytes_max: u64) -> Result<bool, StorageError> {
        let tail = self.tail();
        self.index_mut().purge_upto(upto);
        let mut removed = 0u64;
        loop {
            let next = {
                let index = self.index();
                index
                    .segments
                    .iter()
                    .next()
                    .filter(|(sequence, segment)| **sequence != tail.sequence && segment.live == 0)
                    .map(|(sequence, segment)| (*sequence, segment.file.clone()))
            };
            let Some((sequence, file)) = next else {
                return Ok(false);
            };
            if removed >= bytes_max.max(1) {
                return Ok(true);
            }
            removed += file.size().map_err(io)?;
            self.disk
                .remove_data_file(&log_segment_name(&self.name, sequence))?;
            self.index_mut().segments.remove(&sequence);
        }
    }

    /// The index of the first entry, if the log holds any.
    pub fn first_index(&self) -> Result<Option<u64>, StorageError> {
        Ok(self.index().entries.keys().next().copied())
    }

    /// The entries with indexes in `(start, end)`, in order.
    pub fn range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let wanted = self.index().located((start, end))?;
        wanted
            .into_iter()
            .map(|(at, loc, file)| Ok((at, read_entry(&*file, loc)?)))
            .collect()
    }

    /// The index and encoded size of every entry, in order.
    pub fn entry_sizes(&self) -> Result<Vec<(u64, u64)>, StorageError> {
        Ok(self
            .index()
            .entries
            .iter()
            .map(|(at, loc)| (*at, loc.entry_bytes()))
            .collect())
    }

    /// The last entry, if the log holds any.
    pub fn last(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let last = self.index().entries.last_key_value().map(|(at, _)| *at);
        let Some(last) = last else {
            return Ok(None);
        };
        Ok(self
            .range(Bound::Included(last), Bound::Included(last))?
            .pop())
    }

    /// How many entries the log holds (for metrics).
    pub fn len(&self) -> Result<u64, StorageError> {
        Ok(self.index().entries.len() as u64)
    }

    pub fn is_empty(&self) -> Result<bool, StorageError> {
        Ok(self.len()? == 0)
    }

    /// Bytes of the segment files (allocated ahead included).
    pub fn file_bytes(&self) -> u64 {
        self.index()
            .segments
            .values()
            .filter_map(|segment| segment.file.size().ok())
            .sum()
    }

    /// Copies the entries and metadata the log holds now into a new
    /// segment and removes every older one, so that entries purged before
    /// leave no bytes behind in a segment that still held live ones.
    pub fn rewrite(&self) -> Result<Rewrite, StorageError> {
        let mut tail = self.tail();
        if tail.unsynced {
            tail.file.sync().map_err(io)?;
        }
        let (entries, meta) = {
            let index = self.index();
            let entries = index.located((Bound::Unbounded, Bound::Unbounded))?;
            (entries, index.meta.clone())
        };
        let mut fresh = Index {
            meta,
            ..Index::default()
        };
        let mut new_tail = new_segment(&*self.disk, &self.name, tail.sequence + 1, &mut fresh)?;
        let mut batch = Batch::after(&new_tail);
        for (at, loc, file) in entries {
            let bytes = read_entry(&*file, loc)?;
            let loc = batch.entry(at, &bytes)?;
            fresh.insert(at, loc);
            if batch.bytes.len() >= COPY_BUFFER_BYTES {
                batch.write(&mut new_tail, false)?;
                batch = Batch::after(&new_tail);
            }
        }
        batch.write(&mut new_tail, true)?;
        let old = std::mem::replace(&mut *self.index_mut(), fresh);
        *tail = new_tail;
        for sequence in old.segments.keys() {
            self.disk
                .remove_data_file(&log_segment_name(&self.name, *sequence))?;
        }
        Ok(Rewrite::Fresh)
    }
}

impl LogDb {
    /// Copies the log an older build kept in redb file `path` (its tables
    /// `raft_log` and `raft_meta`) into this one, durably; the caller then
    /// removes the file. Done again after a crash, it writes the same.
    pub fn import_redb(&self, path: &Path) -> Result<(), StorageError> {
        use redb::{ReadableDatabase, ReadableTable, TableDefinition};
        const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
        const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
        let db = redb::Database::open(path).map_err(crate::storage_error)?;
        let txn = db.begin_read().map_err(crate::storage_error)?;
        let mut batch: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut bytes = 0;
        for row in txn
            .open_table(ENTRIES)
            .map_err(crate::storage_error)?
            .iter()
            .map_err(crate::storage_error)?
        {
            let (index, entry) = row.map_err(crate::storage_error)?;
            bytes += entry.value().len();
            batch.push((index.value(), entry.value().to_vec()));
            if bytes >= COPY_BUFFER_BYTES {
                self.append(std::mem::take(&mut batch))?;
                bytes = 0;
            }
        }
        self.append(batch)?;
        for row in txn
            .open_table(META)
            .map_err(crate::storage_error)?
            .iter()
            .map_err(crate::storage_error)?
        {
            let (name, value) = row.map_err(crate::storage_error)?;
            self.set_meta(name.value(), value.value())?;
        }
        Ok(())
    }
}

/// Creates segment `sequence` starting with every metadata value of
/// `index`, synced, and adds it to `index`.
fn new_segment(
    disk: &dyn Disk,
    name: &str,
    sequence: u64,
    index: &mut Index,
) -> Result<Tail, StorageError> {
    let file = disk.data_file(&log_segment_name(name, sequence))?;
    let mut tail = Tail {
        sequence,
        file: file.clone(),
        end: 0,
        allocated: 0,
        sum: seed(sequence),
        unsynced: false,
    };
    let mut batch = Batch::after(&tail);
    for (name, value) in &index.meta {
        batch.meta(name, value)?;
    }
    batch.write(&mut tail, true)?;
    index.segments.insert(sequence, Segment { file, live: 0 });
    Ok(tail)
}

/// The encoded entry `loc` names, its sum checked.
fn read_entry(file: &dyn DataFile, loc: Loc) -> Result<Vec<u8>, StorageError> {
    let mut record = vec![0u8; HEADER - 1 + loc.len as usize];
    file.read_at(loc.offset, &mut record).map_err(io)?;
    let sum = u64::from_le_bytes(record[4..12].try_into().expect("8 bytes"));
    if record[12] != ENTRY || record_sum(loc.prev, ENTRY, &[&record[HEADER..]]) != sum {
        return Err(StorageError::corrupt(format!(
            "raft log: the entry at byte {} of segment {} fails its checksum",
            loc.offset, loc.sequence
        )));
    }
    record.drain(..HEADER + 8);
    Ok(record)
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

    fn segments(dir: &Path) -> Vec<u64> {
        let mut found: Vec<u64> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|file| log_segment_of(file.unwrap().file_name().to_str()?, crate::LOG_FILE))
            .collect();
        found.sort_unstable();
        found
    }

    fn small(dir: &Path, segment_bytes: u64) -> LogDb {
        LogDb::open_with(Arc::new(FileDisk::new(dir)), crate::LOG_FILE, segment_bytes).unwrap()
    }

    /// Flips one byte of segment `sequence`'s file at `at`.
    fn damage(dir: &Path, sequence: u64, at: u64) {
        let path = dir.join(log_segment_name(crate::LOG_FILE, sequence));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let mut byte = [0u8];
        DataFile::read_at(&file, at, &mut byte).unwrap();
        DataFile::write_at(&file, at, &[byte[0] ^ 0x5a]).unwrap();
    }

    #[test]
    fn append_truncate_purge_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = LogDb::open(dir.path()).unwrap();
            log.append((1..=10).map(|i| (i, vec![i as u8]))).unwrap();
            log.truncate_from(8).unwrap();
            assert_eq!(entries(&log), (1..=7).collect::<Vec<_>>());
            log.set_meta("last_purged", b"3").unwrap();
            assert!(!log.purge_some(3, 1).unwrap());
            assert_eq!(log.first_index().unwrap(), Some(4));
            log.set_meta("vote", b"v").unwrap();
            log.append_with_meta([(8, b"eight")], Some(("committed", b"c8")))
                .unwrap();
        }
        let log = LogDb::open(dir.path()).unwrap();
        // The purge is forgotten until it is done again (the Raft layer
        // does so at start); the truncation is not.
        log.purge_some(3, 1).unwrap();
        assert_eq!(entries(&log), (4..=8).collect::<Vec<_>>());
        assert_eq!(log.last().unwrap(), Some((8, b"eight".to_vec())));
        assert_eq!(log.meta("vote").unwrap(), Some(b"v".to_vec()));
        assert_eq!(log.meta("last_purged").unwrap(), Some(b"3".to_vec()));
        assert_eq!(log.meta("committed").unwrap(), Some(b"c8".to_vec()));
        assert_eq!(log.meta("none").unwrap(), None);
        assert_eq!(
            log.range(Bound::Included(5), Bound::Excluded(7))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(log.len().unwrap(), 5);
        assert_eq!(
            log.entry_sizes().unwrap(),
            vec![(4, 1), (5, 1), (6, 1), (7, 1), (8, 5)]
        );
        // An entry replaces the one at its index; later ones stay.
        log.append([(5, b"five")]).unwrap();
        drop(log);
        let log = LogDb::open(dir.path()).unwrap();
        log.purge_some(3, 1).unwrap();
        assert_eq!(
            log.range(Bound::Included(5), Bound::Included(6)).unwrap(),
            vec![(5, b"five".to_vec()), (6, vec![6])]
        );
        assert_eq!(log.len().unwrap(), 5);
    }

    /// A crash that tore the last write: the log opens at the last whole
    /// record, and what lay past it never comes back, even behind a new
    /// write of the same bytes.
    #[test]
    fn a_torn_record_ends_the_log_and_what_followed_it_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let record = |len: usize| (HEADER + 8 + len) as u64;
        let start;
        {
            let log = LogDb::open(dir.path()).unwrap();
            log.append([(1, vec![1u8; 100])]).unwrap();
            start = log.tail().end;
            log.append([(2, vec![2u8; 100]), (3, vec![3u8; 100])])
                .unwrap();
        }
        // A byte of entry 2's body.
        damage(dir.path(), 1, start + HEADER as u64 + 20);
        {
            let log = LogDb::open(dir.path()).unwrap();
            assert_eq!(entries(&log), vec![1]);
            assert_eq!(log.tail().end, start);
            // The same entry 2 again: entry 3's old record must not follow it.
            log.append([(2, vec![2u8; 100])]).unwrap();
            assert_eq!(log.tail().end, start + record(100));
        }
        let log = LogDb::open(dir.path()).unwrap();
        assert_eq!(entries(&log), vec![1, 2]);
    }

    /// Only the last segment may end torn: damage in an older one is
    /// corruption, and the log refuses to open rather than lose entries.
    #[test]
    fn damage_before_the_last_segment_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = small(dir.path(), 4096);
            for index in 1..=20 {
                log.append([(index, vec![index as u8; 1000])]).unwrap();
            }
        }
        assert!(segments(dir.path()).len() > 2);
        damage(dir.path(), 1, HEADER as u64 + 40);
        let error = LogDb::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("segment 1 is damaged"), "{error}");
    }

    /// Segments roll over and the oldest go once their entries are purged;
    /// the metadata, written into each new segment, outlives them.
    #[test]
    fn purged_segments_are_removed_oldest_first_and_metadata_stays() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = small(dir.path(), 4096);
            log.set_meta("vote", b"v1").unwrap();
            for index in 1..=40 {
                log.append([(index, vec![index as u8; 1000])]).unwrap();
            }
            let before = segments(dir.path());
            assert!(before.len() >= 10, "{before:?}");
            // A truncation recorded in a later segment than the entries it
            // removes: they may not come back while their segment stays.
            log.truncate_from(39).unwrap();
            log.set_meta("last_purged", b"30").unwrap();
            // One segment a step, and only those holding no entry any more.
            assert!(log.purge_some(30, 1).unwrap());
            let after = segments(dir.path());
            assert_eq!(after.len(), before.len() - 1);
            while log.purge_some(30, 1).unwrap() {}
            let after = segments(dir.path());
            assert!(after.len() <= 4, "{after:?}");
            assert_eq!(log.first_index().unwrap(), Some(31));
        }
        let log = small(dir.path(), 4096);
        log.purge_some(30, 1).unwrap();
        assert_eq!(entries(&log), (31..=38).collect::<Vec<_>>());
        assert_eq!(log.meta("vote").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(log.meta("last_purged").unwrap(), Some(b"30".to_vec()));
    }

    #[test]
    fn every_read_checks_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogDb::open(dir.path()).unwrap();
        log.append([(1, vec![1u8; 100]), (2, vec![2u8; 100])])
            .unwrap();
        let second = log.index().entries[&2];
        damage(dir.path(), 1, second.offset + HEADER as u64 + 50);
        assert_eq!(
            log.range(Bound::Included(1), Bound::Included(1)).unwrap(),
            vec![(1, vec![1u8; 100])]
        );
        let error = log.last().unwrap_err().to_string();
        assert!(error.contains("fails its checksum"), "{error}");
    }

    /// A rewrite leaves one segment holding the live entries and the
    /// metadata; the bytes of purged entries are in no file of the directory.
    #[test]
    fn a_rewrite_keeps_the_live_entries_and_no_purged_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let secret = b"purged secret".repeat(10);
        {
            let log = small(dir.path(), 4096);
            log.set_meta("vote", b"v").unwrap();
            log.append([(1, secret.clone())]).unwrap();
            for index in 2..=6 {
                log.append([(index, vec![b'x'; 1000])]).unwrap();
            }
            log.purge_some(1, u64::MAX).unwrap();
            assert_eq!(log.rewrite().unwrap(), Rewrite::Fresh);
            assert_eq!(segments(dir.path()).len(), 1);
            log.append([(7, b"after".to_vec())]).unwrap();
        }
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret));
        }
        let log = small(dir.path(), 4096);
        assert_eq!(entries(&log), (2..=7).collect::<Vec<_>>());
        assert_eq!(log.meta("vote").unwrap(), Some(b"v".to_vec()));
    }

    /// The log of an older build, in redb, moves into segments whole.
    #[test]
    fn an_older_redb_log_is_imported() {
        use redb::TableDefinition;
        const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
        const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
        let dir = tempfile::tempdir().unwrap();
        let older = dir.path().join(crate::OLDER_LOG_FILE);
        {
            let db = redb::Database::create(&older).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut entries = txn.open_table(ENTRIES).unwrap();
                for index in 5..=9u64 {
                    entries.insert(index, [index as u8; 3].as_slice()).unwrap();
                }
                let mut meta = txn.open_table(META).unwrap();
                meta.insert("vote", b"v".as_slice()).unwrap();
                meta.insert("last_purged", b"4".as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let log = LogDb::open(dir.path()).unwrap();
        log.import_redb(&older).unwrap();
        // Twice (a crash before the file was removed) writes the same.
        log.import_redb(&older).unwrap();
        drop(log);
        let log = LogDb::open(dir.path()).unwrap();
        assert_eq!(entries(&log), (5..=9).collect::<Vec<_>>());
        assert_eq!(log.last().unwrap(), Some((9, vec![9u8; 3])));
        assert_eq!(log.meta("vote").unwrap(), Some(b"v".to_vec()));
        assert_eq!(log.meta("last_purged").unwrap(), Some(b"4".to_vec()));
    }
}
