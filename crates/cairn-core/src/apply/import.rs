//! Applying an import (`crate::import`): begin, stage chunks, commit, abort.
//!
//! A chunk is checked whole against the import's state (order, digest
//! continuity, event hashes and links, content digests) before anything is
//! written, so a refused chunk changes nothing and the import can go on from
//! where it stood (or be aborted).

use std::ops::Bound;

use super::ApplyResult;
use super::audit::{self, Event};
use super::store::{allocate_id, check_store_free, load_store, save_store};
use crate::audit::{AuditOp, ChainHead, ChainKey, ZERO_HASH};
use crate::auth::{self, Subject};
use crate::codec::{self, FileRecord, META_NEXT_STORE_ID, VersionRecord};
use crate::command::{Meta, OpKind, Outcome, StoreInfo};
use crate::error::{CoreError, Resource, StorageError};
use crate::governance::{OrgInfo, StoreRef};
use crate::import::{
    DIGEST_START, IMPORT_IDLE_MS_MAX, ImportChunk, ImportState, import_key, imported_event_key,
    imported_revision_key,
};
use crate::kv::{KvRead, KvWrite, Table, delete_prefix};

pub(crate) fn load_import(
    kv: &(impl KvRead + ?Sized),
    id: u64,
) -> Result<Option<ImportState>, StorageError> {
    kv.get(Table::Imports, &import_key(id))?
        .map(|bytes| codec::decode(&bytes))
        .transpose()
}

fn save_import(kv: &mut impl KvWrite, state: &ImportState) -> Result<(), StorageError> {
    kv.put(Table::Imports, &import_key(state.id), &codec::encode(state))
}

/// The organization `org_id`, if `subject` may import into it: the operator
/// and the organization's admins. Others get `not_found` for an
/// organization they cannot see, `forbidden` for their own.
fn importing_org(kv: &impl KvRead, subject: &Subject, org_id: u64) -> ApplyResult<OrgInfo> {
    let org = auth::load_org(kv, org_id)?
        .filter(|org| subject.is_operator() || subject.org().is_some_and(|own| own.id == org.id))
        .ok_or_else(|| CoreError::not_found(Resource::Organization, org_id.to_string()))?;
    if !subject.manages_org(org.id) {
        return Err(CoreError::forbidden(format!(
            "{} may not import stores into organization {:?}: only its admins and the operator",
            subject.principal(),
            org.name
        ))
        .into());
    }
    Ok(org)
}

/// The import `id`, if `subject` may work on it.
fn owned_import(
    kv: &impl KvRead,
    subject: &Subject,
    id: u64,
) -> ApplyResult<(ImportState, OrgInfo)> {
    let state = load_import(kv, id)?
        .ok_or_else(|| CoreError::not_found(Resource::Import, id.to_string()))?;
    let org = importing_org(kv, subject, state.org_id)
        .map_err(|_| CoreError::not_found(Resource::Import, id.to_string()))?;
    Ok((state, org))
}

pub(super) fn begin(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    store: &StoreRef,
) -> ApplyResult<Outcome> {
    let org = importing_org(kv, subject, store.org_id)?;
    if load_store(kv, store)?.is_some() {
        return Err(CoreError::AlreadyExists {
            resource: Resource::Store,
            name: store.name.to_string(),
        }
        .into());
    }
    remove_idle_imports(kv, meta.time_ms)?;
    let id = allocate_id(kv, META_NEXT_STORE_ID, "store")?;
    let state = ImportState {
        id,
        org_id: org.id,
        org: org.name.clone(),
        store: store.name.to_string(),
        principal: subject.principal(),
        token_id: subject.token.id.clone(),
        started_ms: meta.time_ms,
        updated_ms: meta.time_ms,
        source: None,
        digest: DIGEST_START,
        records: 0,
        versions: 0,
        events: 0,
        content_bytes: 0,
        last_version: None,
        last_event_hash: ZERO_HASH,
        file_count: 0,
        bytes_total: 0,
        complete: false,
    };
    save_import(kv, &state)?;
    let event = Event::org(AuditOp::ImportBegin, &org)
        .target(state.store.clone())
        .detail(format!("import={id}"));
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::ImportUpdated(Box::new(state)))
}

/// Imports no chunk has reached for `IMPORT_IDLE_MS_MAX` are abandoned:
/// removed with everything staged for them.
fn remove_idle_imports(kv: &mut impl KvWrite, now_ms: u64) -> Result<(), StorageError> {
    let mut idle = Vec::new();
    kv.scan(
        Table::Imports,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |_, value| {
            let state: ImportState = codec::decode(value)?;
            if state.updated_ms.saturating_add(IMPORT_IDLE_MS_MAX) < now_ms {
                idle.push(state.id);
            }
            Ok(true)
        },
    )?;
    for id in idle {
        remove_staged(kv, id)?;
    }
    Ok(())
}

