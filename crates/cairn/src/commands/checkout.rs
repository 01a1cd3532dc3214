//! `cairn checkout|status|commit|pull`: a store as a local folder, for agents
//! that work in a shell (`docs/checkout.md`).
//!
//! The checkout's state file (`folder::state`) holds the version and SHA-256
//! of every file as the server last had it. `status` compares the folder with
//! it by content hash; `commit` sends every change as one transaction whose
//! operations carry `if_version` (or `if_absent`) preconditions, so a file
//! someone else changed meanwhile fails the whole transaction, and the
//! conflicting paths are then found with one listing; `pull` brings the
//! server's changes in and keeps the server's version of a file changed on
//! both sides beside the local one (`NAME.conflict-<version>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use cairn_client::{
    At, ClientError, EntryKind, ErrorCode, OpRequest, PreconditionFields, TxnRequest,
};
use cairn_core::Limits;

use crate::commands::Context;
use crate::exit::Failure;
use crate::folder::progress;
use crate::folder::state::{CheckoutState, KeptAside, Tracked, is_reserved};
use crate::folder::{
    LocalFile, Scan, Unstorable, is_absent_or_empty, local_path, read_scanned, remove_file, scan,
    sha256_hex, write_file,
};
use crate::render;

/// `cairn checkout STORE DIR`: every file of the store at one revision,
/// written into `DIR`, which must be absent, empty, or already a checkout of
/// this store (then it is pulled).
pub async fn checkout(
    context: Context,
    store: String,
    dir: PathBuf,
    url: String,
    org: Option<String>,
) -> Result<Vec<u8>, Failure> {
    if let Some(state) = CheckoutState::load(&dir)? {
        if state.store == store && state.org == org {
            let mut text = format!(
                "{} is already a checkout of {store}; pulling\n",
                dir.display()
            )
            .into_bytes();
            text.extend(pull(context, dir, state).await?);
            return Ok(text);
        }
        return Err(Failure::usage(
            "not_empty",
            format!(
                "{} is a checkout of store {:?}{}, not of {store:?}",
                dir.display(),
                state.store,
                state
                    .org
                    .map(|org| format!(" (org {org})"))
                    .unwrap_or_default()
            ),
        ));
    }
    if !is_absent_or_empty(&dir)? {
        return Err(Failure::usage(
            "not_empty",
            format!(
                "{} is not empty and not a checkout; give an empty or new directory",
                dir.display()
            ),
        ));
    }
    let client = &context.client;
    let listing = client.list(&store, "/", None, None).await?;
    let files: Vec<(String, u64)> = listing
        .entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::File)
        .filter_map(|entry| Some((entry.path.clone(), entry.version?)))
        .collect();
    if let Some((path, _)) = files.iter().find(|(path, _)| is_reserved(path)) {
        return Err(Failure::refused(
            "reserved_path",
            format!("store {store} has a file at {path}, where a checkout keeps its own state"),
        ));
    }
    // The state is written first, tracking nothing: a checkout cut short is
    // finished by running it again (a file already written matches the
    // server's content and is taken as it is).
    let mut state = CheckoutState::new(url, org, store, listing.revision);
    state.save(&dir)?;
    let bar = progress::files_bar(files.len() as u64, "checkout");
    let mut bytes = 0;
    for (path, version) in &files {
        let content = fetch(&context, &state.store, path, *version).await?;
        write_file(
            &local_path(&dir, path),
            content.as_bytes(),
            &CheckoutState::temporary(&dir),
        )?;
        bytes += content.len() as u64;
        state.files.insert(
            path.clone(),
            Tracked {
                version: *version,
                sha256: sha256_hex(content.as_bytes()),
            },
        );
        bar.inc(1);
        bar.set_message(progress::bytes(bytes));
    }
    state.save(&dir)?;
    bar.finish_and_clear();
    Ok(format!(
        "checked out {} files ({}) of {} at revision {} into {}\n",
        files.len(),
        progress::bytes(bytes),
        state.store,
        state.revision,
        dir.display()
    )
    .into_bytes())
}

