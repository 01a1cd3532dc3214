//! Snapshots as a byte stream, written and read record by record so that
//! memory stays bounded whatever the state's size.
//!
//! Layout (integers little-endian):
//! ```text
//! "CAIRNSNP" | format u32
//! raft-value count u32 | (name len u32, name, value len u32, value)*
//! for each table of `Table::ALL`, in order:
//!     name len u32, name | (0x01, key len u32, key, value len u32, value)* | 0x00
//! checksum u64: FNV-1a 64 of every byte before it
//! ```
//! An import checks the checksum before it commits: a torn or corrupted
//! snapshot changes nothing.

use std::io::{Read, Write};
use std::ops::Bound;

use cairn_core::StorageError;
use cairn_core::hash::Fnv1a;
use cairn_core::kv::{KvRead, KvWrite, Table};
use redb::ReadableTable;

use crate::state::{StateDb, StateReader};
use crate::storage_error;

const MAGIC: &[u8; 8] = b"CAIRNSNP";
/// Bump when the layout or the list of tables (`Table::ALL`) changes: 2 added
/// `sm_content` (state format 2); 3 added `sm_imports` and `sm_imported_audit`.
pub const SNAPSHOT_FORMAT: u32 = 3;
/// Largest key or value a snapshot may carry (a sanity bound against corruption).
const FIELD_BYTES_MAX: u32 = 64 * 1024 * 1024;

/// The `sm_raft` entries a snapshot carries (applied log id, membership).
pub type RaftValues = Vec<(String, Vec<u8>)>;

struct HashReader<'a, R: Read> {
    inner: &'a mut R,
    hash: Fnv1a,
}

impl<R: Read> HashReader<'_, R> {
    fn take(&mut self, buf: &mut [u8]) -> Result<(), StorageError> {
        self.inner
            .read_exact(buf)
            .map_err(|error| StorageError::corrupt(format!("snapshot truncated: {error}")))?;
        self.hash.feed(buf);
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, StorageError> {
        let mut buf = [0u8; 1];
        self.take(&mut buf)?;
        Ok(buf[0])
    }

    fn u32(&mut self) -> Result<u32, StorageError> {
        let mut buf = [0u8; 4];
        self.take(&mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }

    fn field(&mut self) -> Result<Vec<u8>, StorageError> {
        let len = self.u32()?;
        if len > FIELD_BYTES_MAX {
            return Err(StorageError::corrupt(format!(
                "snapshot field of {len} bytes"
            )));
        }
        let mut buf = vec![0u8; len as usize];
        self.take(&mut buf)?;
        Ok(buf)
    }

    fn text(&mut self) -> Result<String, StorageError> {
        String::from_utf8(self.field()?)
            .map_err(|_| StorageError::corrupt("snapshot name is not UTF-8"))
    }
}

fn read_header<R: Read>(reader: &mut HashReader<'_, R>) -> Result<RaftValues, StorageError> {
    let mut magic = [0u8; 8];
    reader.take(&mut magic)?;
    if &magic != MAGIC {
        return Err(StorageError::corrupt("not a Cairn snapshot"));
    }
    let format = reader.u32()?;
    if format != SNAPSHOT_FORMAT {
        return Err(StorageError::corrupt(format!(
            "snapshot format {format} is not the supported {SNAPSHOT_FORMAT}"
        )));
    }
    let count = reader.u32()?;
    let mut values = Vec::new();
    for _ in 0..count {
        let name = reader.text()?;
        let value = reader.field()?;
        values.push((name, value));
    }
    Ok(values)
}

/// Reads only the header: the raft values the snapshot was taken at.
pub fn snapshot_header(input: &mut impl Read) -> Result<RaftValues, StorageError> {
    read_header(&mut HashReader {
        inner: input,
        hash: Fnv1a::new(),
    })
}

/// Bytes an export encodes ahead of its reader at most (plus one row).
const EXPORT_FILL_BYTES: usize = 256 * 1024;

/// What an export encodes next.
enum Step {
    Header,
    /// The rows of `Table::ALL[index]` after `after` (all of them at `Unbounded`).
    Rows {
        index: usize,
        after: Bound<Vec<u8>>,
    },
    Trailer,
    Done,
}

/// Encoded snapshot bytes not yet read (`bytes[read..]`), and the checksum
/// of every byte encoded so far.
#[derive(Default)]
struct Encoded {
    bytes: Vec<u8>,
    read: usize,
    hash: Fnv1a,
}

impl Encoded {
    fn pending(&self) -> usize {
        self.bytes.len() - self.read
    }

    fn put(&mut self, bytes: &[u8]) {
        self.hash.feed(bytes);
        self.bytes.extend_from_slice(bytes);
    }

    /// `count` as a u32; `too_many` is the error when it does not fit.
    fn put_count(&mut self, count: usize, too_many: &str) -> Result<(), StorageError> {
        let count = u32::try_from(count).map_err(|_| StorageError::corrupt(too_many))?;
        self.put(&count.to_le_bytes());
        Ok(())
    }

    fn put_field(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.put_count(bytes.len(), "snapshot field over 4 GiB")?;
        self.put(bytes);
        Ok(())
    }
}

/// The whole state as of one read transaction, encoded in the snapshot
/// layout as it is read (`std::io::Read`): a snapshot sent to a follower is
/// never written out, and memory stays at about `EXPORT_FILL_BYTES`
/// whatever the state's size. The read transaction it holds keeps the
/// state it started from readable, so redb does not reuse the pages later
/// writes free until it is dropped.
pub struct StateExport {
    reader: StateReader,
    raft: RaftValues,
    out: Encoded,
    next: Step,
    /// Bytes read so far.
    position: u64,
}

impl StateExport {
    /// The raft values (applied log id, membership) of the exported state.
    pub fn raft_values(&self) -> &RaftValues {
        &self.raft
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Encodes until `EXPORT_FILL_BYTES` are pending or the end is reached.
    fn fill(&mut self) -> Result<(), StorageError> {
        if self.out.read > 0 && self.out.pending() == 0 {
            self.out.bytes.clear();
            self.out.read = 0;
        }
        while self.out.pending() < EXPORT_FILL_BYTES {
            self.next = match std::mem::replace(&mut self.next, Step::Done) {
                Step::Header => {
                    let out = &mut self.out;
                    out.put(MAGIC);
                    out.put(&SNAPSHOT_FORMAT.to_le_bytes());
                    out.put_count(self.raft.len(), "more than 2^32 raft values")?;
                    for (name, value) in &self.raft {
                        out.put_field(name.as_bytes())?;
                        out.put_field(value)?;
                    }
                    out.put_field(Table::ALL[0].name().as_bytes())?;
                    Step::Rows {
                        index: 0,
                        after: Bound::Unbounded,
                    }
                }
                Step::Rows { index, after } => self.rows(index, after)?,
                Step::Trailer => {
                    // The checksum covers every byte before it, not itself.
                    let checksum = self.out.hash.value();
                    self.out.bytes.extend_from_slice(&checksum.to_le_bytes());
                    Step::Done
                }
                Step::Done => return Ok(()),
            };
        }
        Ok(())
    }

    /// Encodes rows of table `index` after `after` until enough are pending;
    /// at the table's end, its end marker and the next table's name.
    fn rows(&mut self, index: usize, after: Bound<Vec<u8>>) -> Result<Step, StorageError> {
        let start = match &after {
            Bound::Excluded(key) => Bound::Excluded(key.as_slice()),
            _ => Bound::Unbounded,
        };
        let mut last = None;
        let out = &mut self.out;
        self.reader.scan(
            Table::ALL[index],
            start,
            Bound::Unbounded,
            false,
            &mut |key, value| {
                out.put(&[1]);
                out.put_field(key)?;
                out.put_field(value)?;
                if out.pending() >= EXPORT_FILL_BYTES {
                    last = Some(key.to_vec());
                    return Ok(false);
                }
                Ok(true)
            },
        )?;
        if let Some(key) = last {
            return Ok(Step::Rows {
                index,
                after: Bound::Excluded(key),
            });
        }
        out.put(&[0]);
        match Table::ALL.get(index + 1) {
            Some(next) => {
                out.put_field(next.name().as_bytes())?;
                Ok(Step::Rows {
                    index: index + 1,
                    after: Bound::Unbounded,
                })
            }
            None => Ok(Step::Trailer),
        }
    }
}

impl std::fmt::Debug for StateExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateExport")
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Read for StateExport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.fill().map_err(std::io::Error::other)?;
        let out = &mut self.out;
        let n = buf.len().min(out.pending());
        buf[..n].copy_from_slice(&out.bytes[out.read..out.read + n]);
        out.read += n;
        self.position += n as u64;
        Ok(n)
    }
}

