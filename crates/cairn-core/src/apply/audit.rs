//! Recording audit events. Every command that changes something calls
//! `record` once, after its changes are written, with an `Event` naming what
//! it did and where:
//!
//! ```ignore
//! audit::record(kv, log_index, meta, Some(subject), Event::store(AuditOp::Txn, &info).changes(changes))?;
//! ```
//!
//! `record` fills in who (principal, token, agent, session, idempotency key,
//! request id) from `meta` and `subject`, chains the event to its chain's
//! head, and writes the record and its index rows. A failed command records
//! nothing (it changed nothing).

use crate::audit::{
    AuditChange, AuditOp, AuditRecord, ChainHead, ZERO_HASH, index, index_prefix, label_part,
    record_key,
};
use crate::auth::Subject;
use crate::codec;
use crate::command::{Meta, StoreInfo};
use crate::error::StorageError;
use crate::governance::OrgInfo;
use crate::kv::{KvWrite, Table};

/// The latest event time, so that no event's time goes back (`sm_meta`).
pub const META_AUDIT_TIME_MS: &[u8] = b"audit_time_ms";

/// What a command did, for `record`: an operation, where it happened (which
/// decides its chain), and what it touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    op: AuditOp,
    place: Place,
    target: Option<String>,
    detail: Option<String>,
    changes: Vec<AuditChange>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Cluster,
    Org {
        id: u64,
        name: String,
    },
    Store {
        org_id: u64,
        org: String,
        id: u64,
        name: String,
        revision: u64,
    },
}

impl Event {
    /// An event of the cluster itself (operator-only to read).
    pub fn cluster(op: AuditOp) -> Event {
        Event::at(op, Place::Cluster)
    }

    /// An event of an organization (its admins and the operator read it).
    pub fn org(op: AuditOp, org: &OrgInfo) -> Event {
        Event::at(
            op,
            Place::Org {
                id: org.id,
                name: org.name.clone(),
            },
        )
    }

    /// An event of a store, at the store's revision as `store` holds it.
    pub fn store(op: AuditOp, store: &StoreInfo) -> Event {
        Event::at(
            op,
            Place::Store {
                org_id: store.org_id,
                org: store.org.clone(),
                id: store.id,
                name: store.name.clone(),
                revision: store.revision,
            },
        )
    }

    fn at(op: AuditOp, place: Place) -> Event {
        Event {
            op,
            place,
            target: None,
            detail: None,
            changes: Vec::new(),
        }
    }

    /// What a governance event acted on (a user, a token id, a grantee).
    pub fn target(mut self, target: impl Into<String>) -> Event {
        self.target = Some(target.into());
        self
    }

    /// A short fact about the event (a role, an access level).
    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = Some(detail.into());
        self
    }

    /// The paths the event changed.
    pub fn changes(mut self, changes: Vec<AuditChange>) -> Event {
        self.changes = changes;
        self
    }
}

/// Records `event`, made by the entry at `log_index` under `meta` by
/// `subject` (`None`: the node's own bootstrap). At most one event per log
/// index.
pub fn record(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: Option<&Subject>,
    event: Event,
) -> Result<(), StorageError> {
    let key = record_key(log_index);
    if kv.get(Table::Audit, &key)?.is_some() {
        return Err(StorageError::corrupt(format!(
            "log index {log_index} recorded two audit events"
        )));
    }
    // The proposer's clock, but never before the previous event: the time
    // index is then in log order, and a time range is a log index range.
    let last_time_ms = kv
        .get(Table::Meta, META_AUDIT_TIME_MS)?
        .map(|bytes| codec::decode::<u64>(&bytes))
        .transpose()?;
    let time_ms = meta.time_ms.max(last_time_ms.unwrap_or(0));
    let first_at_time = last_time_ms.is_none_or(|last| time_ms > last);
    kv.put(Table::Meta, META_AUDIT_TIME_MS, &codec::encode(&time_ms))?;

    let (org_id, org, store_id, store, revision) = match event.place {
        Place::Cluster => (None, None, None, None, None),
        Place::Org { id, name } => (Some(id), Some(name), None, None, None),
        Place::Store {
            org_id,
            org,
            id,
            name,
            revision,
        } => (
            Some(org_id),
            Some(org),
            Some(id),
            Some(name),
            Some(revision),
        ),
    };
    let mut record = AuditRecord {
        log_index,
        time_ms,
        op: event.op,
        org_id,
        org,
        store_id,
        store,
        revision,
        principal: subject.map_or_else(|| "node".to_string(), Subject::principal),
        token_id: subject.map_or_else(String::new, |subject| subject.token.id.clone()),
        agent: meta.agent.clone(),
        session: meta.session.clone(),
        idempotency_key: meta.idempotency_key.clone(),
        request_id: meta.request_id.clone(),
        target: event.target,
        detail: event.detail,
        changes: event.changes,
        prev_hash: ZERO_HASH,
        hash: ZERO_HASH,
    };

    let chain = record.chain();
    let head_key = chain.to_bytes();
    let head = match kv.get(Table::AuditChains, &head_key)? {
        Some(bytes) => codec::decode::<ChainHead>(&bytes)?,
        None => ChainHead {
            events: 0,
            last_log_index: 0,
            hash: ZERO_HASH,
        },
    };
    if head.events > 0 && head.last_log_index >= log_index {
        return Err(StorageError::corrupt(format!(
            "audit chain {chain:?} ends at log index {}, after {log_index}",
            head.last_log_index
        )));
    }
    record.prev_hash = head.hash;
    record.hash = record.compute_hash();
    let new_head = ChainHead {
        events: head.events + 1,
        last_log_index: log_index,
        hash: record.hash,
    };
    kv.put(Table::AuditChains, &head_key, &codec::encode(&new_head))?;
    kv.put(Table::Audit, &key, &codec::encode(&record))?;
    write_index(kv, &record, first_at_time)
}