/// The local changes of a checkout, against its state file.
#[derive(Debug, Default, Serialize)]
pub struct Changes {
    pub store: String,
    pub revision: u64,
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub deleted: Vec<String>,
    /// Conflict copies `pull` kept aside that are still there.
    pub conflicts: Vec<ConflictCopy>,
    /// Local files the store cannot hold.
    pub refused: Vec<Unstorable>,
}

#[derive(Debug, Serialize)]
pub struct ConflictCopy {
    /// The copy's own path (`/a.md.conflict-7`).
    pub copy: String,
    /// The file it is the server's version of.
    pub path: String,
    pub version: u64,
}

impl Changes {
    fn is_clean(&self) -> bool {
        self.added.is_empty()
            && self.modified.is_empty()
            && self.deleted.is_empty()
            && self.conflicts.is_empty()
            && self.refused.is_empty()
    }
}

/// Scans the checkout and compares it with its state: the scan and the
/// changes. Conflict copies the user has removed are dropped from `state`.
fn local_changes(dir: &Path, state: &mut CheckoutState) -> Result<(Scan, Changes), Failure> {
    state
        .conflicts
        .retain(|copy, _| local_path(dir, copy).is_file());
    let scan = scan(dir, &Limits::default(), &|path| state.is_own(path))?;
    let mut changes = Changes {
        store: state.store.clone(),
        revision: state.revision,
        refused: scan.unstorable.clone(),
        ..Changes::default()
    };
    for (path, local) in &scan.files {
        match state.files.get(path) {
            None => changes.added.push(path.clone()),
            Some(tracked) if tracked.sha256 != local.sha256 => changes.modified.push(path.clone()),
            Some(_) => {}
        }
    }
    // A tracked file that is there but cannot be stored (it became binary)
    // is reported as refused, not as deleted.
    let refused: Vec<&str> = scan.unstorable.iter().map(|u| u.path.as_str()).collect();
    for path in state.files.keys() {
        if !scan.files.contains_key(path) && !refused.contains(&path.as_str()) {
            changes.deleted.push(path.clone());
        }
    }
    for (copy, aside) in &state.conflicts {
        changes.conflicts.push(ConflictCopy {
            copy: copy.clone(),
            path: aside.path.clone(),
            version: aside.version,
        });
    }
    Ok((scan, changes))
}

/// `cairn status DIR`.
pub fn status(context: &Context, dir: &Path) -> Result<Vec<u8>, Failure> {
    let mut state = CheckoutState::require(dir)?;
    let (_, changes) = local_changes(dir, &mut state)?;
    context.show(&changes, |changes| {
        let mut text = format!(
            "checkout of {} at revision {}\n",
            changes.store, changes.revision
        );
        if changes.is_clean() {
            text.push_str("nothing changed\n");
        }
        for (label, paths) in [
            ("added", &changes.added),
            ("modified", &changes.modified),
            ("deleted", &changes.deleted),
        ] {
            for path in paths {
                text.push_str(&format!("{label:<9} {path}\n"));
            }
        }
        for copy in &changes.conflicts {
            text.push_str(&format!(
                "conflict  {}: the server's version {} of {}; merge it into {} and delete it\n",
                copy.copy, copy.version, copy.path, copy.path
            ));
        }
        for unstorable in &changes.refused {
            text.push_str(&format!("refused   {unstorable}\n"));
        }
        text
    })
}

/// One change of a commit, before it is sent.
struct Planned {
    path: String,
    /// The content's SHA-256 for a write, `None` for a delete.
    sha256: Option<String>,
    precondition: PreconditionFields,
}

