//! One file: its content and metadata at a point (now, a version, a revision).

use std::ops::Bound;

use super::{At, FileContent, FileMeta, check_revision, get_store};
use crate::codec::{self, FileRecord, VersionRecord};
use crate::command::StoreInfo;
use crate::error::{CoreError, ReadError, Resource, StorageError};
use crate::governance::StoreRef;
use crate::kv::{KvRead, Table};
use crate::path::FilePath;

pub fn read_file(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    path: &FilePath,
    at: At,
) -> Result<FileContent, ReadError> {
    read_file_in(kv, &get_store(kv, store)?, path, at)
}

/// `read_file` in a store whose record the caller loaded already (the
/// service's authorization does), so a read loads it once.
pub fn read_file_in(
    kv: &(impl KvRead + ?Sized),
    info: &StoreInfo,
    path: &FilePath,
    at: At,
) -> Result<FileContent, ReadError> {
    let record = file_version(kv, info, path, at)?;
    let content = readable_content(kv, info.id, path.as_str(), &record)?;
    Ok(FileContent {
        meta: file_meta(path, info, &record),
        content,
    })
}

pub fn stat(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    path: &FilePath,
    at: At,
) -> Result<FileMeta, ReadError> {
    stat_in(kv, &get_store(kv, store)?, path, at)
}

/// `stat` in a store whose record the caller loaded already.
pub fn stat_in(
    kv: &(impl KvRead + ?Sized),
    info: &StoreInfo,
    path: &FilePath,
    at: At,
) -> Result<FileMeta, ReadError> {
    let record = file_version(kv, info, path, at)?;
    Ok(file_meta(path, info, &record))
}

/// The version record stored under exactly this version.
pub(super) fn version_record(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    version: u64,
) -> Result<Option<VersionRecord>, StorageError> {
    let Some(bytes) = kv.get(
        Table::Versions,
        &codec::version_key(store_id, path, version),
    )?
    else {
        return Ok(None);
    };
    let record: VersionRecord = codec::decode(&bytes)?;
    check_key_matches(path, version, &record)?;
    Ok(Some(record))
}

/// A record read back must be the one its key names.
pub(super) fn check_key_matches(
    path: &str,
    revision: u64,
    record: &VersionRecord,
) -> Result<(), StorageError> {
    if record.revision != revision {
        return Err(StorageError::corrupt(format!(
            "version key {path}@{revision} holds the record of revision {}",
            record.revision
        )));
    }
    Ok(())
}

/// As `version_content`, but the content of a version a redaction removed
/// whole answers `redacted`.
pub(super) fn readable_content(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    record: &VersionRecord,
) -> Result<String, ReadError> {
    if let Some(mark) = record.redaction.as_ref().filter(|mark| mark.whole) {
        return Err(CoreError::Redacted {
            path: path.to_string(),
            version: record.revision,
            time_ms: mark.time_ms,
            principal: mark.principal.clone(),
        }
        .into());
    }
    Ok(version_content(kv, store_id, path, record)?)
}

/// The content of a version that is not a delete (a delete reads as empty).
pub(super) fn version_content(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    record: &VersionRecord,
) -> Result<String, StorageError> {
    let Some(bytes) = record.bytes else {
        return Ok(String::new());
    };
    let key = codec::content_key(store_id, path, record.revision);
    let stored = kv.get(Table::Content, &key)?.ok_or_else(|| {
        StorageError::corrupt(format!("version {path}@{} has no content", record.revision))
    })?;
    let content = codec::decode_content(stored)?;
    if content.len() as u64 != bytes {
        return Err(StorageError::corrupt(format!(
            "version {path}@{} records {bytes} bytes but holds {}",
            record.revision,
            content.len()
        )));
    }
    Ok(content)
}

/// The newest version record of `path` at or before `revision`.
fn version_as_of(
    kv: &(impl KvRead + ?Sized),
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
        &mut |key, value| {
            let (_, key_revision) = codec::version_key_parts(key)?;
            let record: VersionRecord = codec::decode(value)?;
            check_key_matches(path, key_revision, &record)?;
            found = Some(record);
            Ok(false)
        },
    )?;
    Ok(found)
}

/// The live version record of `path` at `at`, or `not_found`.
pub(super) fn file_version(
    kv: &(impl KvRead + ?Sized),
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
    if record.bytes.is_none() {
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

/// The metadata of a live version (one `file_version` answered).
pub(super) fn file_meta(path: &FilePath, store: &StoreInfo, record: &VersionRecord) -> FileMeta {
    debug_assert!(
        record.bytes.is_some(),
        "{path}@{} is a delete",
        record.revision
    );
    FileMeta {
        path: path.to_string(),
        version: record.revision,
        bytes: record.bytes.unwrap_or(0),
        store_revision: store.revision,
        op: record.op,
        time_ms: record.time_ms,
        agent: record.agent.clone(),
        session: record.session.clone(),
        redaction: record.redaction.as_ref().map(Into::into),
    }
}
