//! Stores: `/v1/stores` and `/v1/stores/{store}`.

use serde::{Deserialize, Serialize};

/// A store and its counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreInfo {
    pub id: u64,
    pub name: String,
    /// The organization the store belongs to.
    pub org: String,
    /// The owner of a user-scoped store; absent for an organization-scoped one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When the store was created, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The Raft log index of the entry that created the store (one entry
    /// may hold several commands).
    pub created_log_index: u64,
    /// Bumped by one for every applied transaction.
    pub revision: u64,
    pub file_count: u64,
    pub bytes_total: u64,
    /// Retention and quota.
    #[serde(default)]
    pub policy: StorePolicy,
    /// What the caller may do with the store (`read`, `write` or `admin`):
    /// in the answers of `GET /v1/stores` and `GET /v1/stores/{store}`;
    /// absent from the answers of changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<crate::Access>,
}

/// A store's retention and quota (`PUT /v1/stores/{store}/policy` replaces
/// it whole). Absent fields are off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StorePolicy {
    /// Keep at most this many versions of each file (the current one always);
    /// older ones go when the file is next written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub versions_max: Option<u64>,
    /// Keep versions younger than this many seconds (the current one always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_s: Option<u64>,
    /// The most bytes of live content; a write that would grow the store past
    /// it is `422 limit_exceeded` (`limit: store_bytes_max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_max: Option<u64>,
}

/// `GET /v1/stores`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreList {
    pub stores: Vec<StoreInfo>,
}

/// `PUT /v1/stores/{store}`'s optional body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateStoreRequest {
    /// Makes the store user-scoped: its owner reads and writes it, other
    /// members do not see it. Absent: an organization-scoped store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}
