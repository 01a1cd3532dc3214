//! Planning a rollback: which files to put back to which earlier state.
//! The plan is made on a read; the service proposes it as one transaction
//! whose every operation has a precondition on the version the plan saw,
//! so a change made between planning and applying refuses it.

use std::ops::Bound;

use super::file::version_content;
use super::get_store;
use crate::codec::{self, VersionRecord};
use crate::command::{Precondition, WriteOp};
use crate::error::{CoreError, ReadError, Resource};
use crate::governance::StoreRef;
use crate::kv::{self, KvRead, Table};
use crate::path::{DirPath, FilePath};

/// What to roll back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RollbackTarget {
    /// One file to the state of its version `version` (a delete: absent).
    File { path: FilePath, version: u64 },
    /// Every file under `dir` (`/`: the whole store) to its state at store revision `revision`.
    Tree { dir: DirPath, revision: u64 },
    /// Undo every change this session made.
    Session(String),
    /// Undo every change this agent made.
    Agent(String),
}

/// One file's move back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackStep {
    pub path: String,
    /// The live version now (`None`: the file does not exist now).
    pub current: Option<u64>,
    /// The version whose content comes back (`None`: the file goes away).
    pub restore: Option<u64>,
}

/// A later change by someone else to a file the rollback would put back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackConflict {
    pub path: String,
    pub version: u64,
    pub agent: String,
    pub session: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackPlan {
    /// The store revision the plan was made at.
    pub planned_at: u64,
    pub steps: Vec<RollbackStep>,
    /// Non-empty only for session and agent rollbacks; they refuse unless forced.
    pub conflicts: Vec<RollbackConflict>,
}

/// One version of a path, as planning needs it.
struct Seen {
    revision: u64,
    live: bool,
    agent: String,
    session: String,
}

/// The rollback of `target` on `store`, as it would be made now.
pub fn plan_rollback(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    target: &RollbackTarget,
) -> Result<RollbackPlan, ReadError> {
    let info = get_store(kv, store)?;
    let prefix = match target {
        RollbackTarget::File { path, .. } => codec::versions_prefix(info.id, path.as_str()),
        RollbackTarget::Tree { dir, .. } if dir.as_str() != "/" => {
            codec::file_key(info.id, &dir.prefix())
        }
        _ => codec::store_prefix(info.id).to_vec(),
    };
    if let RollbackTarget::Tree { revision, .. } = target
        && *revision > info.revision
    {
        return Err(CoreError::invalid_request(format!(
            "revision {revision} is in the future: store {:?} is at revision {}",
            info.name, info.revision
        ))
        .into());
    }
    let mut plan = RollbackPlan {
        planned_at: info.revision,
        steps: Vec::new(),
        conflicts: Vec::new(),
    };
    let mut path = String::new();
    let mut versions: Vec<Seen> = Vec::new();
    let end = kv::prefix_end(&prefix);
    let mut failure = None;
    kv.scan(
        Table::Versions,
        Bound::Included(&prefix),
        end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        false,
        &mut |key, value| {
            let (key_path, revision) = codec::version_key_parts(key)?;
            if key_path != path {
                if let Err(error) = decide(&mut plan, target, &path, &versions) {
                    failure = Some(error);
                    return Ok(false);
                }
                path = key_path.to_string();
                versions.clear();
            }
            let record: VersionRecord = codec::decode(value)?;
            versions.push(Seen {
                revision,
                live: record.bytes.is_some(),
                agent: record.agent,
                session: record.session,
            });
            Ok(true)
        },
    )?;
    if let Some(error) = failure {
        return Err(error.into());
    }
    decide(&mut plan, target, &path, &versions)?;
    if let RollbackTarget::File { path, .. } = target
        && versions.is_empty()
    {
        return Err(CoreError::not_found(Resource::File, path.as_str()).into());
    }
    // A file whose content now is already the content to restore (an
    // earlier rollback wrote it again) has nothing to put back.
    let mut kept = Vec::with_capacity(plan.steps.len());
    for step in std::mem::take(&mut plan.steps) {
        if let (Some(current), Some(restore)) = (step.current, step.restore)
            && content_of(kv, info.id, &step.path, current)?
                == content_of(kv, info.id, &step.path, restore)?
        {
            continue;
        }
        kept.push(step);
    }
    plan.steps = kept;
    Ok(plan)
}

/// Adds the step (and conflicts) for one path whose versions, oldest first,
/// are `versions`.
fn decide(
    plan: &mut RollbackPlan,
    target: &RollbackTarget,
    path: &str,
    versions: &[Seen],
) -> Result<(), CoreError> {
    let Some(last) = versions.last() else {
        return Ok(());
    };
    let current = last.live.then_some(last.revision);
    let state_at = |revision: u64| {
        versions
            .iter()
            .rev()
            .find(|seen| seen.revision <= revision)
            .and_then(|seen| seen.live.then_some(seen.revision))
    };
    let restore = match target {
        RollbackTarget::File { version, .. } => {
            let Some(seen) = versions.iter().find(|seen| seen.revision == *version) else {
                return Err(CoreError::not_found(
                    Resource::Version,
                    format!("{path}@{version}"),
                ));
            };
            seen.live.then_some(seen.revision)
        }
        RollbackTarget::Tree { revision, .. } => state_at(*revision),
        RollbackTarget::Session(who) | RollbackTarget::Agent(who) => {
            let theirs = |seen: &Seen| match target {
                RollbackTarget::Session(_) => seen.session == *who,
                _ => seen.agent == *who,
            };
            let Some(first) = versions.iter().position(theirs) else {
                return Ok(());
            };
            for seen in &versions[first..] {
                if !theirs(seen) {
                    plan.conflicts.push(RollbackConflict {
                        path: path.to_string(),
                        version: seen.revision,
                        agent: seen.agent.clone(),
                        session: seen.session.clone(),
                    });
                }
            }
            match first {
                0 => None,
                before => state_at(versions[before - 1].revision),
            }
        }
    };
    if restore != current {
        plan.steps.push(RollbackStep {
            path: path.to_string(),
            current,
            restore,
        });
    }
    Ok(())
}

fn content_of(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    version: u64,
) -> Result<String, ReadError> {
    let record = super::file::version_record(kv, store_id, path, version)?
        .ok_or_else(|| CoreError::not_found(Resource::Version, format!("{path}@{version}")))?;
    Ok(version_content(kv, store_id, path, &record)?)
}

/// The plan's operations: each puts a file back, with a precondition on the
/// version the plan saw.
pub fn rollback_ops(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    plan: &RollbackPlan,
) -> Result<Vec<WriteOp>, ReadError> {
    let info = get_store(kv, store)?;
    let mut ops = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let path = FilePath::try_from(step.path.clone())?;
        let precondition = match step.current {
            Some(version) => Precondition::IfVersion(version),
            None => Precondition::IfAbsent,
        };
        ops.push(match step.restore {
            Some(version) => WriteOp::Write {
                path,
                content: content_of(kv, info.id, &step.path, version)?,
                precondition,
            },
            None => WriteOp::Delete {
                path,
                recursive: false,
                precondition,
            },
        });
    }
    Ok(ops)
}
