//! Applying a redaction (`crate::redact`): check every target against the
//! tables first, then write, so a refused redaction changes nothing.

use super::audit::{self, Event};
use super::txn::write_version;
use super::work::{Staged, stored_file};
use super::{ApplyResult, store};
use crate::audit::{AuditChange, AuditOp};
use crate::auth::{self, Subject};
use crate::codec::{self, RedactionMark, VersionRecord};
use crate::command::{Meta, OpKind, Outcome, StoreInfo};
use crate::error::{CoreError, StorageError};
use crate::kv::{KvWrite, Table};
use crate::redact::{RedactAction, RedactTarget, RedactedVersion, Redaction, replace_ranges};

/// What one target will write, worked out before anything is written.
struct Planned {
    path: String,
    version: u64,
    record: VersionRecord,
    /// The new content row; `None` removes it.
    content: Option<String>,
    /// The target is the file's live version: write a new one with `content`.
    live: bool,
}

/// Redacts `targets` in `info`, a store the caller administers.
pub(super) fn redact(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    mut info: StoreInfo,
    reason: &str,
    targets: &[RedactTarget],
) -> ApplyResult<Outcome> {
    let revision = info.revision.checked_add(1).ok_or_else(|| {
        StorageError::corrupt(format!("store {:?} revisions exhausted", info.name))
    })?;
    let mark = |whole: bool| RedactionMark {
        revision,
        time_ms: meta.time_ms,
        principal: subject.principal(),
        token_id: subject.token.id.clone(),
        reason: reason.to_string(),
        whole,
    };
    let mut planned = Vec::with_capacity(targets.len());
    for target in targets {
        planned.push(plan(&*kv, &info, target, &mark)?);
    }

    let mut versions = Vec::with_capacity(planned.len());
    let mut audited = Vec::with_capacity(planned.len());
    let mut rewritten = Vec::new();
    for Planned {
        path,
        version,
        record,
        content,
        live,
    } in planned
    {
        let key = codec::content_key(info.id, &path, version);
        match &content {
            Some(content) => kv.put(Table::Content, &key, content.as_bytes())?,
            None => kv.delete(Table::Content, &key)?,
        }
        kv.put(
            Table::Versions,
            &codec::version_key(info.id, &path, version),
            &codec::encode(&record),
        )?;
        versions.push(RedactedVersion {
            path: path.clone(),
            version,
            whole: content.is_none(),
            bytes: content.as_ref().map_or(0, |content| content.len() as u64),
        });
        audited.push(AuditChange {
            path: path.clone(),
            op: OpKind::Redact,
            version: Some(version),
            content_sha256: content
                .as_deref()
                .map(|content| auth::sha256(content.as_bytes())),
        });
        if let (true, Some(content)) = (live, content) {
            let before = stored_file(&*kv, info.id, &path)?
                .ok_or_else(|| StorageError::corrupt(format!("live file {path} vanished")))?;
            info.bytes_total = (info.bytes_total - before.bytes) + content.len() as u64;
            let (change, content_sha256) = write_version(
                kv,
                info.id,
                revision,
                meta,
                path,
                Staged::Live {
                    content,
                    op: OpKind::Redact,
                    renamed_from: None,
                },
            )?;
            audited.push(AuditChange {
                path: change.path.clone(),
                op: change.op,
                version: change.version,
                content_sha256,
            });
            rewritten.push(change);
        }
    }
    info.revision = revision;
    store::save_store(kv, &info)?;
    audit::record(
        kv,
        log_index,
        meta,
        Some(subject),
        Event::store(AuditOp::Redact, &info)
            .detail(reason)
            .changes(audited),
    )?;
    Ok(Outcome::Redacted(Redaction {
        revision,
        versions,
        rewritten,
    }))
}

/// Checks one target against the tables and works out what it writes.
fn plan(
    kv: &impl KvWrite,
    info: &StoreInfo,
    target: &RedactTarget,
    mark: &impl Fn(bool) -> RedactionMark,
) -> ApplyResult<Planned> {
    let path = target.path.as_str();
    let version = target.version;
    let conflict = |reason: String| CoreError::RedactionConflict {
        path: path.to_string(),
        version,
        reason,
    };
    let key = codec::version_key(info.id, path, version);
    let Some(bytes) = kv.get(Table::Versions, &key)? else {
        return Err(conflict("no such version".into()).into());
    };
    let mut record: VersionRecord = codec::decode(&bytes)?;
    if record.revision != version {
        return Err(StorageError::corrupt(format!(
            "version key {path}@{version} holds the record of revision {}",
            record.revision
        ))
        .into());
    }
    if record.bytes.is_none() {
        return Err(conflict("the version is a delete and has no content".into()).into());
    }
    let Some(stored) = kv.get(Table::Content, &key)? else {
        return Err(conflict("its content was redacted already".into()).into());
    };
    if auth::sha256(&stored) != target.sha256 {
        return Err(conflict(
            "its content is not the content the redaction was planned against".into(),
        )
        .into());
    }
    let live = stored_file(kv, info.id, path)?.is_some_and(|file| file.version == version);
    let content = match &target.action {
        RedactAction::Whole => {
            if live {
                return Err(conflict(
                    "it is the file's live version; write or delete the file first".into(),
                )
                .into());
            }
            record.redaction = Some(mark(true));
            None
        }
        RedactAction::Ranges(ranges) => {
            let content = codec::decode_content(stored)?;
            let redacted = replace_ranges(&content, ranges).map_err(|reason| {
                CoreError::invalid_request(format!("{path}@{version}: {reason}"))
            })?;
            record.bytes = Some(redacted.len() as u64);
            record.redaction = Some(mark(false));
            Some(redacted)
        }
    };
    Ok(Planned {
        path: path.to_string(),
        version,
        record,
        content,
        live,
    })
}
