//! The state machine's tables in redb: one redb table per `cairn_core::Table`
//! (byte keys, byte values) plus `sm_raft`, where the Raft layer keeps the
//! last applied log id and the membership it applied, in the same
//! transaction as the data they describe.

use std::ops::Bound;
use std::path::Path;

use cairn_core::StorageError;
use cairn_core::codec;
use cairn_core::kv::{KvRead, KvWrite, Table, Visit};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use crate::content::{
    self, Appends, CONTENT_FILE, ContentState, Copier, Layout, Pointer, STATE_KEY,
    content_file_name, is_content_file_of,
};
use crate::{DataFile, Disk, FileDisk, Rewrite, begin_write, copy_table, storage_error};

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

/// The state machine's tables (`state.redb`) and the content file beside
/// them (`content.rs`).
pub struct StateDb {
    /// Behind a lock only so that `rewrite` can swap in fresh files; a
    /// reader holds it only to clone them, a write for its whole
    /// transaction. A `StateReader` holds the files it reads (redb fails the
    /// reads of a transaction whose database was dropped), so a long read,
    /// such as a snapshot being sent, outlives a rewrite.
    files: RwLock<Files>,
    /// The content file as of the last commit. Taken first (before `files`)
    /// and held for a write transaction's whole length (redb lets one write
    /// at a time anyway), and for a whole rewrite, which so keeps writes
    /// out while readers go on.
    tail: Mutex<Tail>,
    disk: Arc<dyn Disk>,
    /// The database's name on `disk`; its content files are named after it.
    name: String,
}

#[derive(Clone)]
struct Files {
    db: Arc<redb::Database>,
    content: Arc<dyn DataFile>,
}

struct Tail {
    state: ContentState,
    /// Bytes were written to the content file since it was last synced.
    unsynced: bool,
}

