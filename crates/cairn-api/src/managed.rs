//! The Managed Agents memory-store API (`/v1/memory_stores…`), in the shapes
//! of Anthropic's SDKs (`client.beta.memory_stores`): stores, memories,
//! memory versions, pages and the error body. Field names and optionality
//! follow the `anthropic` Python package's `types/beta/memory_stores` models.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `memory_store`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryStore {
    /// `memstore_…`; also the Cairn store's name.
    pub id: String,
    /// Always `memory_store`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// `""` when unset.
    pub description: String,
    pub metadata: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
}

/// `memory_store_deleted` / `memory_deleted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST /v1/memory_stores`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryStoreCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /v1/memory_stores/{memory_store_id}`: absent fields stay; a
/// metadata value `null` removes its key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryStoreUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, Option<String>>>,
}

/// `memory`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Memory {
    /// `mem_…`, the same across renames.
    pub id: String,
    /// Always `memory`.
    #[serde(rename = "type")]
    pub kind: String,
    pub memory_store_id: String,
    pub path: String,
    /// `null` unless `view=full`.
    pub content: Option<String>,
    pub content_sha256: String,
    pub content_size_bytes: u64,
    pub memory_version_id: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `memory_prefix`: a directory in a `depth=1` listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryPrefix {
    #[serde(rename = "type")]
    pub kind: String,
    /// Ends with `/`.
    pub path: String,
}

/// One item of a memory listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum MemoryListItem {
    Memory(Memory),
    Prefix(MemoryPrefix),
}

/// The `content_sha256` precondition of an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryPrecondition {
    /// Always `content_sha256`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub content_sha256: Option<String>,
}

/// `POST /v1/memory_stores/{memory_store_id}/memories`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryCreate {
    pub path: String,
    /// May be `""`; `null` is taken as `""`.
    pub content: Option<String>,
}

/// `POST /v1/memory_stores/{memory_store_id}/memories/{memory_id}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryUpdate {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub precondition: Option<MemoryPrecondition>,
}

/// Who made or redacted a version: `session_actor` or `api_actor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
}

/// `memory_version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryVersion {
    /// `memver_…`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub memory_id: String,
    pub memory_store_id: String,
    /// `created`, `modified` or `deleted`.
    pub operation: String,
    pub path: Option<String>,
    pub content: Option<String>,
    pub content_sha256: Option<String>,
    pub content_size_bytes: Option<u64>,
    pub created_at: String,
    pub created_by: Option<Actor>,
    pub redacted_at: Option<String>,
    pub redacted_by: Option<Actor>,
}

macro_rules! page {
    ($name:ident, $item:ty) => {
        /// A cursor page: `next_page` goes back as `page=`.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name {
            pub data: Vec<$item>,
            pub next_page: Option<String>,
        }
    };
}

page!(MemoryStorePage, MemoryStore);
page!(MemoryPage, MemoryListItem);
page!(MemoryVersionPage, MemoryVersion);

/// `GET /v1/memory_stores`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct MemoryStoreListQuery {
    #[serde(default, rename = "created_at[gte]")]
    pub created_at_gte: Option<String>,
    #[serde(default, rename = "created_at[lte]")]
    pub created_at_lte: Option<String>,
    #[serde(default)]
    pub include_archived: Option<bool>,
    /// 1–100, default 20.
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub page: Option<String>,
}

/// `view=basic|full`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ViewQuery {
    #[serde(default)]
    pub view: Option<String>,
}

/// `GET /v1/memory_stores/{memory_store_id}/memories`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct MemoryListQuery {
    /// Ends with `/`; matches whole segments.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// `0` (the whole subtree) or `1` (children, with `memory_prefix` items).
    #[serde(default)]
    pub depth: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub view: Option<String>,
}

/// `DELETE /v1/memory_stores/{memory_store_id}/memories/{memory_id}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct MemoryDeleteQuery {
    #[serde(default)]
    pub expected_content_sha256: Option<String>,
}

/// `GET /v1/memory_stores/{memory_store_id}/memory_versions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct MemoryVersionListQuery {
    #[serde(default)]
    pub memory_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub api_key_id: Option<String>,
    /// Never matches: Cairn has no service accounts.
    #[serde(default)]
    pub service_account_id: Option<String>,
    /// `created`, `modified` or `deleted`.
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default, rename = "created_at[gte]")]
    pub created_at_gte: Option<String>,
    #[serde(default, rename = "created_at[lte]")]
    pub created_at_lte: Option<String>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub view: Option<String>,
}

/// Anthropic's error body: `{"type": "error", "error": {"type", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnthropicError {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub error: AnthropicErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnthropicErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `request_too_large`, `api_error`,
    /// `overloaded_error`, `memory_precondition_failed_error`,
    /// `memory_path_conflict_error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    /// For `memory_path_conflict_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicting_memory_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicting_path: Option<String>,
}
