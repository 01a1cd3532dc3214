//! Local folders, for `checkout`, `status`, `commit`, `pull`, `import-dir`
//! and `export-dir`: walking one into store paths (`scan`), writing store
//! files into one, the checkout's state file (`state.rs`) and the progress
//! bar (`progress.rs`).
//!
//! A local file maps to the store path of its name relative to the folder
//! (`DIR/notes/a.md` is `/notes/a.md`). What the store cannot hold (a name
//! that is not UTF-8 or breaks the path rules, content that is not UTF-8 or
//! is over `file_bytes_max`, a symbolic link or another special file) is
//! reported as [`Unstorable`], never skipped in silence. The checks use the
//! default limits (`Limits::default()`); a node with other limits has the
//! last word when the files are sent.

pub mod progress;
pub mod state;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use cairn_core::{FilePath, Limits};

use crate::exit::Failure;

/// A local file the store could hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    /// The store path (`/notes/a.md`).
    pub path: String,
    /// Where it is on disk.
    pub file: PathBuf,
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// A local file the store cannot hold, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unstorable {
    /// The store path it would have, or its local name when it has none.
    pub path: String,
    /// A stable code: `not_utf8`, `limit_exceeded`, `invalid_path`, `unsupported_file`.
    pub code: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Unstorable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.path, self.code, self.reason)
    }
}

/// Every file under a folder, by store path, and what cannot be stored.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: BTreeMap<String, LocalFile>,
    pub unstorable: Vec<Unstorable>,
}

/// Walks `root` in name order, reading one file at a time (to hash it and
/// check that it is UTF-8; a file over `file_bytes_max` is not read).
/// `skip` names store paths that are not the store's (the checkout's own
/// state file, kept-aside conflict copies).
pub fn scan(root: &Path, limits: &Limits, skip: &dyn Fn(&str) -> bool) -> Result<Scan, Failure> {
    let mut scan = Scan::default();
    // (directory on disk, its store path prefix without the trailing slash)
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let mut children = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|error| io_failure("read", &dir, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| io_failure("read", &dir, error))?;
            children.push(entry.path());
        }
        children.sort();
        // Subdirectories are pushed in reverse so they pop in name order.
        let mut subdirectories = Vec::new();
        for child in children {
            let Some(name) = child.file_name().and_then(|name| name.to_str()) else {
                let lossy = child.file_name().unwrap_or_default().to_string_lossy();
                scan.unstorable.push(Unstorable {
                    path: format!("{prefix}/{lossy}"),
                    code: "invalid_path",
                    reason: "the name is not UTF-8 (everything under it too)".to_string(),
                });
                continue;
            };
            let path = format!("{prefix}/{name}");
            let metadata = std::fs::symlink_metadata(&child)
                .map_err(|error| io_failure("stat", &child, error))?;
            let kind = metadata.file_type();
            if kind.is_dir() {
                subdirectories.push((child, path));
            } else if skip(&path) {
                continue;
            } else if kind.is_file() {
                match check_file(&child, &path, metadata.len(), limits)? {
                    Ok(file) => {
                        scan.files.insert(path, file);
                    }
                    Err(unstorable) => scan.unstorable.push(unstorable),
                }
            } else {
                let what = if kind.is_symlink() {
                    "a symbolic link (links are not followed)"
                } else {
                    "not a regular file"
                };
                scan.unstorable.push(Unstorable {
                    path,
                    code: "unsupported_file",
                    reason: what.to_string(),
                });
            }
        }
        pending.extend(subdirectories.into_iter().rev());
    }
    Ok(scan)
}

/// Reads one file: `Ok(Err(_))` if the store cannot hold it.
fn check_file(
    file: &Path,
    path: &str,
    bytes: u64,
    limits: &Limits,
) -> Result<Result<LocalFile, Unstorable>, Failure> {
    let unstorable = |code, reason: String| {
        Ok(Err(Unstorable {
            path: path.to_string(),
            code,
            reason,
        }))
    };
    if let Err(error) = FilePath::parse(path, limits) {
        return unstorable(error.code(), error.to_string());
    }
    if bytes > limits.file_bytes_max {
        return unstorable(
            "limit_exceeded",
            format!(
                "{bytes} bytes, over file_bytes_max ({})",
                limits.file_bytes_max
            ),
        );
    }
    let content = std::fs::read(file).map_err(|error| io_failure("read", file, error))?;
    if let Err(error) = std::str::from_utf8(&content) {
        return unstorable(
            "not_utf8",
            format!(
                "the content is not UTF-8 text (first invalid byte at offset {})",
                error.valid_up_to()
            ),
        );
    }
    Ok(Ok(LocalFile {
        path: path.to_string(),
        file: file.to_path_buf(),
        bytes: content.len() as u64,
        sha256: sha256_hex(&content),
    }))
}

