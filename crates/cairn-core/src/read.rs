//! Reads over the state machine's tables. The caller decides how fresh the
//! tables must be (read index or local replica); these functions only look.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::apply::load_store;
use crate::codec::{self, AuditRecord, FileRecord, VersionRecord};
use crate::command::{OpKind, StoreInfo};
use crate::error::{CoreError, ReadError, Resource, StorageError};
use crate::kv::{self, KvRead, Table, scan_prefix};
use crate::path::{DirPath, FilePath, StoreName};

/// Which state of a file or directory to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum At {
    #[default]
    Current,
    /// The file's version `V` (a revision at which it changed).
    Version(u64),
    /// The state as of store revision `R`.
    Revision(u64),
}

/// A file's metadata (what `stat` and response headers show).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    pub path: String,
    /// The revision that last changed the file, as of the requested point.
    pub version: u64,
    pub bytes: u64,
    /// The store's current revision when the read was served.
    pub store_revision: u64,
    pub op: OpKind,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileContent {
    pub meta: FileMeta,
    pub content: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub store: String,
    pub dir: String,
    /// The revision the listing shows.
    pub revision: u64,
    /// Files and directories under `dir` down to the requested depth, in path order.
    pub entries: Vec<ListEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub path: String,
    pub version: u64,
    pub op: OpKind,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// `None` for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Present when the history was asked for with content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub path: String,
    /// Newest first.
    pub versions: Vec<VersionInfo>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub store: String,
    /// Oldest first.
    pub records: Vec<AuditRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// How to list a directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `None` lists the whole subtree; `Some(1)` only direct children.
    pub depth: Option<u64>,
    /// `None` lists the current state; `Some(R)` the state as of revision `R`.
    pub revision: Option<u64>,
}

pub fn list_stores(kv: &impl KvRead) -> Result<Vec<StoreInfo>, ReadError> {
    let mut stores = Vec::new();
    kv.scan(
        Table::Stores,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |_, value| {
            stores.push(codec::decode(value)?);
            Ok(true)
        },
    )?;
    Ok(stores)
}

pub fn get_store(kv: &impl KvRead, store: &StoreName) -> Result<StoreInfo, ReadError> {
    Ok(load_store(kv, store)?
        .ok_or_else(|| CoreError::not_found(Resource::Store, store.as_str()))?)
}

fn version_record(
    kv: &impl KvRead,
    store_id: u64,
    path: &str,
    version: u64,
) -> Result<Option<VersionRecord>, StorageError> {
    kv.get(
        Table::Versions,
        &codec::version_key(store_id, path, version),
    )?
    .map(|bytes| codec::decode(&bytes))
    .transpose()
}

/// The newest version record of `path` at or before `revision`.
fn version_as_of(
    kv: &impl KvRead,
    store_id: u64,
    path: &str,
    revision: u64,
) -> Result<Option<VersionRecord>, StorageError> {
    let start = codec::versions_prefix(store_id, path);
    let end = codec::version_key(store_id, path, revision);
    let mut found = None;
    kv.scan(
        Table::Versions,
        Bound::Included(&start),
        Bound::Included(&end),
        true,
        &mut |_, value| {
            found = Some(codec::decode(value)?);
            Ok(false)
        },
    )?;
    Ok(found)
}

fn check_revision(store: &StoreInfo, revision: u64) -> Result<(), CoreError> {
    if revision > store.revision {
        return Err(CoreError::invalid_request(format!(
            "revision {revision} is in the future: store {:?} is at revision {}",
            store.name, store.revision
        )));
    }
    Ok(())
}

/// The live version record of `path` at `at`, or `not_found`.
fn file_version(
    kv: &impl KvRead,
    store: &StoreInfo,
    path: &FilePath,
    at: At,
) -> Result<VersionRecord, ReadError> {
    let missing = || CoreError::not_found(Resource::File, path.as_str());
    let record = match at {
        At::Current => {
            let Some(bytes) = kv.get(Table::Files, &codec::file_key(store.id, path.as_str()))?
            else {
                return Err(missing().into());
            };
            let file: FileRecord = codec::decode(&bytes)?;
            version_record(kv, store.id, path.as_str(), file.version)?.ok_or_else(|| {
                StorageError::corrupt(format!("live file {path} has no version {}", file.version))
            })?
        }
        At::Version(version) => version_record(kv, store.id, path.as_str(), version)?
            .ok_or_else(|| CoreError::not_found(Resource::Version, format!("{path}@{version}")))?,
        At::Revision(revision) => {
            check_revision(store, revision)?;
            version_as_of(kv, store.id, path.as_str(), revision)?.ok_or_else(missing)?
        }
    };
    if record.content.is_none() {
        // The version is a delete: at that point the file did not exist.
        return Err(match at {
            At::Version(version) => {
                CoreError::not_found(Resource::Version, format!("{path}@{version} (a delete)"))
            }
            _ => missing(),
        }
        .into());
    }
    Ok(record)
}

