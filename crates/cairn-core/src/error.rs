//! Domain errors: values with stable machine-readable codes.
//!
//! A `CoreError` is an answer, not a failure of the node: the state machine
//! records it as the outcome of a command and changes nothing. The code string
//! of each variant is part of the public API (HTTP `code`, client, CLI) and
//! must never change once shipped.

use serde::{Deserialize, Serialize};

use crate::command::Precondition;

/// Which kind of thing was not found or already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Store,
    File,
    Version,
    Organization,
    User,
    Token,
    /// An import being staged (`/v1/imports/{id}`).
    Import,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Store => "store",
            Resource::File => "file",
            Resource::Version => "version",
            Resource::Organization => "organization",
            Resource::User => "user",
            Resource::Token => "token",
            Resource::Import => "import",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    #[error("{resource} {name:?} not found")]
    NotFound { resource: Resource, name: String },

    #[error("{resource} {name:?} already exists")]
    AlreadyExists { resource: Resource, name: String },

    #[error("precondition failed on {path:?}: expected {expected}, current version is {}", current.map_or("none (absent)".to_string(), |v| v.to_string()))]
    VersionConflict {
        path: String,
        expected: Precondition,
        current: Option<u64>,
    },

    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },

    #[error("invalid store name {name:?}: {reason}")]
    InvalidStoreName { name: String, reason: String },

    #[error("limit {limit} exceeded: {actual} > {max}")]
    LimitExceeded {
        limit: String,
        max: u64,
        actual: u64,
    },

    #[error("content is not valid UTF-8 text (first invalid byte at offset {offset})")]
    NotUtf8 { offset: u64 },

    #[error("old text must occur exactly once in {path:?}, but it occurs {occurrences} times")]
    NoUniqueMatch { path: String, occurrences: u64 },

    #[error(
        "line {line} is out of range for {path:?}, which has {lines} lines (insert at 0..={lines})"
    )]
    InvalidLine { path: String, line: u64, lines: u64 },

    #[error("path {path:?} conflicts with {conflicting:?}: {reason}")]
    PathConflict {
        path: String,
        conflicting: String,
        reason: String,
    },

    #[error("idempotency key {key:?} was already used for a different request")]
    IdempotencyKeyReused { key: String },

    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },

    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        what: String,
        name: String,
        reason: String,
    },

    /// No token, or one that is unknown, revoked or expired.
    #[error("unauthenticated: {reason}")]
    Unauthenticated { reason: String },

    /// The caller may see the resource but not do this to it.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },

    /// A rollback would undo changes someone else made after the ones it
    /// reverts (or made since it was planned).
    #[error("rollback conflicts with later changes by others to {}", paths.join(", "))]
    RollbackConflict { paths: Vec<String> },
    /// The version's content was removed by a redaction.
    #[error(
        "the content of {path:?} version {version} was redacted by {principal} at {time_ms} ms"
    )]
    Redacted {
        path: String,
        version: u64,
        time_ms: u64,
        principal: String,
    },

    /// A redaction names content that is not (or no longer) there: the
    /// version changed since the redaction was planned, or is gone.
    #[error("cannot redact {path:?} version {version}: {reason}")]
    RedactionConflict {
        path: String,
        version: u64,
        reason: String,
    },

    /// An archive (export/import) that is malformed, truncated, altered, or
    /// sent out of order; nothing of it was kept.
    #[error("invalid archive: {reason}")]
    InvalidArchive { reason: String },

    /// A search pattern that is not a valid regular expression, or needs
    /// more than `limits::SEARCH_REGEX_BYTES_MAX` compiled. (After
    /// `InvalidArchive`: errors are bincode in idempotency records.)
    #[error("invalid pattern {pattern:?}: {reason}")]
    InvalidPattern { pattern: String, reason: String },
}

/// The broad class of a `CoreError`, for adapters that map errors onto their
/// own status scheme (HTTP statuses, exit codes) with an exhaustive match
/// rather than by comparing code strings. Deliberately not
/// `#[non_exhaustive]`: a new kind must make every adapter's mapping fail to
/// compile until it says what the kind means there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A store, file or version that does not exist.
    NotFound,
    /// The request is well formed but collides with the current state.
    Conflict,
    /// The request itself is malformed; no state could make it succeed.
    Invalid,
    /// The request is well formed but cannot be carried out on this content.
    Unprocessable,
    /// A size limit on content or on a request body was exceeded.
    TooLarge,
    /// The caller did not prove who they are.
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// The thing existed but was removed for good (a redacted version's content).
    Gone,
}

