//! The audit trail's records: one event per applied command, its chain and
//! the canonical bytes its SHA-256 is taken over.
//!
//! Every event belongs to exactly one chain: its store's (store events), its
//! organization's (users, tokens, the organization itself) or the cluster's
//! (the bootstrap, operator tokens). Each event carries the hash of the
//! previous event of its chain (`ZERO_HASH` for the first) and its own hash,
//! SHA-256 over `canonical_bytes` (`docs/format.md`, "Audit events"). The
//! canonical bytes are written by hand, field by field, so they never depend
//! on bincode's encoding.
//!
//! The index keys (`sm_audit_index`) are built here too: every index row ends
//! with the event's log index, so a scan of one filter value visits that
//! value's events in log order and can start at any log index.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::command::OpKind;
use crate::error::StorageError;

/// What the first event of a chain chains from.
pub const ZERO_HASH: [u8; 32] = [0; 32];

/// The first bytes of every event's canonical encoding: names the encoding,
/// so a hash of one version can never be mistaken for another's.
pub const CANONICAL_TAG: &[u8] = b"cairn-audit-event-v1";

/// What an event records. New commands add a variant (at the end: the
/// record is bincode) and its name; names are part of the canonical bytes,
/// so a name never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOp {
    /// The node's first start: the operator's token and the default organization.
    Bootstrap,
    CreateOrg,
    CreateUser,
    CreateToken,
    RevokeToken,
    CreateStore,
    DeleteStore,
    /// A grant set, changed or removed (`detail` is the access, or `none`).
    SetGrant,
    /// A transaction on a store's files.
    Txn,
    /// A transaction putting files back to an earlier state.
    Rollback,
    /// Versions' content removed (`detail` is the reason).
    Redact,
    /// A store's retention and quota replaced (`detail` describes them).
    SetPolicy,
    /// A request refused (`target` the operation, `detail` why); nothing changed.
    Refused,
    /// An import of an archive began (organization chain; `target` the store name).
    ImportBegin,
    /// A chunk of an archive was staged (organization chain).
    ImportChunk,
    /// A staged import was abandoned and removed (organization chain).
    ImportAbort,
    /// An imported store became visible (its own chain, continuing the
    /// archive's events; `detail` names the archive's digest).
    Import,
}

impl AuditOp {
    /// The stable name (serde's, snake_case), also in the canonical bytes.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOp::Bootstrap => "bootstrap",
            AuditOp::CreateOrg => "create_org",
            AuditOp::CreateUser => "create_user",
            AuditOp::CreateToken => "create_token",
            AuditOp::RevokeToken => "revoke_token",
            AuditOp::CreateStore => "create_store",
            AuditOp::DeleteStore => "delete_store",
            AuditOp::SetGrant => "set_grant",
            AuditOp::Txn => "txn",
            AuditOp::Rollback => "rollback",
            AuditOp::Redact => "redact",
            AuditOp::SetPolicy => "set_policy",
            AuditOp::Refused => "refused",
            AuditOp::ImportBegin => "import_begin",
            AuditOp::ImportChunk => "import_chunk",
            AuditOp::ImportAbort => "import_abort",
            AuditOp::Import => "import",
        }
    }
}

impl std::fmt::Display for AuditOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One path an event changed: never the content, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditChange {
    pub path: String,
    pub op: OpKind,
    /// The file's new version, `None` when the change removed it.
    pub version: Option<u64>,
    /// SHA-256 of the content written; `None` when the change removed the file.
    pub content_sha256: Option<[u8; 32]>,
}

/// The chain an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChainKey {
    Cluster,
    Org(u64),
    Store(u64),
}

impl ChainKey {
    /// Tag byte (`C`, `O`, `S`) ‖ id (8, big-endian; 0 for the cluster).
    pub fn to_bytes(self) -> [u8; 9] {
        let (tag, id) = match self {
            ChainKey::Cluster => (b'C', 0),
            ChainKey::Org(id) => (b'O', id),
            ChainKey::Store(id) => (b'S', id),
        };
        let mut key = [0u8; 9];
        key[0] = tag;
        key[1..].copy_from_slice(&id.to_be_bytes());
        key
    }
}

/// `sm_audit_chains`: where a chain ends, to catch a truncated chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub events: u64,
    pub last_log_index: u64,
    pub hash: [u8; 32],
}

