//! A store's audit trail: `GET /v1/stores/{store}/audit`.

use serde::{Deserialize, Serialize};

use crate::txn::Change;

/// One applied transaction: who, when, and what it changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// The store revision the transaction made.
    pub revision: u64,
    /// The Raft log index of its entry.
    pub log_index: u64,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// The client's key, or the one the node made (`~auto/…`).
    pub idempotency_key: Option<String>,
    /// Who was authenticated: `operator` or `ORG/USER`.
    pub principal: String,
    /// The id of the token the request carried.
    pub token_id: String,
    /// The request's `x-request-id`.
    pub request_id: String,
    pub changes: Vec<Change>,
    /// Why: present on a redaction, whose changes (op `redact`) name the
    /// versions it redacted and the live versions it rewrote (version =
    /// `revision`). Never the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub store: String,
    /// Oldest first.
    pub records: Vec<AuditEvent>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}