/// Reads a scanned file again to send it; it must still be what was scanned.
pub fn read_scanned(file: &LocalFile) -> Result<String, Failure> {
    let content =
        std::fs::read(&file.file).map_err(|error| io_failure("read", &file.file, error))?;
    if sha256_hex(&content) != file.sha256 {
        return Err(Failure::usage(
            "changed_while_reading",
            format!(
                "{} changed while it was being sent; run the command again",
                file.file.display()
            ),
        ));
    }
    String::from_utf8(content).map_err(|_| {
        Failure::usage(
            "not_utf8",
            format!("{} is no longer UTF-8 text", file.file.display()),
        )
    })
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Where store path `path` lives under `root` (`/a/b.md` → `root/a/b.md`).
pub fn local_path(root: &Path, path: &str) -> PathBuf {
    let mut local = root.to_path_buf();
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        local.push(segment);
    }
    local
}

/// Writes `content` to `target` (making its parent directories): first to
/// `temporary`, flushed, then renamed over `target`, so `target` is never
/// half written.
pub fn write_file(target: &Path, content: &[u8], temporary: &Path) -> Result<(), Failure> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|error| io_failure("create", parent, error))?;
    }
    let mut file =
        std::fs::File::create(temporary).map_err(|error| io_failure("create", temporary, error))?;
    file.write_all(content)
        .and_then(|()| file.sync_all())
        .map_err(|error| io_failure("write", temporary, error))?;
    drop(file);
    std::fs::rename(temporary, target).map_err(|error| io_failure("rename into", target, error))
}

/// Removes `file` and then every directory above it, up to `root`, that it
/// left empty.
pub fn remove_file(root: &Path, file: &Path) -> Result<(), Failure> {
    match std::fs::remove_file(file) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_failure("remove", file, error)),
    }
    let mut dir = file.parent();
    while let Some(parent) = dir {
        if parent == root || !parent.starts_with(root) {
            break;
        }
        // Fails (and stops) at the first directory that is not empty.
        if std::fs::remove_dir(parent).is_err() {
            break;
        }
        dir = parent.parent();
    }
    Ok(())
}

/// Whether `dir` is absent or an empty directory.
pub fn is_absent_or_empty(dir: &Path) -> Result<bool, Failure> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(io_failure("read", dir, error)),
    }
}

pub fn io_failure(verb: &str, path: &Path, error: std::io::Error) -> Failure {
    Failure::usage("io", format!("{verb} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_maps_names_to_paths_and_reports_what_the_store_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("notes/deep")).unwrap();
        std::fs::write(root.join("notes/a.md"), "alpha").unwrap();
        std::fs::write(root.join("notes/deep/é.md"), "ünï").unwrap();
        std::fs::write(root.join("binary.bin"), [0xff, 0xfe, 0x00]).unwrap();
        std::fs::write(root.join("skipped.json"), "{}").unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::os::unix::fs::symlink(root.join("notes/a.md"), root.join("link.md")).unwrap();
        let limits = Limits {
            file_bytes_max: 8,
            ..Limits::default()
        };
        std::fs::write(root.join("big.md"), "123456789").unwrap();

        let scan = scan(root, &limits, &|path| path == "/skipped.json").unwrap();
        let paths: Vec<&str> = scan.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["/notes/a.md", "/notes/deep/é.md"]);
        assert_eq!(scan.files["/notes/a.md"].sha256, sha256_hex(b"alpha"));
        assert_eq!(scan.files["/notes/a.md"].bytes, 5);
        let refused: Vec<(&str, &str)> = scan
            .unstorable
            .iter()
            .map(|u| (u.path.as_str(), u.code))
            .collect();
        assert_eq!(
            refused,
            [
                ("/big.md", "limit_exceeded"),
                ("/binary.bin", "not_utf8"),
                ("/link.md", "unsupported_file"),
            ]
        );
    }

    #[test]
    fn local_paths_and_removal_of_emptied_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let file = local_path(root, "/a/b/c.md");
        assert_eq!(file, root.join("a").join("b").join("c.md"));
        write_file(&file, b"x", &root.join("tmp")).unwrap();
        std::fs::write(root.join("a/keep.md"), "k").unwrap();
        remove_file(root, &file).unwrap();
        assert!(!root.join("a/b").exists());
        assert!(root.join("a/keep.md").exists());
        assert!(!is_absent_or_empty(root).unwrap());
        assert!(is_absent_or_empty(&root.join("missing")).unwrap());
    }
}
