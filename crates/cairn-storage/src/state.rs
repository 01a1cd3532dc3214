//! The state machine's tables in redb: one redb table per `cairn_core::Table`
//! (byte keys, byte values) plus `sm_raft`, where the Raft layer keeps the
//! last applied log id and the membership it applied, in the same
//! transaction as the data they describe.

use std::ops::Bound;
use std::path::Path;

use cairn_core::StorageError;
use cairn_core::codec;
use cairn_core::kv::{KvRead, KvWrite, Table, Visit};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use crate::{Disk, Rewrite, STATE_FILE, begin_write, copy_table, open_database, storage_error};

const RAFT: TableDefinition<&str, &[u8]> = TableDefinition::new("sm_raft");

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

type RangeItem<'a> = Result<
    (
        redb::AccessGuard<'a, &'static [u8]>,
        redb::AccessGuard<'a, &'static [u8]>,
    ),
    redb::StorageError,
>;

pub struct StateDb {
    /// Behind a lock only so that `rewrite` can swap in a fresh file: every
    /// write holds the read side for its whole transaction. A `StateReader`
    /// holds the database it reads (redb fails the reads of a transaction
    /// whose database was dropped), so a long read, such as a snapshot being
    /// sent, outlives a rewrite.
    db: RwLock<Arc<redb::Database>>,
}

impl StateDb {
    /// Opens (or creates) the state at `path`; refuses a state written in
    /// another format (see `check_format`).
    pub fn open(path: &Path) -> Result<StateDb, StorageError> {
        StateDb::open_named(open_database(path)?, &path.display().to_string())
    }

    /// As `open`, for a database the caller opened (a node's `Disk`); errors
    /// name it `STATE_FILE`.
    pub fn with_database(db: redb::Database) -> Result<StateDb, StorageError> {
        StateDb::open_named(db, STATE_FILE)
    }

    fn open_named(db: redb::Database, file_name: &str) -> Result<StateDb, StorageError> {
        let txn = begin_write(&db)?;
        for table in Table::ALL {
            txn.open_table(definition(table)).map_err(storage_error)?;
        }
        txn.open_table(RAFT).map_err(storage_error)?;
        txn.commit().map_err(storage_error)?;
        let state = StateDb {
            db: RwLock::new(Arc::new(db)),
        };
        check_format(&state.reader()?, file_name)?;
        Ok(state)
    }

