//! `POST /v1/stores/{store}/redact`: removing content from versions for good.

use serde::{Deserialize, Serialize};

use crate::txn::Change;

/// What to redact: one version's whole content (`path` and `version`), or a
/// literal `string` from every version of every file under `path_prefix`
/// (past versions get `[REDACTED]` in its place; each live version holding
/// it is rewritten as a new version without it). Exactly one of the two.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RedactRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The literal text to remove. It is never written to the Raft log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// With `string`: only paths starting with this (bytewise); default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Why; kept in the audit trail and on every redacted version.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedactResult {
    /// The store revision the redaction took (its audit event); absent when
    /// a string redaction found the string nowhere and changed nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    pub versions: Vec<RedactedVersion>,
    /// The live versions rewritten without the string (op `redact`).
    pub rewritten: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedactedVersion {
    pub path: String,
    pub version: u64,
    /// The whole content was removed (a version redaction).
    pub whole: bool,
    /// The bytes the version holds now.
    pub bytes: u64,
}

/// A version's redaction, as `stat`, `history` and file reads show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedactionView {
    /// Always `true`: the field is present only on redacted versions.
    pub redacted: bool,
    /// The store revision of the redaction.
    pub revision: u64,
    pub time_ms: u64,
    /// `operator` or `ORG/USER`.
    pub principal: String,
    pub reason: String,
    /// The whole content was removed (reading it answers `410 redacted`);
    /// otherwise parts of it were replaced by `[REDACTED]`.
    pub whole: bool,
}