impl CoreError {
    /// The error's class. Limits on content and request bodies are `TooLarge`;
    /// every other limit (counts, depths, lengths) is `Unprocessable`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::NotFound { .. } => ErrorKind::NotFound,
            CoreError::AlreadyExists { .. }
            | CoreError::VersionConflict { .. }
            | CoreError::PathConflict { .. }
            | CoreError::IdempotencyKeyReused { .. }
            | CoreError::RollbackConflict { .. }
            | CoreError::RedactionConflict { .. } => ErrorKind::Conflict,
            CoreError::NoUniqueMatch { .. } | CoreError::InvalidLine { .. } => {
                ErrorKind::Unprocessable
            }
            CoreError::LimitExceeded { limit, .. } => match limit.as_str() {
                "file_bytes_max" | "request_bytes_max" => ErrorKind::TooLarge,
                _ => ErrorKind::Unprocessable,
            },
            CoreError::InvalidPath { .. }
            | CoreError::InvalidStoreName { .. }
            | CoreError::NotUtf8 { .. }
            | CoreError::InvalidName { .. }
            | CoreError::InvalidRequest { .. }
            | CoreError::InvalidPattern { .. } => ErrorKind::Invalid,
            CoreError::InvalidArchive { .. } => ErrorKind::Invalid,
            CoreError::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            CoreError::Forbidden { .. } => ErrorKind::Forbidden,
            CoreError::Redacted { .. } => ErrorKind::Gone,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NotFound { .. } => "not_found",
            CoreError::AlreadyExists { .. } => "already_exists",
            CoreError::VersionConflict { .. } => "version_conflict",
            CoreError::InvalidPath { .. } => "invalid_path",
            CoreError::InvalidStoreName { .. } => "invalid_store_name",
            CoreError::LimitExceeded { .. } => "limit_exceeded",
            CoreError::NotUtf8 { .. } => "not_utf8",
            CoreError::NoUniqueMatch { .. } => "no_unique_match",
            CoreError::InvalidLine { .. } => "invalid_line",
            CoreError::PathConflict { .. } => "path_conflict",
            CoreError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            CoreError::InvalidRequest { .. } => "invalid_request",
            CoreError::InvalidName { .. } => "invalid_name",
            CoreError::Unauthenticated { .. } => "unauthenticated",
            CoreError::Forbidden { .. } => "forbidden",
            CoreError::RollbackConflict { .. } => "rollback_conflict",
            CoreError::Redacted { .. } => "redacted",
            CoreError::RedactionConflict { .. } => "redaction_conflict",
            CoreError::InvalidPattern { .. } => "invalid_pattern",
            CoreError::InvalidArchive { .. } => "invalid_archive",
        }
    }

    pub fn not_found(resource: Resource, name: impl Into<String>) -> Self {
        CoreError::NotFound {
            resource,
            name: name.into(),
        }
    }

    pub fn limit(limit: &str, max: u64, actual: u64) -> Self {
        CoreError::LimitExceeded {
            limit: limit.to_string(),
            max,
            actual,
        }
    }

    pub fn unauthenticated(reason: impl Into<String>) -> Self {
        CoreError::Unauthenticated {
            reason: reason.into(),
        }
    }

    pub fn forbidden(reason: impl Into<String>) -> Self {
        CoreError::Forbidden {
            reason: reason.into(),
        }
    }

    pub fn invalid_request(reason: impl Into<String>) -> Self {
        CoreError::InvalidRequest {
            reason: reason.into(),
        }
    }

    pub fn invalid_archive(reason: impl Into<String>) -> Self {
        CoreError::InvalidArchive {
            reason: reason.into(),
        }
    }
}

/// A failure of the storage underneath the state machine. It is never an
/// answer to a client: the node cannot go on safely and stops serving.
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub Box<dyn std::error::Error + Send + Sync + 'static>);

impl StorageError {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        StorageError(Box::new(error))
    }

    pub fn corrupt(what: impl Into<String>) -> Self {
        StorageError(what.into().into())
    }
}

/// The error of a read: either an answer (`Domain`) or a broken node (`Storage`).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Domain(#[from] CoreError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(name: &str) -> CoreError {
        CoreError::limit(name, 1, 2)
    }

    /// The kinds reproduce the HTTP mapping the server used before kinds existed.
    #[test]
    fn every_error_has_the_kind_its_code_had() {
        let cases = [
            (
                CoreError::not_found(Resource::File, "/a"),
                ErrorKind::NotFound,
            ),
            (
                CoreError::AlreadyExists {
                    resource: Resource::Store,
                    name: "s".into(),
                },
                ErrorKind::Conflict,
            ),
            (
                CoreError::VersionConflict {
                    path: "/a".into(),
                    expected: Precondition::IfAbsent,
                    current: Some(1),
                },
                ErrorKind::Conflict,
            ),
            (
                CoreError::PathConflict {
                    path: "/a".into(),
                    conflicting: "/a/b".into(),
                    reason: "r".into(),
                },
                ErrorKind::Conflict,
            ),
            (
                CoreError::IdempotencyKeyReused { key: "k".into() },
                ErrorKind::Conflict,
            ),
            (
                CoreError::NoUniqueMatch {
                    path: "/a".into(),
                    occurrences: 0,
                },
                ErrorKind::Unprocessable,
            ),
            (
                CoreError::InvalidLine {
                    path: "/a".into(),
                    line: 3,
                    lines: 1,
                },
                ErrorKind::Unprocessable,
            ),
            (limit("file_bytes_max"), ErrorKind::TooLarge),
            (limit("request_bytes_max"), ErrorKind::TooLarge),
            (limit("txn_ops_max"), ErrorKind::Unprocessable),
            (limit("path_bytes_max"), ErrorKind::Unprocessable),
            (limit("label_bytes_max"), ErrorKind::Unprocessable),
            (
                CoreError::InvalidPath {
                    path: "a".into(),
                    reason: "r".into(),
                },
                ErrorKind::Invalid,
            ),
            (
                CoreError::InvalidStoreName {
                    name: "-".into(),
                    reason: "r".into(),
                },
                ErrorKind::Invalid,
            ),
            (CoreError::NotUtf8 { offset: 0 }, ErrorKind::Invalid),
            (CoreError::invalid_request("r"), ErrorKind::Invalid),
            (CoreError::invalid_archive("r"), ErrorKind::Invalid),
            (
                CoreError::InvalidPattern {
                    pattern: "(".into(),
                    reason: "r".into(),
                },
                ErrorKind::Invalid,
            ),
            (
                CoreError::Redacted {
                    path: "/a".into(),
                    version: 1,
                    time_ms: 0,
                    principal: "operator".into(),
                },
                ErrorKind::Gone,
            ),
            (
                CoreError::RedactionConflict {
                    path: "/a".into(),
                    version: 1,
                    reason: "r".into(),
                },
                ErrorKind::Conflict,
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{}", error.code());
        }
    }
}
