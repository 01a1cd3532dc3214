//! A checkout's state file, `DIR/.cairn/checkout.json`: which store it is
//! of, and the version and SHA-256 of every file as last checked out,
//! pulled or committed. `status`, `commit` and `pull` compare the folder
//! with it by content hash (never by modification time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::Failure;
use crate::folder::{io_failure, write_file};

/// The layout of the state file; a file of another one is refused by name.
pub const STATE_FORMAT: u32 = 1;

/// The store paths a checkout keeps for itself: its state file, and the
/// temporary file every write goes through before it is renamed into place.
pub const STATE_PATH: &str = "/.cairn/checkout.json";
pub const TEMPORARY_PATH: &str = "/.cairn/checkout.tmp";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutState {
    pub format: u32,
    /// The node the checkout was made from (used unless `--url` is given).
    pub url: String,
    /// The organization given at checkout (`--org`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub store: String,
    /// The store revision of the last checkout or pull.
    pub revision: u64,
    /// The revision of the last commit from this checkout (part of the next
    /// commit's idempotency key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit: Option<u64>,
    /// Every tracked file by store path.
    pub files: BTreeMap<String, Tracked>,
    /// Copies of the server's version that `pull` kept aside beside a file
    /// changed on both sides, by their own store path (`/a.md.conflict-7`).
    /// They are not the store's; `commit` refuses while one is there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conflicts: BTreeMap<String, KeptAside>,
}

/// What the checkout last knew of one file on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracked {
    pub version: u64,
    /// Lowercase hex SHA-256 of the content at that version.
    pub sha256: String,
}

/// A conflict copy: which file and server version it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptAside {
    pub path: String,
    pub version: u64,
}

impl CheckoutState {
    pub fn new(url: String, org: Option<String>, store: String, revision: u64) -> CheckoutState {
        CheckoutState {
            format: STATE_FORMAT,
            url,
            org,
            store,
            revision,
            last_commit: None,
            files: BTreeMap::new(),
            conflicts: BTreeMap::new(),
        }
    }

    pub fn file(dir: &Path) -> PathBuf {
        dir.join(".cairn").join("checkout.json")
    }

    pub fn temporary(dir: &Path) -> PathBuf {
        dir.join(".cairn").join("checkout.tmp")
    }

    /// The state of the checkout in `dir`; `None` if `dir` holds none.
    pub fn load(dir: &Path) -> Result<Option<CheckoutState>, Failure> {
        let file = CheckoutState::file(dir);
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_failure("read", &file, error)),
        };
        let state: CheckoutState = serde_json::from_slice(&bytes).map_err(|error| {
            Failure::usage(
                "bad_checkout",
                format!("{} is not a checkout state file: {error}", file.display()),
            )
        })?;
        if state.format != STATE_FORMAT {
            return Err(Failure::usage(
                "bad_checkout",
                format!(
                    "{} has format {}; this cairn reads format {STATE_FORMAT}",
                    file.display(),
                    state.format
                ),
            ));
        }
        Ok(Some(state))
    }

    /// The state of the checkout in `dir`, which must be one.
    pub fn require(dir: &Path) -> Result<CheckoutState, Failure> {
        CheckoutState::load(dir)?.ok_or_else(|| {
            Failure::usage(
                "not_a_checkout",
                format!(
                    "{} is not a checkout (no {}); make one with `cairn checkout STORE DIR`",
                    dir.display(),
                    CheckoutState::file(dir).display()
                ),
            )
        })
    }

    /// Writes the state file whole (through the temporary file and a rename).
    pub fn save(&self, dir: &Path) -> Result<(), Failure> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|error| Failure::usage("io", format!("encode the checkout state: {error}")))?;
        bytes.push(b'\n');
        write_file(
            &CheckoutState::file(dir),
            &bytes,
            &CheckoutState::temporary(dir),
        )
    }

    /// Whether a store path is the checkout's own, not the store's: the state
    /// file, its temporary file, and the conflict copies still present.
    pub fn is_own(&self, path: &str) -> bool {
        is_reserved(path) || self.conflicts.contains_key(path)
    }
}

/// The two store paths no checkout can hold.
pub fn is_reserved(path: &str) -> bool {
    path == STATE_PATH || path == TEMPORARY_PATH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_round_trips_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(CheckoutState::load(dir.path()).unwrap(), None);
        assert_eq!(
            CheckoutState::require(dir.path()).unwrap_err().exit_code(),
            crate::exit::EXIT_USAGE
        );
        let mut state = CheckoutState::new("http://h:1".into(), None, "notes".into(), 4);
        state.files.insert(
            "/a.md".into(),
            Tracked {
                version: 3,
                sha256: "00".repeat(32),
            },
        );
        state.save(dir.path()).unwrap();
        assert_eq!(
            CheckoutState::load(dir.path()).unwrap(),
            Some(state.clone())
        );
        assert!(!CheckoutState::temporary(dir.path()).exists());

        state.format = 99;
        state.save(dir.path()).unwrap();
        assert_eq!(
            CheckoutState::load(dir.path()).unwrap_err().exit_code(),
            crate::exit::EXIT_USAGE
        );
        assert!(is_reserved("/.cairn/checkout.json"));
        assert!(!is_reserved("/.cairn/memory_store.json"));
    }
}
