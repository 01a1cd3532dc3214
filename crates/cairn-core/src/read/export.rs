//! Reads for an export (`docs/export.md`): a store's versions and audit
//! events page by page, all bounded by where the store stood when the export
//! began, so that pages read at different moments make one archive of one
//! revision.

use std::ops::Bound;

use super::audit::{chain_events, event};
use super::{AuditEvent, get_store};
use crate::audit::{AuditRecord, ChainHead, ChainKey, index, index_key_log_index, index_prefix};
use crate::codec::{self, VersionRecord};
use crate::command::{OpKind, StoreInfo};
use crate::error::{ReadError, StorageError};
use crate::governance::StoreRef;
use crate::import::{
    imported_event_key, imported_events_prefix, imported_revision_prefix, key_position,
};
use crate::kv::{KvRead, Table, prefix_end, scan_prefix};

/// Where the store stood when an export began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportStart {
    pub store: StoreInfo,
    /// The last log index of the store's own audit chain (0: none).
    pub last_log_index: u64,
}

pub fn export_start(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
) -> Result<ExportStart, ReadError> {
    let store = get_store(kv, store)?;
    let last_log_index = kv
        .get(Table::AuditChains, &ChainKey::Store(store.id).to_bytes())?
        .map(|bytes| codec::decode::<ChainHead>(&bytes))
        .transpose()?
        .map_or(0, |head| head.last_log_index);
    Ok(ExportStart {
        store,
        last_log_index,
    })
}

/// A redaction mark, whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRedaction {
    pub revision: u64,
    pub time_ms: u64,
    pub principal: String,
    pub token_id: String,
    pub reason: String,
    pub whole: bool,
}

/// One version with its content (what a redaction left of it) and who made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportVersion {
    pub path: String,
    pub revision: u64,
    pub op: OpKind,
    pub bytes: Option<u64>,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// From the audit event that made the version (`None` if none names it).
    pub principal: Option<String>,
    pub token_id: Option<String>,
    pub renamed_from: Option<String>,
    pub renamed_to: Option<String>,
    pub redaction: Option<ExportRedaction>,
    /// `None` for a delete or a version redacted whole.
    pub content: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionsPage {
    /// In (path, revision) order.
    pub versions: Vec<ExportVersion>,
    /// Where the next page starts (exclusive); `None` when there is none.
    pub next: Option<Vec<u8>>,
}

/// Versions of store `store_id` up to `revision_max`, after the key `after`,
/// at most `records_max` of them and about `content_bytes_max` of content
/// (always at least one version).
pub fn export_versions(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    revision_max: u64,
    after: Option<&[u8]>,
    records_max: usize,
    content_bytes_max: u64,
) -> Result<VersionsPage, ReadError> {
    let prefix = codec::store_prefix(store_id);
    let end = prefix_end(&prefix).unwrap_or_default();
    let start = match after {
        Some(after) => Bound::Excluded(after),
        None => Bound::Included(&prefix[..]),
    };
    let mut found: Vec<(Vec<u8>, VersionRecord)> = Vec::new();
    let mut next = None;
    kv.scan(
        Table::Versions,
        start,
        Bound::Excluded(&end),
        false,
        &mut |key, value| {
            if found.len() >= records_max.max(1) {
                next = found.last().map(|(key, _)| key.clone());
                return Ok(false);
            }
            let record: VersionRecord = codec::decode(value)?;
            found.push((key.to_vec(), record));
            Ok(true)
        },
    )?;
    let mut versions = Vec::with_capacity(found.len());
    let mut content_bytes = 0u64;
    for (at, (key, record)) in found.iter().enumerate() {
        if content_bytes >= content_bytes_max && at > 0 {
            next = Some(found[at - 1].0.clone());
            break;
        }
        let (path, revision) = codec::version_key_parts(key)?;
        if revision != record.revision {
            return Err(StorageError::corrupt(format!(
                "version key {path}@{revision} holds revision {}",
                record.revision
            ))
            .into());
        }
        // Later versions are not the store as it was when the export began.
        if revision > revision_max {
            continue;
        }
        let content = match kv.get(Table::Content, key)? {
            Some(bytes) => Some(codec::decode_content(bytes)?),
            None => None,
        };
        content_bytes += content.as_ref().map_or(0, |content| content.len() as u64);
        let author = version_author(kv, store_id, path, revision)?;
        versions.push(ExportVersion {
            path: path.to_string(),
            revision,
            op: record.op,
            bytes: record.bytes,
            time_ms: record.time_ms,
            agent: record.agent.clone(),
            session: record.session.clone(),
            principal: author.as_ref().map(|(principal, _)| principal.clone()),
            token_id: author.map(|(_, token_id)| token_id),
            renamed_from: record.renamed_from.clone(),
            renamed_to: record.renamed_to.clone(),
            redaction: record.redaction.as_ref().map(|mark| ExportRedaction {
                revision: mark.revision,
                time_ms: mark.time_ms,
                principal: mark.principal.clone(),
                token_id: mark.token_id.clone(),
                reason: mark.reason.clone(),
                whole: mark.whole,
            }),
            content,
        });
    }
    Ok(VersionsPage { versions, next })
}

