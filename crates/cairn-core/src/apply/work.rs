//! `TxnWork`: a transaction worked out in memory. Reads go through to the
//! tables; every change is staged, so that nothing is written unless every
//! operation succeeds. One method per `WriteOp` variant.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::ApplyResult;
use super::text::{count_occurrences, insert_at_line};
use crate::codec::{self, FileRecord};
use crate::command::{OpKind, Precondition, WriteOp};
use crate::error::{CoreError, Resource, StorageError};
use crate::kv::{KvRead, Table, scan_prefix};
use crate::limits::Limits;
use crate::path::FilePath;

/// A file as a transaction sees it: the tables plus what earlier operations
/// of the same transaction staged.
#[derive(Clone, Debug)]
pub(super) enum Staged {
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

/// The file's record in the tables (a transaction's changes are not there
/// until it commits).
pub(super) fn stored_file(
    kv: &impl KvRead,
    store_id: u64,
    path: &str,
) -> Result<Option<FileRecord>, StorageError> {
    kv.get(Table::Files, &codec::file_key(store_id, path))?
        .map(|bytes| codec::decode(&bytes))
        .transpose()
}

pub(super) struct TxnWork<'a, K: KvRead> {
    kv: &'a K,
    store_id: u64,
    revision: u64,
    limits: &'a Limits,
    staged: BTreeMap<String, Staged>,
    /// Paths in the order operations first touched them.
    touched: Vec<String>,
}

impl<'a, K: KvRead> TxnWork<'a, K> {
    /// Work on store `store_id` whose changes will carry `revision`.
    pub(super) fn new(kv: &'a K, store_id: u64, revision: u64, limits: &'a Limits) -> Self {
        TxnWork {
            kv,
            store_id,
            revision,
            limits,
            staged: BTreeMap::new(),
            touched: Vec::new(),
        }
    }

    /// Stages one operation, or refuses it (and then the whole transaction).
    pub(super) fn run(&mut self, op: &WriteOp) -> ApplyResult<()> {
        match op {
            WriteOp::Write {
                path,
                content,
                precondition,
            } => self.write(path, content, *precondition),
            WriteOp::Delete {
                path,
                recursive,
                precondition,
            } => self.delete(path, *recursive, *precondition),
            WriteOp::Rename {
                from,
                to,
                overwrite,
                precondition,
            } => self.rename(from, to, *overwrite, *precondition),
            WriteOp::StrReplace {
                path,
                old,
                new,
                precondition,
            } => self.str_replace(path, old, new, *precondition),
            WriteOp::Insert {
                path,
                line,
                text,
                precondition,
            } => self.insert(path, *line, text, *precondition),
        }
    }

    /// Every path touched, in first-touch order, with what it became; the
    /// staged content moves out rather than being copied.
    pub(super) fn into_staged(mut self) -> Vec<(String, Staged)> {
        let touched = std::mem::take(&mut self.touched);
        let staged: Vec<_> = touched
            .into_iter()
            .filter_map(|path| {
                let staged = self.staged.remove(&path)?;
                Some((path, staged))
            })
            .collect();
        debug_assert!(self.staged.is_empty(), "a staged path was not touched");
        staged
    }

    fn stored(&self, path: &str) -> Result<Option<FileRecord>, StorageError> {
        stored_file(self.kv, self.store_id, path)
    }

    // The content size (`file_bytes_max`) of a `Write` is checked by
    // `Proposal::check`, before any operation runs.
    fn write(
        &mut self,
        path: &FilePath,
        content: &str,
        precondition: Precondition,
    ) -> ApplyResult<()> {
        self.check_precondition(path, precondition)?;
        if self.version(path.as_str())?.is_none() {
            self.check_new_path(path)?;
        }
        self.stage(
            path.as_str(),
            Staged::Live {
                content: content.to_string(),
                op: OpKind::Write,
                renamed_from: None,
            },
        );
        Ok(())
    }

