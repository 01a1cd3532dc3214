//! JSON bodies of the HTTP API, shared by `cairn-server` and `cairn-client`
//! so that the two can never disagree. `docs/api.md` lists the routes.
//!
//! These are internally tagged for readable JSON; the Raft log uses the
//! externally tagged `command` types instead.

use serde::{Deserialize, Serialize};

use crate::command::{Precondition, WriteOp};
use crate::error::CoreError;
use crate::limits::Limits;
use crate::path::FilePath;

/// `POST /v1/stores/{store}/txn`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxnRequest {
    pub ops: Vec<OpRequest>,
}

/// The preconditions a JSON operation may carry; at most one may be set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreconditionFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub if_absent: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub if_exists: bool,
}

impl PreconditionFields {
    pub fn to_precondition(self) -> Result<Precondition, CoreError> {
        match (self.if_version, self.if_absent, self.if_exists) {
            (None, false, false) => Ok(Precondition::None),
            (Some(version), false, false) => Ok(Precondition::IfVersion(version)),
            (None, true, false) => Ok(Precondition::IfAbsent),
            (None, false, true) => Ok(Precondition::IfExists),
            _ => Err(CoreError::invalid_request(
                "at most one of if_version, if_absent and if_exists may be set",
            )),
        }
    }

    pub fn from_precondition(precondition: Precondition) -> Self {
        let mut fields = PreconditionFields::default();
        match precondition {
            Precondition::None => {}
            Precondition::IfVersion(version) => fields.if_version = Some(version),
            Precondition::IfAbsent => fields.if_absent = true,
            Precondition::IfExists => fields.if_exists = true,
        }
        fields
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpRequest {
    Write {
        path: String,
        content: String,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    Delete {
        path: String,
        #[serde(default)]
        recursive: bool,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    Rename {
        from: String,
        to: String,
        #[serde(default)]
        overwrite: bool,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    StrReplace {
        path: String,
        old: String,
        new: String,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
    Insert {
        path: String,
        line: u64,
        text: String,
        #[serde(flatten)]
        precondition: PreconditionFields,
    },
}

impl OpRequest {
    /// Validates paths and preconditions into a command operation.
    pub fn into_op(self, limits: &Limits) -> Result<WriteOp, CoreError> {
        let path = |p: &str| FilePath::parse(p, limits);
        Ok(match self {
            OpRequest::Write {
                path: p,
                content,
                precondition,
            } => WriteOp::Write {
                path: path(&p)?,
                content,
                precondition: precondition.to_precondition()?,
            },
            OpRequest::Delete {
                path: p,
                recursive,
                precondition,
            } => WriteOp::Delete {
                path: path(&p)?,
                recursive,
                precondition: precondition.to_precondition()?,
            },
            OpRequest::Rename {
                from,
                to,
                overwrite,
                precondition,
            } => WriteOp::Rename {
                from: path(&from)?,
                to: path(&to)?,
                overwrite,
                precondition: precondition.to_precondition()?,
            },
            OpRequest::StrReplace {
                path: p,
                old,
                new,
                precondition,
            } => WriteOp::StrReplace {
                path: path(&p)?,
                old,
                new,
                precondition: precondition.to_precondition()?,
            },
            OpRequest::Insert {
                path: p,
                line,
                text,
                precondition,
            } => WriteOp::Insert {
                path: path(&p)?,
                line,
                text,
                precondition: precondition.to_precondition()?,
            },
        })
    }

    pub fn from_op(op: &WriteOp) -> OpRequest {
        let fields = PreconditionFields::from_precondition;
        match op.clone() {
            WriteOp::Write {
                path,
                content,
                precondition,
            } => OpRequest::Write {
                path: path.to_string(),
                content,
                precondition: fields(precondition),
            },
            WriteOp::Delete {
                path,
                recursive,
                precondition,
            } => OpRequest::Delete {
                path: path.to_string(),
                recursive,
                precondition: fields(precondition),
            },
            WriteOp::Rename {
                from,
                to,
                overwrite,
                precondition,
            } => OpRequest::Rename {
                from: from.to_string(),
                to: to.to_string(),
                overwrite,
                precondition: fields(precondition),
            },
            WriteOp::StrReplace {
                path,
                old,
                new,
                precondition,
            } => OpRequest::StrReplace {
                path: path.to_string(),
                old,
                new,
                precondition: fields(precondition),
            },
            WriteOp::Insert {
                path,
                line,
                text,
                precondition,
            } => OpRequest::Insert {
                path: path.to_string(),
                line,
                text,
                precondition: fields(precondition),
            },
        }
    }
}

/// The answer to `PUT /v1/stores/{store}/files/{path}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResponse {
    pub path: String,
    pub version: u64,
    pub revision: u64,
}

/// `GET /v1/stores`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreList {
    pub stores: Vec<crate::command::StoreInfo>,
}

/// An `application/problem+json` body (RFC 9457). `code` is the stable
/// machine-readable part; the optional fields carry what a client needs to
/// recover (the current version after a conflict, how often the old text of a
/// `str_replace` occurs, which operation of a transaction failed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<u64>,
}

impl Problem {
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> Problem {
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
        }
    }

    /// The problem for a domain error, with its recovery fields filled in.
    pub fn from_core(status: u16, error: &CoreError, op_index: Option<u32>) -> Problem {
        let mut problem = Problem::new(status, error.code(), error.to_string());
        problem.op_index = op_index;
        match error {
            CoreError::VersionConflict { path, current, .. } => {
                problem.path = Some(path.clone());
                problem.current_version = *current;
            }
            CoreError::NoUniqueMatch { path, occurrences } => {
                problem.path = Some(path.clone());
                problem.occurrences = Some(*occurrences);
            }
            CoreError::LimitExceeded { limit, .. } => problem.limit = Some(limit.clone()),
            CoreError::InvalidPath { path, .. }
            | CoreError::InvalidLine { path, .. }
            | CoreError::PathConflict { path, .. } => problem.path = Some(path.clone()),
            _ => {}
        }
        problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_request_json_shape() {
        let json = r#"{"op":"str_replace","path":"/a","old":"x","new":"y","if_version":3}"#;
        let op: OpRequest = serde_json::from_str(json).unwrap();
        let op = op.into_op(&Limits::default()).unwrap();
        assert_eq!(
            op,
            WriteOp::StrReplace {
                path: FilePath::parse("/a", &Limits::default()).unwrap(),
                old: "x".into(),
                new: "y".into(),
                precondition: Precondition::IfVersion(3),
            }
        );
        let back = serde_json::to_string(&OpRequest::from_op(&op)).unwrap();
        assert_eq!(back, json);
    }

    #[test]
    fn conflicting_preconditions_are_invalid() {
        let json = r#"{"op":"write","path":"/a","content":"","if_version":3,"if_absent":true}"#;
        let op: OpRequest = serde_json::from_str(json).unwrap();
        assert_eq!(
            op.into_op(&Limits::default()).unwrap_err().code(),
            "invalid_request"
        );
    }
}
