//! The deterministic state machine: `apply` turns one committed proposal into
//! table writes and an outcome. It reads no clock and draws no randomness;
//! everything variable came in with the proposal.
//!
//! A transaction is first worked out in a `TxnWork` (reads go through to the
//! tables, writes are staged in memory); only when every operation succeeded
//! are the staged changes written, all at one new store revision. So a failed
//! operation leaves the tables exactly as they were.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::codec::{
    self, AuditRecord, FileRecord, IdempotencyRecord, META_FORMAT_VERSION, META_NEXT_STORE_ID,
    VersionRecord,
};
use crate::command::{
    Change, Command, Meta, OpKind, Outcome, Precondition, Proposal, StoreInfo, TxnResult, WriteOp,
};
use crate::error::{CoreError, Resource, StorageError};
use crate::kv::{KvRead, KvWrite, Table, scan_prefix};
use crate::limits::Limits;
use crate::path::{FilePath, StoreName};

/// Most expired idempotency keys removed by one apply, so that one entry's
/// apply time stays bounded however many keys expire at once.
pub const IDEMPOTENCY_PRUNE_BATCH_MAX: usize = 1024;

/// Applies the proposal committed at `log_index`. A domain failure is an
/// `Outcome::Failed` and leaves the tables as they were (apart from the
/// idempotency record, which remembers the failure for retries); an `Err`
/// means the storage broke and the node must stop.
pub fn apply(
    kv: &mut impl KvWrite,
    log_index: u64,
    proposal: &Proposal,
) -> Result<Outcome, StorageError> {
    check_format(kv)?;
    let meta = &proposal.meta;
    prune_idempotency(kv, meta)?;

    let fingerprint = meta
        .idempotency_key
        .as_ref()
        .map(|_| codec::fingerprint(&codec::encode(&proposal.command)));
    if let (Some(key), Some(fingerprint)) = (&meta.idempotency_key, fingerprint)
        && let Some(record) = live_idempotency_record(kv, key, meta)?
    {
        if record.fingerprint == fingerprint {
            return Ok(record.outcome);
        }
        return Ok(Outcome::failed(CoreError::IdempotencyKeyReused {
            key: key.clone(),
        }));
    }

    let outcome = match &proposal.command {
        Command::CreateStore { store } => create_store(kv, log_index, meta, store)?,
        Command::DeleteStore { store } => delete_store(kv, store)?,
        Command::Txn { store, ops } => txn(kv, log_index, meta, store, ops)?,
    };

    if let (Some(key), Some(fingerprint)) = (&meta.idempotency_key, fingerprint) {
        let record = IdempotencyRecord {
            time_ms: meta.time_ms,
            fingerprint,
            outcome: outcome.clone(),
        };
        kv.put(Table::Idempotency, key.as_bytes(), &codec::encode(&record))?;
        kv.put(
            Table::IdempotencyExpiry,
            &codec::expiry_key(meta.time_ms, key),
            &[],
        )?;
    }
    Ok(outcome)
}

/// Writes the format version into a fresh state, and refuses a state written
/// by a different format.
fn check_format(kv: &mut impl KvWrite) -> Result<(), StorageError> {
    match kv.get(Table::Meta, META_FORMAT_VERSION)? {
        None => kv.put(
            Table::Meta,
            META_FORMAT_VERSION,
            &codec::encode(&codec::FORMAT_VERSION),
        ),
        Some(bytes) => {
            let found: u32 = codec::decode(&bytes)?;
            if found == codec::FORMAT_VERSION {
                Ok(())
            } else {
                Err(StorageError::corrupt(format!(
                    "state format version {found}, this build reads {}",
                    codec::FORMAT_VERSION
                )))
            }
        }
    }
}

/// A key's record, unless it is older than the window (it may outlive the
/// window by a little when pruning is behind).
fn live_idempotency_record(
    kv: &impl KvRead,
    key: &str,
    meta: &Meta,
) -> Result<Option<IdempotencyRecord>, StorageError> {
    let Some(bytes) = kv.get(Table::Idempotency, key.as_bytes())? else {
        return Ok(None);
    };
    let record: IdempotencyRecord = codec::decode(&bytes)?;
    let expired = record
        .time_ms
        .saturating_add(meta.limits.idempotency_window_ms)
        < meta.time_ms;
    Ok(if expired { None } else { Some(record) })
}

