//! Listing a directory: the live files under it now (from `Files`) or as of
//! a revision (from `Versions`), folded into file and directory entries.

use std::collections::BTreeMap;

use super::file::{check_key_matches, file_meta, file_version};
use super::{At, EntryKind, ListEntry, ListOptions, Listing, check_revision, get_store};
use crate::codec::{self, FileRecord, VersionRecord};
use crate::command::StoreInfo;
use crate::error::{ReadError, StorageError};
use crate::governance::StoreRef;
use crate::kv::{KvRead, Table, scan_prefix};
use crate::path::{DirPath, FilePath};

/// A file that was live at the listed point.
pub(super) struct LiveFile {
    pub(super) path: String,
    pub(super) version: u64,
    pub(super) bytes: u64,
}

pub fn list(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    dir: &DirPath,
    options: ListOptions,
) -> Result<Listing, ReadError> {
    let info = get_store(kv, store)?;
    let prefix = dir.prefix();
    let files = match options.revision {
        None => live_files_now(kv, info.id, &prefix)?,
        Some(revision) => {
            check_revision(&info, revision)?;
            live_files_as_of(kv, info.id, &prefix, revision)?
        }
    };
    let entries = match (files.is_empty(), dir.as_file()) {
        // Not a directory; perhaps a file, which lists as itself.
        (true, Some(path)) => vec![single_file(kv, &info, &path, options.revision)?],
        _ => fold_into_entries(files, dir.depth(), options.depth),
    };
    Ok(Listing {
        store: store.to_string(),
        dir: dir.to_string(),
        revision: options.revision.unwrap_or(info.revision),
        entries,
    })
}

fn live_files_now(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    prefix: &str,
) -> Result<Vec<LiveFile>, StorageError> {
    let mut files = Vec::new();
    scan_prefix(
        kv,
        Table::Files,
        &codec::file_key(store_id, prefix),
        false,
        &mut |key, value| {
            let record: FileRecord = codec::decode(value)?;
            files.push(LiveFile {
                path: codec::file_key_path(key)?.to_string(),
                version: record.version,
                bytes: record.bytes,
            });
            Ok(true)
        },
    )?;
    Ok(files)
}

/// Versions sort by path, then revision: the last one at or before
/// `revision` of each path tells whether it was live then. Only version
/// records are decoded, never content.
pub(super) fn live_files_as_of(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    prefix: &str,
    revision: u64,
) -> Result<Vec<LiveFile>, StorageError> {
    let mut files = Vec::new();
    // The path being scanned and, if it was live at `revision`, its (version, bytes).
    let mut current: Option<(String, Option<(u64, u64)>)> = None;
    let mut finish = |current: Option<(String, Option<(u64, u64)>)>| {
        if let Some((path, Some((version, bytes)))) = current {
            files.push(LiveFile {
                path,
                version,
                bytes,
            });
        }
    };
    scan_prefix(
        kv,
        Table::Versions,
        &codec::file_key(store_id, prefix),
        false,
        &mut |key, value| {
            let (path, version) = codec::version_key_parts(key)?;
            if current.as_ref().is_none_or(|(seen, _)| seen != path) {
                finish(current.take());
                current = Some((path.to_string(), None));
            }
            if version <= revision {
                let record: VersionRecord = codec::decode(value)?;
                check_key_matches(path, version, &record)?;
                if let Some((_, state)) = current.as_mut() {
                    *state = record.bytes.map(|bytes| (version, bytes));
                }
            }
            Ok(true)
        },
    )?;
    finish(current);
    Ok(files)
}

/// A file path listed as itself.
fn single_file(
    kv: &(impl KvRead + ?Sized),
    info: &StoreInfo,
    path: &FilePath,
    revision: Option<u64>,
) -> Result<ListEntry, ReadError> {
    let at = revision.map_or(At::Current, At::Revision);
    let record = file_version(kv, info, path, at)?;
    let meta = file_meta(path, info, &record);
    Ok(ListEntry {
        path: meta.path,
        kind: EntryKind::File,
        version: Some(meta.version),
        bytes: Some(meta.bytes),
    })
}

/// Files and the directories between `dir` (at `base_depth`) and them, down
/// to `depth_max` levels below `dir`, in path order.
fn fold_into_entries(
    files: Vec<LiveFile>,
    base_depth: u64,
    depth_max: Option<u64>,
) -> Vec<ListEntry> {
    let mut entries: BTreeMap<String, ListEntry> = BTreeMap::new();
    // Directory depths stay below `path_depth_max`, so they fit in usize.
    let skip = usize::try_from(base_depth).unwrap_or(usize::MAX);
    for file in files {
        let path = file.path;
        debug_assert!(path.matches('/').count() as u64 > base_depth);
        let depth = path.matches('/').count() as u64 - base_depth;
        // Every directory between `dir` and the file, within the depth asked for.
        for (index, _) in path.match_indices('/').skip(skip + 1) {
            let dir_depth = path[..index].matches('/').count() as u64 - base_depth;
            if depth_max.is_some_and(|max| dir_depth > max) {
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
        if depth_max.is_none_or(|max| depth <= max) {
            entries.insert(
                path.clone(),
                ListEntry {
                    path,
                    kind: EntryKind::File,
                    version: Some(file.version),
                    bytes: Some(file.bytes),
                },
            );
        }
    }
    entries.into_values().collect()
}
