//! Creating and deleting stores.

use std::ops::Bound;

use super::ApplyResult;
use super::audit::{self, Event};
use crate::audit::{AuditChange, AuditOp};
use crate::auth::{self, Subject};
use crate::codec::{self, META_NEXT_STORE_ID};
use crate::command::{Meta, OpKind, Outcome, StoreInfo};
use crate::error::{CoreError, Resource, StorageError};
use crate::governance::{Access, StorePolicy, StoreRef};
use crate::kv::{KvRead, KvWrite, Table, delete_prefix, delete_prefix_each};
use crate::path::UserName;

pub(crate) fn load_store(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
) -> Result<Option<StoreInfo>, StorageError> {
    kv.get(
        Table::Stores,
        &codec::store_key(store.org_id, store.name.as_str()),
    )?
    .map(|bytes| codec::decode(&bytes))
    .transpose()
}

/// The next id of a counter in `sm_meta` (the first is 1), counted on; ids
/// are never reused.
pub(super) fn allocate_id(
    kv: &mut impl KvWrite,
    counter: &[u8],
    what: &str,
) -> Result<u64, StorageError> {
    let id = match kv.get(Table::Meta, counter)? {
        Some(bytes) => codec::decode::<u64>(&bytes)?,
        None => 1,
    };
    let next_id = id
        .checked_add(1)
        .ok_or_else(|| StorageError::corrupt(format!("{what} ids exhausted")))?;
    kv.put(Table::Meta, counter, &codec::encode(&next_id))?;
    Ok(id)
}

/// Writes a store's record back under its key.
pub(super) fn save_store(kv: &mut impl KvWrite, info: &StoreInfo) -> Result<(), StorageError> {
    kv.put(
        Table::Stores,
        &codec::store_key(info.org_id, &info.name),
        &codec::encode(info),
    )
}

/// Who may create a store: an organization-scoped one, the operator and the
/// organization's admins; a user-scoped one, also its owner.
/// Refuses a new store named `store` when the name is taken in its
/// organization or the cluster already holds `stores_max` stores.
pub(super) fn check_store_free(kv: &impl KvRead, meta: &Meta, store: &StoreRef) -> ApplyResult<()> {
    if load_store(kv, store)?.is_some() {
        return Err(CoreError::AlreadyExists {
            resource: Resource::Store,
            name: store.name.to_string(),
        }
        .into());
    }
    let mut count = 0u64;
    kv.scan(
        Table::Stores,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |_, _| {
            count += 1;
            Ok(true)
        },
    )?;
    if count >= meta.limits.stores_max {
        return Err(CoreError::limit("stores_max", meta.limits.stores_max, count + 1).into());
    }
    Ok(())
}

pub(super) fn create_store(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    store: &StoreRef,
    owner: Option<&UserName>,
) -> ApplyResult<Outcome> {
    let org = auth::load_org(kv, store.org_id)?
        .filter(|org| subject.is_operator() || subject.org().is_some_and(|own| own.id == org.id))
        .ok_or_else(|| CoreError::not_found(Resource::Organization, store.org_id.to_string()))?;
    let allowed = match owner {
        None => subject.manages_org(org.id),
        Some(owner) => subject.manages_user(org.id, owner.as_str()),
    };
    if !allowed {
        return Err(CoreError::forbidden(format!(
            "{} may not create {} in organization {:?}",
            subject.principal(),
            match owner {
                None => "an organization store".to_string(),
                Some(owner) => format!("a store owned by {owner}"),
            },
            org.name
        ))
        .into());
    }
    if let Some(owner) = owner
        && auth::load_user(kv, org.id, owner.as_str())?.is_none()
    {
        return Err(CoreError::not_found(Resource::User, owner.as_str()).into());
    }
    check_store_free(kv, meta, store)?;
    let id = allocate_id(kv, META_NEXT_STORE_ID, "store")?;
    let info = StoreInfo {
        id,
        name: store.name.to_string(),
        org_id: org.id,
        org: org.name,
        owner: owner.map(|owner| owner.to_string()),
        created_ms: meta.time_ms,
        created_log_index: log_index,
        revision: 0,
        file_count: 0,
        bytes_total: 0,
        policy: StorePolicy::default(),
    };
    save_store(kv, &info)?;
    audit::record_store_name(kv, &info)?;
    let event = Event::store(AuditOp::CreateStore, &info);
    let event = match &info.owner {
        Some(owner) => event.detail(format!("owner={owner}")),
        None => event,
    };
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::StoreCreated(info))
}

/// Most removed files a store deletion's event lists in `changes`; past it,
/// `detail` counts them and each still has its path row.
pub const DELETED_PATHS_LISTED_MAX: u64 = 1000;

/// Deletes a store with every file, version, content and grant it had. Its
/// audit events stay (keyed by log index, not by store), and one more records
/// the deletion: what it removed counted in `detail`, the files listed when
/// few, a path row for each. Store ids are never reused, so nothing can later
/// be mistaken for its data.
pub(super) fn delete_store(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    store: &StoreRef,
) -> ApplyResult<Outcome> {
    let info = auth::authorize_store(kv, subject, store, Access::Admin)?;
    // Every removed file gets a path row naming the deletion, so `path=`
    // finds it; the event lists them only when they are few (a million
    // paths made one event of ~100 MB in memory, and as much in each read).
    let listed = info.file_count <= DELETED_PATHS_LISTED_MAX;
    let mut removed = Vec::new();
    let files = codec::store_prefix(info.id);
    delete_prefix_each(kv, Table::Files, &files, |kv, key| {
        let path = codec::file_key_path(key)?;
        if listed {
            removed.push(AuditChange {
                path: path.to_string(),
                op: OpKind::DeleteStore,
                version: None,
                content_sha256: None,
            });
            Ok(())
        } else {
            audit::put_path_row(kv, info.id, path, log_index)
        }
    })?;
    for table in [Table::Versions, Table::Content, Table::Grants] {
        delete_prefix(kv, table, &codec::store_prefix(info.id))?;
    }
    kv.delete(Table::Stores, &codec::store_key(info.org_id, &info.name))?;
    let detail = format!("{} files, {} bytes", info.file_count, info.bytes_total);
    let event = Event::store(AuditOp::DeleteStore, &info).detail(detail);
    audit::record(kv, log_index, meta, Some(subject), event.changes(removed))?;
    Ok(Outcome::StoreDeleted(info))
}

/// Replaces the store's retention and quota. Versions beyond the new
/// retention go when their file is next written; a store already over a
/// new quota takes no write that grows it.
pub(super) fn set_policy(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    store: &StoreRef,
    policy: StorePolicy,
) -> ApplyResult<Outcome> {
    let mut info = auth::authorize_store(kv, subject, store, Access::Admin)?;
    if policy.versions_max == Some(0) {
        return Err(CoreError::invalid_request("versions_max must be at least 1").into());
    }
    info.policy = policy;
    save_store(kv, &info)?;
    let show = |value: Option<u64>| value.map_or("off".to_string(), |value| value.to_string());
    let detail = format!(
        "versions_max={} retain_ms={} bytes_max={}",
        show(policy.versions_max),
        show(policy.retain_ms),
        show(policy.bytes_max)
    );
    audit::record(
        kv,
        log_index,
        meta,
        Some(subject),
        audit::Event::store(AuditOp::SetPolicy, &info).detail(detail),
    )?;
    Ok(Outcome::StoreUpdated(info))
}
