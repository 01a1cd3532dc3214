//! Creating and deleting stores.

use std::ops::Bound;

use super::ApplyResult;
use crate::codec::{self, META_NEXT_STORE_ID};
use crate::command::{Meta, Outcome, StoreInfo};
use crate::error::{CoreError, Resource, StorageError};
use crate::kv::{KvRead, KvWrite, Table, scan_prefix};
use crate::path::StoreName;

pub(crate) fn load_store(
    kv: &(impl KvRead + ?Sized),
    store: &StoreName,
) -> Result<Option<StoreInfo>, StorageError> {
    kv.get(Table::Stores, store.as_str().as_bytes())?
        .map(|bytes| codec::decode(&bytes))
        .transpose()
}

/// The store, or `not_found`.
pub(super) fn existing_store(
    kv: &(impl KvRead + ?Sized),
    store: &StoreName,
) -> ApplyResult<StoreInfo> {
    Ok(load_store(kv, store)?
        .ok_or_else(|| CoreError::not_found(Resource::Store, store.as_str()))?)
}

pub(super) fn create_store(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    store: &StoreName,
) -> ApplyResult<Outcome> {
    if load_store(kv, store)?.is_some() {
        return Err(CoreError::AlreadyExists {
            resource: Resource::Store,
            name: store.to_string(),
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
    let id = match kv.get(Table::Meta, META_NEXT_STORE_ID)? {
        Some(bytes) => codec::decode::<u64>(&bytes)?,
        None => 1,
    };
    let next_id = id
        .checked_add(1)
        .ok_or_else(|| StorageError::corrupt("store ids exhausted"))?;
    kv.put(Table::Meta, META_NEXT_STORE_ID, &codec::encode(&next_id))?;
    let info = StoreInfo {
        id,
        name: store.to_string(),
        created_ms: meta.time_ms,
        created_log_index: log_index,
        revision: 0,
        file_count: 0,
        bytes_total: 0,
    };
    kv.put(
        Table::Stores,
        store.as_str().as_bytes(),
        &codec::encode(&info),
    )?;
    Ok(Outcome::StoreCreated(info))
}

/// Deletes a store with every file, version, content and audit record it had.
/// Store ids are never reused, so nothing can later be mistaken for its data.
pub(super) fn delete_store(kv: &mut impl KvWrite, store: &StoreName) -> ApplyResult<Outcome> {
    let info = existing_store(kv, store)?;
    for table in [Table::Files, Table::Versions, Table::Content, Table::Audit] {
        let mut keys = Vec::new();
        scan_prefix(
            kv,
            table,
            &codec::store_prefix(info.id),
            false,
            &mut |key, _| {
                keys.push(key.to_vec());
                Ok(true)
            },
        )?;
        for key in keys {
            kv.delete(table, &key)?;
        }
    }
    kv.delete(Table::Stores, store.as_str().as_bytes())?;
    Ok(Outcome::StoreDeleted(info))
}
