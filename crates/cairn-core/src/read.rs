//! Reads over the state machine's tables. The caller decides how fresh the
//! tables must be (read index or local replica); these functions only look.

use serde::{Deserialize, Serialize};

use crate::command::{OpKind, StoreInfo};
use crate::error::ReadError;
use crate::kv::KvRead;
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
    pub records: Vec<crate::codec::AuditRecord>,
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
    let _ = kv;
    todo!()
}

pub fn get_store(kv: &impl KvRead, store: &StoreName) -> Result<StoreInfo, ReadError> {
    let _ = (kv, store);
    todo!()
}

pub fn read_file(
    kv: &impl KvRead,
    store: &StoreName,
    path: &FilePath,
    at: At,
) -> Result<FileContent, ReadError> {
    let _ = (kv, store, path, at);
    todo!()
}

pub fn stat(
    kv: &impl KvRead,
    store: &StoreName,
    path: &FilePath,
    at: At,
) -> Result<FileMeta, ReadError> {
    let _ = (kv, store, path, at);
    todo!()
}

pub fn list(
    kv: &impl KvRead,
    store: &StoreName,
    dir: &DirPath,
    options: ListOptions,
) -> Result<Listing, ReadError> {
    let _ = (kv, store, dir, options);
    todo!()
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
    let _ = (kv, store, path, before, limit, with_content);
    todo!()
}

/// A unified diff from version `from` to version `to` of one path.
pub fn diff(
    kv: &impl KvRead,
    store: &StoreName,
    path: &FilePath,
    from: u64,
    to: u64,
) -> Result<String, ReadError> {
    let _ = (kv, store, path, from, to);
    todo!()
}

/// The store's audit log, oldest first, after revision `after` if given.
pub fn audit(
    kv: &impl KvRead,
    store: &StoreName,
    after: Option<u64>,
    limit: u64,
) -> Result<AuditPage, ReadError> {
    let _ = (kv, store, after, limit);
    todo!()
}
