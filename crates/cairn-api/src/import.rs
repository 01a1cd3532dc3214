//! Export and import of whole stores: `GET /v1/stores/{store}/export` (the
//! archive, `docs/export.md`) and `/v1/imports` (an archive sent in chunks,
//! then committed).

use serde::{Deserialize, Serialize};

/// The media type of an archive, and of the chunks an import is sent in.
pub const ARCHIVE_CONTENT_TYPE: &str = "application/x-cairn-archive";

/// `POST /v1/imports`: the store the archive becomes (in the organization
/// `X-Cairn-Org` names). There must be no store of that name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub store: String,
}

/// The store an archive came from, once its header arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportSource {
    pub org: String,
    pub store: String,
    /// The store's revision at the export.
    pub revision: u64,
    pub exported_ms: u64,
}

/// An import being staged: invisible as a store until it is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportView {
    pub id: u64,
    pub org: String,
    /// The name the store will have.
    pub store: String,
    /// Who began it: `operator` or `ORG/USER`.
    pub principal: String,
    pub started_ms: u64,
    pub updated_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ImportSource>,
    /// Records staged so far (the header, versions and events).
    pub records: u64,
    pub versions: u64,
    pub events: u64,
    pub content_bytes: u64,
    /// The archive's digest chain so far (hex).
    pub digest: String,
    /// The trailer arrived and matched: the import may be committed.
    pub complete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportList {
    pub imports: Vec<ImportView>,
}
