//! Redaction: removing content from versions for good.
//!
//! Two kinds, both carried by `Command::Redact`:
//! - a **version redaction** removes one version's content row (`Whole`);
//!   its `VersionRecord` stays, marked, so history and audit still show it;
//! - a **string redaction** replaces byte ranges of versions' content with
//!   `MARKER` (`Ranges`), and the live version of each file it touches is
//!   rewritten as a new version (op `redact`) without the text.
//!
//! The text to remove never enters the Raft log: `plan_string` (a read)
//! finds its occurrences, and the command names each version by path,
//! version, the SHA-256 of the content it expects there, and the byte ranges
//! to replace. `apply` checks every digest again and refuses the whole
//! command (`redaction_conflict`) if any version's content is not the one
//! planned against (changed, already redacted, gone), so a redaction is
//! applied exactly as planned or not at all.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::auth;
use crate::codec::{self, VersionRecord};
use crate::command::Change;
use crate::error::{CoreError, ReadError};
use crate::governance::StoreRef;
use crate::kv::{self, KvRead, Table};
use crate::limits::Limits;
use crate::path::FilePath;

/// What replaces each redacted occurrence in a string redaction.
pub const MARKER: &str = "[REDACTED]";
/// The most versions one redaction may name.
pub const REDACT_TARGETS_MAX: usize = 10_000;
/// The most byte ranges one redaction may name, over all its versions.
pub const REDACT_RANGES_MAX: usize = 100_000;
/// The longest reason a redaction may give, in bytes.
pub const REASON_BYTES_MAX: usize = 1024;

/// One version a redaction changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactTarget {
    pub path: FilePath,
    pub version: u64,
    /// The SHA-256 of the content the version must hold when applied.
    pub sha256: [u8; 32],
    pub action: RedactAction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedactAction {
    /// Remove the whole content (refused for a file's live version).
    Whole,
    /// Replace each byte range `[start, end)` with `MARKER`; sorted, disjoint,
    /// non-empty, on UTF-8 character boundaries.
    Ranges(Vec<(u64, u64)>),
}

/// What a redaction did (`Outcome::Redacted`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    /// The store revision the redaction took (its audit event).
    pub revision: u64,
    pub versions: Vec<RedactedVersion>,
    /// The live versions written without the redacted text (op `redact`,
    /// version `revision`).
    pub rewritten: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactedVersion {
    pub path: String,
    pub version: u64,
    /// The whole content was removed.
    pub whole: bool,
    /// How many bytes the version holds now (for `whole`: 0).
    pub bytes: u64,
}

