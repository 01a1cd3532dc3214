//! Values out of the B-tree: `StateDb` appends every content row's bytes,
//! and every value of a spilling table longer than `SPILL_ABOVE`, to a
//! content file (`<state file>.content-<generation>`) and keeps only a
//! `Pointer` to them in the row (`Layout`).
//!
//! Why content: redb splits a full leaf in half and later inserts (content
//! rows are written in key order within a path, new paths anywhere) rarely
//! fill it again, so rows of about 1 KiB held 2.2 to a 4 KiB leaf and the
//! state file took 2.2× its content; rows of 4 KiB took pages of 8 KiB.
//! Appended to a file, content takes its own size, and redb's page cache
//! holds the tables' small rows instead of content pages (the OS page cache
//! serves content).
//!
//! Why spilling: a row too large to share a 4 KiB leaf gets a leaf of its
//! own, of 8, 16 or 32 KiB (redb rounds a page up to a power of two), and
//! redb caches that page as one block of its size. The node's allocator
//! keeps redb's 4 KiB pages in a slab of exactly their size (`alloc.rs` in
//! the binary); larger blocks come from the general allocator, so a cache
//! that moved from small pages to large ones (a rewrite reading the audit
//! events of 256-file transactions: +100 MiB at a million files) held the
//! slab's high-water mark and the large blocks at once. With every row at
//! most half a page, every leaf is one page and the cache one size of block.
//! An audit event, an idempotency record or an imported event can outgrow
//! that (one change per file of a transaction); nothing else can.
//!
//! Invariants:
//! - The file's bytes up to `ContentState::end` are the ones the state's
//!   pointers may name; `ContentState` commits in the same redb transaction
//!   as the pointers it covers.
//! - A transaction's bytes are written before it commits, and the file is
//!   synced before any synced commit (`StateDb::persist`, a synced apply, an
//!   import): a durable state never names bytes a crash can take. After a
//!   crash, `StateDb` opens at its last durable commit and cuts the file back
//!   to that commit's `end` (bytes past it belong to commits the crash took
//!   back, which replay from the Raft log).
//! - Bytes of a value overwritten or deleted stay in the file, counted as
//!   `dead`, until a rewrite copies the live values into a new generation
//!   (`StateDb::rewrite`: after a redaction, a snapshot install, or once
//!   `compaction_due`); the old generation's file is then removed.
//! - Every pointer carries its value's FNV-1a: a read of bytes the file
//!   no longer holds as written is an error, never wrong content.
//! - A row of a spilling table starts with a tag: `INLINE` and the value,
//!   or `SPILLED` and a pointer. A row of `sm_content` is a pointer.

use std::borrow::Cow;
use std::sync::Arc;

use crate::DataFile;
use cairn_core::StorageError;
use cairn_core::hash::fnv1a;
use cairn_core::kv::Table;
use redb::TableDefinition;

/// The content file's state (`ContentState`), under `STATE_KEY`.
pub(crate) const CONTENT_FILE: TableDefinition<&str, &[u8]> =
    TableDefinition::new("sm_content_file");
pub(crate) const STATE_KEY: &str = "state";

/// Dead bytes a state may hold before a rewrite is due, at least; past it
/// one is due once they also outnumber the live bytes.
pub const COMPACTION_DEAD_BYTES_MIN: u64 = 64 * 1024 * 1024;

/// Content appended in memory before it is written out during a rewrite.
const COPY_BUFFER_BYTES: usize = 1024 * 1024;

/// The name of generation `generation` of the content file of state `name`.
pub fn content_file_name(name: &str, generation: u64) -> String {
    format!("{name}.content-{generation}")
}

/// Whether `file` is a content file of state `name` (any generation).
pub fn is_content_file_of(file: &str, name: &str) -> bool {
    file.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(".content-"))
        .is_some_and(|generation| generation.parse::<u64>().is_ok())
}

fn io_error(what: &str, error: std::io::Error) -> StorageError {
    StorageError::corrupt(format!("content file: {what}: {error}"))
}

/// Where the content file stands as of one commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ContentState {
    /// Which file: `content_file_name(state, generation)`.
    pub generation: u64,
    /// Bytes the state's pointers may name: the file's length as of this commit.
    pub end: u64,
    /// Bytes named by a pointer.
    pub live: u64,
    /// Bytes no pointer names any more (overwritten, deleted).
    pub dead: u64,
}

