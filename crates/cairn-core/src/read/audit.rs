//! A store's audit log: one event per applied transaction, oldest first.

use std::ops::Bound;

use super::{AuditEvent, AuditPage, get_store};
use crate::codec::{self, AuditRecord};
use crate::error::{ReadError, StorageError};
use crate::governance::StoreRef;
use crate::kv::{KvRead, Table};

/// The store's audit log, oldest first, after revision `after` if given.
pub fn audit(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    after: Option<u64>,
    limit: u64,
) -> Result<AuditPage, ReadError> {
    let info = get_store(kv, store)?;
    let start = codec::audit_key(info.id, after.map_or(0, |after| after.saturating_add(1)));
    let end = codec::audit_key(info.id, u64::MAX);
    let page_max = limit.max(1);
    let mut records: Vec<AuditEvent> = Vec::new();
    let mut next_after = None;
    kv.scan(
        Table::Audit,
        Bound::Included(&start),
        Bound::Included(&end),
        false,
        &mut |key, value| {
            if records.len() as u64 >= page_max {
                next_after = records.last().map(|last| last.revision);
                return Ok(false);
            }
            let record: AuditRecord = codec::decode(value)?;
            records.push(audit_event(key, record)?);
            Ok(true)
        },
    )?;
    Ok(AuditPage {
        store: store.to_string(),
        records,
        next_after,
    })
}

/// The read-side view of an audit record, checked against the key it was read under.
fn audit_event(key: &[u8], record: AuditRecord) -> Result<AuditEvent, StorageError> {
    if key.get(8..) != Some(&record.revision.to_be_bytes()[..]) {
        return Err(StorageError::corrupt(format!(
            "audit key does not name revision {}",
            record.revision
        )));
    }
    Ok(AuditEvent {
        revision: record.revision,
        log_index: record.log_index,
        time_ms: record.time_ms,
        agent: record.agent,
        session: record.session,
        idempotency_key: record.idempotency_key,
        principal: record.principal,
        token_id: record.token_id,
        request_id: record.request_id,
        changes: record.changes,
        reason: record.reason,
    })
}