fn file_meta(path: &FilePath, store: &StoreInfo, record: &VersionRecord) -> FileMeta {
    FileMeta {
        path: path.to_string(),
        version: record.revision,
        bytes: record
            .content
            .as_ref()
            .map_or(0, |content| content.len() as u64),
        store_revision: store.revision,
        op: record.op,
        time_ms: record.time_ms,
        agent: record.agent.clone(),
        session: record.session.clone(),
    }
}

pub fn read_file(
    kv: &impl KvRead,
    store: &StoreName,
    path: &FilePath,
    at: At,
) -> Result<FileContent, ReadError> {
    let info = get_store(kv, store)?;
    let record = file_version(kv, &info, path, at)?;
    let meta = file_meta(path, &info, &record);
    Ok(FileContent {
        meta,
        content: record.content.unwrap_or_default(),
    })
}

pub fn stat(
    kv: &impl KvRead,
    store: &StoreName,
    path: &FilePath,
    at: At,
) -> Result<FileMeta, ReadError> {
    let info = get_store(kv, store)?;
    let record = file_version(kv, &info, path, at)?;
    Ok(file_meta(path, &info, &record))
}

pub fn list(
    kv: &impl KvRead,
    store: &StoreName,
    dir: &DirPath,
    options: ListOptions,
) -> Result<Listing, ReadError> {
    let info = get_store(kv, store)?;
    let prefix = dir.prefix();
    // (path, version, bytes) of every live file under the directory.
    let mut files: Vec<(String, u64, u64)> = Vec::new();
    match options.revision {
        None => scan_prefix(
            kv,
            Table::Files,
            &codec::file_key(info.id, &prefix),
            false,
            &mut |key, value| {
                let record: FileRecord = codec::decode(value)?;
                files.push((
                    codec::file_key_path(key)?.to_string(),
                    record.version,
                    record.bytes,
                ));
                Ok(true)
            },
        )?,
        Some(revision) => {
            check_revision(&info, revision)?;
            // Versions sort by path, then revision: the last one at or before
            // `revision` of each path tells whether it was live then.
            let mut current: Option<(String, Option<(u64, u64)>)> = None;
            scan_prefix(
                kv,
                Table::Versions,
                &codec::file_key(info.id, &prefix),
                false,
                &mut |key, value| {
                    let (path, version) = codec::version_key_parts(key)?;
                    if current.as_ref().is_none_or(|(seen, _)| seen != path) {
                        if let Some((seen, Some((version, bytes)))) = current.take() {
                            files.push((seen, version, bytes));
                        }
                        current = Some((path.to_string(), None));
                    }
                    if version <= revision {
                        let record: VersionRecord = codec::decode(value)?;
                        let live = record
                            .content
                            .map(|content| (version, content.len() as u64));
                        if let Some((_, state)) = current.as_mut() {
                            *state = live;
                        }
                    }
                    Ok(true)
                },
            )?;
            if let Some((seen, Some((version, bytes)))) = current {
                files.push((seen, version, bytes));
            }
        }
    }

    if let (true, Some(path)) = (files.is_empty(), dir.as_file()) {
        // Not a directory; perhaps a file, which lists as itself.
        let at = options.revision.map_or(At::Current, At::Revision);
        let record = file_version(kv, &info, &path, at)?;
        let meta = file_meta(&path, &info, &record);
        return Ok(Listing {
            store: store.to_string(),
            dir: dir.to_string(),
            revision: options.revision.unwrap_or(info.revision),
            entries: vec![ListEntry {
                path: meta.path,
                kind: EntryKind::File,
                version: Some(meta.version),
                bytes: Some(meta.bytes),
            }],
        });
    }

    let base_depth = dir.depth();
    let mut entries: BTreeMap<String, ListEntry> = BTreeMap::new();
    for (path, version, bytes) in files {
        let depth = path.matches('/').count() as u64 - base_depth;
        // Every directory between `dir` and the file, within the depth asked for.
        for (index, _) in path.match_indices('/').skip(base_depth as usize + 1) {
            let dir_depth = path[..index].matches('/').count() as u64 - base_depth;
            if options.depth.is_some_and(|max| dir_depth > max) {
                break;
            }
            entries
                .entry(path[..index].to_string())
                .or_insert_with(|| ListEntry {
                    path: path[..index].to_string(),
                    kind: EntryKind::Dir,
                    version: None,
                    bytes: None,
                });
        }
        if options.depth.is_none_or(|max| depth <= max) {
            entries.insert(
                path.clone(),
                ListEntry {
                    path,
                    kind: EntryKind::File,
                    version: Some(version),
                    bytes: Some(bytes),
                },
            );
        }
    }
    Ok(Listing {
        store: store.to_string(),
        dir: dir.to_string(),
        revision: options.revision.unwrap_or(info.revision),
        entries: entries.into_values().collect(),
    })
}

