//! The storage seam: the state machine reads and writes named tables of
//! byte keys and byte values through these traits. `cairn-storage` maps them
//! onto redb tables; `MemoryKv` maps them onto `BTreeMap`s for tests.
//!
//! Keys are ordered bytewise; `scan` visits them in that order (or reversed).

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::StorageError;
use crate::hash::Fnv1a;

/// The state machine's tables. `docs/format.md` gives every key and value layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Singletons: format version, next store id, next organization id.
    Meta,
    /// organization id ‖ store name → `StoreInfo`.
    Stores,
    /// store id ‖ path → `FileRecord` (live files only).
    Files,
    /// store id ‖ path ‖ 0x00 ‖ revision → `VersionRecord` (every version, deletes included).
    Versions,
    /// store id ‖ path ‖ 0x00 ‖ revision → the version's content, raw UTF-8
    /// (versions that are deletes have no row).
    Content,
    /// log index → `audit::AuditRecord`: one event per applied command.
    Audit,
    /// idempotency key → `IdempotencyRecord`.
    Idempotency,
    /// organization id → `OrgInfo`.
    Orgs,
    /// organization name → organization id.
    OrgNames,
    /// organization id ‖ user name → `UserInfo`.
    Users,
    /// token id → `TokenInfo` (its SHA-256, never the token).
    Tokens,
    /// store id ‖ user name → `Access`.
    Grants,
    /// The audit trail's indexes: kind ‖ value ‖ log index → () (`audit::index`).
    AuditIndex,
    /// chain key → `audit::ChainHead`: where each audit chain ends.
    AuditChains,
    /// import id → `import::ImportState`: an import being staged (`import`).
    Imports,
    /// An imported store's audit events from the archive, verbatim
    /// (`import::imported_event_key`), and their revision index.
    ImportedAudit,
}

impl Table {
    /// Every table, in discriminant order: storage indexes its open tables by
    /// `table as usize`, and digests and snapshots visit tables in this order.
    pub const ALL: [Table; 16] = [
        Table::Meta,
        Table::Stores,
        Table::Files,
        Table::Versions,
        Table::Content,
        Table::Audit,
        Table::Idempotency,
        Table::Orgs,
        Table::OrgNames,
        Table::Users,
        Table::Tokens,
        Table::Grants,
        Table::AuditIndex,
        Table::AuditChains,
        Table::Imports,
        Table::ImportedAudit,
    ];

    /// The table's name on disk; never change one.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "sm_meta",
            Table::Stores => "sm_stores",
            Table::Files => "sm_files",
            Table::Versions => "sm_versions",
            Table::Content => "sm_content",
            Table::Audit => "sm_audit",
            Table::Idempotency => "sm_idempotency",
            Table::Orgs => "sm_orgs",
            Table::OrgNames => "sm_org_names",
            Table::Users => "sm_users",
            Table::Tokens => "sm_tokens",
            Table::Grants => "sm_grants",
            Table::AuditIndex => "sm_audit_index",
            Table::AuditChains => "sm_audit_chains",
            Table::Imports => "sm_imports",
            Table::ImportedAudit => "sm_imported_audit",
        }
    }
}

/// Whether a scan should go on after this entry.
pub type Visit<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<bool, StorageError>;

pub trait KvRead {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Visits the entries with keys in `(start, end)` in key order, or reversed,
    /// until `visit` returns `false`.
    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StorageError>;

    /// As `scan`, keys only: storage that keeps a table's values apart
    /// (content, in `cairn-storage`) does not read them.
    fn scan_keys(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8]) -> Result<bool, StorageError>,
    ) -> Result<(), StorageError> {
        self.scan(table, start, end, false, &mut |key, _| visit(key))
    }
}

pub trait KvWrite: KvRead {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StorageError>;
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<(), StorageError>;

    /// Puts `key` with an empty value, as `put` does. A writer may skip a
    /// key it has already put so in this transaction: the state is the same
    /// either way (the audit index's entry rows, one per entry and label,
    /// are put once per proposal). A key put this way is not `put` with
    /// another value in the same transaction.
    fn put_marker(&mut self, table: Table, key: &[u8]) -> Result<(), StorageError> {
        self.put(table, key, &[])
    }
}

/// The exclusive upper bound of every key that starts with `prefix`, or `None`
/// if there is none (the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Visits every entry whose key starts with `prefix`.
pub fn scan_prefix(
    kv: &(impl KvRead + ?Sized),
    table: Table,
    prefix: &[u8],
    reverse: bool,
    visit: Visit<'_>,
) -> Result<(), StorageError> {
    let end = prefix_end(prefix);
    kv.scan(
        table,
        Bound::Included(prefix),
        end_bound(&end),
        reverse,
        visit,
    )
}

/// The upper bound `prefix_end` gave, as a scan takes it.
fn end_bound(end: &Option<Vec<u8>>) -> Bound<&[u8]> {
    match end {
        Some(end) => Bound::Excluded(end.as_slice()),
        None => Bound::Unbounded,
    }
}

/// Keys `delete_prefix` holds at a time.
const DELETE_KEYS_PER_STEP: usize = 4096;

/// Deletes every entry of `table` whose key starts with `prefix`, reading
/// only their keys, `DELETE_KEYS_PER_STEP` at a time: a store of a million
/// files held every key of a table in memory at once.
pub fn delete_prefix(
    kv: &mut (impl KvWrite + ?Sized),
    table: Table,
    prefix: &[u8],
) -> Result<(), StorageError> {
    delete_prefix_each(kv, table, prefix, |_, _| Ok(()))
}