/// Every index row of `record`; empty labels are not indexed. Each row is
/// written as it is made: a store deletion's event has one per file.
///
/// Only the revision and path rows name the event. The chain, organization
/// and label rows name the event's entry (its first position): under load an
/// entry holds many proposals, mostly of one store, organization, agent,
/// principal and token, and one row serves them all (`KvWrite::put_marker`
/// skips the repeats); a reader walking them looks at every event of each
/// entry named (`read::audit`) and keeps those that match. A time row marks
/// the first event at each time (`first_at_time`): times never go back, so
/// the events at or after a time start at the first row at or after it.
fn write_index(
    kv: &mut impl KvWrite,
    record: &AuditRecord,
    first_at_time: bool,
) -> Result<(), StorageError> {
    let log = record.log_index.to_be_bytes();
    let entry = super::entry_positions(record.log_index).0.to_be_bytes();
    if first_at_time {
        put_row(kv, index::TIME, &[&record.time_ms.to_be_bytes(), &log])?;
    }
    if let (Some(store_id), Some(revision)) = (record.store_id, record.revision) {
        let parts: [&[u8]; 3] = [&store_id.to_be_bytes(), &revision.to_be_bytes(), &log];
        put_row(kv, index::REVISION, &parts)?;
        for change in &record.changes {
            put_path_row(kv, store_id, &change.path, record.log_index)?;
        }
    }
    put_entry_row(kv, index::CHAIN, &[&record.chain().to_bytes(), &entry])?;
    if let Some(org_id) = record.org_id {
        put_entry_row(kv, index::ORG, &[&org_id.to_be_bytes(), &entry])?;
    }
    for (kind, label) in [
        (index::AGENT, &record.agent),
        (index::SESSION, &record.session),
        (index::PRINCIPAL, &record.principal),
        (index::TOKEN, &record.token_id),
    ] {
        if !label.is_empty() {
            put_entry_row(kv, kind, &[&label_part(label), &entry])?;
        }
    }
    Ok(())
}

/// The row saying that the event at `log_index` changed `path` of store
/// `store_id` (`write_index`; a store deletion's, for paths its event does
/// not list).
pub(super) fn put_path_row(
    kv: &mut impl KvWrite,
    store_id: u64,
    path: &str,
    log_index: u64,
) -> Result<(), StorageError> {
    let parts: [&[u8]; 4] = [
        &store_id.to_be_bytes(),
        path.as_bytes(),
        &[codec::PATH_END],
        &log_index.to_be_bytes(),
    ];
    put_row(kv, index::PATH, &parts)
}

fn put_row(kv: &mut impl KvWrite, kind: u8, parts: &[&[u8]]) -> Result<(), StorageError> {
    kv.put(Table::AuditIndex, &index_prefix(kind, parts), &[])
}

/// A row naming the entry, put by the first of its events that has it.
fn put_entry_row(kv: &mut impl KvWrite, kind: u8, parts: &[&[u8]]) -> Result<(), StorageError> {
    kv.put_marker(Table::AuditIndex, &index_prefix(kind, parts))
}

/// Remembers that store `store` had its name, so that its events can be
/// found by name after it is deleted (or the name is reused).
pub fn record_store_name(kv: &mut impl KvWrite, store: &StoreInfo) -> Result<(), StorageError> {
    let key = index_prefix(
        index::STORE_NAME,
        &[
            &store.org_id.to_be_bytes(),
            &label_part(&store.name),
            &store.id.to_be_bytes(),
        ],
    );
    kv.put(Table::AuditIndex, &key, &[])
}