    fn db(&self) -> RwLockReadGuard<'_, Arc<redb::Database>> {
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rewrites the file with only what it holds now (see `crate::rewrite`),
    /// so that content removed before (a redaction, a snapshot install)
    /// leaves no bytes behind in freed pages. Writers wait meanwhile.
    pub fn rewrite(&self, disk: &dyn Disk, name: &str) -> Result<Rewrite, StorageError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        crate::rewrite(&mut db, disk, name, |from, to| {
            for table in Table::ALL {
                copy_table(from, to, definition(table))?;
            }
            copy_table(from, to, RAFT)
        })
    }

    /// A consistent read-only view as of the last committed write.
    pub fn reader(&self) -> Result<StateReader, StorageError> {
        let db = self.db();
        let txn = db.begin_read().map_err(storage_error)?;
        let mut tables = Vec::with_capacity(Table::ALL.len());
        for table in Table::ALL {
            tables.push(txn.open_table(definition(table)).map_err(storage_error)?);
        }
        let raft = txn.open_table(RAFT).map_err(storage_error)?;
        Ok(StateReader {
            tables,
            raft,
            _db: Arc::clone(&db),
        })
    }

    /// Runs `work` in one write transaction and commits it durably if it
    /// returns `Ok`; on `Err` nothing is written.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&mut StateWriter<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.write_with(redb::Durability::Immediate, work)
    }

    /// As `write`, but the commit is not synced: readers see it at once, a
    /// crash may take it back to the last durable commit. For state that can
    /// be rebuilt (the state machine, from the durable Raft log).
    pub fn write_unsynced<T>(
        &self,
        work: impl FnOnce(&mut StateWriter<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.write_with(redb::Durability::None, work)
    }

    /// `write` when `synced`, else `write_unsynced`.
    pub fn write_synced_if<T>(
        &self,
        synced: bool,
        work: impl FnOnce(&mut StateWriter<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let durability = if synced {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        self.write_with(durability, work)
    }

    /// Makes every earlier unsynced commit durable.
    pub fn persist(&self) -> Result<(), StorageError> {
        self.write(|_| Ok(()))
    }

    fn write_with<T>(
        &self,
        durability: redb::Durability,
        work: impl FnOnce(&mut StateWriter<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let db = self.db();
        let mut txn = begin_write(&db)?;
        txn.set_durability(durability)
            .map_err(|error| StorageError::corrupt(format!("set durability: {error}")))?;
        let value = {
            let mut tables = Vec::with_capacity(Table::ALL.len());
            for table in Table::ALL {
                tables.push(txn.open_table(definition(table)).map_err(storage_error)?);
            }
            let raft = txn.open_table(RAFT).map_err(storage_error)?;
            let mut writer = StateWriter { tables, raft };
            work(&mut writer)?
        };
        txn.commit().map_err(storage_error)?;
        Ok(value)
    }
}

/// Refuses a state whose recorded format is not this build's, before the
/// node applies anything to it or serves a read from it. A fresh state has
/// no format yet; the first apply records it.
fn check_format(reader: &StateReader, file_name: &str) -> Result<(), StorageError> {
    let Some(bytes) = reader.get(Table::Meta, codec::META_FORMAT_VERSION)? else {
        return Ok(());
    };
    let found: u32 = codec::decode(&bytes).map_err(|error| {
        StorageError::corrupt(format!("{file_name}: unreadable format version: {error}"))
    })?;
    if found != codec::FORMAT_VERSION {
        return Err(StorageError::corrupt(format!(
            "{file_name} holds format {found}; this build reads format {}; export with the \
             older build or start on an empty data dir",
            codec::FORMAT_VERSION
        )));
    }
    Ok(())
}

fn scan_table(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    reverse: bool,
    visit: Visit<'_>,
) -> Result<(), StorageError> {
    if let (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) =
        (start, end)
        && s > e
    {
        return Ok(());
    }
    let range = table.range::<&[u8]>((start, end)).map_err(storage_error)?;
    let mut step = |item: RangeItem<'_>| {
        let (key, value) = item.map_err(storage_error)?;
        visit(key.value(), value.value())
    };
    if reverse {
        for item in range.rev() {
            if !step(item)? {
                break;
            }
        }
    } else {
        for item in range {
            if !step(item)? {
                break;
            }
        }
    }
    Ok(())
}

/// A read-only view of the state machine in one redb read transaction.
pub struct StateReader {
    tables: Vec<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
    raft: redb::ReadOnlyTable<&'static str, &'static [u8]>,
    /// Kept open while the tables are read (see `StateDb`).
    _db: Arc<redb::Database>,
}

impl StateReader {
    pub(crate) fn raft_table(&self) -> &redb::ReadOnlyTable<&'static str, &'static [u8]> {
        &self.raft
    }

    pub fn raft_value(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .raft
            .get(name)
            .map_err(storage_error)?
            .map(|value| value.value().to_vec()))
    }
}

fn get_value(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(table
        .get(key)
        .map_err(storage_error)?
        .map(|value| value.value().to_vec()))
}

impl KvRead for StateReader {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        get_value(&self.tables[table as usize], key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StorageError> {
        scan_table(&self.tables[table as usize], start, end, reverse, visit)
    }
}

/// The tables of one open write transaction (see `StateDb::write`).
pub struct StateWriter<'txn> {
    tables: Vec<redb::Table<'txn, &'static [u8], &'static [u8]>>,
    raft: redb::Table<'txn, &'static str, &'static [u8]>,
}

impl StateWriter<'_> {
    pub fn set_raft_value(&mut self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.raft.insert(name, value).map_err(storage_error)?;
        Ok(())
    }

    pub(crate) fn replace_raft_values(
        &mut self,
        values: &[(String, Vec<u8>)],
    ) -> Result<(), StorageError> {
        self.raft.retain(|_, _| false).map_err(storage_error)?;
        for (name, value) in values {
            self.set_raft_value(name, value)?;
        }
        Ok(())
    }

    /// Removes every entry of `table`.
    pub(crate) fn clear(&mut self, table: Table) -> Result<(), StorageError> {
        self.tables[table as usize]
            .retain(|_, _| false)
            .map_err(storage_error)
    }
}

impl KvRead for StateWriter<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        get_value(&self.tables[table as usize], key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StorageError> {
        scan_table(&self.tables[table as usize], start, end, reverse, visit)
    }
}

