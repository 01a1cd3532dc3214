//! The audit record every applied transaction leaves: who changed what, at
//! which revision, from which log entry.

use crate::auth::Subject;
use crate::codec::{self, AuditRecord};
use crate::command::{Change, Meta, StoreInfo};
use crate::error::StorageError;
use crate::kv::{KvWrite, Table};

/// Records the transaction that brought `store` to its current revision.
pub(super) fn record_txn(
    kv: &mut impl KvWrite,
    store: &StoreInfo,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    changes: &[Change],
) -> Result<(), StorageError> {
    let key = codec::audit_key(store.id, store.revision);
    // Revisions only grow, so no transaction finds its audit slot taken.
    debug_assert!(
        matches!(kv.get(Table::Audit, &key), Ok(None)),
        "store {:?} revision {} audited twice",
        store.name,
        store.revision
    );
    let record = AuditRecord {
        revision: store.revision,
        log_index,
        time_ms: meta.time_ms,
        agent: meta.agent.clone(),
        session: meta.session.clone(),
        idempotency_key: meta.idempotency_key.clone(),
        principal: subject.principal(),
        token_id: subject.token.id.clone(),
        request_id: meta.request_id.clone(),
        changes: changes.to_vec(),
        reason: None,
    };
    kv.put(Table::Audit, &key, &codec::encode(&record))
}

/// Records a redaction: who, when, why and which versions (`changes`), never
/// the content. Kept apart from `record_txn` so that a reworked audit trail
/// has one call to adapt.
pub(super) fn record_redaction(
    kv: &mut impl KvWrite,
    store: &StoreInfo,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    changes: &[Change],
    reason: &str,
) -> Result<(), StorageError> {
    let key = codec::audit_key(store.id, store.revision);
    debug_assert!(
        matches!(kv.get(Table::Audit, &key), Ok(None)),
        "store {:?} revision {} audited twice",
        store.name,
        store.revision
    );
    let record = AuditRecord {
        revision: store.revision,
        log_index,
        time_ms: meta.time_ms,
        agent: meta.agent.clone(),
        session: meta.session.clone(),
        idempotency_key: meta.idempotency_key.clone(),
        principal: subject.principal(),
        token_id: subject.token.id.clone(),
        request_id: meta.request_id.clone(),
        changes: changes.to_vec(),
        reason: Some(reason.to_string()),
    };
    kv.put(Table::Audit, &key, &codec::encode(&record))
}
