//! Cairn's HTTP wire types: every JSON body, query string, header name,
//! ETag rule and error code of the API, defined once and used by
//! `cairn-server`, `cairn-client` and the `cairn` CLI.
//!
//! **Architecture invariant:** this is the only crate whose types are JSON on
//! the wire. It depends on serde alone (utoipa behind the `openapi` feature),
//! so an SDK user compiles neither the state machine nor the storage, and the
//! disk records of `cairn-core::codec` never leave a node as JSON: an HTTP
//! shape change is not a disk-format change, and the reverse.

pub mod access;
pub mod admin;
pub mod audit;
pub mod consistency;
pub mod etag;
pub mod files;
pub mod headers;
pub mod history;
pub mod import;
pub mod managed;
pub mod memory_tool;
pub mod problem;
pub mod query;
pub mod redact;
pub mod rollback;
pub mod search;
pub mod stores;
pub mod txn;
pub mod watch;

pub use access::{
    Access, CreateOrgRequest, CreateTokenRequest, CreateUserRequest, Grant, GrantList,
    GrantRequest, Org, OrgList, Role, TokenCreated, TokenList, TokenView, User, UserList, WhoAmI,
};
pub use admin::{DigestView, Health, LearnerRequest, NodeStatusView, PeerView, Ready, ServerState};
pub use audit::{AuditBreak, AuditChange, AuditEvent, AuditPage, AuditVerify};
pub use consistency::Consistency;
pub use files::{EntryKind, FileMeta, ListEntry, Listing, WriteResponse};
pub use history::{HistoryPage, VersionInfo};
pub use import::{ARCHIVE_CONTENT_TYPE, ImportList, ImportRequest, ImportSource, ImportView};
pub use memory_tool::{MemoryToolInput, MemoryToolResult};
pub use problem::{ErrorCode, Problem};
pub use query::{
    At, AuditQuery, ConsistencyQuery, DeleteQuery, DiffQuery, GlobalAuditQuery, HistoryQuery,
    ReadQuery, TreeQuery,
};
pub use redact::{RedactRequest, RedactResult, RedactedVersion, RedactionView};
pub use rollback::{RollbackConflict, RollbackRequest, RollbackResult, RollbackStep};
pub use search::{SearchMatch, SearchMode, SearchPage, SearchQuery};
pub use stores::{CreateStoreRequest, StoreInfo, StoreList, StorePolicy};
pub use txn::{Change, OpKind, OpRequest, PreconditionFields, TxnRequest, TxnResult};
pub use watch::{
    WatchChange, WatchEnd, WatchEndReason, WatchHeartbeat, WatchPath, WatchQuery, WatchTooOld,
};