/// The principal and token of the event that made `path`'s version
/// `revision`: an event at that revision that changed the path, among the
/// store's own events or the events it was imported with.
fn version_author(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    revision: u64,
) -> Result<Option<(String, String)>, StorageError> {
    let names = |record: &AuditRecord| {
        (record.revision == Some(revision)
            && record.changes.iter().any(|change| change.path == path))
        .then(|| (record.principal.clone(), record.token_id.clone()))
    };
    let mut found = None;
    let local = index_prefix(
        index::REVISION,
        &[&store_id.to_be_bytes(), &revision.to_be_bytes()],
    );
    scan_prefix(kv, Table::AuditIndex, &local, false, &mut |key, _| {
        let log_index = index_key_log_index(key)?;
        if let Some(bytes) = kv.get(Table::Audit, &crate::audit::record_key(log_index))? {
            found = names(&codec::decode(&bytes)?);
        }
        Ok(found.is_none())
    })?;
    if found.is_some() {
        return Ok(found);
    }
    let imported = imported_revision_prefix(store_id, revision);
    scan_prefix(kv, Table::ImportedAudit, &imported, false, &mut |key, _| {
        let position = key_position(key)
            .ok_or_else(|| StorageError::corrupt("malformed imported audit key"))?;
        if let Some(bytes) = kv.get(
            Table::ImportedAudit,
            &imported_event_key(store_id, position),
        )? {
            found = names(&codec::decode(&bytes)?);
        }
        Ok(found.is_none())
    })?;
    Ok(found)
}

/// Where the next page of events starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventCursor {
    /// The events the store was imported with, from this position.
    Imported(u64),
    /// The store's own events after this log index (0: from the first).
    Local(u64),
    Done,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsPage {
    /// In chain order: the imported events first.
    pub events: Vec<AuditEvent>,
    pub next: EventCursor,
}

/// Up to `events_max` events of store `store_id`'s chain from `cursor`,
/// none after log index `log_index_max`.
pub fn export_events(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    cursor: EventCursor,
    log_index_max: u64,
    events_max: usize,
) -> Result<EventsPage, ReadError> {
    let events_max = events_max.max(1);
    let mut events = Vec::new();
    match cursor {
        EventCursor::Done => Ok(EventsPage {
            events,
            next: EventCursor::Done,
        }),
        EventCursor::Imported(position) => {
            let start = imported_event_key(store_id, position);
            let end = prefix_end(&imported_events_prefix(store_id)).unwrap_or_default();
            let mut next_position = position;
            kv.scan(
                Table::ImportedAudit,
                Bound::Included(&start),
                Bound::Excluded(&end),
                false,
                &mut |_, value| {
                    if events.len() >= events_max {
                        return Ok(false);
                    }
                    events.push(event(codec::decode(value)?, false));
                    next_position += 1;
                    Ok(true)
                },
            )?;
            let next = if events.len() >= events_max {
                EventCursor::Imported(next_position)
            } else {
                EventCursor::Local(0)
            };
            Ok(EventsPage { events, next })
        }
        EventCursor::Local(after) => {
            let mut last = None;
            let mut more = false;
            if let Some(low) = after.checked_add(1) {
                let chain = ChainKey::Store(store_id);
                chain_events(kv, chain, low, log_index_max, |log_index, record| {
                    if events.len() >= events_max {
                        more = true;
                        return Ok(false);
                    }
                    events.push(event(codec::decode(record)?, false));
                    last = Some(log_index);
                    Ok(true)
                })?;
            }
            let next = match (more, last) {
                (true, Some(last)) => EventCursor::Local(last),
                _ => EventCursor::Done,
            };
            Ok(EventsPage { events, next })
        }
    }
}

/// The imports being staged, of organization `org_id` or of every one.
pub fn imports(
    kv: &(impl KvRead + ?Sized),
    org_id: Option<u64>,
) -> Result<Vec<crate::import::ImportState>, ReadError> {
    let mut found = Vec::new();
    kv.scan(
        Table::Imports,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |_, value| {
            let state: crate::import::ImportState = codec::decode(value)?;
            if org_id.is_none_or(|org_id| org_id == state.org_id) {
                found.push(state);
            }
            Ok(true)
        },
    )?;
    Ok(found)
}

/// One staged import.
pub fn import(
    kv: &(impl KvRead + ?Sized),
    id: u64,
) -> Result<Option<crate::import::ImportState>, ReadError> {
    Ok(crate::apply::load_import(kv, id)?)
}