/// `delete_prefix`, calling `each` with every key deleted (after it is).
pub fn delete_prefix_each<K: KvWrite + ?Sized>(
    kv: &mut K,
    table: Table,
    prefix: &[u8],
    mut each: impl FnMut(&mut K, &[u8]) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let end = prefix_end(prefix);
    let mut keys = Vec::with_capacity(DELETE_KEYS_PER_STEP);
    loop {
        // The keys deleted before are gone: each step starts at the prefix.
        kv.scan_keys(
            table,
            Bound::Included(prefix),
            end_bound(&end),
            &mut |key| {
                keys.push(key.to_vec());
                Ok(keys.len() < DELETE_KEYS_PER_STEP)
            },
        )?;
        let last_step = keys.len() < DELETE_KEYS_PER_STEP;
        for key in keys.drain(..) {
            kv.delete(table, &key)?;
            each(kv, &key)?;
        }
        if last_step {
            return Ok(());
        }
    }
}

/// An in-memory `KvWrite` for tests and for checking determinism.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryKv {
    pub tables: BTreeMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl KvRead for MemoryKv {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.tables.get(&table).and_then(|t| t.get(key)).cloned())
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StorageError> {
        let Some(entries) = self.tables.get(&table) else {
            return Ok(());
        };
        let range = entries.range::<[u8], _>((start, end));
        if reverse {
            for (key, value) in range.rev() {
                if !visit(key, value)? {
                    break;
                }
            }
        } else {
            for (key, value) in range {
                if !visit(key, value)? {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl KvWrite for MemoryKv {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.tables
            .entry(table)
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<(), StorageError> {
        if let Some(entries) = self.tables.get_mut(&table) {
            entries.remove(key);
        }
        Ok(())
    }
}

/// A 64-bit FNV-1a digest of every table, in table and key order. Two replicas
/// that applied the same log have the same digest. Not a security hash.
pub fn state_digest(kv: &(impl KvRead + ?Sized)) -> Result<u64, StorageError> {
    let mut hash = Fnv1a::new();
    // Each piece is prefixed by its length so that different splits of the
    // same bytes into keys and values digest differently.
    let mut feed = |bytes: &[u8]| {
        hash.feed(&(bytes.len() as u64).to_be_bytes());
        hash.feed(bytes);
    };
    for table in Table::ALL {
        feed(table.name().as_bytes());
        kv.scan(
            table,
            Bound::Unbounded,
            Bound::Unbounded,
            false,
            &mut |key, value| {
                feed(key);
                feed(value);
                Ok(true)
            },
        )?;
    }
    Ok(hash.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_tables_are_listed_in_discriminant_order_with_distinct_names() {
        let mut names = std::collections::BTreeSet::new();
        for (index, table) in Table::ALL.iter().enumerate() {
            assert_eq!(*table as usize, index, "{table:?}");
            assert!(names.insert(table.name()), "{} twice", table.name());
        }
    }

    #[test]
    fn the_digest_covers_every_table() {
        let empty = state_digest(&MemoryKv::default()).unwrap();
        for table in Table::ALL {
            let mut kv = MemoryKv::default();
            kv.put(table, b"k", b"v").unwrap();
            assert_ne!(state_digest(&kv).unwrap(), empty, "{table:?}");
        }
    }

    #[test]
    fn delete_prefix_deletes_the_prefix_in_steps_and_nothing_else() {
        let mut kv = MemoryKv::default();
        let count = DELETE_KEYS_PER_STEP * 2 + 7;
        for index in 0..count {
            kv.put(Table::Files, format!("p/{index:06}").as_bytes(), b"")
                .unwrap();
        }
        for key in [&b"p"[..], b"o/1", b"q/1", b"p\xff"] {
            kv.put(Table::Files, key, b"kept").unwrap();
        }
        kv.put(Table::Versions, b"p/000001", b"other table")
            .unwrap();
        delete_prefix(&mut kv, Table::Files, b"p/").unwrap();
        let mut left = Vec::new();
        kv.scan_keys(
            Table::Files,
            Bound::Unbounded,
            Bound::Unbounded,
            &mut |key| {
                left.push(key.to_vec());
                Ok(true)
            },
        )
        .unwrap();
        assert_eq!(
            left,
            vec![
                b"o/1".to_vec(),
                b"p".to_vec(),
                b"p\xff".to_vec(),
                b"q/1".to_vec()
            ]
        );
        assert!(kv.get(Table::Versions, b"p/000001").unwrap().is_some());
    }

    #[test]
    fn prefix_end_handles_carries() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn scan_prefix_visits_only_the_prefix_in_both_directions() {
        let mut kv = MemoryKv::default();
        for key in [&b"a"[..], b"ab", b"abc", b"b", b"a\xff"] {
            kv.put(Table::Files, key, b"").unwrap();
        }
        let mut seen = Vec::new();
        scan_prefix(&kv, Table::Files, b"a", false, &mut |k, _| {
            seen.push(k.to_vec());
            Ok(true)
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                b"a".to_vec(),
                b"ab".to_vec(),
                b"abc".to_vec(),
                b"a\xff".to_vec()
            ]
        );
        seen.clear();
        scan_prefix(&kv, Table::Files, b"ab", true, &mut |k, _| {
            seen.push(k.to_vec());
            Ok(true)
        })
        .unwrap();
        assert_eq!(seen, vec![b"abc".to_vec(), b"ab".to_vec()]);
    }
}