impl StateDb {
    /// Opens (or creates) the state at `path`, its content files beside it;
    /// refuses a state written in another format (see `check_format`).
    pub fn open(path: &Path) -> Result<StateDb, StorageError> {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| StorageError::corrupt(format!("no file name in {}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        StateDb::open_named(
            Arc::new(FileDisk::new(dir)),
            name,
            &path.display().to_string(),
        )
    }

    /// Opens (or creates) database `name` on `disk` (`STATE_FILE` on a
    /// node's), with its content file; errors name it `name`.
    pub fn open_on(disk: Arc<dyn Disk>, name: &str) -> Result<StateDb, StorageError> {
        StateDb::open_named(disk, name, name)
    }

    fn open_named(disk: Arc<dyn Disk>, name: &str, shown: &str) -> Result<StateDb, StorageError> {
        let db = disk.database(name)?;
        let txn = begin_write(&db)?;
        for table in Table::ALL {
            txn.open_table(definition(table)).map_err(storage_error)?;
        }
        txn.open_table(RAFT).map_err(storage_error)?;
        let state = {
            let mut table = txn.open_table(CONTENT_FILE).map_err(storage_error)?;
            let recorded = table.get(STATE_KEY).map_err(storage_error)?;
            match recorded {
                Some(bytes) => ContentState::decode(bytes.value())?,
                None => {
                    drop(recorded);
                    let rows = txn
                        .open_table(definition(Table::Content))
                        .map_err(storage_error)?
                        .len()
                        .map_err(storage_error)?;
                    if rows > 0 {
                        return Err(StorageError::corrupt(format!(
                            "{shown} keeps content in its tables (an older build's layout); \
                             export with the older build or start on an empty data dir"
                        )));
                    }
                    let fresh = ContentState::default();
                    table
                        .insert(STATE_KEY, &fresh.encode()[..])
                        .map_err(storage_error)?;
                    fresh
                }
            }
        };
        txn.commit().map_err(storage_error)?;
        let file_name = content_file_name(name, state.generation);
        let file = disk.data_file(&file_name)?;
        content::cut_to(&*file, state.end, &file_name)?;
        // Generations a rewrite left behind: replaced, or never committed.
        for other in disk.data_file_names()? {
            if other != file_name && is_content_file_of(&other, name) {
                disk.remove_data_file(&other)?;
            }
        }
        let state_db = StateDb {
            files: RwLock::new(Files {
                db: Arc::new(db),
                content: file,
            }),
            tail: Mutex::new(Tail {
                state,
                unsynced: false,
            }),
            disk,
            name: name.to_string(),
        };
        check_format(&state_db.reader()?, shown)?;
        Ok(state_db)
    }

    fn files(&self) -> Files {
        self.files
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn tail(&self) -> MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether enough overwritten and deleted content sits in the content
    /// file for a `rewrite` to be worth its copy (`ContentState::compaction_due`).
    pub fn compaction_due(&self) -> bool {
        self.tail().state.compaction_due()
    }

    /// Rewrites the state with only what it holds now, so that content
    /// removed before (a redaction, a snapshot install, overwritten or
    /// deleted rows) leaves no bytes behind: the live content is copied into
    /// a new content file, the old one removed, and the database rewritten
    /// (`crate::copy_fresh`, `crate::replace`). Writes wait meanwhile; reads go on, waiting
    /// only while the new files are put in place.
    pub fn rewrite(&self) -> Result<Rewrite, StorageError> {
        let mut tail = self.tail();
        self.compact_content(&mut tail)?;
        let fresh = crate::copy_fresh(&self.files().db, &*self.disk, &self.name, |from, to| {
            for table in Table::ALL {
                copy_table(from, to, definition(table))?;
            }
            copy_table(from, to, RAFT)?;
            copy_table(from, to, CONTENT_FILE)
        })?;
        let mut files = self.files.write().unwrap_or_else(PoisonError::into_inner);
        crate::replace(&mut files.db, &*self.disk, &self.name, fresh)
    }

    /// Copies the live values (every row's that points) into the next
    /// generation's file, synced, and points those rows at their new places
    /// in one synced commit; then removes the old file. A crash before the
    /// commit leaves the old generation in use (`open` removes the new
    /// file), after it the new one. The caller holds `tail`, so no write
    /// commits meanwhile; readers see the commit and the new file together.
    fn compact_content(&self, tail: &mut Tail) -> Result<(), StorageError> {
        let files = self.files();
        let old_name = content_file_name(&self.name, tail.state.generation);
        let generation = tail.state.generation + 1;
        let fresh = self
            .disk
            .data_file(&content_file_name(&self.name, generation))?;
        let mut copier = Copier::new(Arc::clone(&fresh))?;
        let read = files.db.begin_read().map_err(storage_error)?;
        let txn = begin_write(&files.db)?;
        for table in Table::ALL {
            let layout = Layout::of(table);
            if layout == Layout::Inline {
                continue;
            }
            let source = read.open_table(definition(table)).map_err(storage_error)?;
            let mut target = txn.open_table(definition(table)).map_err(storage_error)?;
            for item in source.iter().map_err(storage_error)? {
                let (key, row) = item.map_err(storage_error)?;
                let Some(pointer) = layout.pointer(row.value())? else {
                    continue;
                };
                let bytes = content::read(&*files.content, pointer)?;
                let moved = copier.copy(pointer, &bytes)?;
                target
                    .insert(key.value(), &layout.pointing_row(moved)[..])
                    .map_err(storage_error)?;
            }
        }
        let end = copier.finish()?;
        let state = ContentState {
            generation,
            end,
            live: end,
            dead: 0,
        };
        txn.open_table(CONTENT_FILE)
            .map_err(storage_error)?
            .insert(STATE_KEY, &state.encode()[..])
            .map_err(storage_error)?;
        {
            let mut current = self.files.write().unwrap_or_else(PoisonError::into_inner);
            txn.commit().map_err(storage_error)?;
            current.content = fresh;
        }
        *tail = Tail {
            state,
            unsynced: false,
        };
        self.disk.remove_data_file(&old_name)
    }

    /// A consistent read-only view as of the last committed write. Its
    /// tables open when first read: a request reads a few of them.
    pub fn reader(&self) -> Result<StateReader, StorageError> {
        let files = self.files();
        let txn = files.db.begin_read().map_err(storage_error)?;
        Ok(StateReader {
            txn,
            tables: std::array::from_fn(|_| OnceLock::new()),
            raft: OnceLock::new(),
            content: files.content,
            _db: files.db,
        })
    }

    /// Runs `work` in one write transaction and commits it durably if it
    /// returns `Ok`; on `Err` nothing is written.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&mut StateWriter<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.write_synced_if(true, work)
    }

    /// As `write`, but the commit is not synced: readers see it at once, a
    /// crash may take it back to the last durable commit. For state that can
    /// be rebuilt (the state machine, from the durable Raft log).
    pub fn write_unsynced<T>(
        &self,
        work: impl FnOnce(&mut StateWriter<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.write_synced_if(false, work)
    }

    /// Makes every earlier unsynced commit durable.
    pub fn persist(&self) -> Result<(), StorageError> {
        self.write(|_| Ok(()))
    }

    /// `write` when `synced`, else `write_unsynced`. The transaction's
    /// content is written to the content file before it commits, and the
    /// file synced before a synced commit (the invariants in `content.rs`).
    pub fn write_synced_if<T>(
        &self,
        synced: bool,
        work: impl FnOnce(&mut StateWriter<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut tail = self.tail();
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        let mut txn = begin_write(&files.db)?;
        if !synced {
            txn.set_durability(redb::Durability::None)
                .map_err(|error| StorageError::corrupt(format!("set durability: {error}")))?;
        }
        let appends = Appends::new(Arc::clone(&files.content), tail.state);
        let (value, appends) = {
            let mut writer = StateWriter {
                txn: &txn,
                tables: std::array::from_fn(|_| OnceLock::new()),
                raft: OnceLock::new(),
                appends,
                markers: std::array::from_fn(|_| HashSet::new()),
            };
            let value = work(&mut writer)?;
            let appends = writer.appends;
            if appends.changed {
                txn.open_table(CONTENT_FILE)
                    .map_err(storage_error)?
                    .insert(STATE_KEY, &appends.state.encode()[..])
                    .map_err(storage_error)?;
            }
            (value, appends)
        };
        if appends.write_out()? {
            tail.unsynced = true;
        }
        if synced && tail.unsynced {
            content::sync(&*files.content)?;
            tail.unsynced = false;
        }
        txn.commit().map_err(storage_error)?;
        tail.state = appends.state;
        Ok(value)
    }
}

impl Drop for StateDb {
    /// Syncs content written since the last synced commit: redb may make its
    /// last commit durable as it closes, and that commit may name those bytes.
    fn drop(&mut self) {
        let tail = self.tail.get_mut().unwrap_or_else(PoisonError::into_inner);
        if tail.unsynced {
            let files = self.files.get_mut().unwrap_or_else(PoisonError::into_inner);
            if let Err(error) = content::sync(&*files.content) {
                tracing::error!(%error, "syncing the content file at close failed");
            }
        }
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

/// A value's bytes from where a pointer says they are.
type Load<'a> = &'a dyn Fn(Pointer) -> Result<Vec<u8>, StorageError>;

/// The value of `key` in `table` (of `which`), loaded if its row points.
fn get_row(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    which: Table,
    key: &[u8],
    load: Load<'_>,
) -> Result<Option<Vec<u8>>, StorageError> {
    let Some(row) = table.get(key).map_err(storage_error)? else {
        return Ok(None);
    };
    Ok(Some(
        Layout::of(which).value(row.value(), load)?.into_owned(),
    ))
}

/// `scan_table` over `table` (of `which`), values loaded where rows point.
fn scan_rows(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    which: Table,
    (start, end): (Bound<&[u8]>, Bound<&[u8]>),
    reverse: bool,
    visit: Visit<'_>,
    load: Load<'_>,
) -> Result<(), StorageError> {
    let layout = Layout::of(which);
    if layout == Layout::Inline {
        return scan_table(table, start, end, reverse, visit);
    }
    scan_table(table, start, end, reverse, &mut |key, row| {
        visit(key, &layout.value(row, load)?)
    })
}

type ReadTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;
type WriteTable<'txn> = redb::Table<'txn, &'static [u8], &'static [u8]>;

/// A read-only view of the state machine in one redb read transaction.
/// Each table opens when first read (`opened`).
pub struct StateReader {
    txn: redb::ReadTransaction,
    tables: [OnceLock<ReadTable>; Table::ALL.len()],
    raft: OnceLock<redb::ReadOnlyTable<&'static str, &'static [u8]>>,
    /// The content file the transaction's pointers name.
    content: Arc<dyn DataFile>,
    /// Kept open while the tables are read (see `StateDb`).
    _db: Arc<redb::Database>,
}

/// The table in `cell`, opened by `open` if it is not there yet. Two
/// threads may both open a reader's table; one copy is kept.
fn opened<T>(
    cell: &OnceLock<T>,
    open: impl FnOnce() -> Result<T, redb::TableError>,
) -> Result<&T, StorageError> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = open().map_err(storage_error)?;
    Ok(cell.get_or_init(|| value))
}

impl StateReader {
    fn table(&self, table: Table) -> Result<&ReadTable, StorageError> {
        opened(&self.tables[table as usize], || {
            self.txn.open_table(definition(table))
        })
    }

    pub(crate) fn raft_table(
        &self,
    ) -> Result<&redb::ReadOnlyTable<&'static str, &'static [u8]>, StorageError> {
        opened(&self.raft, || self.txn.open_table(RAFT))
    }

    pub fn raft_value(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .raft_table()?
            .get(name)
            .map_err(storage_error)?
            .map(|value| value.value().to_vec()))
    }

    fn load(&self, pointer: Pointer) -> Result<Vec<u8>, StorageError> {
        content::read(&*self.content, pointer)
    }
}

/// `KvRead` over `tables` (one per `Table`, by discriminant) and `load`
/// (content by its pointer): `StateReader` and `StateWriter` differ only in
/// where content comes from.
macro_rules! kv_read_over_tables {
    ($type:ty) => {
        impl KvRead for $type {
            fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
                get_row(self.table(table)?, table, key, &|pointer| {
                    self.load(pointer)
                })
            }

            fn scan(
                &self,
                table: Table,
                start: Bound<&[u8]>,
                end: Bound<&[u8]>,
                reverse: bool,
                visit: Visit<'_>,
            ) -> Result<(), StorageError> {
                let load = |pointer| self.load(pointer);
                let bounds = (start, end);
                scan_rows(self.table(table)?, table, bounds, reverse, visit, &load)
            }

            fn scan_keys(
                &self,
                table: Table,
                start: Bound<&[u8]>,
                end: Bound<&[u8]>,
                visit: &mut dyn FnMut(&[u8]) -> Result<bool, StorageError>,
            ) -> Result<(), StorageError> {
                // The raw rows: a pointer is not loaded.
                scan_table(self.table(table)?, start, end, false, &mut |key, _| {
                    visit(key)
                })
            }
        }
    };
}

kv_read_over_tables!(StateReader);
kv_read_over_tables!(StateWriter<'_>);

/// The tables of one open write transaction (see `StateDb::write`), each
/// opened when first used: a table redb was not given back unchanged costs
/// its commit a lookup, and an apply touches a few of them.
pub struct StateWriter<'txn> {
    txn: &'txn redb::WriteTransaction,
    tables: [OnceLock<WriteTable<'txn>>; Table::ALL.len()],
    raft: OnceLock<redb::Table<'txn, &'static str, &'static [u8]>>,
    appends: Appends,
    /// The keys `put_marker` put in this transaction, per table.
    markers: [HashSet<Vec<u8>>; Table::ALL.len()],
}

/// `cell`'s table, opened by `open` if it is not open yet.
fn opened_mut<T>(
    cell: &mut OnceLock<T>,
    open: impl FnOnce() -> Result<T, redb::TableError>,
) -> Result<&mut T, StorageError> {
    if cell.get().is_none() {
        let value = open().map_err(storage_error)?;
        let _ = cell.set(value);
    }
    Ok(cell.get_mut().expect("the cell was filled just above"))
}

impl<'txn> StateWriter<'txn> {
    /// `table` for reading (`KvRead`); the writes below use `table_mut`.
    /// redb refuses a table open twice, hence the one cell for both.
    fn table(&self, table: Table) -> Result<&WriteTable<'txn>, StorageError> {
        opened(&self.tables[table as usize], || {
            self.txn.open_table(definition(table))
        })
    }

    fn table_mut(&mut self, table: Table) -> Result<&mut WriteTable<'txn>, StorageError> {
        let txn = self.txn;
        opened_mut(&mut self.tables[table as usize], || {
            txn.open_table(definition(table))
        })
    }

    fn raft_mut(
        &mut self,
    ) -> Result<&mut redb::Table<'txn, &'static str, &'static [u8]>, StorageError> {
        let txn = self.txn;
        opened_mut(&mut self.raft, || txn.open_table(RAFT))
    }