const STATE_BYTES: usize = 32;

/// The little-endian u64 at `at` (the caller checked the length).
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

impl ContentState {
    pub fn encode(&self) -> [u8; STATE_BYTES] {
        let mut out = [0u8; STATE_BYTES];
        for (slot, value) in
            out.chunks_exact_mut(8)
                .zip([self.generation, self.end, self.live, self.dead])
        {
            slot.copy_from_slice(&value.to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<ContentState, StorageError> {
        if bytes.len() != STATE_BYTES {
            return Err(StorageError::corrupt(format!(
                "content file state of {} bytes",
                bytes.len()
            )));
        }
        Ok(ContentState {
            generation: u64_at(bytes, 0),
            end: u64_at(bytes, 8),
            live: u64_at(bytes, 16),
            dead: u64_at(bytes, 24),
        })
    }

    /// A rewrite is due: enough dead bytes, and more of them than live ones.
    pub fn compaction_due(&self) -> bool {
        self.dead >= COMPACTION_DEAD_BYTES_MIN && self.dead > self.live
    }

    fn forget(&mut self, len: u64) {
        self.live -= len;
        self.dead += len;
    }
}

/// Values longer than this (half a redb page) of a spilling table go to the
/// content file: a leaf then always holds whole rows in one page.
pub const SPILL_ABOVE: usize = 2048;

/// The tag of a spilling table's row whose value follows it.
const INLINE: u8 = 0;
/// The tag of a spilling table's row whose value is in the content file.
const SPILLED: u8 = 1;

/// How a table's rows hold their values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The value itself.
    Inline,
    /// A pointer to the value in the content file (`sm_content`).
    Pointer,
    /// A tag, then the value or, past `SPILL_ABOVE`, a pointer to it.
    Spilling,
}

impl Layout {
    pub fn of(table: Table) -> Layout {
        match table {
            Table::Content => Layout::Pointer,
            Table::Audit | Table::Idempotency | Table::ImportedAudit => Layout::Spilling,
            _ => Layout::Inline,
        }
    }

    /// The pointer a row of this layout holds, if it holds one.
    pub fn pointer(self, row: &[u8]) -> Result<Option<Pointer>, StorageError> {
        match self {
            Layout::Inline => Ok(None),
            Layout::Pointer => Pointer::decode(row).map(Some),
            Layout::Spilling => match tagged(row)? {
                (SPILLED, pointer) => Pointer::decode(pointer).map(Some),
                _ => Ok(None),
            },
        }
    }

    /// The value a row of this layout stands for, `load`ed if it points.
    pub fn value<'a>(
        self,
        row: &'a [u8],
        load: &dyn Fn(Pointer) -> Result<Vec<u8>, StorageError>,
    ) -> Result<Cow<'a, [u8]>, StorageError> {
        match self {
            Layout::Inline => Ok(Cow::Borrowed(row)),
            Layout::Pointer => load(Pointer::decode(row)?).map(Cow::Owned),
            Layout::Spilling => match tagged(row)? {
                (SPILLED, pointer) => load(Pointer::decode(pointer)?).map(Cow::Owned),
                (_, value) => Ok(Cow::Borrowed(value)),
            },
        }
    }

    /// The row that holds `value`: the value, tagged in a spilling table,
    /// or a pointer that `push` answers once it has appended the value to
    /// the content file.
    pub fn row<'a>(
        self,
        value: &'a [u8],
        push: impl FnOnce(&[u8]) -> Result<Pointer, StorageError>,
    ) -> Result<Cow<'a, [u8]>, StorageError> {
        Ok(match self {
            Layout::Inline => Cow::Borrowed(value),
            Layout::Spilling if value.len() <= SPILL_ABOVE => {
                Cow::Owned([&[INLINE][..], value].concat())
            }
            Layout::Pointer | Layout::Spilling => Cow::Owned(self.pointing_row(push(value)?)),
        })
    }

    /// The row that points at `pointer` (never an inline table's).
    pub fn pointing_row(self, pointer: Pointer) -> Vec<u8> {
        match self {
            Layout::Spilling => [&[SPILLED][..], &pointer.encode()].concat(),
            _ => pointer.encode().to_vec(),
        }
    }
}