/// Deletes an import's state and every row staged under its store id.
fn remove_staged(kv: &mut impl KvWrite, id: u64) -> Result<(), StorageError> {
    for table in [
        Table::Files,
        Table::Versions,
        Table::Content,
        Table::ImportedAudit,
    ] {
        delete_prefix(kv, table, &codec::store_prefix(id))?;
    }
    kv.delete(Table::Imports, &import_key(id))
}

pub(super) fn chunk(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    import_id: u64,
    chunk: &ImportChunk,
) -> ApplyResult<Outcome> {
    let (mut state, org) = owned_import(kv, subject, import_id)?;
    check_chunk_against(&state, chunk)?;

    // Every check passed: write.
    if let Some(header) = &chunk.header {
        state.source = Some(header.clone());
    }
    for version in &chunk.versions {
        let path = version.path.as_str();
        let record = VersionRecord {
            revision: version.revision,
            op: version.op,
            bytes: version.bytes,
            time_ms: version.time_ms,
            agent: version.agent.clone(),
            session: version.session.clone(),
            renamed_from: version.renamed_from.clone(),
            renamed_to: version.renamed_to.clone(),
            redaction: version.redaction.clone(),
        };
        kv.put(
            Table::Versions,
            &codec::version_key(state.id, path, version.revision),
            &codec::encode(&record),
        )?;
        if let Some(content) = &version.content {
            kv.put(
                Table::Content,
                &codec::content_key(state.id, path, version.revision),
                content.as_bytes(),
            )?;
            state.content_bytes += content.len() as u64;
        }
        // Versions of a path come oldest first: the last one decides
        // whether the file is live, and its size.
        let file_key = codec::file_key(state.id, path);
        if let Some(bytes) = kv.get(Table::Files, &file_key)? {
            let old: FileRecord = codec::decode(&bytes)?;
            state.file_count -= 1;
            state.bytes_total -= old.bytes;
        }
        match (version.op, version.bytes) {
            (OpKind::Delete | OpKind::DeleteStore, _) | (_, None) => {
                kv.delete(Table::Files, &file_key)?;
            }
            (_, Some(bytes)) => {
                let file = FileRecord {
                    version: version.revision,
                    bytes,
                };
                kv.put(Table::Files, &file_key, &codec::encode(&file))?;
                state.file_count += 1;
                state.bytes_total += bytes;
            }
        }
        state.versions += 1;
        state.last_version = Some((path.to_string(), version.revision));
    }
    for event in &chunk.events {
        let position = state.events;
        kv.put(
            Table::ImportedAudit,
            &imported_event_key(state.id, position),
            &codec::encode(event),
        )?;
        if let Some(revision) = event.revision {
            kv.put(
                Table::ImportedAudit,
                &imported_revision_key(state.id, revision, position),
                &[],
            )?;
        }
        state.last_event_hash = event.hash;
        state.events += 1;
    }
    state.records += chunk.records;
    state.digest = chunk.digest_after;
    state.complete = chunk.trailer.is_some();
    state.updated_ms = meta.time_ms;
    save_import(kv, &state)?;
    let detail = format!(
        "import={} records={} versions={} events={}",
        state.id,
        chunk.records,
        chunk.versions.len(),
        chunk.events.len()
    );
    let event = Event::org(AuditOp::ImportChunk, &org)
        .target(state.store.clone())
        .detail(detail);
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::ImportUpdated(Box::new(state)))
}

