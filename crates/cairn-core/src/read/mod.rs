//! Reads over the state machine's tables. The caller decides how fresh the
//! tables must be (read index or local replica); these functions only look.
//!
//! The types here are what reads answer; disk records (`codec::*Record`)
//! never leave this module, so the disk format can change without changing
//! what callers see. They are not serializable: the HTTP shapes are
//! `cairn-api`'s, filled by the server. Files by topic: `file` (one file's
//! content and metadata), `list` (directories, now or as of a revision),
//! `history` (versions of one path and diffs), `audit` (audit queries over
//! their indexes, chain verification), `watch` (a store's change feed from
//! the audit trail), `search` (lines of the files that match a pattern).

mod audit;
mod export;
mod file;
mod history;
mod list;
pub mod memory;
mod rollback;
pub mod search;
pub mod watch;

pub use audit::{
    AUDIT_CANDIDATES_MAX, AuditEvent, AuditFilter, AuditPage, AuditQuery, ChainBreak, ChainReport,
    EventPlace, query as audit, store_ids_named as audit_store_ids, verify_chain,
};
pub use export::{
    EventCursor, EventsPage, ExportRedaction, ExportStart, ExportVersion, VersionsPage,
    export_events, export_start, export_versions, import, imports,
};
pub use file::{read_file, read_file_in, stat, stat_in};
pub use history::{diff, history};
pub use list::list;
pub use rollback::{
    RollbackConflict, RollbackPlan, RollbackStep, RollbackTarget, plan_rollback, rollback_ops,
};

use std::ops::Bound;

use crate::apply::load_store;
use crate::codec;
use crate::command::{OpKind, StoreInfo};
use crate::error::{CoreError, ReadError, Resource};
use crate::governance::StoreRef;
use crate::kv::{KvRead, Table};

/// Which state of a file or directory to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum At {
    #[default]
    Current,
    /// The file's version `V` (a revision at which it changed).
    Version(u64),
    /// The state as of store revision `R`.
    Revision(u64),
}

/// A file's metadata (what `stat` and response headers show).
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Set when a redaction removed or rewrote this version's content.
    pub redaction: Option<RedactionInfo>,
}

/// A redaction of one version, as reads show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactionInfo {
    /// The store revision of the redaction.
    pub revision: u64,
    pub time_ms: u64,
    /// `operator` or `ORG/USER`.
    pub principal: String,
    pub reason: String,
    /// The whole content was removed (else parts were replaced by the marker).
    pub whole: bool,
}

impl From<&codec::RedactionMark> for RedactionInfo {
    fn from(mark: &codec::RedactionMark) -> RedactionInfo {
        RedactionInfo {
            revision: mark.revision,
            time_ms: mark.time_ms,
            principal: mark.principal.clone(),
            reason: mark.reason.clone(),
            whole: mark.whole,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileContent {
    pub meta: FileMeta,
    pub content: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Files only.
    pub version: Option<u64>,
    /// Files only.
    pub bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub store: String,
    pub dir: String,
    /// The revision the listing shows.
    pub revision: u64,
    /// Files and directories under `dir` down to the requested depth, in path order.
    pub entries: Vec<ListEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub path: String,
    pub version: u64,
    pub op: OpKind,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// `None` for a delete.
    pub bytes: Option<u64>,
    /// Present when the history was asked for with content.
    pub content: Option<String>,
    pub renamed_from: Option<String>,
    pub renamed_to: Option<String>,
    /// Set when a redaction removed or rewrote this version's content.
    pub redaction: Option<RedactionInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryPage {
    pub path: String,
    /// Newest first.
    pub versions: Vec<VersionInfo>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_before: Option<u64>,
}

/// How to list a directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `None` lists the whole subtree; `Some(1)` only direct children.
    pub depth: Option<u64>,
    /// `None` lists the current state; `Some(R)` the state as of revision `R`.
    pub revision: Option<u64>,
}

/// The stores of organization `org_id` in name order, or of every
/// organization (by organization, then name) when `None`.
pub fn list_stores(
    kv: &(impl KvRead + ?Sized),
    org_id: Option<u64>,
) -> Result<Vec<StoreInfo>, ReadError> {
    let mut stores = Vec::new();
    let mut visit = |_: &[u8], value: &[u8]| {
        stores.push(codec::decode(value)?);
        Ok(true)
    };
    match org_id {
        Some(org_id) => {
            crate::kv::scan_prefix(kv, Table::Stores, &org_id.to_be_bytes(), false, &mut visit)?
        }
        None => kv.scan(
            Table::Stores,
            Bound::Unbounded,
            Bound::Unbounded,
            false,
            &mut visit,
        )?,
    }
    Ok(stores)
}

pub fn get_store(kv: &(impl KvRead + ?Sized), store: &StoreRef) -> Result<StoreInfo, ReadError> {
    Ok(load_store(kv, store)?
        .ok_or_else(|| CoreError::not_found(Resource::Store, store.name.as_str()))?)
}

/// Refuses a revision the store has not reached.
fn check_revision(store: &StoreInfo, revision: u64) -> Result<(), CoreError> {
    if revision > store.revision {
        return Err(CoreError::invalid_request(format!(
            "revision {revision} is in the future: store {:?} is at revision {}",
            store.name, store.revision
        )));
    }
    Ok(())
}
