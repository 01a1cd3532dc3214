//! A store's retention: after a transaction, the files it wrote keep at
//! most `versions_max` versions and none older than `retain_ms` (by the
//! transaction's time), the newest version always. A pruned version loses
//! its record and its content; its audit event stays.

use std::ops::Bound;

use crate::codec::{self, VersionRecord};
use crate::command::{Meta, StoreInfo};
use crate::error::StorageError;
use crate::kv::{self, KvWrite, Table};

pub(super) fn prune<'a>(
    kv: &mut impl KvWrite,
    info: &StoreInfo,
    meta: &Meta,
    paths: impl Iterator<Item = &'a str>,
) -> Result<(), StorageError> {
    let policy = info.policy;
    if policy.versions_max.is_none() && policy.retain_ms.is_none() {
        return Ok(());
    }
    let cutoff = policy
        .retain_ms
        .map(|retain| meta.time_ms.saturating_sub(retain));
    for path in paths {
        let prefix = codec::versions_prefix(info.id, path);
        let end = kv::prefix_end(&prefix);
        // (revision, time) of every version, oldest first.
        let mut versions: Vec<(u64, u64)> = Vec::new();
        kv.scan(
            Table::Versions,
            Bound::Included(&prefix),
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
            false,
            &mut |key, value| {
                let (_, revision) = codec::version_key_parts(key)?;
                let record: VersionRecord = codec::decode(value)?;
                versions.push((revision, record.time_ms));
                Ok(true)
            },
        )?;
        let count = versions.len() as u64;
        let by_count = policy
            .versions_max
            .map_or(0, |max| count.saturating_sub(max));
        let newest = versions.len().saturating_sub(1);
        for (index, (revision, time_ms)) in versions.into_iter().enumerate() {
            if index == newest {
                break;
            }
            let too_many = (index as u64) < by_count;
            let too_old = cutoff.is_some_and(|cutoff| time_ms < cutoff);
            if too_many || too_old {
                let key = codec::version_key(info.id, path, revision);
                kv.delete(Table::Versions, &key)?;
                kv.delete(Table::Content, &codec::content_key(info.id, path, revision))?;
            }
        }
    }
    Ok(())
}
