//! Memories: a file's lineage across renames, read from its version history.
//!
//! The Managed Agents memory-store API names a memory by an id that stays the
//! same when the memory is renamed. Cairn keeps no id per file; instead a
//! memory is named by where its lineage began — the path and store revision of
//! the version that created it — and this module follows the history from
//! there: a rename leaves a delete at the old path that names the new one
//! (`renamed_to`), and a version at the new path that names the old one
//! (`renamed_from`), both at the rename's revision. Deleting the file ends
//! the lineage; writing the path again starts a new one (a new memory).

use super::RedactionInfo;
use super::file::version_content;
use crate::auth;
use crate::codec::{self, VersionRecord};
use crate::command::OpKind;
use crate::error::StorageError;
use crate::kv::{KvRead, Table, scan_prefix};

/// Where a memory is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemoryHead {
    /// Live at `path`, whose current version is `version`.
    Live { path: String, version: u64 },
    /// Deleted at `path` at `revision`.
    Deleted { path: String, revision: u64 },
}

/// What kind of change one memory version records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryOperation {
    Created,
    Modified,
    Deleted,
}

/// One version of a memory, as the memory-store API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryVersion {
    /// The path as of this version (for a delete, the path deleted).
    pub path: String,
    pub revision: u64,
    pub operation: MemoryOperation,
    /// Where the memory's lineage began: its id.
    pub origin: (String, u64),
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// `None` for a delete.
    pub bytes: Option<u64>,
    /// SHA-256 of the content; `None` for a delete or a whole redaction.
    pub sha256: Option<[u8; 32]>,
    /// Present when asked for, and not for a delete or a whole redaction.
    pub content: Option<String>,
    pub redaction: Option<RedactionInfo>,
}

/// Every version record of one path, oldest first.
fn path_versions(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
) -> Result<Vec<VersionRecord>, StorageError> {
    let mut records = Vec::new();
    let prefix = codec::versions_prefix(store_id, path);
    scan_prefix(kv, Table::Versions, &prefix, false, &mut |key, value| {
        let (_, revision) = codec::version_key_parts(key)?;
        let record: VersionRecord = codec::decode(value)?;
        if record.revision != revision {
            return Err(StorageError::corrupt(format!(
                "version key {path}@{revision} holds revision {}",
                record.revision
            )));
        }
        records.push(record);
        Ok(true)
    })?;
    Ok(records)
}

fn is_delete(record: &VersionRecord) -> bool {
    record.bytes.is_none()
}

/// Whether the version at `index` of a path's history starts a lineage there
/// without coming from another path: a write after nothing or after a delete.
fn starts_lineage(records: &[VersionRecord], index: usize) -> bool {
    let record = &records[index];
    !is_delete(record)
        && record.renamed_from.is_none()
        && (index == 0 || is_delete(&records[index - 1]))
}

/// Where the memory whose lineage began at (`path`, `revision`) is now, or
/// `None` when no lineage began there.
pub fn memory_head(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    revision: u64,
) -> Result<Option<MemoryHead>, StorageError> {
    let records = path_versions(kv, store_id, path)?;
    let Some(start) = records.iter().position(|r| r.revision == revision) else {
        return Ok(None);
    };
    if !starts_lineage(&records, start) {
        return Ok(None);
    }
    follow(kv, store_id, path.to_string(), records, start)
}

/// Follows a lineage from `records[start]` (a live version at `path`) to its end.
fn follow(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    mut path: String,
    mut records: Vec<VersionRecord>,
    mut start: usize,
) -> Result<Option<MemoryHead>, StorageError> {
    // Each hop moves to a later revision, so the walk ends; the bound only
    // guards against a corrupt history that would loop.
    for _ in 0..1_000_000 {
        let mut head = records[start].revision;
        let mut moved = None;
        for record in &records[start + 1..] {
            if is_delete(record) {
                match &record.renamed_to {
                    Some(to) => moved = Some((to.clone(), record.revision)),
                    None => {
                        return Ok(Some(MemoryHead::Deleted {
                            path,
                            revision: record.revision,
                        }));
                    }
                }
                break;
            }
            if record.renamed_from.is_some() {
                // Another file was renamed over this one: this lineage ended.
                return Ok(Some(MemoryHead::Deleted {
                    path,
                    revision: record.revision,
                }));
            }
            head = record.revision;
        }
        let Some((to, revision)) = moved else {
            return Ok(Some(MemoryHead::Live {
                path,
                version: head,
            }));
        };
        records = path_versions(kv, store_id, &to)?;
        start = records
            .iter()
            .position(|r| r.revision == revision && !is_delete(r))
            .ok_or_else(|| {
                StorageError::corrupt(format!("rename to {to}@{revision} has no version there"))
            })?;
        path = to;
    }
    Err(StorageError::corrupt("a memory's lineage does not end"))
}