/// Every rule a chunk must meet given where the import stands. Reads only.
fn check_chunk_against(state: &ImportState, chunk: &ImportChunk) -> Result<(), CoreError> {
    let refuse = |reason: String| Err(CoreError::invalid_archive(reason));
    if state.complete {
        return refuse(
            "the archive's trailer was already received: commit or abort the import".to_string(),
        );
    }
    if chunk.digest_before != state.digest {
        return refuse(format!(
            "the chunk does not continue the archive after record {} (digest {} expected, \
             {} given): chunks must be sent in order, each once",
            state.records,
            crate::auth::hex(&state.digest),
            crate::auth::hex(&chunk.digest_before)
        ));
    }
    match (state.records == 0, chunk.header.is_some()) {
        (true, false) => return refuse("the archive must begin with its header".to_string()),
        (false, true) => return refuse("the archive has a second header".to_string()),
        _ => {}
    }
    let Some(source) = chunk.header.as_ref().or(state.source.as_ref()) else {
        return refuse("the archive must begin with its header".to_string());
    };
    if !chunk.versions.is_empty() && state.events > 0 {
        return refuse("a version after the audit events".to_string());
    }
    let mut last = state.last_version.clone();
    for version in &chunk.versions {
        let key = (version.path.as_str().to_string(), version.revision);
        if last.as_ref().is_some_and(|last| *last >= key) {
            return refuse(format!(
                "version {}@{} is out of (path, revision) order",
                key.0, key.1
            ));
        }
        if version.revision > source.revision {
            return refuse(format!(
                "version {}@{} is after the store's revision {} at the export",
                key.0, key.1, source.revision
            ));
        }
        last = Some(key);
    }
    let mut chain_hash = state.last_event_hash;
    for event in &chunk.events {
        if event.prev_hash != chain_hash {
            return refuse(format!(
                "audit event at log index {} does not chain from the event before it",
                event.log_index
            ));
        }
        if event.compute_hash() != event.hash {
            return refuse(format!(
                "audit event at log index {} does not match its hash",
                event.log_index
            ));
        }
        if event.store_id.is_none() || event.revision.is_some_and(|r| r > source.revision) {
            return refuse(format!(
                "audit event at log index {} is not an event of the store as exported",
                event.log_index
            ));
        }
        chain_hash = event.hash;
    }
    if let Some(trailer) = &chunk.trailer {
        let versions = state.versions + chunk.versions.len() as u64;
        let events = state.events + chunk.events.len() as u64;
        let content_bytes = state.content_bytes
            + chunk
                .versions
                .iter()
                .filter_map(|version| version.content.as_ref())
                .map(|content| content.len() as u64)
                .sum::<u64>();
        if (trailer.versions, trailer.events, trailer.content_bytes)
            != (versions, events, content_bytes)
        {
            return refuse(format!(
                "the trailer counts {} versions, {} events and {} content bytes; the archive \
                 held {versions}, {events} and {content_bytes}",
                trailer.versions, trailer.events, trailer.content_bytes
            ));
        }
        if trailer.digest != chunk.digest_after {
            return refuse("the trailer's digest does not match the archive's records".to_string());
        }
    }
    Ok(())
}

pub(super) fn commit(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    import_id: u64,
) -> ApplyResult<Outcome> {
    let (state, _org) = owned_import(kv, subject, import_id)?;
    let Some(source) = state.source.clone().filter(|_| state.complete) else {
        return Err(CoreError::invalid_archive(format!(
            "import {import_id} has not received its whole archive (trailer missing after {} \
             records): nothing was imported",
            state.records
        ))
        .into());
    };
    let name = crate::path::StoreName::parse(&state.store)?;
    let store = StoreRef::new(state.org_id, name);
    check_store_free(kv, meta, &store)?;
    if state.file_count > meta.limits.files_per_store_max {
        return Err(CoreError::limit(
            "files_per_store_max",
            meta.limits.files_per_store_max,
            state.file_count,
        )
        .into());
    }
    let info = StoreInfo {
        id: state.id,
        name: state.store.clone(),
        org_id: state.org_id,
        org: state.org.clone(),
        owner: None,
        created_ms: source.created_ms,
        created_log_index: log_index,
        revision: source.revision,
        file_count: state.file_count,
        bytes_total: state.bytes_total,
        policy: source.policy,
    };
    save_store(kv, &info)?;
    audit::record_store_name(kv, &info)?;
    // The store's chain goes on from the archive's last event: the import
    // event links to it, and `verify_chain` walks the imported events first.
    let chain = ChainKey::Store(info.id);
    if kv.get(Table::AuditChains, &chain.to_bytes())?.is_some() {
        return Err(StorageError::corrupt(format!(
            "staged store {} already has an audit chain",
            info.id
        ))
        .into());
    }
    if state.events > 0 {
        let head = ChainHead {
            events: state.events,
            last_log_index: 0,
            hash: state.last_event_hash,
        };
        kv.put(Table::AuditChains, &chain.to_bytes(), &codec::encode(&head))?;
    }
    kv.delete(Table::Imports, &import_key(state.id))?;
    let detail = format!(
        "archive sha256={} from store {}/{} (revision {}, {} versions, {} events)",
        crate::auth::hex(&state.digest),
        source.org,
        source.name,
        source.revision,
        state.versions,
        state.events
    );
    let event = Event::store(AuditOp::Import, &info)
        .target(source.name.clone())
        .detail(detail);
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::Imported(info))
}

pub(super) fn abort(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    import_id: u64,
) -> ApplyResult<Outcome> {
    let (state, org) = owned_import(kv, subject, import_id)?;
    remove_staged(kv, state.id)?;
    let event = Event::org(AuditOp::ImportAbort, &org)
        .target(state.store.clone())
        .detail(format!("import={} records={}", state.id, state.records));
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::ImportUpdated(Box::new(state)))
}