/// `sm_audit` (log index → this): one applied command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub log_index: u64,
    /// The proposer's clock, never before the previous event's (see `record`).
    pub time_ms: u64,
    pub op: AuditOp,
    /// `None` only for cluster events.
    pub org_id: Option<u64>,
    pub org: Option<String>,
    pub store_id: Option<u64>,
    pub store: Option<String>,
    /// The store's revision after the event (store events only).
    pub revision: Option<u64>,
    /// `operator`, `ORG/USER`, or `node` for the node's own bootstrap.
    pub principal: String,
    /// The token's id; empty for the bootstrap.
    pub token_id: String,
    pub agent: String,
    pub session: String,
    pub idempotency_key: Option<String>,
    pub request_id: String,
    /// What a governance event acted on: a user, a token id, a grantee.
    pub target: Option<String>,
    /// A short fact about it: a role, an access level, a token's agent.
    pub detail: Option<String>,
    pub changes: Vec<AuditChange>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl ChainKey {
    /// The chain of an event of store `store_id` or else organization `org_id`.
    fn of(store_id: Option<u64>, org_id: Option<u64>) -> ChainKey {
        match (store_id, org_id) {
            (Some(store_id), _) => ChainKey::Store(store_id),
            (None, Some(org_id)) => ChainKey::Org(org_id),
            (None, None) => ChainKey::Cluster,
        }
    }
}

/// The leading fields of an encoded `AuditRecord` (`codec::decode_leading`):
/// enough to tell its chain without decoding its changes, which for a store
/// deletion name every file the store held.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AuditRecordHead {
    pub log_index: u64,
    pub time_ms: u64,
    pub op: AuditOp,
    pub org_id: Option<u64>,
    pub org: Option<String>,
    pub store_id: Option<u64>,
}

impl AuditRecordHead {
    pub fn chain(&self) -> ChainKey {
        ChainKey::of(self.store_id, self.org_id)
    }
}

impl AuditRecord {
    pub fn chain(&self) -> ChainKey {
        ChainKey::of(self.store_id, self.org_id)
    }

    /// Every field but `hash`, in declaration order (`docs/format.md`).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Canonical(Vec::new());
        self.write_canonical(&mut out);
        out.0
    }

    /// SHA-256 of the canonical bytes: what `hash` must hold. Hashed as
    /// they are produced: a store deletion's event names every file it
    /// removed, and its bytes need not be held twice.
    pub fn compute_hash(&self) -> [u8; 32] {
        let mut out = Canonical(Sha256::new());
        self.write_canonical(&mut out);
        out.0.finalize().into()
    }

    fn write_canonical(&self, out: &mut Canonical<impl Sink>) {
        out.raw(CANONICAL_TAG);
        out.raw(&self.prev_hash);
        out.u64(self.log_index);
        out.u64(self.time_ms);
        out.str(self.op.as_str());
        out.opt_u64(self.org_id);
        out.opt_str(self.org.as_deref());
        out.opt_u64(self.store_id);
        out.opt_str(self.store.as_deref());
        out.opt_u64(self.revision);
        out.str(&self.principal);
        out.str(&self.token_id);
        out.str(&self.agent);
        out.str(&self.session);
        out.opt_str(self.idempotency_key.as_deref());
        out.str(&self.request_id);
        out.opt_str(self.target.as_deref());
        out.opt_str(self.detail.as_deref());
        out.u32(u32::try_from(self.changes.len()).unwrap_or(u32::MAX));
        for change in &self.changes {
            out.str(&change.path);
            out.str(change.op.as_str());
            out.opt_u64(change.version);
            match &change.content_sha256 {
                None => out.raw(&[0]),
                Some(digest) => {
                    out.raw(&[1]);
                    out.raw(digest);
                }
            }
        }
    }
}

/// Where canonical bytes go: a buffer, or straight into a hash.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// The canonical writer: big-endian integers, `u32` length before every
/// string, a `0`/`1` byte before every optional value.
struct Canonical<S>(S);

