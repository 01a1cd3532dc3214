//! Files and directories: `files/`, `stat/` and `tree/` under a store.

use serde::{Deserialize, Serialize};

use crate::txn::OpKind;

/// The answer to `PUT /v1/stores/{store}/files/{path}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WriteResponse {
    pub path: String,
    /// The file's new version (also the `ETag`).
    pub version: u64,
    /// The store revision of the write (equal to `version`).
    pub revision: u64,
}

/// A file's metadata: `GET /v1/stores/{store}/stat/{path}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileMeta {
    pub path: String,
    /// The revision that last changed the file, as of the requested point.
    pub version: u64,
    pub bytes: u64,
    /// The store's current revision when the read was served.
    pub store_revision: u64,
    pub op: OpKind,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// Present when a redaction removed or rewrote this version's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<crate::redact::RedactionView>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Dir,
}

/// One file or directory of a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// `GET /v1/stores/{store}/tree/{dir}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listing {
    pub store: String,
    pub dir: String,
    /// The revision the listing shows.
    pub revision: u64,
    /// Files and directories under `dir` down to the requested depth, in path order.
    pub entries: Vec<ListEntry>,
}