/// Where the lineage holding the version (`path`, `revision`) began, or `None`
/// when there is no such version (or it is the hidden half of a rename).
pub fn memory_origin(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    revision: u64,
) -> Result<Option<(String, u64)>, StorageError> {
    let mut path = path.to_string();
    let mut records = path_versions(kv, store_id, &path)?;
    let Some(mut index) = records.iter().position(|r| r.revision == revision) else {
        return Ok(None);
    };
    if is_delete(&records[index]) {
        if records[index].renamed_to.is_some() || index == 0 {
            return Ok(None);
        }
        index -= 1;
    }
    for _ in 0..1_000_000 {
        while index > 0 && !is_delete(&records[index - 1]) && records[index].renamed_from.is_none()
        {
            index -= 1;
        }
        let Some(from) = records[index].renamed_from.clone() else {
            return Ok(Some((path, records[index].revision)));
        };
        let at = records[index].revision;
        records = path_versions(kv, store_id, &from)?;
        // The delete the rename left at `from`, then the version before it.
        let delete = records
            .iter()
            .position(|r| r.revision == at && is_delete(r))
            .ok_or_else(|| {
                StorageError::corrupt(format!("rename from {from}@{at} left no delete there"))
            })?;
        if delete == 0 {
            return Err(StorageError::corrupt(format!(
                "rename from {from}@{at} with no version before it"
            )));
        }
        index = delete - 1;
        path = from;
    }
    Err(StorageError::corrupt("a memory's lineage does not begin"))
}

/// One version of a memory, or `None` when (`path`, `revision`) is no memory
/// version (absent, or the delete half of a rename).
pub fn memory_version(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    revision: u64,
    with_content: bool,
) -> Result<Option<MemoryVersion>, StorageError> {
    let records = path_versions(kv, store_id, path)?;
    let Some(index) = records.iter().position(|r| r.revision == revision) else {
        return Ok(None);
    };
    let record = &records[index];
    if is_delete(record) && record.renamed_to.is_some() {
        return Ok(None);
    }
    let Some(origin) = memory_origin(kv, store_id, path, revision)? else {
        return Ok(None);
    };
    let operation = if is_delete(record) {
        MemoryOperation::Deleted
    } else if starts_lineage(&records, index) {
        MemoryOperation::Created
    } else {
        MemoryOperation::Modified
    };
    let whole_redacted = record.redaction.as_ref().is_some_and(|mark| mark.whole);
    let (sha256, content) = match (is_delete(record), whole_redacted) {
        (false, false) => {
            let content = version_content(kv, store_id, path, record)?;
            (
                Some(auth::sha256(content.as_bytes())),
                with_content.then_some(content),
            )
        }
        _ => (None, None),
    };
    Ok(Some(MemoryVersion {
        path: path.to_string(),
        revision,
        operation,
        origin,
        time_ms: record.time_ms,
        agent: record.agent.clone(),
        session: record.session.clone(),
        bytes: record.bytes,
        sha256,
        content,
        redaction: record.redaction.as_ref().map(Into::into),
    }))
}