impl KvWrite for StateWriter<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.tables[table as usize]
            .insert(key, value)
            .map_err(storage_error)?;
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<(), StorageError> {
        self.tables[table as usize]
            .remove(key)
            .map_err(storage_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::command::{Command, Meta, Proposal};
    use cairn_core::kv::state_digest;
    use cairn_core::{Limits, MemoryKv, Outcome, StoreName, StoreRef};

    const OPERATOR: &str = "operator";

    /// A proposal under the operator's token (the bootstrap goes without one).
    fn proposal(command: Command) -> Proposal {
        let principal = match command {
            Command::Bootstrap { .. } => None,
            _ => Some(OPERATOR.to_string()),
        };
        Proposal {
            meta: Meta {
                time_ms: 1,
                agent: "a".into(),
                session: "s".into(),
                idempotency_key: None,
                limits: Limits::default(),
                principal,
                request_id: "r".into(),
            },
            command,
        }
    }

    fn bootstrap() -> Command {
        Command::Bootstrap {
            token_id: OPERATOR.into(),
            hash: [0; 32],
        }
    }

    fn notes() -> StoreRef {
        StoreRef::new(1, StoreName::parse("notes").unwrap())
    }

    /// The redb tables behave exactly as the in-memory reference: the same
    /// commands give the same digest, and a snapshot round-trips.
    #[test]
    fn redb_tables_match_memory_and_snapshots_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("state.redb")).unwrap();
        let mut memory = MemoryKv::default();
        let store = notes();
        let limits = Limits::default();
        let commands = vec![
            bootstrap(),
            Command::CreateStore {
                store: store.clone(),
                owner: None,
            },
            Command::Txn {
                store: store.clone(),
                ops: vec![cairn_core::WriteOp::Write {
                    path: cairn_core::FilePath::parse("/a/b.md", &limits).unwrap(),
                    content: "one\ntwo\n".into(),
                    precondition: cairn_core::Precondition::IfAbsent,
                }],
            },
            Command::Txn {
                store: store.clone(),
                ops: vec![cairn_core::WriteOp::StrReplace {
                    path: cairn_core::FilePath::parse("/a/b.md", &limits).unwrap(),
                    old: "two".into(),
                    new: "three".into(),
                    precondition: cairn_core::Precondition::IfVersion(2),
                }],
            },
        ];
        for (index, command) in commands.into_iter().enumerate() {
            let proposal = proposal(command);
            let expected = cairn_core::apply(&mut memory, index as u64 + 1, &proposal).unwrap();
            let got = db
                .write(|writer| {
                    writer.set_raft_value("applied", &[index as u8])?;
                    cairn_core::apply(writer, index as u64 + 1, &proposal)
                })
                .unwrap();
            assert_eq!(got, expected);
            if index < 2 {
                // The bootstrap and the store must take, or nothing after them can.
                assert!(!matches!(got, Outcome::Failed { .. }), "{got:?}");
            }
        }
        let digest = state_digest(&memory).unwrap();
        assert_eq!(state_digest(&db.reader().unwrap()).unwrap(), digest);

        let mut bytes = Vec::new();
        let raft = db.export_to(&mut bytes).unwrap();
        // Four commands: the last one applied was index 3.
        assert_eq!(raft, vec![("applied".to_string(), vec![3])]);
        assert_eq!(crate::snapshot_header(&mut bytes.as_slice()).unwrap(), raft);
        let other = StateDb::open(&dir.path().join("other.redb")).unwrap();
        // Something to be replaced.
        other
            .write(|writer| writer.put(Table::Files, b"stale", b"x"))
            .unwrap();
        other.import_from(&mut bytes.as_slice()).unwrap();
        let reader = other.reader().unwrap();
        assert_eq!(state_digest(&reader).unwrap(), digest);
        assert_eq!(reader.raft_value("applied").unwrap(), Some(vec![3]));

        // A corrupted or truncated snapshot changes nothing.
        let empty = StateDb::open(&dir.path().join("empty.redb")).unwrap();
        let before = state_digest(&empty.reader().unwrap()).unwrap();
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        assert!(empty.import_from(&mut flipped.as_slice()).is_err());
        assert!(empty.import_from(&mut &bytes[..bytes.len() - 3]).is_err());
        assert_eq!(state_digest(&empty.reader().unwrap()).unwrap(), before);
    }

    /// An export read a few bytes at a time, across many fills and tables,
    /// holds the state as of its start: writes after it are not in it, and
    /// it imports into the same state as `export_to` writes out.
    #[test]
    fn an_export_is_the_state_at_its_start_however_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("state.redb")).unwrap();
        db.write(|writer| {
            writer.set_raft_value("applied", &[7])?;
            for i in 0u32..700 {
                writer.put(Table::Content, &i.to_be_bytes(), &[i as u8; 1000])?;
                writer.put(Table::Files, &i.to_be_bytes(), b"file")?;
            }
            Ok(())
        })
        .unwrap();
        let digest = state_digest(&db.reader().unwrap()).unwrap();
        let mut whole = Vec::new();
        db.export_to(&mut whole).unwrap();

        let mut export = db.export().unwrap();
        db.write(|writer| writer.put(Table::Files, b"later", b"x"))
            .unwrap();
        let mut pieces = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = std::io::Read::read(&mut export, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            pieces.extend_from_slice(&buf[..n]);
        }
        assert_eq!(
            std::io::Read::read(&mut export, &mut buf).unwrap(),
            0,
            "done stays done"
        );
        assert_eq!(export.position(), pieces.len() as u64);
        assert_eq!(pieces, whole);
        let other = StateDb::open(&dir.path().join("other.redb")).unwrap();
        other.import_from(&mut pieces.as_slice()).unwrap();
        assert_eq!(state_digest(&other.reader().unwrap()).unwrap(), digest);
    }

    /// A state written in another format is refused when it is opened, with
    /// a message naming the file and both formats; this build's format opens.
    #[test]
    fn a_state_of_another_format_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::STATE_FILE);
        let db = StateDb::open(&path).unwrap();
        let proposal = proposal(bootstrap());
        db.write(|writer| cairn_core::apply(writer, 1, &proposal))
            .unwrap();
        drop(db);
        assert!(StateDb::open(&path).is_ok(), "this build's own format");

        let older = codec::FORMAT_VERSION - 1;
        let db = StateDb::open(&path).unwrap();
        db.write(|writer| {
            writer.put(
                Table::Meta,
                codec::META_FORMAT_VERSION,
                &codec::encode(&older),
            )
        })
        .unwrap();
        drop(db);
        let message = match StateDb::open(&path) {
            Ok(_) => panic!("a state of format {older} was opened"),
            Err(error) => error.to_string(),
        };
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("holds format {older}")),
            "{message}"
        );
        assert!(
            message.contains(&format!("reads format {}", codec::FORMAT_VERSION)),
            "{message}"
        );
        let database = crate::open_database(&path).unwrap();
        let message = match StateDb::with_database(database) {
            Ok(_) => panic!("a state of format {older} was opened"),
            Err(error) => error.to_string(),
        };
        assert!(message.contains("state.redb holds format"), "{message}");
    }

    fn holds(bytes: &[u8], needle: &[u8]) -> bool {
        bytes.windows(needle.len()).any(|window| window == needle)
    }

    /// A reader (a snapshot being sent) that began before a rewrite reads
    /// its state to the end: redb fails the reads of a transaction whose
    /// database was dropped, so the reader keeps the old one open.
    #[test]
    fn a_reader_outlives_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let disk = crate::FileDisk::new(dir.path());
        let db = StateDb::with_database(disk.database(STATE_FILE).unwrap()).unwrap();
        db.write(|writer| writer.put(Table::Content, b"before", b"1"))
            .unwrap();
        let mut expected = Vec::new();
        db.export_to(&mut expected).unwrap();
        let mut export = db.export().unwrap();
        assert_eq!(
            db.rewrite(&disk, STATE_FILE).unwrap(),
            crate::Rewrite::Fresh
        );
        db.write(|writer| writer.put(Table::Content, b"after", b"2"))
            .unwrap();
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut export, &mut read).unwrap();
        assert_eq!(read, expected);
    }

    /// A deleted value stays in the freed page of the file; a rewrite leaves
    /// only live records, and the state reads and writes as before.
    #[test]
    fn rewrite_leaves_no_bytes_of_removed_values() {
        let dir = tempfile::tempdir().unwrap();
        let disk = crate::FileDisk::new(dir.path());
        let file = dir.path().join(STATE_FILE);
        let secret = b"6f1d0c2a9b8e7f6a5d4c3b2a1f0e9d8c".repeat(64);
        let db = StateDb::with_database(disk.database(STATE_FILE).unwrap()).unwrap();
        db.write(|writer| {
            writer.put(Table::Content, b"secret", &secret)?;
            writer.put(Table::Content, b"keep", b"kept")
        })
        .unwrap();
        db.write(|writer| writer.delete(Table::Content, b"secret"))
            .unwrap();
        assert!(
            holds(&std::fs::read(&file).unwrap(), &secret[..32]),
            "redb freed the page without keeping its bytes: this test proves nothing"
        );

        assert_eq!(
            db.rewrite(&disk, STATE_FILE).unwrap(),
            crate::Rewrite::Fresh
        );
        assert!(!holds(&std::fs::read(&file).unwrap(), &secret[..32]));
        assert!(!dir.path().join(format!("{STATE_FILE}.rewrite")).exists());
        let reader = db.reader().unwrap();
        assert_eq!(
            reader.get(Table::Content, b"keep").unwrap(),
            Some(b"kept".to_vec())
        );
        assert_eq!(reader.get(Table::Content, b"secret").unwrap(), None);
        db.write(|writer| writer.put(Table::Content, b"after", b"yes"))
            .unwrap();
        drop((reader, db));
        let reopened = StateDb::with_database(disk.database(STATE_FILE).unwrap()).unwrap();
        let reader = reopened.reader().unwrap();
        assert_eq!(
            reader.get(Table::Content, b"after").unwrap(),
            Some(b"yes".to_vec())
        );
        assert_eq!(
            reader.get(Table::Content, b"keep").unwrap(),
            Some(b"kept".to_vec())
        );
    }
}