/// A spilling table's row: its tag and the rest.
fn tagged(row: &[u8]) -> Result<(u8, &[u8]), StorageError> {
    match row.split_first() {
        Some((&tag, rest)) if tag == INLINE || tag == SPILLED => Ok((tag, rest)),
        _ => Err(StorageError::corrupt(format!(
            "a spilling table's row starts with {:?}, not a tag",
            row.first()
        ))),
    }
}

/// Where a value in the content file is and its FNV-1a.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pointer {
    pub offset: u64,
    pub len: u32,
    pub checksum: u64,
}

const POINTER_BYTES: usize = 20;

impl Pointer {
    pub fn encode(&self) -> [u8; POINTER_BYTES] {
        let mut out = [0u8; POINTER_BYTES];
        out[..8].copy_from_slice(&self.offset.to_le_bytes());
        out[8..12].copy_from_slice(&self.len.to_le_bytes());
        out[12..].copy_from_slice(&self.checksum.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Pointer, StorageError> {
        if bytes.len() != POINTER_BYTES {
            return Err(StorageError::corrupt(format!(
                "content pointer of {} bytes",
                bytes.len()
            )));
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&bytes[8..12]);
        Ok(Pointer {
            offset: u64_at(bytes, 0),
            len: u32::from_le_bytes(len),
            checksum: u64_at(bytes, 12),
        })
    }

    fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

/// Reads the bytes `pointer` names from `file`, checked against its checksum.
pub(crate) fn read(file: &dyn DataFile, pointer: Pointer) -> Result<Vec<u8>, StorageError> {
    let mut bytes = vec![0u8; pointer.len as usize];
    file.read_at(pointer.offset, &mut bytes)
        .map_err(|error| io_error(&format!("read {pointer:?}"), error))?;
    checked(bytes, pointer)
}

fn checked(bytes: Vec<u8>, pointer: Pointer) -> Result<Vec<u8>, StorageError> {
    if fnv1a(&bytes) != pointer.checksum {
        return Err(StorageError::corrupt(format!(
            "content file: the bytes at {pointer:?} do not match their checksum"
        )));
    }
    Ok(bytes)
}

/// The content of one write transaction: its bytes, written at `base` (the
/// committed end) when the transaction commits, and the state it leaves.
pub(crate) struct Appends {
    file: Arc<dyn DataFile>,
    base: u64,
    bytes: Vec<u8>,
    pub state: ContentState,
    /// Whether `state` moved: only then is it written.
    pub changed: bool,
}

impl Appends {
    pub fn new(file: Arc<dyn DataFile>, state: ContentState) -> Appends {
        Appends {
            file,
            base: state.end,
            bytes: Vec::new(),
            state,
            changed: false,
        }
    }

    /// Appends `content`; answers its pointer.
    pub fn push(&mut self, content: &[u8]) -> Result<Pointer, StorageError> {
        let len = u32::try_from(content.len())
            .map_err(|_| StorageError::corrupt("content of 4 GiB or more"))?;
        let pointer = Pointer {
            offset: self.state.end,
            len,
            checksum: fnv1a(content),
        };
        self.bytes.extend_from_slice(content);
        self.state.end += u64::from(len);
        self.state.live += u64::from(len);
        self.changed = true;
        Ok(pointer)
    }

    /// The row that held `old` no longer does.
    pub fn forget(&mut self, old: Pointer) {
        self.state.forget(u64::from(old.len));
        self.changed = true;
    }

    /// Rows that named `len` bytes between them no longer do (a table cleared).
    pub fn forget_bytes(&mut self, len: u64) {
        self.state.forget(len);
        self.changed = true;
    }

    /// The bytes `pointer` names, from this transaction's or the file's.
    pub fn read(&self, pointer: Pointer) -> Result<Vec<u8>, StorageError> {
        if pointer.offset < self.base {
            return read(&*self.file, pointer);
        }
        let start = (pointer.offset - self.base) as usize;
        let bytes = self
            .bytes
            .get(start..(pointer.end() - self.base) as usize)
            .ok_or_else(|| StorageError::corrupt(format!("content pointer {pointer:?}")))?;
        checked(bytes.to_vec(), pointer)
    }

    /// Writes this transaction's bytes to the file. Answers whether any were.
    pub fn write_out(&self) -> Result<bool, StorageError> {
        if self.bytes.is_empty() {
            return Ok(false);
        }
        self.file
            .write_at(self.base, &self.bytes)
            .map_err(|error| io_error("write", error))?;
        Ok(true)
    }
}

pub(crate) fn sync(file: &dyn DataFile) -> Result<(), StorageError> {
    file.sync().map_err(|error| io_error("sync", error))
}

/// Cuts `file` back to `end`, the last durable commit's: bytes past it were
/// written by commits a crash took back. A file shorter than `end` lost
/// bytes a durable state names.
pub(crate) fn cut_to(file: &dyn DataFile, end: u64, name: &str) -> Result<(), StorageError> {
    let len = file.size().map_err(|error| io_error("length", error))?;
    if len < end {
        return Err(StorageError::corrupt(format!(
            "{name} holds {len} bytes; the state names {end}"
        )));
    }
    if len > end {
        file.set_len(end)
            .map_err(|error| io_error("truncate", error))?;
        sync(file)?;
    }
    Ok(())
}

/// Content copied into a new file during a rewrite: appended in memory and
/// written out `COPY_BUFFER_BYTES` at a time.
pub(crate) struct Copier {
    file: Arc<dyn DataFile>,
    written: u64,
    buffer: Vec<u8>,
}

impl Copier {
    pub fn new(file: Arc<dyn DataFile>) -> Result<Copier, StorageError> {
        file.set_len(0)
            .map_err(|error| io_error("truncate", error))?;
        Ok(Copier {
            file,
            written: 0,
            buffer: Vec::with_capacity(COPY_BUFFER_BYTES),
        })
    }

    /// Appends `content`, the bytes `pointer` named (read and checked); answers
    /// where they are now.
    pub fn copy(&mut self, pointer: Pointer, content: &[u8]) -> Result<Pointer, StorageError> {
        let moved = Pointer {
            offset: self.written + self.buffer.len() as u64,
            ..pointer
        };
        self.buffer.extend_from_slice(content);
        if self.buffer.len() >= COPY_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(moved)
    }

    fn flush(&mut self) -> Result<(), StorageError> {
        self.file
            .write_at(self.written, &self.buffer)
            .map_err(|error| io_error("write", error))?;
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Writes and syncs the rest; answers the file's length.
    pub fn finish(mut self) -> Result<u64, StorageError> {
        self.flush()?;
        sync(&*self.file)?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_and_states_round_trip() {
        let pointer = Pointer {
            offset: u64::MAX - 7,
            len: 1234,
            checksum: 0x0123_4567_89ab_cdef,
        };
        assert_eq!(Pointer::decode(&pointer.encode()).unwrap(), pointer);
        assert!(Pointer::decode(&pointer.encode()[1..]).is_err());
        let state = ContentState {
            generation: 3,
            end: 99,
            live: 60,
            dead: 39,
        };
        assert_eq!(ContentState::decode(&state.encode()).unwrap(), state);
    }

    #[test]
    fn data_file_names_are_told_apart() {
        let name = content_file_name("state.redb", 12);
        assert_eq!(name, "state.redb.content-12");
        assert!(is_content_file_of(&name, "state.redb"));
        assert!(!is_content_file_of(&name, "other.redb"));
        assert!(!is_content_file_of("state.redb.rewrite", "state.redb"));
        assert!(!is_content_file_of("state.redb.content-x", "state.redb"));
    }

    #[test]
    fn compaction_is_due_past_the_floor_once_dead_outnumber_live() {
        let mut state = ContentState {
            live: COMPACTION_DEAD_BYTES_MIN * 2,
            ..ContentState::default()
        };
        state.forget(COMPACTION_DEAD_BYTES_MIN);
        assert!(!state.compaction_due(), "{state:?}");
        state.forget(1);
        assert!(state.compaction_due(), "{state:?}");
        let small = ContentState {
            dead: 10,
            ..ContentState::default()
        };
        assert!(!small.compaction_due());
    }
}