/// `cairn commit DIR [-m MESSAGE]`.
pub async fn commit(
    context: Context,
    dir: PathBuf,
    mut state: CheckoutState,
    message: Option<String>,
) -> Result<Vec<u8>, Failure> {
    let (scan, changes) = local_changes(&dir, &mut state)?;
    if !changes.refused.is_empty() {
        return Err(Failure::refused(
            "unstorable",
            format!(
                "the commit sent nothing: {} local files cannot be stored (fix or remove them):\n{}",
                changes.refused.len(),
                indented(changes.refused.iter().map(ToString::to_string))
            ),
        ));
    }
    if !changes.conflicts.is_empty() {
        return Err(Failure::refused(
            "unresolved_conflict",
            format!(
                "the commit sent nothing: merge these copies of the server's versions into \
                 their files and delete them first:\n{}",
                indented(
                    changes
                        .conflicts
                        .iter()
                        .map(|c| format!("{} (version {} of {})", c.copy, c.version, c.path))
                )
            ),
        ));
    }
    let mut planned = Vec::new();
    for path in changes.added.iter().chain(&changes.modified) {
        let local = &scan.files[path];
        let precondition = match state.files.get(path) {
            Some(tracked) => PreconditionFields::if_version(Some(tracked.version)),
            None => PreconditionFields {
                if_absent: true,
                ..PreconditionFields::default()
            },
        };
        planned.push(Planned {
            path: path.clone(),
            sha256: Some(local.sha256.clone()),
            precondition,
        });
    }
    for path in &changes.deleted {
        planned.push(Planned {
            path: path.clone(),
            sha256: None,
            precondition: PreconditionFields::if_version(Some(state.files[path].version)),
        });
    }
    if planned.is_empty() {
        return Ok(format!("nothing to commit (revision {})\n", state.revision).into_bytes());
    }
    planned.sort_by(|a, b| a.path.cmp(&b.path));

    let key = commit_key(&state, &planned, message.as_deref());
    let mut ops = Vec::with_capacity(planned.len());
    for change in &planned {
        ops.push(match change.sha256 {
            Some(_) => OpRequest::Write {
                path: change.path.clone(),
                content: read_scanned(&scan.files[&change.path])?,
                precondition: change.precondition,
            },
            None => OpRequest::Delete {
                path: change.path.clone(),
                recursive: false,
                precondition: change.precondition,
            },
        });
    }
    let request = TxnRequest { ops, message };
    let result = match context.client.txn(&state.store, &request, Some(&key)).await {
        Ok(result) => result,
        Err(error) if error.is(ErrorCode::VersionConflict) => {
            drop(request);
            return Err(conflicts(&context, &state, &planned, error).await);
        }
        Err(error) => {
            if error.is_retryable() {
                eprintln!(
                    "the commit may or may not have been applied; run `cairn commit {}` again \
                     before changing anything: it sends the same change with the same \
                     idempotency key ({key}), which applies at most once",
                    dir.display()
                );
            }
            return Err(error.into());
        }
    };

    // Only now, with the server's answer, does the state file move.
    let versions: BTreeMap<&str, Option<u64>> = result
        .changes
        .iter()
        .map(|change| (change.path.as_str(), change.version))
        .collect();
    for change in &planned {
        match (&change.sha256, versions.get(change.path.as_str())) {
            (Some(sha256), Some(Some(version))) => {
                state.files.insert(
                    change.path.clone(),
                    Tracked {
                        version: *version,
                        sha256: sha256.clone(),
                    },
                );
            }
            (None, _) => {
                state.files.remove(&change.path);
            }
            (Some(_), _) => {
                return Err(Failure::usage(
                    "decode",
                    format!(
                        "the server's answer names no version for {}; run `cairn pull {}`",
                        change.path,
                        dir.display()
                    ),
                ));
            }
        }
    }
    state.last_commit = Some(result.revision);
    state.save(&dir)?;
    if context.json {
        return render::json(&result);
    }
    let mut text = format!(
        "committed {} changes to {} at revision {}\n",
        planned.len(),
        state.store,
        result.revision
    );
    text.push_str(&render::txn_result(&result));
    Ok(text.into_bytes())
}

