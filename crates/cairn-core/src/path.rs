//! Path and name rules.
//!
//! A file path is absolute, `/`-separated UTF-8 with non-empty segments, no
//! `.` or `..` segments, no NUL or other control characters, and no trailing
//! slash. A directory path follows the same rules but may be the root `/`.
//! Directories are implicit: a directory exists while a file exists under it.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::limits::Limits;

/// A validated absolute file path such as `/notes/acme.md`.
///
/// Deserializing checks the structural rules but not the size limits, which
/// belong to whoever proposes (`Proposal::check` checks them against the
/// proposal's limits); so a log entry never holds a malformed path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct FilePath(String);

/// A validated directory path: `/` or a path like a file path. Deserializing
/// checks the structural rules, as for `FilePath`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct DirPath(String);

/// A validated store name: 1 to 128 bytes of `[A-Za-z0-9._-]`, starting with a
/// letter or digit, so it is safe in a URL segment and a file name.
/// Deserializing checks every rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct StoreName(String);

pub const STORE_NAME_BYTES_MAX: usize = 128;

fn invalid(path: &str, reason: impl Into<String>) -> CoreError {
    CoreError::InvalidPath {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Checks the structural rules shared by file and directory paths and answers
/// the depth; `path` is known to start with `/` and not to be `/` itself.
fn check_segments(path: &str) -> Result<u64, CoreError> {
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return Err(invalid(
            path,
            format!("control character U+{:04X} is not allowed", c as u32),
        ));
    }
    if path.ends_with('/') {
        return Err(invalid(path, "trailing slash"));
    }
    let mut depth = 0u64;
    for segment in path[1..].split('/') {
        depth += 1;
        match segment {
            "" => return Err(invalid(path, "empty segment")),
            "." | ".." => return Err(invalid(path, format!("segment {segment:?} is not allowed"))),
            _ => {}
        }
    }
    Ok(depth)
}

fn check_path_bytes(path: &str, limits: &Limits) -> Result<(), CoreError> {
    let bytes = path.len() as u64;
    if bytes > limits.path_bytes_max {
        return Err(CoreError::limit(
            "path_bytes_max",
            limits.path_bytes_max,
            bytes,
        ));
    }
    Ok(())
}

fn check_path_depth(depth: u64, limits: &Limits) -> Result<(), CoreError> {
    if depth > limits.path_depth_max {
        return Err(CoreError::limit(
            "path_depth_max",
            limits.path_depth_max,
            depth,
        ));
    }
    Ok(())
}

/// The rules of a file path's start: absolute, and not the root.
fn check_file_start(path: &str) -> Result<(), CoreError> {
    if !path.starts_with('/') {
        return Err(invalid(path, "must start with /"));
    }
    if path == "/" {
        return Err(invalid(path, "the root is a directory, not a file"));
    }
    Ok(())
}

fn check_dir_start(path: &str) -> Result<(), CoreError> {
    if !path.starts_with('/') {
        return Err(invalid(path, "must start with /"));
    }
    Ok(())
}

/// Every rule of a path in the order users see them: start, length, segments, depth.
fn check_all(path: &str, limits: &Limits) -> Result<(), CoreError> {
    // The length is checked before the segments so that an oversized path is not scanned.
    check_path_bytes(path, limits)?;
    let depth = check_segments(path)?;
    check_path_depth(depth, limits)
}

impl FilePath {
    pub fn parse(path: &str, limits: &Limits) -> Result<FilePath, CoreError> {
        check_file_start(path)?;
        check_all(path, limits)?;
        Ok(FilePath(path.to_string()))
    }

    /// Checks the size limits (`path_bytes_max`, `path_depth_max`) that
    /// deserializing leaves out.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), CoreError> {
        check_path_bytes(&self.0, limits)?;
        check_path_depth(self.depth(), limits)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every proper ancestor directory except the root, nearest last:
    /// `/a/b/c` gives `/a`, `/a/b`.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        self.0
            .match_indices('/')
            .skip(1)
            .map(|(index, _)| &self.0[..index])
    }

    /// The number of segments.
    pub fn depth(&self) -> u64 {
        self.0.matches('/').count() as u64
    }
}

impl DirPath {
    pub fn root() -> DirPath {
        DirPath("/".to_string())
    }