    fn delete(
        &mut self,
        path: &FilePath,
        recursive: bool,
        precondition: Precondition,
    ) -> ApplyResult<()> {
        self.check_precondition(path, precondition)?;
        let mut doomed = Vec::new();
        if self.version(path.as_str())?.is_some() {
            doomed.push(path.to_string());
        }
        if recursive {
            doomed.extend(self.live_under(&format!("{path}/"), false)?);
        }
        if doomed.is_empty() {
            return Err(CoreError::not_found(Resource::File, path.as_str()).into());
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
        Ok(())
    }

    // `from != to` is checked by `Proposal::check`.
    fn rename(
        &mut self,
        from: &FilePath,
        to: &FilePath,
        overwrite: bool,
        precondition: Precondition,
    ) -> ApplyResult<()> {
        debug_assert_ne!(from, to);
        let content = self.live_content(from)?;
        self.check_precondition(from, precondition)?;
        self.stage(
            from.as_str(),
            Staged::Deleted {
                op: OpKind::Rename,
                renamed_to: Some(to.to_string()),
            },
        );
        if self.version(to.as_str())?.is_some() {
            if !overwrite {
                return Err(CoreError::AlreadyExists {
                    resource: Resource::File,
                    name: to.to_string(),
                }
                .into());
            }
        } else {
            self.check_new_path(to)?;
        }
        self.stage(
            to.as_str(),
            Staged::Live {
                content,
                op: OpKind::Rename,
                renamed_from: Some(from.to_string()),
            },
        );
        Ok(())
    }

    // A non-empty `old` is checked by `Proposal::check`.
    fn str_replace(
        &mut self,
        path: &FilePath,
        old: &str,
        new: &str,
        precondition: Precondition,
    ) -> ApplyResult<()> {
        let content = self.live_content(path)?;
        self.check_precondition(path, precondition)?;
        let occurrences = count_occurrences(&content, old);
        if occurrences != 1 {
            return Err(CoreError::NoUniqueMatch {
                path: path.to_string(),
                occurrences,
            }
            .into());
        }
        let replaced = content.replacen(old, new, 1);
        self.check_size(&replaced)?;
        self.stage(
            path.as_str(),
            Staged::Live {
                content: replaced,
                op: OpKind::StrReplace,
                renamed_from: None,
            },
        );
        Ok(())
    }

    fn insert(
        &mut self,
        path: &FilePath,
        line: u64,
        text: &str,
        precondition: Precondition,
    ) -> ApplyResult<()> {
        let content = self.live_content(path)?;
        self.check_precondition(path, precondition)?;
        let inserted = insert_at_line(path, &content, line, text)?;
        self.check_size(&inserted)?;
        self.stage(
            path.as_str(),
            Staged::Live {
                content: inserted,
                op: OpKind::Insert,
                renamed_from: None,
            },
        );
        Ok(())
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
                let key = codec::content_key(self.store_id, path, record.version);
                let bytes = self.kv.get(Table::Content, &key)?.ok_or_else(|| {
                    StorageError::corrupt(format!(
                        "live file {path:?} has no content at version {}",
                        record.version
                    ))
                })?;
                let content = codec::decode_content(bytes)?;
                debug_assert_eq!(content.len() as u64, record.bytes);
                Ok(Some(content))
            }
        }
    }

    fn live_content(&self, path: &FilePath) -> ApplyResult<String> {
        Ok(self
            .content(path.as_str())?
            .ok_or_else(|| CoreError::not_found(Resource::File, path.as_str()))?)
    }

    fn stage(&mut self, path: &str, staged: Staged) {
        if !self.staged.contains_key(path) {
            self.touched.push(path.to_string());
        }
        self.staged.insert(path.to_string(), staged);
        debug_assert_eq!(self.touched.len(), self.staged.len());
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

    fn check_precondition(&self, path: &FilePath, precondition: Precondition) -> ApplyResult<()> {
        let current = self.version(path.as_str())?;
        let holds = match precondition {
            Precondition::None => true,
            Precondition::IfVersion(expected) => current == Some(expected),
            Precondition::IfAbsent => current.is_none(),
            Precondition::IfExists => current.is_some(),
        };
        if holds {
            return Ok(());
        }
        Err(CoreError::VersionConflict {
            path: path.to_string(),
            expected: precondition,
            current,
        }
        .into())
    }

    /// A new file may not sit below a file, nor where a directory is.
    fn check_new_path(&self, path: &FilePath) -> ApplyResult<()> {
        for ancestor in path.ancestors() {
            if self.version(ancestor)?.is_some() {
                return Err(CoreError::PathConflict {
                    path: path.to_string(),
                    conflicting: ancestor.to_string(),
                    reason: "an ancestor is a file".to_string(),
                }
                .into());
            }
        }
        if let Some(descendant) = self
            .live_under(&format!("{path}/"), true)?
            .into_iter()
            .next()
        {
            return Err(CoreError::PathConflict {
                path: path.to_string(),
                conflicting: descendant,
                reason: "the path is a directory".to_string(),
            }
            .into());
        }
        Ok(())
    }

    /// The size of content an edit produced (`str_replace`, `insert`).
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
}