/// The commit's idempotency key: the same for the same change from the same
/// state (a retry), different for any other. The last commit's revision is in
/// it, so a change made again after being undone is a new key.
fn commit_key(state: &CheckoutState, planned: &[Planned], message: Option<&str>) -> String {
    let mut canonical = format!(
        "cairn-commit-v1\n{}\n{}\n{}\n{}\n{}\n",
        state.org.as_deref().unwrap_or(""),
        state.store,
        state.revision,
        state.last_commit.map(|r| r.to_string()).unwrap_or_default(),
        message.unwrap_or("")
    );
    for change in planned {
        let precondition = &change.precondition;
        canonical.push_str(&format!(
            "{} {:?} {} {}\n",
            change.path,
            precondition.if_version,
            precondition.if_absent,
            change.sha256.as_deref().unwrap_or("delete")
        ));
    }
    format!("commit-{}", &sha256_hex(canonical.as_bytes())[..40])
}

/// After a `version_conflict`: every planned path whose server version is no
/// longer the one the checkout has, found with one listing.
async fn conflicts(
    context: &Context,
    state: &CheckoutState,
    planned: &[Planned],
    error: ClientError,
) -> Failure {
    let listing = match context.client.list(&state.store, "/", None, None).await {
        Ok(listing) => listing,
        Err(_) => return error.into(),
    };
    let remote: BTreeMap<&str, u64> = listing
        .entries
        .iter()
        .filter_map(|entry| Some((entry.path.as_str(), entry.version?)))
        .collect();
    let mut lines = Vec::new();
    for change in planned {
        let now = remote.get(change.path.as_str()).copied();
        let expected = change.precondition.if_version;
        if now != expected {
            let had = expected.map_or("absent".to_string(), |v| format!("version {v}"));
            let has = now.map_or("deleted".to_string(), |v| format!("version {v}"));
            lines.push(format!(
                "{}: checked out {had}, the server has {has}",
                change.path
            ));
        }
    }
    if lines.is_empty() {
        return error.into();
    }
    Failure::refused(
        "version_conflict",
        format!(
            "the commit applied nothing: {} files changed on the server since they were checked \
             out (run `cairn pull` and commit again):\n{}",
            lines.len(),
            indented(lines.into_iter())
        ),
    )
}

/// What `pull` did, for its summary.
#[derive(Debug, Default, Serialize)]
pub struct Pulled {
    pub store: String,
    pub revision: u64,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// Changed on both sides: the local file stays, the server's version is
    /// written beside it.
    pub conflicts: Vec<ConflictCopy>,
    /// Deleted on the server, changed here: the local file stays, untracked
    /// (the next commit adds it again).
    pub kept: Vec<String>,
}