    pub fn parse(path: &str, limits: &Limits) -> Result<DirPath, CoreError> {
        check_dir_start(path)?;
        if path == "/" {
            return Ok(DirPath::root());
        }
        check_all(path, limits)?;
        Ok(DirPath(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix every path under this directory starts with (`/a/` for `/a`, `/` for the root).
    pub fn prefix(&self) -> String {
        if self.0 == "/" {
            "/".to_string()
        } else {
            format!("{}/", self.0)
        }
    }

    pub fn depth(&self) -> u64 {
        if self.0 == "/" {
            0
        } else {
            self.0.matches('/').count() as u64
        }
    }

    /// The same path read as a file path; `None` for the root.
    pub fn as_file(&self) -> Option<FilePath> {
        (self.0 != "/").then(|| FilePath(self.0.clone()))
    }
}

impl From<FilePath> for DirPath {
    fn from(path: FilePath) -> Self {
        DirPath(path.0)
    }
}

/// Why `name` breaks the name rule shared by stores, organizations and
/// users, or `None` when it keeps it.
fn name_rule(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("must not be empty".to_string())
    } else if name.len() > STORE_NAME_BYTES_MAX {
        Some(format!("longer than {STORE_NAME_BYTES_MAX} bytes"))
    } else if !name.as_bytes()[0].is_ascii_alphanumeric() {
        Some("must start with a letter or digit".to_string())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| format!("character {c:?} is not allowed (use A-Z a-z 0-9 . _ -)"))
    }
}

impl StoreName {
    pub fn parse(name: &str) -> Result<StoreName, CoreError> {
        match name_rule(name) {
            Some(reason) => Err(CoreError::InvalidStoreName {
                name: name.to_string(),
                reason,
            }),
            None => Ok(StoreName(name.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization's or a user's name: the store name rule. Deserializing
/// checks every rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct OrgName(String);

/// A user's name, unique within its organization.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct UserName(String);

macro_rules! principal_name {
    ($($t:ident => $what:literal),*) => {$(
        impl $t {
            pub fn parse(name: &str) -> Result<$t, CoreError> {
                match name_rule(name) {
                    Some(reason) => Err(CoreError::InvalidName {
                        what: $what.to_string(),
                        name: name.to_string(),
                        reason,
                    }),
                    None => Ok($t(name.to_string())),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $t {
            type Error = CoreError;

            fn try_from(name: String) -> Result<$t, CoreError> {
                $t::parse(&name)
            }
        }
    )*};
}
principal_name!(OrgName => "organization", UserName => "user");

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
display_as_str!(FilePath, DirPath, StoreName, OrgName, UserName);

impl TryFrom<String> for FilePath {
    type Error = CoreError;

    fn try_from(path: String) -> Result<FilePath, CoreError> {
        check_file_start(&path)?;
        check_segments(&path)?;
        Ok(FilePath(path))
    }
}

impl TryFrom<String> for DirPath {
    type Error = CoreError;

    fn try_from(path: String) -> Result<DirPath, CoreError> {
        check_dir_start(&path)?;
        if path != "/" {
            check_segments(&path)?;
        }
        Ok(DirPath(path))
    }
}

impl TryFrom<String> for StoreName {
    type Error = CoreError;

    fn try_from(name: String) -> Result<StoreName, CoreError> {
        // `parse` copies; the check is the same and the name is small.
        StoreName::parse(&name)
    }
}

/// Serialized as the bare string, the same bytes as the `String` inside, so
/// the wire and disk encodings did not change when deserializing started to
/// validate (serde's `transparent` cannot be combined with `try_from`).
macro_rules! serialize_as_str {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    )*};
}
serialize_as_str!(FilePath, DirPath, StoreName, OrgName, UserName);

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Result<FilePath, CoreError> {
        FilePath::parse(path, &Limits::default())
    }

    #[test]
    fn accepts_ordinary_paths() {
        for path in [
            "/a",
            "/notes/acme.md",
            "/a b/ü/日本.txt",
            "/.hidden/x",
            "/a/...",
            "/x-y_z.1",
        ] {
            assert_eq!(file(path).unwrap().as_str(), path);
        }
    }

    #[test]
    fn rejects_bad_paths_with_invalid_path() {
        for path in [
            "",
            "a",
            "a/b",
            "/",
            "//a",
            "/a//b",
            "/a/",
            "/./a",
            "/a/..",
            "/../etc/passwd",
            "/a\0b",
            "/a\nb",
            "/a/\u{7f}",
        ] {
            let error = file(path).unwrap_err();
            assert_eq!(error.code(), "invalid_path", "{path:?} gave {error}");
        }
    }

    #[test]
    fn length_and_depth_limits_are_limit_exceeded() {
        let limits = Limits {
            path_bytes_max: 10,
            path_depth_max: 2,
            ..Limits::default()
        };
        assert!(FilePath::parse("/a/b", &limits).is_ok());
        let too_deep = FilePath::parse("/a/b/c", &limits).unwrap_err();
        assert!(
            matches!(too_deep, CoreError::LimitExceeded { ref limit, max: 2, actual: 3 } if limit == "path_depth_max")
        );
        let too_long = FilePath::parse("/abcdefghij", &limits).unwrap_err();
        assert!(
            matches!(too_long, CoreError::LimitExceeded { ref limit, max: 10, actual: 11 } if limit == "path_bytes_max")
        );
    }

    #[test]
    fn ancestors_and_prefixes() {
        let path = file("/a/b/c").unwrap();
        assert_eq!(path.ancestors().collect::<Vec<_>>(), vec!["/a", "/a/b"]);
        assert_eq!(path.depth(), 3);
        assert_eq!(file("/a").unwrap().ancestors().count(), 0);
        assert_eq!(DirPath::root().prefix(), "/");
        assert_eq!(
            DirPath::parse("/a/b", &Limits::default()).unwrap().prefix(),
            "/a/b/"
        );
        assert_eq!(DirPath::root().depth(), 0);
    }

    #[test]
    fn store_names() {
        for name in ["a", "acme", "Team-1.mem_2", "0"] {
            assert!(StoreName::parse(name).is_ok(), "{name}");
        }
        for name in ["", "-a", ".a", "a/b", "a b", "ä", &"x".repeat(129)] {
            assert_eq!(
                StoreName::parse(name).unwrap_err().code(),
                "invalid_store_name",
                "{name}"
            );
        }
    }

    #[test]
    fn deserializing_checks_structure_but_not_size_limits() {
        let tight = Limits {
            path_bytes_max: 4,
            path_depth_max: 1,
            ..Limits::default()
        };
        let long = "/a/bcdefgh";
        assert!(FilePath::parse(long, &tight).is_err());
        let decoded: FilePath = serde_json::from_str(&format!("{long:?}")).unwrap();
        assert_eq!(decoded.as_str(), long);
        assert_eq!(
            decoded.check_limits(&tight).unwrap_err().code(),
            "limit_exceeded"
        );
        assert!(decoded.check_limits(&Limits::default()).is_ok());
        for bad in ["\"a\"", "\"/\"", "\"/a/\"", "\"/a/../b\"", "\"/a\\u0000\""] {
            assert!(serde_json::from_str::<FilePath>(bad).is_err(), "{bad}");
        }
        for bad in ["\"a\"", "\"/a//b\""] {
            assert!(serde_json::from_str::<DirPath>(bad).is_err(), "{bad}");
        }
        let root: DirPath = serde_json::from_str("\"/\"").unwrap();
        assert_eq!(root, DirPath::root());
        assert!(serde_json::from_str::<StoreName>("\"-bad\"").is_err());
        assert!(serde_json::from_str::<StoreName>("\"good\"").is_ok());
    }

    #[test]
    fn bincode_round_trips_and_refuses_a_malformed_path() {
        let path = file("/notes/a.md").unwrap();
        let bytes = crate::codec::encode(&path);
        // The same bytes as the bare string: the encoding did not change.
        assert_eq!(bytes, crate::codec::encode(&"/notes/a.md".to_string()));
        assert_eq!(crate::codec::decode::<FilePath>(&bytes).unwrap(), path);
        let malformed = crate::codec::encode(&"/a//b".to_string());
        assert!(crate::codec::decode::<FilePath>(&malformed).is_err());
        let store = StoreName::parse("acme").unwrap();
        let bytes = crate::codec::encode(&store);
        assert_eq!(crate::codec::decode::<StoreName>(&bytes).unwrap(), store);
    }
}