/// Forgets keys whose window ended before this proposal's time.
fn prune_idempotency(kv: &mut impl KvWrite, meta: &Meta) -> Result<(), StorageError> {
    let cutoff = meta
        .time_ms
        .saturating_sub(meta.limits.idempotency_window_ms);
    let end = cutoff.to_be_bytes();
    let mut expired = Vec::new();
    kv.scan(
        Table::IdempotencyExpiry,
        Bound::Unbounded,
        Bound::Excluded(&end),
        false,
        &mut |key, _| {
            expired.push(key.to_vec());
            Ok(expired.len() < IDEMPOTENCY_PRUNE_BATCH_MAX)
        },
    )?;
    for expiry_key in expired {
        kv.delete(Table::IdempotencyExpiry, &expiry_key)?;
        let (time_bytes, key) = expiry_key.split_at(8);
        // The key may have been reused after it expired; only the record this
        // expiry entry was made for is removed.
        if let Some(bytes) = kv.get(Table::Idempotency, key)? {
            let record: IdempotencyRecord = codec::decode(&bytes)?;
            if record.time_ms.to_be_bytes() == time_bytes {
                kv.delete(Table::Idempotency, key)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn load_store(
    kv: &impl KvRead,
    store: &StoreName,
) -> Result<Option<StoreInfo>, StorageError> {
    kv.get(Table::Stores, store.as_str().as_bytes())?
        .map(|bytes| codec::decode(&bytes))
        .transpose()
}

fn create_store(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    store: &StoreName,
) -> Result<Outcome, StorageError> {
    if load_store(kv, store)?.is_some() {
        return Ok(Outcome::failed(CoreError::AlreadyExists {
            resource: Resource::Store,
            name: store.to_string(),
        }));
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
        return Ok(Outcome::failed(CoreError::limit(
            "stores_max",
            meta.limits.stores_max,
            count + 1,
        )));
    }
    let id = match kv.get(Table::Meta, META_NEXT_STORE_ID)? {
        Some(bytes) => codec::decode::<u64>(&bytes)?,
        None => 1,
    };
    kv.put(Table::Meta, META_NEXT_STORE_ID, &codec::encode(&(id + 1)))?;
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

/// Deletes a store with every file, version and audit record it had. Store
/// ids are never reused, so nothing can later be mistaken for its data.
fn delete_store(kv: &mut impl KvWrite, store: &StoreName) -> Result<Outcome, StorageError> {
    let Some(info) = load_store(kv, store)? else {
        return Ok(Outcome::failed(CoreError::not_found(
            Resource::Store,
            store.as_str(),
        )));
    };
    for table in [Table::Files, Table::Versions, Table::Audit] {
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

/// A file as a transaction sees it: the tables plus what earlier operations
/// of the same transaction staged.
#[derive(Clone, Debug)]
enum Staged {
    Live {
        content: String,
        op: OpKind,
        renamed_from: Option<String>,
    },
    Deleted {
        op: OpKind,
        renamed_to: Option<String>,
    },
}

struct TxnWork<'a, K: KvRead> {
    kv: &'a K,
    store_id: u64,
    revision: u64,
    limits: &'a Limits,
    staged: BTreeMap<String, Staged>,
    /// Paths in the order operations first touched them.
    touched: Vec<String>,
}

impl<'a, K: KvRead> TxnWork<'a, K> {
    fn stored(&self, path: &str) -> Result<Option<FileRecord>, StorageError> {
        self.kv
            .get(Table::Files, &codec::file_key(self.store_id, path))?
            .map(|bytes| codec::decode(&bytes))
            .transpose()
    }

    /// The file's version as the transaction sees it; a file changed earlier
    /// in the transaction already has the transaction's revision.
    fn version(&self, path: &str) -> Result<Option<u64>, StorageError> {
        match self.staged.get(path) {
            Some(Staged::Live { .. }) => Ok(Some(self.revision)),
            Some(Staged::Deleted { .. }) => Ok(None),
            None => Ok(self.stored(path)?.map(|record| record.version)),
        }
    }

    fn content(&self, path: &str) -> Result<Option<String>, StorageError> {
        match self.staged.get(path) {
            Some(Staged::Live { content, .. }) => Ok(Some(content.clone())),
            Some(Staged::Deleted { .. }) => Ok(None),
            None => {
                let Some(record) = self.stored(path)? else {
                    return Ok(None);
                };
                let key = codec::version_key(self.store_id, path, record.version);
                let bytes = self.kv.get(Table::Versions, &key)?.ok_or_else(|| {
                    StorageError::corrupt(format!(
                        "live file {path:?} has no version {}",
                        record.version
                    ))
                })?;
                let version: VersionRecord = codec::decode(&bytes)?;
                version.content.map(Some).ok_or_else(|| {
                    StorageError::corrupt(format!("live file {path:?} points at a delete"))
                })
            }
        }
    }

    fn stage(&mut self, path: &str, staged: Staged) {
        if !self.staged.contains_key(path) {
            self.touched.push(path.to_string());
        }
        self.staged.insert(path.to_string(), staged);
    }

    /// Every live file path under the directory prefix (`/a/`), in path order.
    fn live_under(
        &self,
        prefix: &str,
        stop_after_first: bool,
    ) -> Result<Vec<String>, StorageError> {
        let mut paths = Vec::new();
        scan_prefix(
            self.kv,
            Table::Files,
            &codec::file_key(self.store_id, prefix),
            false,
            &mut |key, _| {
                let path = codec::file_key_path(key)?;
                if !matches!(self.staged.get(path), Some(Staged::Deleted { .. })) {
                    paths.push(path.to_string());
                }
                Ok(!stop_after_first || paths.is_empty())
            },
        )?;
        for (path, staged) in self
            .staged
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        {
            if !path.starts_with(prefix) {
                break;
            }
            if matches!(staged, Staged::Live { .. }) && !paths.contains(path) {
                paths.push(path.clone());
            }
        }
        paths.sort();
        Ok(paths)
    }

    fn check(
        &self,
        path: &FilePath,
        precondition: Precondition,
    ) -> Result<Result<(), CoreError>, StorageError> {
        let current = self.version(path.as_str())?;
        let holds = match precondition {
            Precondition::None => true,
            Precondition::IfVersion(expected) => current == Some(expected),
            Precondition::IfAbsent => current.is_none(),
            Precondition::IfExists => current.is_some(),
        };
        Ok(if holds {
            Ok(())
        } else {
            Err(CoreError::VersionConflict {
                path: path.to_string(),
                expected: precondition,
                current,
            })
        })
    }

    /// A new file may not sit below a file, nor where a directory is.
    fn check_new_path(&self, path: &FilePath) -> Result<Result<(), CoreError>, StorageError> {
        for ancestor in path.ancestors() {
            if self.version(ancestor)?.is_some() {
                return Ok(Err(CoreError::PathConflict {
                    path: path.to_string(),
                    conflicting: ancestor.to_string(),
                    reason: "an ancestor is a file".to_string(),
                }));
            }
        }
        if let Some(descendant) = self
            .live_under(&format!("{path}/"), true)?
            .into_iter()
            .next()
        {
            return Ok(Err(CoreError::PathConflict {
                path: path.to_string(),
                conflicting: descendant,
                reason: "the path is a directory".to_string(),
            }));
        }
        Ok(Ok(()))
    }

    fn check_size(&self, content: &str) -> Result<(), CoreError> {
        let bytes = content.len() as u64;
        if bytes > self.limits.file_bytes_max {
            return Err(CoreError::limit(
                "file_bytes_max",
                self.limits.file_bytes_max,
                bytes,
            ));
        }
        Ok(())
    }

    fn live_content(&self, path: &FilePath) -> Result<Result<String, CoreError>, StorageError> {
        Ok(self
            .content(path.as_str())?
            .ok_or_else(|| CoreError::not_found(Resource::File, path.as_str())))
    }

    fn run(&mut self, op: &WriteOp) -> Result<Result<(), CoreError>, StorageError> {
        macro_rules! attempt {
            ($e:expr) => {
                match $e {
                    Ok(value) => value,
                    Err(error) => return Ok(Err(error)),
                }
            };
        }
        match op {
            WriteOp::Write {
                path,
                content,
                precondition,
            } => {
                attempt!(self.check(path, *precondition)?);
                attempt!(self.check_size(content));
                if self.version(path.as_str())?.is_none() {
                    attempt!(self.check_new_path(path)?);
                }
                self.stage(
                    path.as_str(),
                    Staged::Live {
                        content: content.clone(),
                        op: OpKind::Write,
                        renamed_from: None,
                    },
                );
            }
            WriteOp::Delete {
                path,
                recursive,
                precondition,
            } => {
                attempt!(self.check(path, *precondition)?);
                let mut doomed = Vec::new();
                if self.version(path.as_str())?.is_some() {
                    doomed.push(path.to_string());
                }
                if *recursive {
                    doomed.extend(self.live_under(&format!("{path}/"), false)?);
                }
                if doomed.is_empty() {
                    return Ok(Err(CoreError::not_found(Resource::File, path.as_str())));
                }
                for doomed_path in doomed {
                    self.stage(
                        &doomed_path,
                        Staged::Deleted {
                            op: OpKind::Delete,
                            renamed_to: None,
                        },
                    );
                }
            }
            WriteOp::Rename {
                from,
                to,
                overwrite,
                precondition,
            } => {
                if from == to {
                    return Ok(Err(CoreError::invalid_request(
                        "rename needs two different paths",
                    )));
                }
                let content = attempt!(self.live_content(from)?);
                attempt!(self.check(from, *precondition)?);
                self.stage(
                    from.as_str(),
                    Staged::Deleted {
                        op: OpKind::Rename,
                        renamed_to: Some(to.to_string()),
                    },
                );
                if self.version(to.as_str())?.is_some() {
                    if !overwrite {
                        return Ok(Err(CoreError::AlreadyExists {
                            resource: Resource::File,
                            name: to.to_string(),
                        }));
                    }
                } else {
                    attempt!(self.check_new_path(to)?);
                }
                self.stage(
                    to.as_str(),
                    Staged::Live {
                        content,
                        op: OpKind::Rename,
                        renamed_from: Some(from.to_string()),
                    },
                );
            }
            WriteOp::StrReplace {
                path,
                old,
                new,
                precondition,
            } => {
                let content = attempt!(self.live_content(path)?);
                attempt!(self.check(path, *precondition)?);
                if old.is_empty() {
                    return Ok(Err(CoreError::invalid_request(
                        "str_replace needs non-empty old text",
                    )));
                }
                let occurrences = count_occurrences(&content, old);
                if occurrences != 1 {
                    return Ok(Err(CoreError::NoUniqueMatch {
                        path: path.to_string(),
                        occurrences,
                    }));
                }
                let replaced = content.replacen(old.as_str(), new, 1);
                attempt!(self.check_size(&replaced));
                self.stage(
                    path.as_str(),
                    Staged::Live {
                        content: replaced,
                        op: OpKind::StrReplace,
                        renamed_from: None,
                    },
                );
            }
            WriteOp::Insert {
                path,
                line,
                text,
                precondition,
            } => {
                let content = attempt!(self.live_content(path)?);
                attempt!(self.check(path, *precondition)?);
                let inserted = attempt!(insert_at_line(path, &content, *line, text));
                attempt!(self.check_size(&inserted));
                self.stage(
                    path.as_str(),
                    Staged::Live {
                        content: inserted,
                        op: OpKind::Insert,
                        renamed_from: None,
                    },
                );
            }
        }
        Ok(Ok(()))
    }
}

/// How many positions `needle` starts at, overlapping ones included: `aa`
/// occurs twice in `aaa`, which is not a unique match.
pub fn count_occurrences(haystack: &str, needle: &str) -> u64 {
    let mut count = 0;
    let mut start = 0;
    while let Some(found) = haystack[start..].find(needle) {
        count += 1;
        let at = start + found;
        // Step one character past the match start to find overlapping matches.
        start = at + haystack[at..].chars().next().map_or(1, char::len_utf8);
        if start > haystack.len() {
            break;
        }
    }
    count
}

/// The number of lines: a final line without `\n` counts; an empty text has none.
pub fn line_count(content: &str) -> u64 {
    let newlines = content.matches('\n').count() as u64;
    if content.is_empty() || content.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// Inserts `text` as whole lines before line `line` (0-based); `line ==
/// line_count` appends. The inserted text gets a final `\n` if it lacks one,
/// and a file whose last line lacks `\n` gets one before appended text.
pub fn insert_at_line(
    path: &FilePath,
    content: &str,
    line: u64,
    text: &str,
) -> Result<String, CoreError> {
    let lines = line_count(content);
    if line > lines {
        return Err(CoreError::InvalidLine {
            path: path.to_string(),
            line,
            lines,
        });
    }
    let offset = if line == lines {
        content.len()
    } else if line == 0 {
        0
    } else {
        // Line `line` starts just past the `line`-th newline; it exists because `line < lines`.
        content
            .match_indices('\n')
            .nth(line as usize - 1)
            .map_or(content.len(), |(index, _)| index + 1)
    };
    let mut result = String::with_capacity(content.len() + text.len() + 2);
    result.push_str(&content[..offset]);
    if offset == content.len() && !content.is_empty() && !content.ends_with('\n') {
        result.push('\n');
    }
    result.push_str(text);
    if !text.ends_with('\n') {
        result.push('\n');
    }
    result.push_str(&content[offset..]);
    Ok(result)
}

fn txn(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    store: &StoreName,
    ops: &[WriteOp],
) -> Result<Outcome, StorageError> {
    let Some(mut info) = load_store(kv, store)? else {
        return Ok(Outcome::failed(CoreError::not_found(
            Resource::Store,
            store.as_str(),
        )));
    };
    if ops.is_empty() {
        return Ok(Outcome::failed(CoreError::invalid_request(
            "a transaction needs at least one operation",
        )));
    }
    if ops.len() as u64 > meta.limits.txn_ops_max {
        return Ok(Outcome::failed(CoreError::limit(
            "txn_ops_max",
            meta.limits.txn_ops_max,
            ops.len() as u64,
        )));
    }
    let revision = info.revision + 1;
    let mut work = TxnWork {
        kv: &*kv,
        store_id: info.id,
        revision,
        limits: &meta.limits,
        staged: BTreeMap::new(),
        touched: Vec::new(),
    };
    for (index, op) in ops.iter().enumerate() {
        if let Err(error) = work.run(op)? {
            return Ok(Outcome::Failed {
                op_index: Some(index as u32),
                error,
            });
        }
    }

    // Work out the net change per path before writing anything.
    let mut writes = Vec::with_capacity(work.touched.len());
    let mut file_count = info.file_count as i128;
    let mut bytes_total = info.bytes_total as i128;
    for path in &work.touched {
        let before = work.stored(path)?;
        let staged = work.staged[path].clone();
        if let (None, Staged::Deleted { .. }) = (&before, &staged) {
            // Created and deleted within this transaction: no trace.
            continue;
        }
        if let Some(record) = &before {
            file_count -= 1;
            bytes_total -= i128::from(record.bytes);
        }
        if let Staged::Live { content, .. } = &staged {
            file_count += 1;
            bytes_total += content.len() as i128;
        }
        writes.push((path.clone(), staged));
    }
    let file_count = u64::try_from(file_count)
        .map_err(|_| StorageError::corrupt(format!("store {store} file count went negative")))?;
    if file_count > info.file_count && file_count > meta.limits.files_per_store_max {
        return Ok(Outcome::failed(CoreError::limit(
            "files_per_store_max",
            meta.limits.files_per_store_max,
            file_count,
        )));
    }

    let mut changes = Vec::with_capacity(writes.len());
    for (path, staged) in writes {
        let file_key = codec::file_key(info.id, &path);
        let (record, change) = match staged {
            Staged::Live {
                content,
                op,
                renamed_from,
            } => {
                let file = FileRecord {
                    version: revision,
                    bytes: content.len() as u64,
                };
                kv.put(Table::Files, &file_key, &codec::encode(&file))?;
                let record = VersionRecord {
                    revision,
                    op,
                    content: Some(content),
                    time_ms: meta.time_ms,
                    agent: meta.agent.clone(),
                    session: meta.session.clone(),
                    renamed_from,
                    renamed_to: None,
                };
                (
                    record,
                    Change {
                        path: path.clone(),
                        op,
                        version: Some(revision),
                    },
                )
            }
            Staged::Deleted { op, renamed_to } => {
                kv.delete(Table::Files, &file_key)?;
                let record = VersionRecord {
                    revision,
                    op,
                    content: None,
                    time_ms: meta.time_ms,
                    agent: meta.agent.clone(),
                    session: meta.session.clone(),
                    renamed_from: None,
                    renamed_to,
                };
                (
                    record,
                    Change {
                        path: path.clone(),
                        op,
                        version: None,
                    },
                )
            }
        };
        kv.put(
            Table::Versions,
            &codec::version_key(info.id, &path, revision),
            &codec::encode(&record),
        )?;
        changes.push(change);
    }

    info.revision = revision;
    info.file_count = file_count;
    info.bytes_total = u64::try_from(bytes_total)
        .map_err(|_| StorageError::corrupt(format!("store {store} byte total went negative")))?;
    kv.put(
        Table::Stores,
        store.as_str().as_bytes(),
        &codec::encode(&info),
    )?;
    let audit = AuditRecord {
        revision,
        log_index,
        time_ms: meta.time_ms,
        agent: meta.agent.clone(),
        session: meta.session.clone(),
        idempotency_key: meta.idempotency_key.clone(),
        changes: changes.clone(),
    };
    kv.put(
        Table::Audit,
        &codec::audit_key(info.id, revision),
        &codec::encode(&audit),
    )?;
    Ok(Outcome::Txn(TxnResult { revision, changes }))
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