impl StateDb {
    /// The whole state as of now, encoded as it is read (`StateExport`).
    pub fn export(&self) -> Result<StateExport, StorageError> {
        let reader = self.reader()?;
        let raft = reader.raft_values()?;
        Ok(StateExport {
            reader,
            raft,
            out: Encoded::default(),
            next: Step::Header,
            position: 0,
        })
    }

    /// Writes the whole state, from one read transaction, to `out`; answers
    /// the raft values it was taken at.
    pub fn export_to(&self, out: &mut impl Write) -> Result<RaftValues, StorageError> {
        let mut export = self.export()?;
        std::io::copy(&mut export, out).map_err(StorageError::new)?;
        out.flush().map_err(StorageError::new)?;
        Ok(export.raft)
    }

    /// Replaces the whole state with the snapshot read from `input`, in one
    /// transaction that commits only if the checksum matches.
    pub fn import_from(&self, input: &mut impl Read) -> Result<RaftValues, StorageError> {
        self.write(|writer| {
            let mut reader = HashReader {
                inner: input,
                hash: Fnv1a::new(),
            };
            let raft = read_header(&mut reader)?;
            writer.replace_raft_values(&raft)?;
            for table in Table::ALL {
                let name = reader.text()?;
                if name != table.name() {
                    return Err(StorageError::corrupt(format!(
                        "snapshot has table {name:?} where {:?} belongs",
                        table.name()
                    )));
                }
                writer.clear(table)?;
                loop {
                    match reader.u8()? {
                        0 => break,
                        1 => {
                            let key = reader.field()?;
                            let value = reader.field()?;
                            writer.put(table, &key, &value)?;
                        }
                        other => {
                            return Err(StorageError::corrupt(format!(
                                "snapshot record marker {other}"
                            )));
                        }
                    }
                }
            }
            let expected = reader.hash.value();
            let mut trailer = [0u8; 8];
            reader
                .inner
                .read_exact(&mut trailer)
                .map_err(|error| StorageError::corrupt(format!("snapshot truncated: {error}")))?;
            if u64::from_le_bytes(trailer) != expected {
                return Err(StorageError::corrupt("snapshot checksum mismatch"));
            }
            Ok(raft)
        })
    }
}

impl StateReader {
    /// Every `sm_raft` entry.
    pub fn raft_values(&self) -> Result<RaftValues, StorageError> {
        let mut values = Vec::new();
        for item in self.raft_table()?.iter().map_err(storage_error)? {
            let (key, value) = item.map_err(storage_error)?;
            values.push((key.value().to_string(), value.value().to_vec()));
        }
        Ok(values)
    }
}
