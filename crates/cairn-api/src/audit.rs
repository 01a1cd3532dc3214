//! The audit trail: `GET /v1/audit`, `GET /v1/stores/{store}/audit` and
//! `GET /v1/stores/{store}/audit/verify`.

use serde::{Deserialize, Serialize};

use crate::txn::OpKind;

/// One applied command: who, when, where, and what it changed. Hashes are
/// lowercase hex SHA-256 (`docs/format.md`, "Audit events").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// The Raft log index of the entry that holds the command. The leader
    /// puts commands that arrive together into one entry, so several events
    /// may share it: `position` tells them apart.
    pub log_index: u64,
    /// The event's id and paging cursor, unique and increasing in log
    /// order: `log_index * 2^20` plus the command's place in its entry.
    pub position: u64,
    /// The proposer's clock (ms since the Unix epoch), never before the
    /// previous event's.
    pub time_ms: u64,
    /// `txn`, `create_store`, `delete_store`, `set_grant`, `create_org`,
    /// `create_user`, `create_token`, `revoke_token`, `bootstrap`, …
    pub operation: String,
    /// The organization (absent for the cluster's own events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The store (store events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<u64>,
    /// The store has been deleted since; its events stay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store_deleted: bool,
    /// The store's revision after the event (store events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// Who was authenticated: `operator`, `ORG/USER`, or `node` (the bootstrap).
    pub principal: String,
    /// The id of the token the request carried.
    pub token_id: String,
    pub agent: String,
    pub session: String,
    /// The client's key, or the one the node made (`~auto/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The request's `x-request-id`.
    pub request_id: String,
    /// What a governance event acted on: a user, a token id, a grantee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A short fact about it: a role, an access level, a token's owner, a
    /// redaction's reason, a transaction's `message`, what a store's
    /// deletion removed (`N files, B bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The paths the event changed. A store's deletion lists the files it
    /// removed only when they are at most 1,000 (`path=` finds it for each
    /// either way).
    pub changes: Vec<AuditChange>,
    /// The hash of the previous event of the same chain (64 zeros for the first).
    pub prev_hash: String,
    pub hash: String,
}

/// One path an event changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditChange {
    pub path: String,
    pub op: OpKind,
    /// The file's new version, or `null` when the change removed it.
    pub version: Option<u64>,
    /// SHA-256 of the content written (never the content); `null` for a removal.
    pub content_sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// In log order.
    pub records: Vec<AuditEvent>,
    /// Pass as `after` to get the next page: the `position` of the last
    /// event considered (events of one entry may fall on both sides of a
    /// page break; none is skipped). Absent on the last page. A page may
    /// hold fewer than `limit` events (even none) and still have a next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// `GET /v1/stores/{store}/audit/verify`: the store's chain, recomputed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditVerify {
    pub store: String,
    pub store_id: u64,
    /// No break was found.
    pub ok: bool,
    /// Events checked (up to and including the break).
    pub events: u64,
    /// The hash of the last event checked.
    pub head_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_break: Option<AuditBreak>,
}

/// Where the chain first stops holding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditBreak {
    /// The Raft log index of the entry that holds the event.
    pub log_index: u64,
    /// The event's position (`AuditEvent::position`).
    pub position: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    pub reason: String,
    /// The hash that should be there, when one can be named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The hash found instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}