/// The stateless rules of a redaction (part of `Proposal::check`).
pub(crate) fn check(
    reason: &str,
    targets: &[RedactTarget],
    limits: &Limits,
) -> Result<(), CoreError> {
    if reason.trim().is_empty() {
        return Err(CoreError::invalid_request("a redaction needs a reason"));
    }
    if reason.len() > REASON_BYTES_MAX {
        return Err(CoreError::limit(
            "reason_bytes_max",
            REASON_BYTES_MAX as u64,
            reason.len() as u64,
        ));
    }
    if targets.is_empty() {
        return Err(CoreError::invalid_request(
            "a redaction needs at least one version",
        ));
    }
    if targets.len() > REDACT_TARGETS_MAX {
        return Err(CoreError::limit(
            "redact_targets_max",
            REDACT_TARGETS_MAX as u64,
            targets.len() as u64,
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut ranges_total = 0usize;
    for target in targets {
        target.path.check_limits(limits)?;
        if !seen.insert((target.path.as_str(), target.version)) {
            return Err(CoreError::invalid_request(format!(
                "{}@{} is named twice",
                target.path, target.version
            )));
        }
        let RedactAction::Ranges(ranges) = &target.action else {
            continue;
        };
        ranges_total += ranges.len();
        if ranges.is_empty() {
            return Err(CoreError::invalid_request(format!(
                "{}@{} names no range",
                target.path, target.version
            )));
        }
        let mut end_before = 0u64;
        for &(start, end) in ranges {
            if start >= end || start < end_before {
                return Err(CoreError::invalid_request(format!(
                    "{}@{}: ranges must be non-empty, sorted and disjoint",
                    target.path, target.version
                )));
            }
            end_before = end;
        }
    }
    if ranges_total > REDACT_RANGES_MAX {
        return Err(CoreError::limit(
            "redact_ranges_max",
            REDACT_RANGES_MAX as u64,
            ranges_total as u64,
        ));
    }
    Ok(())
}

/// `content` with every range replaced by `MARKER`, or why the ranges do not
/// fit it.
pub(crate) fn replace_ranges(content: &str, ranges: &[(u64, u64)]) -> Result<String, String> {
    let mut out = String::with_capacity(content.len());
    let mut at = 0usize;
    for &(start, end) in ranges {
        let (start, end) = (
            usize::try_from(start).map_err(|_| "range out of bounds")?,
            usize::try_from(end).map_err(|_| "range out of bounds")?,
        );
        if end > content.len() || start < at {
            return Err(format!(
                "range {start}..{end} is outside its {} bytes",
                content.len()
            ));
        }
        if !content.is_char_boundary(start) || !content.is_char_boundary(end) {
            return Err(format!("range {start}..{end} splits a UTF-8 character"));
        }
        out.push_str(&content[at..start]);
        out.push_str(MARKER);
        at = end;
    }
    out.push_str(&content[at..]);
    Ok(out)
}

/// Finds every version of every file of `store` whose path starts with
/// `path_prefix` (bytewise) that holds `needle`, and names it for a string
/// redaction: its digest and the ranges of the non-overlapping occurrences.
/// Versions whose content is gone (deletes, whole redactions) are skipped.
pub fn plan_string(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    path_prefix: &str,
    needle: &str,
    limits: &Limits,
) -> Result<Vec<RedactTarget>, ReadError> {
    if needle.is_empty() {
        return Err(CoreError::invalid_request("the string to redact is empty").into());
    }
    if MARKER.contains(needle) {
        return Err(CoreError::invalid_request(format!(
            "the string to redact occurs in the marker {MARKER:?} itself"
        ))
        .into());
    }
    if !path_prefix.starts_with('/') {
        return Err(CoreError::invalid_request("path_prefix must start with '/'").into());
    }
    let info = crate::read::get_store(kv, store)?;
    let start = codec::file_key(info.id, path_prefix);
    let end = kv::prefix_end(&start);
    let mut versions: Vec<(String, u64)> = Vec::new();
    let mut storage_error = None;
    kv.scan(
        Table::Versions,
        Bound::Included(&start),
        end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        false,
        &mut |key, value| {
            let (path, revision) = codec::version_key_parts(key)?;
            let record: VersionRecord = codec::decode(value)?;
            if record.bytes.is_some() && !record.redaction.as_ref().is_some_and(|mark| mark.whole) {
                versions.push((path.to_string(), revision));
            }
            Ok(true)
        },
    )?;
    let mut targets = Vec::new();
    let mut ranges_total = 0usize;
    for (path, version) in versions {
        let key = codec::content_key(info.id, &path, version);
        let Some(bytes) = kv.get(Table::Content, &key)? else {
            storage_error = Some(format!("version {path}@{version} has no content"));
            break;
        };
        let content = codec::decode_content(bytes)?;
        let ranges: Vec<(u64, u64)> = content
            .match_indices(needle)
            .map(|(at, found)| (at as u64, (at + found.len()) as u64))
            .collect();
        if ranges.is_empty() {
            continue;
        }
        ranges_total += ranges.len();
        let path = FilePath::parse(&path, limits)?;
        targets.push(RedactTarget {
            path,
            version,
            sha256: auth::sha256(content.as_bytes()),
            action: RedactAction::Ranges(ranges),
        });
        if targets.len() > REDACT_TARGETS_MAX {
            return Err(CoreError::limit(
                "redact_targets_max",
                REDACT_TARGETS_MAX as u64,
                targets.len() as u64,
            )
            .into());
        }
        if ranges_total > REDACT_RANGES_MAX {
            return Err(CoreError::limit(
                "redact_ranges_max",
                REDACT_RANGES_MAX as u64,
                ranges_total as u64,
            )
            .into());
        }
    }
    if let Some(what) = storage_error {
        return Err(crate::error::StorageError::corrupt(what).into());
    }
    Ok(targets)
}

/// Names one version for a version redaction: its current digest.
pub fn plan_version(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    path: &FilePath,
    version: u64,
) -> Result<RedactTarget, ReadError> {
    let info = crate::read::get_store(kv, store)?;
    let key = codec::content_key(info.id, path.as_str(), version);
    let conflict = |reason: &str| CoreError::RedactionConflict {
        path: path.to_string(),
        version,
        reason: reason.to_string(),
    };
    let Some(record) = kv.get(Table::Versions, &key)? else {
        return Err(CoreError::not_found(
            crate::error::Resource::Version,
            format!("{path}@{version}"),
        )
        .into());
    };
    let record: VersionRecord = codec::decode(&record)?;
    if record.bytes.is_none() {
        return Err(conflict("the version is a delete and has no content").into());
    }
    let Some(content) = kv.get(Table::Content, &key)? else {
        return Err(conflict("its content was redacted already").into());
    };
    Ok(RedactTarget {
        path: path.clone(),
        version,
        sha256: auth::sha256(&content),
        action: RedactAction::Whole,
    })
}