fn version_info(path: &str, record: VersionRecord, with_content: bool) -> VersionInfo {
    VersionInfo {
        path: path.to_string(),
        version: record.revision,
        op: record.op,
        time_ms: record.time_ms,
        agent: record.agent,
        session: record.session,
        bytes: record.content.as_ref().map(|content| content.len() as u64),
        content: if with_content { record.content } else { None },
        renamed_from: record.renamed_from,
        renamed_to: record.renamed_to,
    }
}

/// Versions of one path, newest first, older than `before` if given.
pub fn history(
    kv: &impl KvRead,
    store: &StoreName,
    path: &FilePath,
    before: Option<u64>,
    limit: u64,
    with_content: bool,
) -> Result<HistoryPage, ReadError> {
    let info = get_store(kv, store)?;
    let start = codec::versions_prefix(info.id, path.as_str());
    let end = match before {
        Some(before) => codec::version_key(info.id, path.as_str(), before),
        None => kv::prefix_end(&start).unwrap_or_default(),
    };
    let mut versions = Vec::new();
    let mut next_before = None;
    kv.scan(
        Table::Versions,
        Bound::Included(&start),
        Bound::Excluded(&end),
        true,
        &mut |_, value| {
            let record: VersionRecord = codec::decode(value)?;
            if versions.len() as u64 >= limit.max(1) {
                next_before = versions.last().map(|last: &VersionInfo| last.version);
                return Ok(false);
            }
            versions.push(version_info(path.as_str(), record, with_content));
            Ok(true)
        },
    )?;
    if versions.is_empty() && before.is_none() {
        return Err(CoreError::not_found(Resource::File, path.as_str()).into());
    }
    Ok(HistoryPage {
        path: path.to_string(),
        versions,
        next_before,
    })
}

/// A unified diff from version `from` to version `to` of one path. A version
/// that is a delete diffs as empty text.
pub fn diff(
    kv: &impl KvRead,
    store: &StoreName,
    path: &FilePath,
    from: u64,
    to: u64,
) -> Result<String, ReadError> {
    let info = get_store(kv, store)?;
    let content = |version: u64| -> Result<String, ReadError> {
        let record = version_record(kv, info.id, path.as_str(), version)?
            .ok_or_else(|| CoreError::not_found(Resource::Version, format!("{path}@{version}")))?;
        Ok(record.content.unwrap_or_default())
    };
    let (old, new) = (content(from)?, content(to)?);
    let diff = similar::TextDiff::from_lines(&old, &new);
    Ok(diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path}@{from}"), &format!("{path}@{to}"))
        .to_string())
}

/// The store's audit log, oldest first, after revision `after` if given.
pub fn audit(
    kv: &impl KvRead,
    store: &StoreName,
    after: Option<u64>,
    limit: u64,
) -> Result<AuditPage, ReadError> {
    let info = get_store(kv, store)?;
    let start = codec::audit_key(info.id, after.map_or(0, |after| after.saturating_add(1)));
    let end = codec::audit_key(info.id, u64::MAX);
    let mut records: Vec<AuditRecord> = Vec::new();
    let mut next_after = None;
    kv.scan(
        Table::Audit,
        Bound::Included(&start),
        Bound::Included(&end),
        false,
        &mut |_, value| {
            if records.len() as u64 >= limit.max(1) {
                next_after = records.last().map(|last| last.revision);
                return Ok(false);
            }
            records.push(codec::decode(value)?);
            Ok(true)
        },
    )?;
    Ok(AuditPage {
        store: store.to_string(),
        records,
        next_after,
    })
}