    pub fn set_raft_value(&mut self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.raft_mut()?
            .insert(name, value)
            .map_err(storage_error)?;
        Ok(())
    }

    pub(crate) fn replace_raft_values(
        &mut self,
        values: &[(String, Vec<u8>)],
    ) -> Result<(), StorageError> {
        self.raft_mut()?
            .retain(|_, _| false)
            .map_err(storage_error)?;
        for (name, value) in values {
            self.set_raft_value(name, value)?;
        }
        Ok(())
    }

    fn load(&self, pointer: Pointer) -> Result<Vec<u8>, StorageError> {
        self.appends.read(pointer)
    }

    /// Removes every entry of `table`; the bytes its rows pointed at are dead.
    pub(crate) fn clear(&mut self, table: Table) -> Result<(), StorageError> {
        let layout = Layout::of(table);
        let (mut forgotten, mut unreadable) = (0u64, None);
        self.table_mut(table)?
            .retain(|_, row| {
                match layout.pointer(row) {
                    Ok(pointer) => forgotten += pointer.map_or(0, |p| u64::from(p.len)),
                    Err(error) => unreadable = Some(error),
                }
                false
            })
            .map_err(storage_error)?;
        if let Some(error) = unreadable {
            return Err(error);
        }
        if forgotten > 0 {
            self.appends.forget_bytes(forgotten);
        }
        self.markers[table as usize].clear();
        Ok(())
    }
}