/// `cairn pull DIR`.
pub async fn pull(
    context: Context,
    dir: PathBuf,
    mut state: CheckoutState,
) -> Result<Vec<u8>, Failure> {
    let (scan, _) = local_changes(&dir, &mut state)?;
    let refused: Vec<&str> = scan.unstorable.iter().map(|u| u.path.as_str()).collect();
    let listing = context.client.list(&state.store, "/", None, None).await?;
    let remote: BTreeMap<String, u64> = listing
        .entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::File)
        .filter_map(|entry| Some((entry.path.clone(), entry.version?)))
        .collect();
    if let Some(path) = remote.keys().find(|path| is_reserved(path)) {
        return Err(Failure::refused(
            "reserved_path",
            format!(
                "store {} has a file at {path}, where a checkout keeps its own state",
                state.store
            ),
        ));
    }
    let mut paths: Vec<String> = remote.keys().cloned().collect();
    paths.extend(state.files.keys().cloned());
    paths.sort();
    paths.dedup();

    let mut pulled = Pulled {
        store: state.store.clone(),
        revision: listing.revision,
        ..Pulled::default()
    };
    let temporary = CheckoutState::temporary(&dir);
    for path in paths {
        let base = state.files.get(&path).cloned();
        let server = remote.get(&path).copied();
        if base.as_ref().map(|t| t.version) == server {
            continue; // Not changed on the server.
        }
        if refused.contains(&path.as_str()) {
            return Err(Failure::refused(
                "unstorable",
                format!(
                    "{path} changed on the server, and the local file cannot be stored; \
                     move it away and pull again"
                ),
            ));
        }
        let local: Option<&LocalFile> = scan.files.get(&path);
        let local_sha = local.map(|file| file.sha256.as_str());
        let base_sha = base.as_ref().map(|t| t.sha256.as_str());
        let file = local_path(&dir, &path);
        match server {
            None => {
                state.files.remove(&path);
                if local_sha == base_sha {
                    remove_file(&dir, &file)?;
                    pulled.removed.push(path);
                } else if local.is_some() {
                    pulled.kept.push(path);
                }
            }
            Some(version) => {
                let content = fetch(&context, &state.store, &path, version).await?;
                let sha256 = sha256_hex(content.as_bytes());
                if local_sha == base_sha {
                    write_file(&file, content.as_bytes(), &temporary)?;
                    pulled.updated.push(path.clone());
                } else if local_sha != Some(sha256.as_str()) {
                    let copy = conflict_copy(&dir, &path, version, &state);
                    write_file(&local_path(&dir, &copy), content.as_bytes(), &temporary)?;
                    state.conflicts.insert(
                        copy.clone(),
                        KeptAside {
                            path: path.clone(),
                            version,
                        },
                    );
                    pulled.conflicts.push(ConflictCopy {
                        copy,
                        path: path.clone(),
                        version,
                    });
                }
                // Else both sides made the same change: nothing to write.
                state.files.insert(path, Tracked { version, sha256 });
            }
        }
        // Saved as it goes: a pull cut short leaves a state that matches
        // what it wrote.
        state.save(&dir)?;
    }
    state.revision = listing.revision;
    state.save(&dir)?;
    context.show(&pulled, |pulled| {
        let mut text = format!(
            "pulled {} at revision {}: {} updated, {} removed, {} conflicts\n",
            pulled.store,
            pulled.revision,
            pulled.updated.len(),
            pulled.removed.len(),
            pulled.conflicts.len()
        );
        for path in &pulled.updated {
            text.push_str(&format!("updated   {path}\n"));
        }
        for path in &pulled.removed {
            text.push_str(&format!("removed   {path}\n"));
        }
        for copy in &pulled.conflicts {
            text.push_str(&format!(
                "conflict  {}: changed here and on the server; the server's version {} is in {}\n",
                copy.path, copy.version, copy.copy
            ));
        }
        for path in &pulled.kept {
            text.push_str(&format!(
                "kept      {path}: deleted on the server, changed here; the next commit adds it again\n"
            ));
        }
        text
    })
}

/// Where the server's version of `path` goes when both sides changed it:
/// `PATH.conflict-VERSION`, or with `-2`, `-3`… after it if that name is taken
/// by something else.
fn conflict_copy(dir: &Path, path: &str, version: u64, state: &CheckoutState) -> String {
    let first = format!("{path}.conflict-{version}");
    let mut candidate = first.clone();
    let mut n = 2;
    while !state.conflicts.contains_key(&candidate)
        && (local_path(dir, &candidate).exists() || state.files.contains_key(&candidate))
    {
        candidate = format!("{first}-{n}");
        n += 1;
    }
    candidate
}

/// A file's content at one version.
async fn fetch(
    context: &Context,
    store: &str,
    path: &str,
    version: u64,
) -> Result<String, Failure> {
    Ok(context
        .client
        .read_file(store, path, At::Version(version))
        .await?
        .content)
}

fn indented(lines: impl Iterator<Item = String>) -> String {
    lines.map(|line| format!("  {line}\n")).collect()
}
