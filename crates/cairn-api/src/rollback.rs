//! `POST /v1/stores/{store}/rollback`: put files back to an earlier state,
//! as one new change.

use serde::{Deserialize, Serialize};

/// What to roll back; exactly one of: `path` + `to_version` (a file),
/// `path` + `to_revision` (a directory subtree), `to_revision` (the whole
/// store), `session`, `agent` (everything it wrote).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Undo a session's or agent's changes even where others changed the
    /// same files afterwards (their changes are undone too).
    #[serde(default)]
    pub force: bool,
    /// Only show the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// One file the rollback puts back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackStep {
    pub path: String,
    /// The version now; absent when the file does not exist now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// The version whose content comes back; absent when the file goes away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_version: Option<u64>,
}

/// A later change by someone else to a file a session or agent rollback would put back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackConflict {
    pub path: String,
    pub version: u64,
    pub agent: String,
    pub session: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackResult {
    /// The store revision the plan was made at.
    pub planned_at: u64,
    /// Whether the rollback was applied (`false` for a dry run or an empty plan).
    pub applied: bool,
    /// The revision of the rollback's change, when applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    pub steps: Vec<RollbackStep>,
    /// What a forced (or dry) run would undo of others' changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<RollbackConflict>,
}
