//! The versions of one path, newest first, and diffs between two of them.

use std::ops::Bound;

use super::file::{check_key_matches, readable_content, version_content, version_record};
use super::{HistoryPage, VersionInfo, get_store};
use crate::codec::{self, VersionRecord};
use crate::error::{CoreError, ReadError, Resource};
use crate::governance::StoreRef;
use crate::kv::{self, KvRead, Table};
use crate::path::FilePath;

/// Versions of one path, newest first, older than `before` if given. Content
/// is read (from `Content`) only when `with_content` asks for it.
pub fn history(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    path: &FilePath,
    before: Option<u64>,
    limit: u64,
    with_content: bool,
) -> Result<HistoryPage, ReadError> {
    let info = get_store(kv, store)?;
    let start = codec::versions_prefix(info.id, path.as_str());
    let end = match before {
        Some(before) => codec::version_key(info.id, path.as_str(), before),
        None => kv::prefix_end(&start).unwrap_or_default(),
    };
    let page_max = limit.max(1);
    let mut records: Vec<VersionRecord> = Vec::new();
    let mut next_before = None;
    kv.scan(
        Table::Versions,
        Bound::Included(&start),
        Bound::Excluded(&end),
        true,
        &mut |key, value| {
            if records.len() as u64 >= page_max {
                next_before = records.last().map(|last| last.revision);
                return Ok(false);
            }
            let (_, revision) = codec::version_key_parts(key)?;
            let record: VersionRecord = codec::decode(value)?;
            check_key_matches(path.as_str(), revision, &record)?;
            records.push(record);
            Ok(true)
        },
    )?;
    if records.is_empty() && before.is_none() {
        return Err(CoreError::not_found(Resource::File, path.as_str()).into());
    }
    let mut versions = Vec::with_capacity(records.len());
    for record in records {
        // A version whose content a redaction removed lists without content.
        let whole_redacted = record.redaction.as_ref().is_some_and(|mark| mark.whole);
        let content = match with_content && record.bytes.is_some() && !whole_redacted {
            true => Some(version_content(kv, info.id, path.as_str(), &record)?),
            false => None,
        };
        versions.push(version_info(path.as_str(), record, content));
    }
    Ok(HistoryPage {
        path: path.to_string(),
        versions,
        next_before,
    })
}

fn version_info(path: &str, record: VersionRecord, content: Option<String>) -> VersionInfo {
    VersionInfo {
        path: path.to_string(),
        version: record.revision,
        op: record.op,
        time_ms: record.time_ms,
        agent: record.agent,
        session: record.session,
        bytes: record.bytes,
        content,
        renamed_from: record.renamed_from,
        renamed_to: record.renamed_to,
        redaction: record.redaction.as_ref().map(Into::into),
    }
}

/// A unified diff from version `from` to version `to` of one path. A version
/// that is a delete diffs as empty text.
pub fn diff(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    path: &FilePath,
    from: u64,
    to: u64,
) -> Result<String, ReadError> {
    let info = get_store(kv, store)?;
    let content = |version: u64| -> Result<String, ReadError> {
        let record = version_record(kv, info.id, path.as_str(), version)?
            .ok_or_else(|| CoreError::not_found(Resource::Version, format!("{path}@{version}")))?;
        readable_content(kv, info.id, path.as_str(), &record)
    };
    let (old, new) = (content(from)?, content(to)?);
    let diff = similar::TextDiff::from_lines(&old, &new);
    Ok(diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path}@{from}"), &format!("{path}@{to}"))
        .to_string())
}
