//! Importing a store from an archive (`docs/export.md`): what the staging
//! commands carry, where an import in progress stands, and the key layouts
//! of `sm_imports` and `sm_imported_audit`.
//!
//! An import is staged under a store id of its own that no `sm_stores` row
//! names, so nothing of it can be read or written until `ImportCommit`
//! writes that row. Each `ImportChunk` continues the archive's digest chain
//! (`digest_before` must be where the last chunk ended) and carries its
//! records in archive order: the header, then versions in (path, revision)
//! order, then the store's audit events in chain order, then the trailer.
//! The service parses the archive bytes, checks every content digest and
//! computes the chain; `apply` checks the chain's continuity, the order, the
//! counts and every event's hash and link, and writes nothing of a chunk it
//! refuses.

use serde::{Deserialize, Serialize};

use crate::audit::AuditRecord;
use crate::codec::RedactionMark;
use crate::command::OpKind;
use crate::error::CoreError;
use crate::governance::StorePolicy;
use crate::limits::Limits;
use crate::path::FilePath;

/// How long a staged import may sit without a chunk before the next
/// `ImportBegin` removes it, in milliseconds.
pub const IMPORT_IDLE_MS_MAX: u64 = 24 * 60 * 60 * 1000;

/// Where every archive's digest chain starts: `d0`. Each record's bytes
/// continue it: `d(i) = SHA-256(d(i-1) ‖ record bytes)`.
pub const DIGEST_START: [u8; 32] = [0; 32];

/// The store an archive was exported from, as its header describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSource {
    pub name: String,
    pub org: String,
    /// The owner of a user-scoped store (the import is organization-scoped).
    pub owner: Option<String>,
    pub created_ms: u64,
    /// The store's revision at the export: no version or event is later.
    pub revision: u64,
    pub policy: StorePolicy,
    pub exported_ms: u64,
}

/// One version from the archive, written as it was: same revision, time,
/// attribution, rename links and redaction mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedVersion {
    pub path: FilePath,
    pub revision: u64,
    pub op: OpKind,
    pub bytes: Option<u64>,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    pub renamed_from: Option<String>,
    pub renamed_to: Option<String>,
    pub redaction: Option<RedactionMark>,
    /// `None` for a delete and for a version a redaction emptied whole.
    pub content: Option<String>,
}

/// The archive's last record: what every earlier record adds up to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportTrailer {
    pub versions: u64,
    pub events: u64,
    pub content_bytes: u64,
    /// The digest chain after the last record before the trailer.
    pub digest: [u8; 32],
}

/// The next records of an archive, in archive order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportChunk {
    /// Where the digest chain stood before the chunk's first record.
    pub digest_before: [u8; 32],
    /// Where it stands after the chunk's last record (the trailer excluded).
    pub digest_after: [u8; 32],
    /// Records the digest chain covers in this chunk (header, versions, events).
    pub records: u64,
    /// Only in the first chunk.
    pub header: Option<ImportSource>,
    pub versions: Vec<ImportedVersion>,
    pub events: Vec<AuditRecord>,
    /// Only in the last chunk.
    pub trailer: Option<ImportTrailer>,
}

/// `sm_imports` (import id → this): an import being staged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportState {
    /// Also the id of the store it stages.
    pub id: u64,
    pub org_id: u64,
    pub org: String,
    /// The name the store will have.
    pub store: String,
    /// `operator` or `ORG/USER`, and the token that began it.
    pub principal: String,
    pub token_id: String,
    pub started_ms: u64,
    pub updated_ms: u64,
    pub source: Option<ImportSource>,
    pub digest: [u8; 32],
    pub records: u64,
    pub versions: u64,
    pub events: u64,
    pub content_bytes: u64,
    /// The last version staged, to keep (path, revision) order.
    pub last_version: Option<(String, u64)>,
    /// The last event's hash: the next must chain from it.
    pub last_event_hash: [u8; 32],
    pub file_count: u64,
    pub bytes_total: u64,
    /// The trailer arrived and matched: the import may be committed.
    pub complete: bool,
}

