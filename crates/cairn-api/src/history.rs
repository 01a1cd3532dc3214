//! A file's versions: `GET /v1/stores/{store}/history/{path}`.

use serde::{Deserialize, Serialize};

use crate::txn::OpKind;

/// One version of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    pub path: String,
    pub version: u64,
    pub op: OpKind,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// `None` for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Present when the history was asked for with `content=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_to: Option<String>,
    /// Present when a redaction removed or rewrote this version's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<crate::redact::RedactionView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryPage {
    pub path: String,
    /// Newest first.
    pub versions: Vec<VersionInfo>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}
