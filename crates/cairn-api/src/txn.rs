//! Transactions: `POST /v1/stores/{store}/txn`, and what a write answers.
//!
//! Operations are internally tagged by `op` for readable JSON; the Raft log
//! keeps its own, externally tagged, command types.

use serde::{Deserialize, Serialize};

/// `POST /v1/stores/{store}/txn`: every operation at one revision, or none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TxnRequest {
    /// At least one; at most `txn_ops_max`.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub ops: Vec<OpRequest>,
    /// Why the change was made (`cairn commit -m`): kept with the
    /// transaction's audit event as its `detail`. Not empty; at most 4096 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The preconditions an operation may carry; at most one may be set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreconditionFields {
    /// Apply only if the file's version is exactly this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<u64>,
    /// Apply only if the file does not exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub if_absent: bool,
    /// Apply only if the file exists (any version).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub if_exists: bool,
}

impl PreconditionFields {
    pub fn if_version(version: Option<u64>) -> PreconditionFields {
        PreconditionFields {
            if_version: version,
            ..PreconditionFields::default()
        }
    }
}

/// One operation of a transaction, tagged by `op`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpRequest {
    /// Create or replace the file with `content`.
    Write {
        path: String,
        content: String,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    /// Delete the file, or with `recursive` every file under the directory `path`.
    Delete {
        path: String,
        #[serde(default)]
        recursive: bool,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    /// Move a file; refuses to replace an existing `to` unless `overwrite`.
    Rename {
        from: String,
        to: String,
        #[serde(default)]
        overwrite: bool,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    /// Replace the one occurrence of `old` with `new`.
    StrReplace {
        path: String,
        old: String,
        new: String,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    /// Insert `text` before line `line` (0-based; the line count appends).
    Insert {
        path: String,
        line: u64,
        text: String,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
}

/// What kind of operation produced a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Write,
    Delete,
    Rename,
    StrReplace,
    Insert,
    DeleteStore,
    /// A redaction: in the audit, a version it redacted; in a history, the
    /// live version it rewrote without the redacted text.
    Redact,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Write => "write",
            OpKind::Delete => "delete",
            OpKind::Rename => "rename",
            OpKind::StrReplace => "str_replace",
            OpKind::Insert => "insert",
            OpKind::DeleteStore => "delete_store",
            OpKind::Redact => "redact",
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to a transaction (and to a file delete).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TxnResult {
    /// The store revision every change of this transaction carries.
    pub revision: u64,
    /// One change per file touched, in the order they were made. A delete has
    /// `version: null`; a rename yields a delete of `from` and a rename of `to`.
    pub changes: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub path: String,
    pub op: OpKind,
    /// The file's new version, or `null` when it was deleted.
    pub version: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_request_json_shape() {
        let json = r#"{"op":"str_replace","path":"/a","old":"x","new":"y","if_version":3}"#;
        let op: OpRequest = serde_json::from_str(json).unwrap();
        assert_eq!(
            op,
            OpRequest::StrReplace {
                path: "/a".into(),
                old: "x".into(),
                new: "y".into(),
                precondition: PreconditionFields::if_version(Some(3)),
            }
        );
        assert_eq!(serde_json::to_string(&op).unwrap(), json);
    }

    #[test]
    fn op_kind_names_are_the_serde_names() {
        for kind in [
            OpKind::Write,
            OpKind::Delete,
            OpKind::Rename,
            OpKind::StrReplace,
            OpKind::Insert,
            OpKind::DeleteStore,
            OpKind::Redact,
        ] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.as_str().to_string())
            );
        }
    }
}