impl<S: Sink> Canonical<S> {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.put(bytes);
    }

    fn u32(&mut self, value: u32) {
        self.raw(&value.to_be_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.raw(&value.to_be_bytes());
    }

    fn str(&mut self, value: &str) {
        // Labels, names and paths are bounded far below 4 GiB by `Limits`.
        self.u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        self.raw(value.as_bytes());
    }

    fn opt_u64(&mut self, value: Option<u64>) {
        match value {
            None => self.raw(&[0]),
            Some(value) => {
                self.raw(&[1]);
                self.u64(value);
            }
        }
    }

    fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.raw(&[0]),
            Some(value) => {
                self.raw(&[1]);
                self.str(value);
            }
        }
    }
}

/// `sm_audit` keys: the log index, big-endian.
pub fn record_key(log_index: u64) -> [u8; 8] {
    log_index.to_be_bytes()
}

/// The kinds of `sm_audit_index` rows: the first byte of every key.
pub mod index {
    /// `c` ‖ chain key (9) ‖ entry: the entries holding events of one chain.
    pub const CHAIN: u8 = b'c';
    /// `r` ‖ store id (8) ‖ revision (8) ‖ log index: a store's events by revision.
    pub const REVISION: u8 = b'r';
    /// `o` ‖ organization id (8) ‖ entry: everything in one organization.
    pub const ORG: u8 = b'o';
    /// `a` ‖ length (4) ‖ agent ‖ entry.
    pub const AGENT: u8 = b'a';
    /// `s` ‖ length (4) ‖ session ‖ entry.
    pub const SESSION: u8 = b's';
    /// `p` ‖ length (4) ‖ principal ‖ entry.
    pub const PRINCIPAL: u8 = b'p';
    /// `k` ‖ length (4) ‖ token id ‖ entry.
    pub const TOKEN: u8 = b'k';
    /// `t` ‖ time (8) ‖ log index of the first event at that time: times
    /// never go back, so this is log order.
    pub const TIME: u8 = b't';
    /// `f` ‖ store id (8) ‖ path ‖ `0x00` ‖ log index: the events that changed a path.
    pub const PATH: u8 = b'f';
    /// `n` ‖ organization id (8) ‖ length (4) ‖ store name ‖ store id (8): every
    /// store that ever had the name (value empty; not log-indexed).
    pub const STORE_NAME: u8 = b'n';
}