/// The pointer of a row just replaced or removed, if it held one.
fn pointer_in(
    layout: Layout,
    row: Option<redb::AccessGuard<'_, &'static [u8]>>,
) -> Result<Option<Pointer>, StorageError> {
    row.map_or(Ok(None), |row| layout.pointer(row.value()))
}

impl KvWrite for StateWriter<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let layout = Layout::of(table);
        let appends = &mut self.appends;
        let row = layout.row(value, |value| appends.push(value))?;
        let old = self
            .table_mut(table)?
            .insert(key, &row[..])
            .map_err(storage_error)?;
        if let Some(old) = pointer_in(layout, old)? {
            self.appends.forget(old);
        }
        Ok(())
    }

    fn put_marker(&mut self, table: Table, key: &[u8]) -> Result<(), StorageError> {
        if !self.markers[table as usize].contains(key) {
            self.put(table, key, &[])?;
            self.markers[table as usize].insert(key.to_vec());
        }
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<(), StorageError> {
        self.markers[table as usize].remove(key);
        let layout = Layout::of(table);
        let old = self.table_mut(table)?.remove(key).map_err(storage_error)?;
        if let Some(old) = pointer_in(layout, old)? {
            self.appends.forget(old);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::STATE_FILE;
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

    /// A marker put twice in one transaction is one row, and one deleted or
    /// cleared is put again by the next `put_marker`, in the same transaction
    /// or a later one.
    #[test]
    fn markers_are_put_once_and_again_after_a_delete_or_clear() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("state.redb")).unwrap();
        let rows = |db: &StateDb| {
            let mut keys = Vec::new();
            cairn_core::kv::scan_prefix(
                &db.reader().unwrap(),
                Table::AuditIndex,
                b"",
                false,
                &mut |key, _| {
                    keys.push(key.to_vec());
                    Ok(true)
                },
            )
            .unwrap();
            keys
        };
        db.write(|writer| {
            writer.put_marker(Table::AuditIndex, b"a")?;
            writer.put_marker(Table::AuditIndex, b"a")?;
            writer.put_marker(Table::AuditIndex, b"b")?;
            writer.delete(Table::AuditIndex, b"b")?;
            writer.put_marker(Table::AuditIndex, b"b")?;
            writer.put_marker(Table::Meta, b"a")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(rows(&db), vec![b"a".to_vec(), b"b".to_vec()]);
        db.write(|writer| {
            writer.put_marker(Table::AuditIndex, b"c")?;
            writer.clear(Table::AuditIndex)?;
            writer.put_marker(Table::AuditIndex, b"c")?;
            writer.put_marker(Table::AuditIndex, b"a")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(rows(&db), vec![b"a".to_vec(), b"c".to_vec()]);
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
        let disk = Arc::new(FileDisk::new(dir.path()));
        let message = match StateDb::open_on(disk, crate::STATE_FILE) {
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
        let db = StateDb::open(&dir.path().join(STATE_FILE)).unwrap();
        db.write(|writer| writer.put(Table::Content, b"before", b"1"))
            .unwrap();
        let mut expected = Vec::new();
        db.export_to(&mut expected).unwrap();
        let mut export = db.export().unwrap();
        assert_eq!(db.rewrite().unwrap(), crate::Rewrite::Fresh);
        db.write(|writer| writer.put(Table::Content, b"after", b"2"))
            .unwrap();
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut export, &mut read).unwrap();
        assert_eq!(read, expected);
    }

    /// Every file under `dir` and whether it holds `needle`.
    fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| holds(&std::fs::read(entry.path()).unwrap(), needle))
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A deleted value stays in the content file and a deleted row in the
    /// freed page of the database; a rewrite leaves only live records, and
    /// the state reads and writes as before.
    #[test]
    fn rewrite_leaves_no_bytes_of_removed_values() {
        let dir = tempfile::tempdir().unwrap();
        let secret = b"6f1d0c2a9b8e7f6a5d4c3b2a1f0e9d8c".repeat(65);
        let db = StateDb::open(&dir.path().join(STATE_FILE)).unwrap();
        db.write(|writer| {
            writer.put(Table::Content, b"secret", &secret)?;
            writer.put(Table::Versions, b"secret", &secret)?;
            writer.put(Table::Audit, b"secret", &secret)?;
            writer.put(Table::Content, b"keep", b"kept")
        })
        .unwrap();
        db.write(|writer| {
            writer.delete(Table::Content, b"secret")?;
            writer.delete(Table::Versions, b"secret")?;
            writer.put(Table::Audit, b"secret", b"redacted")
        })
        .unwrap();
        let content_0 = content_file_name(STATE_FILE, 0);
        assert_eq!(
            files_holding(dir.path(), &secret[..32]),
            [STATE_FILE.to_string(), content_0.clone()],
            "the removed bytes are not where this test looks for them: it proves nothing"
        );

        assert_eq!(db.rewrite().unwrap(), crate::Rewrite::Fresh);
        assert!(files_holding(dir.path(), &secret[..32]).is_empty());
        assert!(!dir.path().join(&content_0).exists());
        assert!(!dir.path().join(format!("{STATE_FILE}.rewrite")).exists());
        assert_eq!(content(&db, b"keep"), Some(b"kept".to_vec()));
        assert_eq!(content(&db, b"secret"), None);
        db.write(|writer| writer.put(Table::Content, b"after", b"yes"))
            .unwrap();
        drop(db);
        let reopened = StateDb::open(&dir.path().join(STATE_FILE)).unwrap();
        assert_eq!(content(&reopened, b"after"), Some(b"yes".to_vec()));
        assert_eq!(content(&reopened, b"keep"), Some(b"kept".to_vec()));
        let mut names = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        names.sort();
        assert_eq!(names, [STATE_FILE, "state.redb.content-1"]);
    }

    /// The content of row `key` as `db` reads it now.
    fn content(db: &StateDb, key: &[u8]) -> Option<Vec<u8>> {
        db.reader().unwrap().get(Table::Content, key).unwrap()
    }

    fn content_state(db: &StateDb) -> ContentState {
        db.tail().state
    }

    /// Content goes to the content file and only a pointer to the table:
    /// overwritten and deleted content is counted dead, a transaction that
    /// fails leaves nothing, a row put and read in one transaction reads
    /// back, and scans see content, not pointers.
    #[test]
    fn content_lives_in_the_content_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join(STATE_FILE)).unwrap();
        let big = vec![b'x'; 3000];
        let read_back = db
            .write(|writer| {
                writer.put(Table::Content, b"a", &big)?;
                writer.put(Table::Content, b"b", b"bee")?;
                writer.get(Table::Content, b"a")
            })
            .unwrap();
        assert_eq!(read_back, Some(big.clone()));
        let state = content_state(&db);
        assert_eq!((state.end, state.live, state.dead), (3003, 3003, 0));
        let file = dir.path().join(content_file_name(STATE_FILE, 0));
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 3003);

        let failed: Result<(), StorageError> = db.write(|writer| {
            writer.put(Table::Content, b"c", b"never")?;
            Err(StorageError::corrupt("refused"))
        });
        assert!(failed.is_err());
        assert_eq!(content_state(&db), state);

        db.write_unsynced(|writer| {
            writer.put(Table::Content, b"a", b"short")?;
            writer.delete(Table::Content, b"b")?;
            writer.delete(Table::Content, b"never there")
        })
        .unwrap();
        let state = content_state(&db);
        assert_eq!((state.end, state.live, state.dead), (3008, 5, 3003));
        assert_eq!(
            rows(&db, Table::Content, false),
            [(b"a".to_vec(), b"short".to_vec())]
        );
        db.write(|writer| writer.clear(Table::Content)).unwrap();
        let state = content_state(&db);
        assert_eq!((state.live, state.dead), (0, 3008));
    }

    /// Every (key, value) of `table` as a scan sees them, in key order or reversed.
    fn rows(db: &StateDb, table: Table, reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut rows = Vec::new();
        db.reader()
            .unwrap()
            .scan(
                table,
                Bound::Unbounded,
                Bound::Unbounded,
                reverse,
                &mut |key, value| {
                    rows.push((key.to_vec(), value.to_vec()));
                    Ok(true)
                },
            )
            .unwrap();
        rows
    }

    /// The row `key` of `table` as redb holds it, not the value it stands for.
    fn raw_row(db: &StateDb, table: Table, key: &[u8]) -> Option<Vec<u8>> {
        let reader = db.reader().unwrap();
        let row = reader.table(table).unwrap().get(key).unwrap();
        row.map(|row| row.value().to_vec())
    }

    /// A spilling table keeps a value up to `SPILL_ABOVE` bytes in its row,
    /// a longer one in the content file behind a pointer: both read back by
    /// key and by scan, in and after their transaction; a spilled value
    /// overwritten, deleted or cleared is counted dead; one of another
    /// table never spills.
    #[test]
    fn long_values_of_spilling_tables_live_in_the_content_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join(STATE_FILE)).unwrap();
        let long = vec![b'e'; content::SPILL_ABOVE + 1];
        let short = vec![b's'; content::SPILL_ABOVE];
        let read_back = db
            .write(|writer| {
                for table in [Table::Audit, Table::Idempotency, Table::ImportedAudit] {
                    writer.put(table, b"long", &long)?;
                    writer.put(table, b"short", &short)?;
                }
                writer.put(Table::Versions, b"long", &long)?;
                writer.get(Table::Audit, b"long")
            })
            .unwrap();
        assert_eq!(read_back, Some(long.clone()));
        let spilled = 3 * long.len() as u64;
        let state = content_state(&db);
        assert_eq!((state.end, state.live, state.dead), (spilled, spilled, 0));
        for table in [Table::Audit, Table::Idempotency, Table::ImportedAudit] {
            assert_eq!(raw_row(&db, table, b"long").unwrap().len(), 21);
            assert_eq!(
                raw_row(&db, table, b"short").unwrap().len(),
                short.len() + 1
            );
            let reader = db.reader().unwrap();
            assert_eq!(reader.get(table, b"long").unwrap(), Some(long.clone()));
            assert_eq!(reader.get(table, b"short").unwrap(), Some(short.clone()));
            assert_eq!(
                rows(&db, table, true),
                [
                    (b"short".to_vec(), short.clone()),
                    (b"long".to_vec(), long.clone())
                ]
            );
        }
        assert_eq!(raw_row(&db, Table::Versions, b"long"), Some(long.clone()));

        db.write(|writer| {
            writer.put(Table::Audit, b"long", b"now short")?;
            writer.put(Table::Audit, b"short", &long)?;
            writer.delete(Table::Idempotency, b"long")
        })
        .unwrap();
        let state = content_state(&db);
        let live = 2 * long.len() as u64;
        assert_eq!((state.live, state.dead), (live, 2 * long.len() as u64));
        assert_eq!(
            db.reader().unwrap().get(Table::Audit, b"short").unwrap(),
            Some(long.clone())
        );
        db.write(|writer| writer.clear(Table::ImportedAudit))
            .unwrap();
        let state = content_state(&db);
        assert_eq!(
            (state.live, state.dead),
            (long.len() as u64, 3 * long.len() as u64)
        );
        let digest = state_digest(&db.reader().unwrap()).unwrap();
        db.rewrite().unwrap();
        let state = content_state(&db);
        assert_eq!(
            (state.end, state.live, state.dead),
            (long.len() as u64, long.len() as u64, 0)
        );
        assert_eq!(state_digest(&db.reader().unwrap()).unwrap(), digest);
        assert_eq!(
            db.reader().unwrap().get(Table::Audit, b"short").unwrap(),
            Some(long)
        );
    }

    /// Bytes past the recorded end (a commit a crash took back) are cut off
    /// when the state opens; a file shorter than the end, or content that
    /// does not match its checksum, is an error, never wrong content.
    #[test]
    fn the_content_file_is_cut_back_to_the_state_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        let file = dir.path().join(content_file_name(STATE_FILE, 0));
        let db = StateDb::open(&path).unwrap();
        db.write(|writer| writer.put(Table::Content, b"a", b"alpha"))
            .unwrap();
        drop(db);
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.extend_from_slice(b"torn tail of a lost commit");
        std::fs::write(&file, &bytes).unwrap();
        // A generation no commit names (a rewrite cut short).
        std::fs::write(dir.path().join(content_file_name(STATE_FILE, 1)), b"x").unwrap();

        let db = StateDb::open(&path).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"alpha");
        assert!(!dir.path().join(content_file_name(STATE_FILE, 1)).exists());
        db.write(|writer| writer.put(Table::Content, b"b", b"beta"))
            .unwrap();
        assert_eq!(content(&db, b"a"), Some(b"alpha".to_vec()));
        assert_eq!(content(&db, b"b"), Some(b"beta".to_vec()));
        let reader = db.reader().unwrap();

        std::fs::write(&file, b"alphAbeta").unwrap();
        assert!(reader.get(Table::Content, b"a").is_err());
        assert!(reader.get(Table::Content, b"b").is_ok());
        // Keys are read without their content: a store's removal does not
        // load every byte it removes.
        let mut keys = Vec::new();
        reader
            .scan_keys(
                Table::Content,
                Bound::Unbounded,
                Bound::Unbounded,
                &mut |key| {
                    keys.push(key.to_vec());
                    Ok(true)
                },
            )
            .unwrap();
        assert_eq!(keys, [b"a".to_vec(), b"b".to_vec()]);
        drop((reader, db));
        std::fs::write(&file, b"alpha").unwrap();
        let message = match StateDb::open(&path) {
            Ok(_) => panic!("a content file shorter than its state opened"),
            Err(error) => error.to_string(),
        };
        assert!(
            message.contains("holds 5 bytes; the state names 9"),
            "{message}"
        );
    }

    /// A state that kept content in its table (before the content file) is
    /// refused, not read as pointers.
    #[test]
    fn a_state_with_content_in_its_table_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        {
            let db = redb::Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(definition(Table::Content))
                .unwrap()
                .insert(&b"k"[..], &b"inline content"[..])
                .unwrap();
            txn.commit().unwrap();
        }
        let message = match StateDb::open(&path) {
            Ok(_) => panic!("an older layout was opened"),
            Err(error) => error.to_string(),
        };
        assert!(message.contains("an older build's layout"), "{message}");
    }

    /// A rewrite is due once enough content is dead; it copies the live
    /// content into the next generation and nothing is dead after it.
    #[test]
    fn a_rewrite_compacts_the_content_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join(STATE_FILE)).unwrap();
        let chunk = vec![7u8; 1024 * 1024];
        let rounds = crate::COMPACTION_DEAD_BYTES_MIN / chunk.len() as u64;
        db.write(|writer| writer.put(Table::Content, b"kept", b"small"))
            .unwrap();
        for round in 0..=rounds {
            assert!(!db.compaction_due(), "due after {round} rounds");
            db.write_unsynced(|writer| writer.put(Table::Content, b"churn", &chunk))
                .unwrap();
        }
        assert!(db.compaction_due());
        let digest = state_digest(&db.reader().unwrap()).unwrap();
        db.rewrite().unwrap();
        assert!(!db.compaction_due());
        let state = content_state(&db);
        let live = chunk.len() as u64 + 5;
        assert_eq!(
            (state.generation, state.end, state.live, state.dead),
            (1, live, live, 0)
        );
        assert_eq!(
            std::fs::metadata(dir.path().join(content_file_name(STATE_FILE, 1)))
                .unwrap()
                .len(),
            live
        );
        assert_eq!(state_digest(&db.reader().unwrap()).unwrap(), digest);
    }
}
