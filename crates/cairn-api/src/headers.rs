//! Header names of the API, lower case as HTTP/1 and hyper spell them.

/// The agent a write is attributed to (≤ `label_bytes_max`).
pub const AGENT: &str = "x-cairn-agent";
/// The agent's session a write is attributed to (≤ `label_bytes_max`).
pub const SESSION: &str = "x-cairn-session";
/// A retried write with the same key is answered with the first outcome.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// A file read's version (also its `ETag`).
pub const VERSION: &str = "x-cairn-version";
/// The store's revision when a file read was served.
pub const REVISION: &str = "x-cairn-revision";
/// On every answer: the last log index the serving node applied.
pub const APPLIED_INDEX: &str = "x-cairn-applied-index";
/// On stale reads: milliseconds since the node last heard from a leader, or `unknown`.
pub const STALENESS_MS: &str = "x-cairn-staleness-ms";
/// A request's id: taken from the client when it sends one, else made by the node,
/// and always echoed on the answer.
pub const REQUEST_ID: &str = "x-request-id";
/// The organization a request acts in; by default the caller's own (the operator's: `default`).
pub const ORG: &str = "x-cairn-org";
/// Anthropic's SDKs send their key here; Cairn takes a token from it as from
/// `Authorization: Bearer`.
pub const API_KEY: &str = "x-api-key";

/// Server-sent events: the `id:` of the last event a client saw, sent when it
/// reconnects to `.../watch` (the revision of the last change).
pub const LAST_EVENT_ID: &str = "last-event-id";
