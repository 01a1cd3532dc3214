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

struct HashWriter<'a, W: Write> {
    inner: &'a mut W,
    hash: Fnv1a,
}

impl<W: Write> HashWriter<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.hash.feed(bytes);
        self.inner.write_all(bytes).map_err(StorageError::new)
    }

    fn put_u32(&mut self, value: u32) -> Result<(), StorageError> {
        self.put(&value.to_le_bytes())
    }

    fn put_field(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| StorageError::corrupt("snapshot field over 4 GiB"))?;
        self.put_u32(len)?;
        self.put(bytes)
    }
}

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

impl StateDb {
    /// Writes the whole state, from one read transaction, to `out`; answers
    /// the raft values it was taken at.
    pub fn export_to(&self, out: &mut impl Write) -> Result<RaftValues, StorageError> {
        let reader: StateReader = self.reader()?;
        let mut writer = HashWriter {
            inner: out,
            hash: Fnv1a::new(),
        };
        writer.put(MAGIC)?;
        writer.put_u32(SNAPSHOT_FORMAT)?;
        let raft = reader.raft_values()?;
        let raft_count = u32::try_from(raft.len())
            .map_err(|_| StorageError::corrupt("more than 2^32 raft values"))?;
        writer.put_u32(raft_count)?;
        for (name, value) in &raft {
            writer.put_field(name.as_bytes())?;
            writer.put_field(value)?;
        }
        for table in Table::ALL {
            writer.put_field(table.name().as_bytes())?;
            let mut failure = None;
            reader.scan(
                table,
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false,
                &mut |key, value| {
                    let written = writer
                        .put(&[1])
                        .and_then(|()| writer.put_field(key))
                        .and_then(|()| writer.put_field(value));
                    match written {
                        Ok(()) => Ok(true),
                        Err(error) => {
                            failure = Some(error);
                            Ok(false)
                        }
                    }
                },
            )?;
            if let Some(error) = failure {
                return Err(error);
            }
            writer.put(&[0])?;
        }
        let checksum = writer.hash.value();
        writer
            .inner
            .write_all(&checksum.to_le_bytes())
            .map_err(StorageError::new)?;
        writer.inner.flush().map_err(StorageError::new)?;
        Ok(raft)
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
        for item in self.raft_table().iter().map_err(storage_error)? {
            let (key, value) = item.map_err(storage_error)?;
            values.push((key.value().to_string(), value.value().to_vec()));
        }
        Ok(values)
    }
}
