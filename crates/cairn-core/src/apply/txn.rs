//! A transaction from start to finish: stage every operation in a `TxnWork`,
//! work out the net change per path, check the store's limits, then write
//! versions, content, the store record and the audit record at one revision.

use super::audit::{self, Event};
use super::work::{Staged, TxnWork, stored_file};
use super::{ApplyResult, retention, store};
use crate::audit::{AuditChange, AuditOp};
use crate::auth::{self, Subject};
use crate::codec::{self, FileRecord, VersionRecord};
use crate::command::{Change, Meta, OpKind, Outcome, StoreInfo, TxnResult, WriteOp};
use crate::error::{CoreError, StorageError};
use crate::kv::{KvRead, KvWrite, Table};

/// Runs `ops` on `info`, a store the caller was authorized to write; the
/// audit event is `op` (a transaction, or a rollback).
/// What a transaction's audit event says it was: its op (`txn`,
/// `rollback`) and an optional detail (the transaction's message).
pub(super) struct TxnAudit<'a> {
    pub op: AuditOp,
    pub detail: Option<&'a str>,
}

impl TxnAudit<'_> {
    pub fn op(op: AuditOp) -> TxnAudit<'static> {
        TxnAudit { op, detail: None }
    }
}

pub(super) fn txn(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    mut info: StoreInfo,
    ops: &[WriteOp],
    audited_as: TxnAudit<'_>,
) -> ApplyResult<Outcome> {
    // `Proposal::check` refused empty and oversized transactions already.
    debug_assert!(!ops.is_empty());
    let revision = info.revision.checked_add(1).ok_or_else(|| {
        StorageError::corrupt(format!("store {:?} revisions exhausted", info.name))
    })?;
    let mut work = TxnWork::new(&*kv, info.id, revision, &meta.limits);
    for (index, op) in ops.iter().enumerate() {
        work.run(op).map_err(|error| error.at_op(index))?;
    }
    let net = net_change(&*kv, &info, revision, work.into_staged())?;
    if net.file_count > info.file_count && net.file_count > meta.limits.files_per_store_max {
        return Err(CoreError::limit(
            "files_per_store_max",
            meta.limits.files_per_store_max,
            net.file_count,
        )
        .into());
    }

    if let Some(max) = info.policy.bytes_max
        && net.bytes_total > max
        && net.bytes_total > info.bytes_total
    {
        return Err(CoreError::limit("store_bytes_max", max, net.bytes_total).into());
    }

    let mut changes = Vec::with_capacity(net.writes.len());
    let mut audited = Vec::with_capacity(net.writes.len());
    for (path, staged) in net.writes {
        let (change, content_sha256) = write_version(kv, info.id, revision, meta, path, staged)?;
        audited.push(AuditChange {
            path: change.path.clone(),
            op: change.op,
            version: change.version,
            content_sha256,
        });
        changes.push(change);
    }
    info.revision = revision;
    info.file_count = net.file_count;
    info.bytes_total = net.bytes_total;
    retention::prune(
        kv,
        &info,
        meta,
        changes.iter().map(|change| change.path.as_str()),
    )?;
    store::save_store(kv, &info)?;
    #[cfg(test)]
    assert_totals_match_files(&*kv, &info)?;
    let mut event = Event::store(audited_as.op, &info).changes(audited);
    if let Some(detail) = audited_as.detail {
        event = event.detail(detail);
    }
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::Txn(TxnResult { revision, changes }))
}

/// What a transaction changes once its operations are netted out per path.
struct NetChange {
    /// The paths to write, in first-touch order.
    writes: Vec<(String, Staged)>,
    file_count: u64,
    bytes_total: u64,
}

fn net_change(
    kv: &impl KvRead,
    info: &StoreInfo,
    revision: u64,
    staged: Vec<(String, Staged)>,
) -> Result<NetChange, StorageError> {
    let mut writes = Vec::with_capacity(staged.len());
    let mut file_count = i128::from(info.file_count);
    let mut bytes_total = i128::from(info.bytes_total);
    for (path, staged) in staged {
        let before = stored_file(kv, info.id, &path)?;
        if let (None, Staged::Deleted { .. }) = (&before, &staged) {
            // Created and deleted within this transaction: no trace.
            continue;
        }
        if let Some(record) = &before {
            // Revisions only grow: a live file's version is older than this transaction.
            debug_assert!(record.version < revision, "{path} is at {}", record.version);
            file_count -= 1;
            bytes_total -= i128::from(record.bytes);
        }
        if let Staged::Live { content, .. } = &staged {
            file_count += 1;
            bytes_total += content.len() as i128;
        }
        writes.push((path, staged));
    }
    let negative =
        |what: &str| StorageError::corrupt(format!("store {:?} {what} went negative", info.name));
    Ok(NetChange {
        writes,
        file_count: u64::try_from(file_count).map_err(|_| negative("file count"))?,
        bytes_total: u64::try_from(bytes_total).map_err(|_| negative("byte total"))?,
    })
}

/// Writes one path's new version (and content, and live-file row) and
/// answers the change it made, with the SHA-256 of the content written.
pub(super) fn write_version(
    kv: &mut impl KvWrite,
    store_id: u64,
    revision: u64,
    meta: &Meta,
    path: String,
    staged: Staged,
) -> Result<(Change, Option<[u8; 32]>), StorageError> {
    let file_key = codec::file_key(store_id, &path);
    let version_key = codec::version_key(store_id, &path, revision);
    let record = |op: OpKind, bytes, renamed_from, renamed_to| VersionRecord {
        revision,
        op,
        bytes,
        time_ms: meta.time_ms,
        agent: meta.agent.clone(),
        session: meta.session.clone(),
        renamed_from,
        renamed_to,
        redaction: None,
    };
    let (record, version, digest) = match staged {
        Staged::Live {
            content,
            op,
            renamed_from,
        } => {
            let bytes = content.len() as u64;
            let file = FileRecord {
                version: revision,
                bytes,
            };
            kv.put(Table::Files, &file_key, &codec::encode(&file))?;
            kv.put(
                Table::Content,
                &codec::content_key(store_id, &path, revision),
                content.as_bytes(),
            )?;
            let digest = auth::sha256(content.as_bytes());
            (
                record(op, Some(bytes), renamed_from, None),
                Some(revision),
                Some(digest),
            )
        }
        Staged::Deleted { op, renamed_to } => {
            kv.delete(Table::Files, &file_key)?;
            (record(op, None, None, renamed_to), None, None)
        }
    };
    kv.put(Table::Versions, &version_key, &codec::encode(&record))?;
    Ok((
        Change {
            path,
            op: record.op,
            version,
        },
        digest,
    ))
}

/// In tests, every transaction recounts its store's files: the running
/// `file_count` and `bytes_total` must equal what the `Files` table holds.
#[cfg(test)]
fn assert_totals_match_files(kv: &impl KvRead, info: &StoreInfo) -> Result<(), StorageError> {
    let (mut files, mut bytes) = (0u64, 0u64);
    crate::kv::scan_prefix(
        kv,
        Table::Files,
        &codec::store_prefix(info.id),
        false,
        &mut |_, value| {
            let record: FileRecord = codec::decode(value)?;
            files += 1;
            bytes += record.bytes;
            Ok(true)
        },
    )?;
    assert_eq!(
        (files, bytes),
        (info.file_count, info.bytes_total),
        "store {:?} totals drifted from its files",
        info.name
    );
    Ok(())
}