/// Every (path, revision) of the store's history that is a memory version,
/// newest first (then by path), excluding paths `hidden` rejects.
pub fn store_memory_versions(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    hidden: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, u64)>, StorageError> {
    let mut found = Vec::new();
    let prefix = codec::store_prefix(store_id);
    scan_prefix(kv, Table::Versions, &prefix, false, &mut |key, value| {
        let (path, revision) = codec::version_key_parts(key)?;
        if hidden(path) {
            return Ok(true);
        }
        let record: VersionRecord = codec::decode(value)?;
        let rename_half = is_delete(&record) && record.renamed_to.is_some();
        if !rename_half && record.op != OpKind::DeleteStore {
            found.push((path.to_string(), revision));
        }
        Ok(true)
    })?;
    found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvWrite;
    use crate::kv::MemoryKv;

    fn put(kv: &mut MemoryKv, path: &str, revision: u64, content: Option<&str>) -> VersionRecord {
        let record = VersionRecord {
            revision,
            op: if content.is_some() {
                OpKind::Write
            } else {
                OpKind::Delete
            },
            bytes: content.map(|c| c.len() as u64),
            time_ms: revision,
            agent: String::new(),
            session: String::new(),
            renamed_from: None,
            renamed_to: None,
            redaction: None,
        };
        save(kv, path, &record, content);
        record
    }

    fn save(kv: &mut MemoryKv, path: &str, record: &VersionRecord, content: Option<&str>) {
        kv.put(
            Table::Versions,
            &codec::version_key(1, path, record.revision),
            &codec::encode(record),
        )
        .unwrap();
        if let Some(content) = content {
            kv.put(
                Table::Content,
                &codec::content_key(1, path, record.revision),
                content.as_bytes(),
            )
            .unwrap();
        }
    }

    fn rename(kv: &mut MemoryKv, from: &str, to: &str, revision: u64, content: &str) {
        let mut delete = put(kv, from, revision, None);
        delete.renamed_to = Some(to.into());
        save(kv, from, &delete, None);
        let mut arrive = put(kv, to, revision, Some(content));
        arrive.op = OpKind::Rename;
        arrive.renamed_from = Some(from.into());
        save(kv, to, &arrive, Some(content));
    }

    /// A memory keeps its origin through renames and edits; a path written
    /// again after a delete is a new memory.
    #[test]
    fn lineages_survive_renames_and_end_at_deletes() {
        let mut kv = MemoryKv::default();
        put(&mut kv, "/a", 1, Some("one"));
        put(&mut kv, "/a", 2, Some("two"));
        rename(&mut kv, "/a", "/b", 3, "two");
        put(&mut kv, "/a", 4, Some("new"));
        put(&mut kv, "/b", 5, Some("three"));
        rename(&mut kv, "/b", "/c", 6, "three");

        let head = memory_head(&kv, 1, "/a", 1).unwrap();
        assert_eq!(
            head,
            Some(MemoryHead::Live {
                path: "/c".into(),
                version: 6
            })
        );
        assert_eq!(
            memory_head(&kv, 1, "/a", 4).unwrap(),
            Some(MemoryHead::Live {
                path: "/a".into(),
                version: 4
            })
        );
        // Not a lineage start: a modification, a rename's arrival.
        assert_eq!(memory_head(&kv, 1, "/a", 2).unwrap(), None);
        assert_eq!(memory_head(&kv, 1, "/b", 3).unwrap(), None);

        for (path, revision) in [("/c", 6), ("/b", 5), ("/b", 3), ("/a", 2), ("/a", 1)] {
            assert_eq!(
                memory_origin(&kv, 1, path, revision).unwrap(),
                Some(("/a".to_string(), 1)),
                "{path}@{revision}"
            );
        }
        assert_eq!(
            memory_origin(&kv, 1, "/a", 4).unwrap(),
            Some(("/a".to_string(), 4))
        );
        // The delete half of a rename is no memory version.
        assert_eq!(memory_origin(&kv, 1, "/a", 3).unwrap(), None);
        assert!(memory_version(&kv, 1, "/b", 6, false).unwrap().is_none());

        put(&mut kv, "/c", 7, None);
        assert_eq!(
            memory_head(&kv, 1, "/a", 1).unwrap(),
            Some(MemoryHead::Deleted {
                path: "/c".into(),
                revision: 7
            })
        );
        let deleted = memory_version(&kv, 1, "/c", 7, true).unwrap().unwrap();
        assert_eq!(deleted.operation, MemoryOperation::Deleted);
        assert_eq!(deleted.origin, ("/a".to_string(), 1));
        assert_eq!(deleted.sha256, None);
        let created = memory_version(&kv, 1, "/a", 1, true).unwrap().unwrap();
        assert_eq!(created.operation, MemoryOperation::Created);
        assert_eq!(created.content.as_deref(), Some("one"));
        assert_eq!(created.sha256, Some(auth::sha256(b"one")));
        let moved = memory_version(&kv, 1, "/b", 3, false).unwrap().unwrap();
        assert_eq!(moved.operation, MemoryOperation::Modified);
        assert_eq!(moved.content, None);

        let all = store_memory_versions(&kv, 1, &|_| false).unwrap();
        assert_eq!(
            all,
            vec![
                ("/c".to_string(), 7),
                ("/c".to_string(), 6),
                ("/b".to_string(), 5),
                ("/a".to_string(), 4),
                ("/b".to_string(), 3),
                ("/a".to_string(), 2),
                ("/a".to_string(), 1),
            ]
        );
    }
}