/// A prefix of `kind` followed by the given parts.
pub fn index_prefix(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = vec![kind];
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// A string as an index key part: its length (4, big-endian), then its bytes,
/// so that one value's rows are exactly one prefix.
pub fn label_part(value: &str) -> Vec<u8> {
    let mut part = Vec::with_capacity(4 + value.len());
    part.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
    part.extend_from_slice(value.as_bytes());
    part
}

/// The log index every log-indexed row ends with.
pub fn index_key_log_index(key: &[u8]) -> Result<u64, StorageError> {
    key.len()
        .checked_sub(8)
        .filter(|&at| at > 0)
        .and_then(|at| key[at..].try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StorageError::corrupt("malformed audit index key"))
}

/// The `PATH` prefix of every path under `prefix` (the directory itself, its
/// files, and paths that merely start with the same bytes, which readers
/// filter out).
pub fn path_index_prefix(store_id: u64, prefix: &str) -> Vec<u8> {
    index_prefix(index::PATH, &[&store_id.to_be_bytes(), prefix.as_bytes()])
}

/// Splits a `PATH` row into its path and log index.
pub fn path_index_parts(key: &[u8]) -> Result<(&str, u64), StorageError> {
    let malformed = || StorageError::corrupt("malformed audit path index key");
    if key.len() < 1 + 8 + 1 + 8 || key[key.len() - 9] != crate::codec::PATH_END {
        return Err(malformed());
    }
    let path = std::str::from_utf8(&key[9..key.len() - 9]).map_err(|_| malformed())?;
    Ok((path, index_key_log_index(key)?))
}

/// Whether `path` is `prefix` or lies under the directory `prefix`.
pub fn path_is_under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            log_index: 7,
            time_ms: 1_000,
            op: AuditOp::Txn,
            org_id: Some(1),
            org: Some("acme".into()),
            store_id: Some(3),
            store: Some("notes".into()),
            revision: Some(2),
            principal: "acme/ann".into(),
            token_id: "0123456789abcdef".into(),
            agent: "agent".into(),
            session: "session".into(),
            idempotency_key: Some("key".into()),
            request_id: "req".into(),
            target: None,
            detail: None,
            changes: vec![AuditChange {
                path: "/a".into(),
                op: OpKind::Write,
                version: Some(2),
                content_sha256: Some([9; 32]),
            }],
            prev_hash: ZERO_HASH,
            hash: ZERO_HASH,
        }
    }

    /// The hash is fed as the bytes are made, not from `canonical_bytes`.
    #[test]
    fn the_hash_is_the_sha256_of_the_canonical_bytes() {
        let mut record = record();
        for n in 0..300 {
            record.changes.push(AuditChange {
                path: format!("/removed/{n}"),
                op: OpKind::DeleteStore,
                version: None,
                content_sha256: None,
            });
        }
        assert_eq!(
            record.compute_hash(),
            crate::auth::sha256(&record.canonical_bytes())
        );
    }

    /// The canonical bytes are written by hand: pin them, so that a change
    /// of layout is a deliberate one (and `docs/format.md` changes with it).
    #[test]
    fn canonical_bytes_are_the_documented_layout() {
        let bytes = record().canonical_bytes();
        let mut expected = CANONICAL_TAG.to_vec();
        expected.extend([0u8; 32]);
        expected.extend(7u64.to_be_bytes());
        expected.extend(1_000u64.to_be_bytes());
        expected.extend(b"\0\0\0\x03txn");
        expected.extend([1, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend(b"\x01\0\0\0\x04acme");
        expected.extend([1, 0, 0, 0, 0, 0, 0, 0, 3]);
        expected.extend(b"\x01\0\0\0\x05notes");
        expected.extend([1, 0, 0, 0, 0, 0, 0, 0, 2]);
        expected.extend(b"\0\0\0\x08acme/ann");
        expected.extend(b"\0\0\0\x100123456789abcdef");
        expected.extend(b"\0\0\0\x05agent");
        expected.extend(b"\0\0\0\x07session");
        expected.extend(b"\x01\0\0\0\x03key");
        expected.extend(b"\0\0\0\x03req");
        expected.extend([0, 0]);
        expected.extend(1u32.to_be_bytes());
        expected.extend(b"\0\0\0\x02/a\0\0\0\x05write");
        expected.extend([1, 0, 0, 0, 0, 0, 0, 0, 2, 1]);
        expected.extend([9u8; 32]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn the_hash_covers_every_field_but_itself() {
        let base = record();
        let hash = base.compute_hash();
        let mut with_hash = base.clone();
        with_hash.hash = [1; 32];
        assert_eq!(with_hash.compute_hash(), hash);
        let edits: Vec<fn(&mut AuditRecord)> = vec![
            |r| r.prev_hash[0] ^= 1,
            |r| r.log_index += 1,
            |r| r.time_ms += 1,
            |r| r.op = AuditOp::DeleteStore,
            |r| r.org_id = None,
            |r| r.store = Some("notez".into()),
            |r| r.revision = None,
            |r| r.principal.push('x'),
            |r| r.agent.clear(),
            |r| r.session.push('x'),
            |r| r.idempotency_key = None,
            |r| r.request_id.push('x'),
            |r| r.target = Some(String::new()),
            |r| r.detail = Some("x".into()),
            |r| r.changes[0].content_sha256 = None,
            |r| r.changes[0].version = Some(3),
            |r| r.changes.clear(),
        ];
        for (index, edit) in edits.into_iter().enumerate() {
            let mut edited = base.clone();
            edit(&mut edited);
            assert_ne!(edited.compute_hash(), hash, "edit {index}");
        }
        // Length prefixes keep adjacent strings apart.
        let mut shifted = base.clone();
        shifted.agent = "agents".into();
        shifted.session = "ession".into();
        assert_ne!(shifted.compute_hash(), hash);
    }

    #[test]
    fn path_prefixes_follow_directories() {
        assert!(path_is_under("/a/b", "/a"));
        assert!(path_is_under("/a/b", "/a/"));
        assert!(path_is_under("/a", "/a"));
        assert!(!path_is_under("/ab", "/a"));
        assert!(path_is_under("/anything", "/"));
        let key = index_prefix(
            index::PATH,
            &[&3u64.to_be_bytes(), b"/a/b", &[0], &9u64.to_be_bytes()],
        );
        assert_eq!(path_index_parts(&key).unwrap(), ("/a/b", 9));
        assert!(path_index_parts(b"f").is_err());
    }
}
