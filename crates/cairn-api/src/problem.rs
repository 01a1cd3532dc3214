//! Errors on the wire: `application/problem+json` bodies (RFC 9457) with a
//! stable machine-readable `code`.

use serde::{Deserialize, Serialize};

/// The media type of every error answer.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Every error code the API answers with. The strings are part of the public
/// API (HTTP, client, CLI) and never change once shipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub enum ErrorCode {
    NotFound,
    AlreadyExists,
    VersionConflict,
    InvalidPath,
    InvalidStoreName,
    LimitExceeded,
    NotUtf8,
    NoUniqueMatch,
    InvalidLine,
    PathConflict,
    IdempotencyKeyReused,
    InvalidRequest,
    InvalidJson,
    NotLeader,
    Unavailable,
    Timeout,
    MembershipConflict,
    Internal,
    InvalidName,
    Unauthenticated,
    Forbidden,
    RollbackConflict,
    /// The content of a version was removed by a redaction (`410`).
    Redacted,
    /// A redaction named content that is not (or no longer) there (`409`).
    RedactionConflict,
    /// The node's data directory is below its free-space reserve (`507`).
    StorageFull,
    /// An export archive that is malformed, truncated, altered or sent out
    /// of order (`400`); nothing of it was imported.
    InvalidArchive,
    /// A search pattern that is not a valid (or too large a) regular expression (`400`).
    InvalidPattern,
    /// Raft stopped on this node after an error (a storage failure); it takes
    /// no writes and no linearizable reads until restarted (`503`).
    NodeStopped,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 28] = [
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::VersionConflict,
        ErrorCode::InvalidPath,
        ErrorCode::InvalidStoreName,
        ErrorCode::LimitExceeded,
        ErrorCode::NotUtf8,
        ErrorCode::NoUniqueMatch,
        ErrorCode::InvalidLine,
        ErrorCode::PathConflict,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidJson,
        ErrorCode::NotLeader,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
        ErrorCode::MembershipConflict,
        ErrorCode::Internal,
        ErrorCode::InvalidName,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::RollbackConflict,
        ErrorCode::Redacted,
        ErrorCode::RedactionConflict,
        ErrorCode::InvalidPattern,
        ErrorCode::StorageFull,
        ErrorCode::InvalidArchive,
        ErrorCode::NodeStopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::VersionConflict => "version_conflict",
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::InvalidStoreName => "invalid_store_name",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::NotUtf8 => "not_utf8",
            ErrorCode::NoUniqueMatch => "no_unique_match",
            ErrorCode::InvalidLine => "invalid_line",
            ErrorCode::PathConflict => "path_conflict",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::NotLeader => "not_leader",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::MembershipConflict => "membership_conflict",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RollbackConflict => "rollback_conflict",
            ErrorCode::Redacted => "redacted",
            ErrorCode::RedactionConflict => "redaction_conflict",
            ErrorCode::InvalidPattern => "invalid_pattern",
            ErrorCode::StorageFull => "storage_full",
            ErrorCode::InvalidArchive => "invalid_archive",
            ErrorCode::NodeStopped => "node_stopped",
        }
    }

    /// The code a wire string names, if it is one this build knows.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|known| known.as_str() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `application/problem+json` body. `code` is the stable machine-readable
/// part (a string on the wire, so that an older client can read a newer
/// server's codes); the optional fields carry what a client needs to recover
/// (the current version after a conflict, how often the old text of a
/// `str_replace` occurs, which operation of a transaction failed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `https://cairn.dev/errors/{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    /// The HTTP status, repeated in the body.
    pub status: u16,
    /// The stable error code (`version_conflict`, `not_found`, …).
    pub code: String,
    pub detail: String,
    /// Whether the same request may succeed if retried (elections, overload).
    #[serde(default)]
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// After `version_conflict`: the file's version now; absent when the file is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// After `no_unique_match`: how often the old text occurs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u64>,
    /// Which operation of a transaction failed (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_index: Option<u32>,
    /// After `limit_exceeded`: the limit's name (`file_bytes_max`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// After `not_leader`: the leader, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<u64>,
    /// After `rollback_conflict`: every path someone else changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
}

impl Problem {
    pub fn new(status: u16, code: ErrorCode, detail: impl Into<String>) -> Problem {
        let code = code.as_str();
        Problem {
            type_uri: format!("https://cairn.dev/errors/{code}"),
            title: code.replace('_', " "),
            status,
            code: code.to_string(),
            detail: detail.into(),
            retryable: false,
            path: None,
            current_version: None,
            occurrences: None,
            op_index: None,
            limit: None,
            leader_id: None,
            paths: None,
        }
    }

    /// The code as this build knows it; `None` for a code from a newer server.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
    }

    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn problem_json_leaves_out_absent_recovery_fields() {
        let problem = Problem::new(404, ErrorCode::NotFound, "store \"a\" not found");
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "https://cairn.dev/errors/not_found");
        assert_eq!(json["title"], "not found");
        assert_eq!(json["code"], "not_found");
        assert!(json.get("current_version").is_none());
        let back: Problem = serde_json::from_value(json).unwrap();
        assert_eq!(back, problem);
    }
}
