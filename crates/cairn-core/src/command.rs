//! Commands (what goes into the Raft log) and outcomes (what applying one
//! answers). These are wire and disk types: they are bincode-encoded into
//! log entries, so changing a variant's shape is a format change
//! (`codec::FORMAT_VERSION`). Enums here are externally tagged because
//! bincode cannot decode internally tagged serde enums.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::governance::{
    Access, OrgInfo, Role, StorePolicy, StoreRef, TokenInfo, TokenOwner, UserInfo,
};
pub use crate::import::{ImportChunk, ImportState};
use crate::limits::Limits;
use crate::path::{FilePath, OrgName, UserName};
pub use crate::redact::{RedactTarget, RedactedVersion, Redaction};

/// One entry's worth of work: a command plus everything that must be fixed
/// when it is proposed rather than when it is applied (time, attribution,
/// limits), so that every replica applies it identically.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub meta: Meta,
    pub command: Command,
}

/// One Raft entry's payload: the proposals the leader put together in it,
/// applied in order, each as if it were an entry of its own (its own
/// authorization, idempotency record, refusal and audit event). Never empty,
/// and never more than `apply::PROPOSALS_PER_ENTRY_MAX`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposals(pub Vec<Proposal>);

impl Proposals {
    /// An entry of one proposal.
    pub fn one(proposal: Proposal) -> Proposals {
        Proposals(vec![proposal])
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Wall-clock milliseconds since the Unix epoch, read by the proposing node.
    pub time_ms: u64,
    /// Who made the change, from `X-Cairn-Agent` (may be empty).
    pub agent: String,
    /// The agent's session, from `X-Cairn-Session` (may be empty).
    pub session: String,
    /// A client-chosen key; a command whose key was seen within the
    /// idempotency window is answered with the first outcome, not applied again.
    pub idempotency_key: Option<String>,
    /// The proposing node's limits.
    pub limits: Limits,
    /// The id of the token the request was authenticated with; `None` only
    /// for the node's own bootstrap. `apply` authorizes the command against
    /// this token's grants as they are at the entry's place in the log.
    pub principal: Option<String>,
    /// The request's id, for the audit trail.
    pub request_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// An organization-scoped store, or with `owner` a user-scoped one.
    CreateStore {
        store: StoreRef,
        owner: Option<UserName>,
    },
    DeleteStore {
        store: StoreRef,
    },
    /// One or more write operations on one store, applied at one revision or
    /// not at all. A single write is a transaction of one.
    Txn {
        store: StoreRef,
        ops: Vec<WriteOp>,
    },
    /// A transaction that puts files back to an earlier state (planned by
    /// `read::plan_rollback` at store revision `planned_at`; every operation
    /// carries a precondition on the version the plan saw). Needs `admin`
    /// access to the store.
    Rollback {
        store: StoreRef,
        planned_at: u64,
        ops: Vec<WriteOp>,
    },
    /// Replaces a store's retention and quota (`admin` access).
    SetStorePolicy {
        store: StoreRef,
        policy: StorePolicy,
    },
    /// Records in the audit trail that the caller was refused `operation`
    /// on a store they can see (the memory tool's writes to a read-only
    /// store). Changes nothing else.
    RecordRefusal {
        store: StoreRef,
        operation: String,
        reason: String,
    },
    CreateOrg {
        org: OrgName,
    },
    CreateUser {
        org_id: u64,
        user: UserName,
        role: Role,
    },
    /// A token made by the proposing node: only its id and hash travel.
    CreateToken {
        id: String,
        hash: [u8; 32],
        owner: TokenOwner,
        agent: Option<String>,
        expires_ms: Option<u64>,
    },
    RevokeToken {
        id: String,
    },
    /// Sets (or with `None` removes) a user's grant on a store.
    SetGrant {
        store: StoreRef,
        user: UserName,
        access: Option<Access>,
    },
    /// The first start of a cluster: the operator's token and the default
    /// organization, each made unless it exists. Proposed by a node itself,
    /// without a principal.
    Bootstrap {
        token_id: String,
        hash: [u8; 32],
    },
    /// Removes content from versions of one store (`crate::redact`). Names
    /// versions by path, version and the SHA-256 of the content expected
    /// there, never by the text being removed.
    Redact {
        store: StoreRef,
        reason: String,
        targets: Vec<RedactTarget>,
    },
    /// `Txn` with a message from its author (`cairn commit -m`), kept as
    /// the audit event's `detail`. A variant of its own, at the end, so that
    /// `Txn` and every entry already in a log keep their encoding.
    TxnWithMessage {
        store: StoreRef,
        ops: Vec<WriteOp>,
        message: String,
    },
    /// Starts importing an archive into a new store named `store` (made
    /// visible only by `ImportCommit`). The operator and the organization's
    /// admins may import.
    ImportBegin {
        store: StoreRef,
    },
    /// Stages the next records of an archive (`crate::import`).
    ImportChunk {
        import_id: u64,
        chunk: Box<ImportChunk>,
    },
    /// Makes a fully staged import the store it names.
    ImportCommit {
        import_id: u64,
    },
    /// Removes a staged import and everything staged for it.
    ImportAbort {
        import_id: u64,
    },
}

/// The longest message a transaction may carry, in bytes.
pub const TXN_MESSAGE_BYTES_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precondition {
    /// Apply whatever the current state is.
    #[default]
    None,
    /// Apply only if the file's current version is exactly this one.
    IfVersion(u64),
    /// Apply only if the file does not exist.
    IfAbsent,
    /// Apply only if the file exists (any version).
    IfExists,
}

impl std::fmt::Display for Precondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Precondition::None => f.write_str("any state"),
            Precondition::IfVersion(version) => write!(f, "version {version}"),
            Precondition::IfAbsent => f.write_str("absent"),
            Precondition::IfExists => f.write_str("present"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOp {
    /// Create or replace the file with `content`.
    Write {
        path: FilePath,
        content: String,
        precondition: Precondition,
    },
    /// Delete the file, or with `recursive` every file under the directory
    /// `path` (and the file `path` itself if there is one). The precondition
    /// applies to the file `path`.
    Delete {
        path: FilePath,
        recursive: bool,
        precondition: Precondition,
    },
    /// Move a file. Refuses to replace an existing `to` unless `overwrite`.
    /// The precondition applies to `from`.
    Rename {
        from: FilePath,
        to: FilePath,
        overwrite: bool,
        precondition: Precondition,
    },
    /// Replace the one occurrence of `old` with `new`.
    StrReplace {
        path: FilePath,
        old: String,
        new: String,
        precondition: Precondition,
    },
    /// Insert `text` before line `line` (0-based; `line == line count` appends).
    Insert {
        path: FilePath,
        line: u64,
        text: String,
        precondition: Precondition,
    },
}

impl WriteOp {
    pub fn kind(&self) -> OpKind {
        match self {
            WriteOp::Write { .. } => OpKind::Write,
            WriteOp::Delete { .. } => OpKind::Delete,
            WriteOp::Rename { .. } => OpKind::Rename,
            WriteOp::StrReplace { .. } => OpKind::StrReplace,
            WriteOp::Insert { .. } => OpKind::Insert,
        }
    }

    /// The path the precondition is checked against.
    pub fn path(&self) -> &FilePath {
        match self {
            WriteOp::Write { path, .. }
            | WriteOp::Delete { path, .. }
            | WriteOp::StrReplace { path, .. }
            | WriteOp::Insert { path, .. } => path,
            WriteOp::Rename { from, .. } => from,
        }
    }
}

/// What kind of operation produced a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Write,
    Delete,
    Rename,
    StrReplace,
    Insert,
    /// The file was removed because its whole store was deleted (audit only).
    DeleteStore,
    /// A redaction: in the audit, a version it redacted; in a history, the
    /// live version it rewrote without the redacted text.
    Redact,
}

impl OpKind {
    /// The name serde uses for the kind (snake_case), for text output.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Write => "write",
            OpKind::Delete => "delete",
            OpKind::Rename => "rename",
            OpKind::StrReplace => "str_replace",
            OpKind::Insert => "insert",
            OpKind::DeleteStore => "delete_store",
            OpKind::Redact => "redact",
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to an applied command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    StoreCreated(StoreInfo),
    StoreDeleted(StoreInfo),
    Txn(TxnResult),
    /// A store's settings changed (its policy).
    StoreUpdated(StoreInfo),
    /// A refusal was recorded in the audit trail.
    RefusalRecorded,
    OrgCreated(OrgInfo),
    UserCreated(UserInfo),
    TokenCreated(TokenInfo),
    TokenRevoked(TokenInfo),
    GrantSet {
        store: String,
        user: String,
        access: Option<Access>,
    },
    Bootstrapped,
    Redacted(Redaction),
    /// Nothing changed; `op_index` says which operation of a transaction failed.
    Failed {
        op_index: Option<u32>,
        error: CoreError,
    },
    /// A Raft-internal entry (a new leader's blank entry, a membership
    /// change) was applied; it has no client to answer.
    Noop,
    /// An import began, took a chunk, or was abandoned: where it stands.
    ImportUpdated(Box<ImportState>),
    /// An import was committed: the new store.
    Imported(StoreInfo),
}

impl Outcome {
    pub fn failed(error: CoreError) -> Outcome {
        Outcome::Failed {
            op_index: None,
            error,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    pub id: u64,
    pub name: String,
    pub org_id: u64,
    pub org: String,
    /// The owner of a user-scoped store; `None` for an organization-scoped one.
    pub owner: Option<String>,
    pub created_ms: u64,
    /// The position (`apply::position`) of the proposal that created the
    /// store: its generation, distinct even for two creations in one entry.
    pub created_log_index: u64,
    /// The store's revision: bumped by one for every applied transaction.
    pub revision: u64,
    pub file_count: u64,
    pub bytes_total: u64,
    pub policy: StorePolicy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResult {
    /// The store revision every change of this transaction carries.
    pub revision: u64,
    /// One change per file touched, in the order they were made. A delete has
    /// `version: None`; a rename yields a delete of `from` and a rename of `to`.
    pub changes: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub op: OpKind,
    /// The file's new version (the revision), or `None` when it was deleted.
    pub version: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    #[test]
    fn op_kind_names_are_the_serde_names() {
        let kinds = [
            OpKind::Write,
            OpKind::Delete,
            OpKind::Rename,
            OpKind::StrReplace,
            OpKind::Insert,
            OpKind::DeleteStore,
            OpKind::Redact,
        ];
        for kind in kinds {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    /// Log entries carry proposals as bincode; validated paths and names must
    /// round-trip, and a malformed one must not decode.
    #[test]
    fn proposals_round_trip_through_bincode_and_malformed_paths_do_not_decode() {
        let limits = Limits::default();
        let proposal = Proposal {
            meta: Meta {
                time_ms: 7,
                agent: "agent".into(),
                session: "session".into(),
                idempotency_key: Some("key".into()),
                limits,
                principal: Some("0123456789abcdef".into()),
                request_id: "req-1".into(),
            },
            command: Command::Txn {
                store: StoreRef::new(1, crate::path::StoreName::parse("notes").unwrap()),
                ops: vec![WriteOp::Rename {
                    from: FilePath::parse("/a/b", &limits).unwrap(),
                    to: FilePath::parse("/c", &limits).unwrap(),
                    overwrite: false,
                    precondition: Precondition::IfVersion(3),
                }],
            },
        };
        let bytes = codec::encode(&proposal);
        assert_eq!(codec::decode::<Proposal>(&bytes).unwrap(), proposal);

        // The same entry with `/c` replaced by the malformed `/.`, of equal length.
        let at = bytes
            .windows(2)
            .rposition(|window| window == b"/c")
            .unwrap();
        let mut malformed = bytes.clone();
        malformed[at + 1] = b'.';
        assert!(codec::decode::<Proposal>(&malformed).is_err());
    }
}
