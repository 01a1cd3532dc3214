//! The change feed: `GET /v1/stores/{store}/watch`, server-sent events.
//!
//! Each SSE event has a name (`event:`) and one line of JSON (`data:`):
//!
//! | event | data | `id:` |
//! |---|---|---|
//! | `change` | [`WatchChange`] | the revision |
//! | `heartbeat` | [`WatchHeartbeat`] | none |
//! | `too_old` | [`WatchTooOld`], then the stream ends | none |
//! | `end` | [`WatchEnd`], then the stream ends | none |
//! | `error` | a [`Problem`](crate::Problem), then the stream ends | none |
//!
//! A client resumes by sending the last `id:` it saw as `Last-Event-ID`.

use serde::{Deserialize, Serialize};

use crate::consistency::Consistency;
use crate::txn::OpKind;

/// The SSE event names.
pub mod event {
    pub const CHANGE: &str = "change";
    pub const HEARTBEAT: &str = "heartbeat";
    pub const TOO_OLD: &str = "too_old";
    pub const END: &str = "end";
    pub const ERROR: &str = "error";
}

/// `GET /v1/stores/{store}/watch`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct WatchQuery {
    /// The first revision to send (changes at this revision and after).
    /// Absent: only changes after the store's current revision.
    /// `Last-Event-ID: R` takes precedence and means `from_revision=R+1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_revision: Option<u64>,
    /// End the stream (event `end`) once the change at this revision was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_revision: Option<u64>,
    /// End the stream (event `end`) after this many changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub limit: Option<u64>,
    /// How the stream's first read (which checks the token and finds the
    /// store) is served; the feed itself follows this node's replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// One path a change touched (never its content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchPath {
    pub path: String,
    pub op: OpKind,
    /// The file's version after the change; absent when the change removed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// Event `change`: one store revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchChange {
    /// The store revision this change made (also the event's `id:`).
    pub revision: u64,
    /// `txn`, `rollback` or `redact`.
    pub operation: String,
    /// ms since the Unix epoch.
    pub time_ms: u64,
    /// `operator` or `ORG/USER`.
    pub principal: String,
    pub agent: String,
    pub session: String,
    pub changes: Vec<WatchPath>,
}

/// Event `heartbeat`: the stream is alive; nothing changed since the last event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchHeartbeat {
    /// The store's revision on the serving node.
    pub revision: u64,
}

/// Event `too_old`: the requested start is further back than this node
/// replays (`[watch] replay_revisions_max`). Nothing is lost: read the tree
/// at `current_revision` and watch from `current_revision + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchTooOld {
    pub from_revision: u64,
    /// The oldest revision a watch may start at now.
    pub oldest_revision: u64,
    pub current_revision: u64,
}

/// Why a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WatchEndReason {
    /// The change at `until_revision` was sent.
    UntilRevision,
    /// `limit` changes were sent.
    Limit,
    /// The node is shutting down: reconnect (to any node) with `Last-Event-ID`.
    Shutdown,
}

/// Event `end`: the stream ends here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WatchEnd {
    pub reason: WatchEndReason,
    /// The last revision sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_revision: Option<u64>,
}
