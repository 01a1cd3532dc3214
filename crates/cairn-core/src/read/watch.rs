//! The change feed of one store: the audit events that changed its files, by
//! revision, read from the `REVISION` index of the audit trail
//! (`r ‖ store id ‖ revision ‖ log index`).
//!
//! Every store revision is made by exactly one event (a transaction, a
//! rollback or a redaction; each bumps the revision by one), so the feed's
//! revisions are gapless and each appears once. Events that leave the
//! revision where it was (a policy or grant change, a refusal) share the
//! revision of the change before them and are not changes: the feed skips
//! them. The audit trail is never pruned (retention prunes versions, a
//! redaction keeps its events), so the whole history of a store can be
//! replayed; how far back a watch may start is the server's choice.

use std::ops::Bound;

use crate::audit::{AuditOp, AuditRecord, index, index_key_log_index, index_prefix, record_key};
use crate::codec;
use crate::command::OpKind;
use crate::error::StorageError;
use crate::kv::{KvRead, Table};

/// One path a change touched: never its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedPath {
    pub path: String,
    pub op: OpKind,
    /// The file's version after the change; `None` when it removed the file.
    pub version: Option<u64>,
}

/// One revision of a store, as the change feed shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    pub revision: u64,
    pub log_index: u64,
    pub time_ms: u64,
    /// `txn`, `rollback` or `redact`.
    pub op: AuditOp,
    pub principal: String,
    pub agent: String,
    pub session: String,
    pub changes: Vec<ChangedPath>,
}

/// Whether an event of `op` made a new store revision.
pub fn makes_revision(op: AuditOp) -> bool {
    matches!(op, AuditOp::Txn | AuditOp::Rollback | AuditOp::Redact)
}

/// The changes of store `store_id` after revision `after`, oldest first, at
/// most `max` of them.
pub fn changes_after(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    after: u64,
    max: usize,
) -> Result<Vec<ChangeEvent>, StorageError> {
    let Some(first) = after.checked_add(1) else {
        return Ok(Vec::new());
    };
    let store = store_id.to_be_bytes();
    let end = index_prefix(
        index::REVISION,
        &[&store, &u64::MAX.to_be_bytes(), &u64::MAX.to_be_bytes()],
    );
    let mut start = index_prefix(index::REVISION, &[&store, &first.to_be_bytes()]);
    let mut events = Vec::new();
    let mut expected = first;
    // Index rows are read a chunk at a time: rows of events that made no
    // revision are skipped, and any number of them may sit between changes.
    let chunk = max.clamp(1, 1024);
    let mut first_chunk = true;
    while events.len() < max {
        let mut rows: Vec<(Vec<u8>, u64)> = Vec::with_capacity(chunk);
        kv.scan(
            Table::AuditIndex,
            if first_chunk {
                Bound::Included(start.as_slice())
            } else {
                Bound::Excluded(start.as_slice())
            },
            Bound::Included(&end),
            false,
            &mut |key, _| {
                rows.push((key.to_vec(), index_key_log_index(key)?));
                Ok(rows.len() < chunk)
            },
        )?;
        let Some((last_key, _)) = rows.last() else {
            break;
        };
        let cut = rows.len() >= chunk;
        let next_start = last_key.clone();
        for (_, log_index) in rows {
            if events.len() >= max {
                return Ok(events);
            }
            let Some(event) = change_at(kv, store_id, log_index)? else {
                continue;
            };
            // Revisions come one at a time: a gap or a repeat is a broken
            // trail, never something to hand a watcher.
            if event.revision != expected {
                return Err(StorageError::corrupt(format!(
                    "store {store_id}'s change feed skips from revision {expected} to {}",
                    event.revision
                )));
            }
            expected += 1;
            events.push(event);
        }
        if !cut {
            break;
        }
        start = next_start;
        first_chunk = false;
    }
    Ok(events)
}

/// The change recorded at `log_index`, or `None` if that event made no revision.
fn change_at(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    log_index: u64,
) -> Result<Option<ChangeEvent>, StorageError> {
    let bytes = kv
        .get(Table::Audit, &record_key(log_index))?
        .ok_or_else(|| {
            StorageError::corrupt(format!("audit index names missing event {log_index}"))
        })?;
    let record: AuditRecord = codec::decode(&bytes)?;
    if record.log_index != log_index || record.store_id != Some(store_id) {
        return Err(StorageError::corrupt(format!(
            "audit event under log index {log_index} is not store {store_id}'s"
        )));
    }
    if !makes_revision(record.op) {
        return Ok(None);
    }
    Ok(Some(ChangeEvent {
        revision: record.revision.unwrap_or_default(),
        log_index,
        time_ms: record.time_ms,
        op: record.op,
        principal: record.principal,
        agent: record.agent,
        session: record.session,
        changes: record
            .changes
            .into_iter()
            .map(|change| ChangedPath {
                path: change.path,
                op: change.op,
                version: change.version,
            })
            .collect(),
    }))
}