/// `sm_imports` key.
pub fn import_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// `sm_imported_audit` row kinds, after the store id.
pub const IMPORTED_EVENT: u8 = b'e';
pub const IMPORTED_REVISION: u8 = b'r';

/// store id (8) ‖ `e` ‖ position in the chain (8) → `AuditRecord`.
pub fn imported_event_key(store_id: u64, position: u64) -> Vec<u8> {
    let mut key = store_id.to_be_bytes().to_vec();
    key.push(IMPORTED_EVENT);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// store id (8) ‖ `e`: every imported event of a store, in chain order.
pub fn imported_events_prefix(store_id: u64) -> Vec<u8> {
    let mut key = store_id.to_be_bytes().to_vec();
    key.push(IMPORTED_EVENT);
    key
}

/// store id (8) ‖ `r` ‖ revision (8) ‖ position (8) → (): the imported
/// events at one revision.
pub fn imported_revision_key(store_id: u64, revision: u64, position: u64) -> Vec<u8> {
    let mut key = imported_revision_prefix(store_id, revision);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

pub fn imported_revision_prefix(store_id: u64, revision: u64) -> Vec<u8> {
    let mut key = store_id.to_be_bytes().to_vec();
    key.push(IMPORTED_REVISION);
    key.extend_from_slice(&revision.to_be_bytes());
    key
}

/// The position a `sm_imported_audit` key ends with.
pub fn key_position(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[at..].try_into().ok()?))
}

/// The stateless rules of a chunk: content sizes, label lengths, counts
/// that must agree with themselves. `apply` checks what needs state.
pub fn check_chunk(chunk: &ImportChunk, limits: &Limits) -> Result<(), CoreError> {
    let expected =
        u64::from(chunk.header.is_some()) + chunk.versions.len() as u64 + chunk.events.len() as u64;
    if chunk.records != expected {
        return Err(CoreError::invalid_archive(format!(
            "the chunk says it holds {} records but carries {expected}",
            chunk.records
        )));
    }
    let label = |what: &str, value: &str| -> Result<(), CoreError> {
        if value.len() as u64 > limits.label_bytes_max {
            return Err(CoreError::invalid_archive(format!(
                "{what} {:?}… is longer than label_bytes_max ({})",
                clip(value),
                limits.label_bytes_max
            )));
        }
        Ok(())
    };
    for version in &chunk.versions {
        label("agent", &version.agent)?;
        label("session", &version.session)?;
        let at = || format!("{}@{}", version.path, version.revision);
        if let Some(content) = &version.content {
            let bytes = content.len() as u64;
            if bytes > limits.file_bytes_max {
                return Err(CoreError::limit(
                    "file_bytes_max",
                    limits.file_bytes_max,
                    bytes,
                ));
            }
            if version.bytes != Some(bytes) {
                return Err(CoreError::invalid_archive(format!(
                    "version {} says {:?} bytes but holds {bytes}",
                    at(),
                    version.bytes
                )));
            }
        }
        let whole_redacted = version.redaction.as_ref().is_some_and(|mark| mark.whole);
        let deleted = matches!(version.op, OpKind::Delete | OpKind::DeleteStore);
        // A version without a size is the path's removal (a delete, or the
        // old path of a rename); one redacted whole keeps its size, not its
        // content; every other version carries its content.
        let fault = match (&version.content, version.bytes) {
            (Some(_), _) if whole_redacted => Some("was redacted whole but carries content"),
            (Some(_), _) if deleted => Some("is a delete with content"),
            (None, Some(_)) if deleted => Some("is a delete with a size"),
            (None, Some(_)) if !whole_redacted => {
                Some("has a size but no content and was not redacted whole")
            }
            _ => None,
        };
        if let Some(fault) = fault {
            return Err(CoreError::invalid_archive(format!(
                "version {} {fault}",
                at()
            )));
        }
    }
    Ok(())
}

fn clip(text: &str) -> &str {
    let mut end = text.len().min(32);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
