//! The Managed Agents memory-store API (`client.beta.memory_stores…`) on
//! Cairn stores. See ARCHITECTURE.md, "Memory-store ids".
//!
//! - A memory store is a Cairn store named by its id (`memstore_` and 24 hex
//!   digits), so Cairn's own API reaches it under the same name. Its name,
//!   description, metadata and archive time live in the store's file
//!   `META_PATH` (JSON), written through Raft like any file.
//! - A memory is named by where its lineage began: `mem_`, the creating
//!   revision (16 hex digits), then the creating path in hex. Renames keep
//!   the id: `cairn_core::read::memory` follows the rename chain.
//! - A memory version is a Cairn version: `memver_`, its revision (16 hex
//!   digits), then its path in hex.

use std::collections::{BTreeMap, HashMap};

use cairn_api::managed::{
    Actor, Deleted, Memory, MemoryCreate, MemoryListItem, MemoryListQuery, MemoryPage,
    MemoryPrefix, MemoryStore, MemoryStoreCreate, MemoryStoreListQuery, MemoryStorePage,
    MemoryStoreUpdate, MemoryUpdate, MemoryVersion, MemoryVersionListQuery, MemoryVersionPage,
};
use cairn_api::{Consistency, PreconditionFields, RedactRequest};
use cairn_core::command::{Precondition, WriteOp};
use cairn_core::read::memory::{self, MemoryHead, MemoryOperation};
use cairn_core::read::{self, AuditFilter, AuditQuery, EntryKind, ListOptions};
use cairn_core::{At, CoreError, KvRead, ReadError, StorageError, StoreRef, auth};
use serde::{Deserialize, Serialize};

use super::{RequestContext, Service, ServiceError};

/// The file holding a memory store's name, description, metadata and archive time.
pub const META_PATH: &str = "/.cairn/memory_store.json";
/// Memories may not live under this directory (it holds `META_PATH`).
const RESERVED_DIR: &str = "/.cairn";
const STORE_PREFIX: &str = "memstore_";
const MEMORY_PREFIX: &str = "mem_";
const VERSION_PREFIX: &str = "memver_";
const PAGE_PREFIX: &str = "page_";
const PAGE_DEFAULT: u64 = 20;
const PAGE_MAX: u64 = 100;
const PAGE_FULL_MAX: u64 = 20;
/// Audit events read per page while attributing versions to tokens.
const AUDIT_PAGE: u64 = 1000;

/// Why a memory-store call failed, in the reference's terms.
#[derive(Debug, thiserror::Error)]
pub enum ManagedError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// `400 invalid_request_error`.
    #[error("{0}")]
    Invalid(String),
    /// `404 not_found_error`.
    #[error("{0}")]
    NotFound(String),
    /// `409 memory_precondition_failed_error`.
    #[error("{0}")]
    PreconditionFailed(String),
    /// `409 memory_path_conflict_error`.
    #[error("a memory already exists at {path:?}")]
    PathConflict {
        path: String,
        memory_id: Option<String>,
    },
}

impl From<CoreError> for ManagedError {
    fn from(error: CoreError) -> ManagedError {
        ManagedError::Service(error.into())
    }
}

impl From<ReadError> for ManagedError {
    fn from(error: ReadError) -> ManagedError {
        ManagedError::Service(error.into())
    }
}

pub type ManagedResult<T> = Result<T, ManagedError>;

/// What `META_PATH` holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StoreMeta {
    name: String,
    description: String,
    metadata: BTreeMap<String, String>,
    archived_ms: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Basic,
    Full,
}

fn view(raw: Option<&str>, default: View) -> ManagedResult<View> {
    match raw {
        None => Ok(default),
        Some("basic") => Ok(View::Basic),
        Some("full") => Ok(View::Full),
        Some(other) => Err(ManagedError::Invalid(format!(
            "view: expected `basic` or `full`, got {other:?}"
        ))),
    }
}

fn hex_decode(raw: &str) -> Option<Vec<u8>> {
    if !raw.len().is_multiple_of(2) || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&raw[i..i + 2], 16).ok())
        .collect()
}

/// `PREFIX` ‖ revision (16 hex) ‖ hex(path).
fn encode_id(prefix: &str, path: &str, revision: u64) -> String {
    format!("{prefix}{revision:016x}{}", auth::hex(path.as_bytes()))
}

fn decode_id(prefix: &str, id: &str) -> Option<(String, u64)> {
    let rest = id.strip_prefix(prefix)?;
    let revision = u64::from_str_radix(rest.get(..16)?, 16).ok()?;
    let path = String::from_utf8(hex_decode(rest.get(16..)?)?).ok()?;
    path.starts_with('/').then_some((path, revision))
}

pub fn memory_id(path: &str, revision: u64) -> String {
    encode_id(MEMORY_PREFIX, path, revision)
}

pub fn version_id(path: &str, revision: u64) -> String {
    encode_id(VERSION_PREFIX, path, revision)
}

fn rfc3339(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(name: &str, raw: Option<&str>) -> ManagedResult<Option<u64>> {
    let Some(raw) = raw else { return Ok(None) };
    let time = chrono::DateTime::parse_from_rfc3339(raw)
        .map_err(|error| ManagedError::Invalid(format!("{name}: not an RFC 3339 time: {error}")))?;
    Ok(Some(u64::try_from(time.timestamp_millis()).unwrap_or(0)))
}

fn page_limit(limit: Option<u64>, view: View) -> ManagedResult<u64> {
    let max = if view == View::Full {
        PAGE_FULL_MAX
    } else {
        PAGE_MAX
    };
    match limit {
        None => Ok(PAGE_DEFAULT.min(max)),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(limit) => Err(ManagedError::Invalid(format!(
            "limit: must be between 1 and {max}, got {limit}"
        ))),
    }
}

/// `page_` ‖ hex(key): the sort key of the last item served.
fn page_token(key: &str) -> String {
    format!("{PAGE_PREFIX}{}", auth::hex(key.as_bytes()))
}

fn page_key(page: Option<&str>) -> ManagedResult<Option<String>> {
    let Some(page) = page else { return Ok(None) };
    page.strip_prefix(PAGE_PREFIX)
        .and_then(hex_decode)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(|| ManagedError::Invalid(format!("page: not a page token: {page:?}")))
}

fn check_sha(name: &str, sha: &str) -> ManagedResult<()> {
    if sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ManagedError::Invalid(format!(
            "{name}: expected 64 lowercase hexadecimal characters"
        )))
    }
}

fn check_store_fields(
    name: Option<&str>,
    description: Option<&str>,
    metadata: &BTreeMap<String, String>,
) -> ManagedResult<()> {
    if let Some(name) = name {
        let chars = name.chars().count();
        if !(1..=255).contains(&chars) || name.chars().any(char::is_control) {
            return Err(ManagedError::Invalid(
                "name: must be 1 to 255 characters without control characters".into(),
            ));
        }
    }
    if description.is_some_and(|d| d.chars().count() > 1024) {
        return Err(ManagedError::Invalid(
            "description: at most 1,024 characters".into(),
        ));
    }
    if metadata.len() > 16 {
        return Err(ManagedError::Invalid(
            "metadata: at most 16 key-value pairs".into(),
        ));
    }
    for (key, value) in metadata {
        if !(1..=64).contains(&key.chars().count()) || value.chars().count() > 512 {
            return Err(ManagedError::Invalid(
                "metadata: keys are 1 to 64 characters and values at most 512".into(),
            ));
        }
    }
    Ok(())
}

fn reserved(path: &str) -> bool {
    path == RESERVED_DIR || path.starts_with("/.cairn/")
}

/// A memory's view from its head version.
fn memory_view(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    memory_store_id: &str,
    path: &str,
    version: u64,
    view: View,
) -> Result<Option<Memory>, StorageError> {
    let Some(head) = memory::memory_version(kv, store_id, path, version, view == View::Full)?
    else {
        return Ok(None);
    };
    let (origin_path, origin_revision) = head.origin.clone();
    let created = memory::memory_version(kv, store_id, &origin_path, origin_revision, false)?;
    Ok(Some(Memory {
        id: memory_id(&origin_path, origin_revision),
        kind: "memory".into(),
        memory_store_id: memory_store_id.into(),
        path: path.into(),
        content: head.content,
        content_sha256: head.sha256.map(|sha| auth::hex(&sha)).unwrap_or_default(),
        content_size_bytes: head.bytes.unwrap_or(0),
        memory_version_id: version_id(path, version),
        created_at: rfc3339(created.map_or(head.time_ms, |c| c.time_ms)),
        updated_at: rfc3339(head.time_ms),
    }))
}

fn version_view(
    version: memory::MemoryVersion,
    memory_store_id: &str,
    tokens: &HashMap<u64, String>,
) -> MemoryVersion {
    let created_by = if version.session.is_empty() {
        tokens.get(&version.revision).map(|token| Actor {
            kind: "api_actor".into(),
            session_id: None,
            api_key_id: Some(token.clone()),
        })
    } else {
        Some(Actor {
            kind: "session_actor".into(),
            session_id: Some(version.session.clone()),
            api_key_id: None,
        })
    };
    let redacted = version.redaction.as_ref().filter(|r| r.whole);
    let redacted_by = redacted.map(|r| Actor {
        kind: "api_actor".into(),
        session_id: None,
        api_key_id: tokens.get(&r.revision).cloned(),
    });
    let (path, sha, size) = match redacted {
        Some(_) => (None, None, None),
        None => (
            Some(version.path.clone()),
            version.sha256.map(|sha| auth::hex(&sha)),
            version.bytes,
        ),
    };
    MemoryVersion {
        id: version_id(&version.path, version.revision),
        kind: "memory_version".into(),
        memory_id: memory_id(&version.origin.0, version.origin.1),
        memory_store_id: memory_store_id.into(),
        operation: match version.operation {
            MemoryOperation::Created => "created",
            MemoryOperation::Modified => "modified",
            MemoryOperation::Deleted => "deleted",
        }
        .into(),
        path,
        content: if redacted.is_some() {
            None
        } else {
            version.content
        },
        content_sha256: sha,
        content_size_bytes: size,
        created_at: rfc3339(version.time_ms),
        created_by,
        redacted_at: redacted.map(|r| rfc3339(r.time_ms)),
        redacted_by,
    }
}

/// Store revision → the token id of the event that made it.
fn revision_tokens(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
) -> Result<HashMap<u64, String>, ReadError> {
    let mut tokens = HashMap::new();
    let mut after = None;
    loop {
        let query = AuditQuery {
            filter: AuditFilter {
                stores: Some(vec![store_id]),
                ..AuditFilter::default()
            },
            after,
            limit: AUDIT_PAGE,
            candidates_max: read::AUDIT_CANDIDATES_MAX,
        };
        // The caller was authorized for the store before this read.
        let page = read::audit(kv, &query, &mut |_| Ok(true))?;
        for event in page.events {
            if let Some(revision) = event.revision {
                tokens.insert(revision, event.token_id);
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => return Ok(tokens),
        }
    }
}

impl Service {
    fn memory_store_name(&self, id: &str) -> ManagedResult<String> {
        let valid = id
            .strip_prefix(STORE_PREFIX)
            .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_hexdigit()));
        if valid {
            Ok(id.to_string())
        } else {
            Err(ManagedError::NotFound(format!(
                "memory store {id:?} not found"
            )))
        }
    }

    /// The store's view and the version of its `META_PATH`.
    async fn memory_store_view(
        &self,
        context: &RequestContext,
        id: &str,
    ) -> ManagedResult<(MemoryStore, StoreMeta, u64)> {
        let name = self.memory_store_name(id)?;
        let found = self
            .read_in_store(
                context,
                &name,
                Consistency::Linearizable,
                |reader, _, info| {
                    let meta_path =
                        cairn_core::FilePath::parse(META_PATH, &cairn_core::Limits::default())?;
                    match read::read_file_in(reader, info, &meta_path, At::Current) {
                        Ok(file) => Ok(Some((info.clone(), file))),
                        Err(ReadError::Domain(CoreError::NotFound { .. })) => Ok(None),
                        Err(error) => Err(error),
                    }
                },
            )
            .await
            .map_err(|error| match error {
                ServiceError::Refused(refusal)
                    if matches!(refusal.error, CoreError::NotFound { .. }) =>
                {
                    ManagedError::NotFound(format!("memory store {id:?} not found"))
                }
                other => other.into(),
            })?;
        let Some((info, file)) = found else {
            return Err(ManagedError::NotFound(format!(
                "memory store {id:?} not found"
            )));
        };
        let meta: StoreMeta = serde_json::from_str(&file.content).map_err(|error| {
            ServiceError::Internal(format!("{id}: unreadable {META_PATH}: {error}"))
        })?;
        let view = MemoryStore {
            id: id.to_string(),
            kind: "memory_store".into(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            metadata: meta.metadata.clone(),
            created_at: rfc3339(info.created_ms),
            updated_at: rfc3339(file.meta.time_ms),
            archived_at: meta.archived_ms.map(rfc3339),
        };
        Ok((view, meta, file.meta.version))
    }

    async fn write_meta(
        &self,
        context: &RequestContext,
        id: &str,
        meta: &StoreMeta,
        precondition: PreconditionFields,
    ) -> ManagedResult<()> {
        let content = serde_json::to_string(meta)
            .map_err(|error| ServiceError::Internal(error.to_string()))?;
        self.write_file(context, id, META_PATH, content, precondition)
            .await?;
        Ok(())
    }

    pub async fn create_memory_store(
        &self,
        context: &RequestContext,
        request: MemoryStoreCreate,
    ) -> ManagedResult<MemoryStore> {
        let metadata = request.metadata.unwrap_or_default();
        let description = request.description.unwrap_or_default();
        check_store_fields(Some(&request.name), Some(&description), &metadata)?;
        let mut random = [0u8; 12];
        self.entropy.fill(&mut random);
        let id = format!("{STORE_PREFIX}{}", auth::hex(&random));
        self.create_store(context, &id, None).await?;
        let meta = StoreMeta {
            name: request.name,
            description,
            metadata,
            archived_ms: None,
        };
        let absent = PreconditionFields {
            if_absent: true,
            ..PreconditionFields::default()
        };
        self.write_meta(context, &id, &meta, absent).await?;
        Ok(self.memory_store_view(context, &id).await?.0)
    }

    pub async fn get_memory_store(
        &self,
        context: &RequestContext,
        id: &str,
    ) -> ManagedResult<MemoryStore> {
        Ok(self.memory_store_view(context, id).await?.0)
    }

    pub async fn update_memory_store(
        &self,
        context: &RequestContext,
        id: &str,
        request: MemoryStoreUpdate,
    ) -> ManagedResult<MemoryStore> {
        let (_, mut meta, version) = self.memory_store_view(context, id).await?;
        if meta.archived_ms.is_some() {
            return Err(ManagedError::Invalid(format!(
                "memory store {id:?} is archived and cannot be updated"
            )));
        }
        if let Some(name) = request.name {
            meta.name = name;
        }
        if let Some(description) = request.description {
            meta.description = description;
        }
        for (key, value) in request.metadata.unwrap_or_default() {
            match value {
                Some(value) => meta.metadata.insert(key, value),
                None => meta.metadata.remove(&key),
            };
        }
        check_store_fields(Some(&meta.name), Some(&meta.description), &meta.metadata)?;
        self.write_meta(context, id, &meta, if_version(version))
            .await?;
        Ok(self.memory_store_view(context, id).await?.0)
    }

    pub async fn archive_memory_store(
        &self,
        context: &RequestContext,
        id: &str,
    ) -> ManagedResult<MemoryStore> {
        let (view, mut meta, version) = self.memory_store_view(context, id).await?;
        if meta.archived_ms.is_some() {
            return Ok(view);
        }
        meta.archived_ms = Some(self.clock.now_ms());
        self.write_meta(context, id, &meta, if_version(version))
            .await?;
        Ok(self.memory_store_view(context, id).await?.0)
    }

    pub async fn delete_memory_store(
        &self,
        context: &RequestContext,
        id: &str,
    ) -> ManagedResult<Deleted> {
        self.memory_store_view(context, id).await?;
        self.delete_store(context, id).await?;
        Ok(Deleted {
            id: id.to_string(),
            kind: "memory_store_deleted".into(),
        })
    }

    pub async fn list_memory_stores(
        &self,
        context: &RequestContext,
        query: MemoryStoreListQuery,
    ) -> ManagedResult<MemoryStorePage> {
        let limit = page_limit(query.limit, View::Basic)?;
        let since = parse_time("created_at[gte]", query.created_at_gte.as_deref())?;
        let until = parse_time("created_at[lte]", query.created_at_lte.as_deref())?;
        let after = page_key(query.page.as_deref())?;
        let stores = self.list_stores(context, Consistency::Linearizable).await?;
        let mut data = Vec::new();
        let mut next_page = None;
        for store in stores.stores {
            if self.memory_store_name(&store.name).is_err()
                || after.as_ref().is_some_and(|after| store.name <= *after)
                || since.is_some_and(|since| store.created_ms < since)
                || until.is_some_and(|until| store.created_ms > until)
            {
                continue;
            }
            let view = match self.memory_store_view(context, &store.name).await {
                Ok((view, _, _)) => view,
                // Deleted meanwhile, or a Cairn store of that name made without metadata.
                Err(ManagedError::NotFound(_)) => continue,
                Err(error) => return Err(error),
            };
            if view.archived_at.is_some() && query.include_archived != Some(true) {
                continue;
            }
            if data.len() as u64 == limit {
                next_page = data.last().map(|last: &MemoryStore| page_token(&last.id));
                break;
            }
            data.push(view);
        }
        Ok(MemoryStorePage { data, next_page })
    }

    /// A memory store's Cairn store, if it exists and is not archived.
    async fn writable_memory_store(&self, context: &RequestContext, id: &str) -> ManagedResult<()> {
        let (_, meta, _) = self.memory_store_view(context, id).await?;
        if meta.archived_ms.is_some() {
            return Err(ManagedError::Invalid(format!(
                "memory store {id:?} is archived: its memories cannot be created or updated"
            )));
        }
        Ok(())
    }

    fn memory_path(&self, raw: &str) -> ManagedResult<cairn_core::FilePath> {
        if reserved(raw) {
            return Err(ManagedError::Invalid(format!(
                "path {raw:?}: {RESERVED_DIR} is reserved by Cairn"
            )));
        }
        Ok(self.file_path(raw)?)
    }

    /// Runs `read` over the memory store's Cairn store.
    async fn read_memory_store<T>(
        &self,
        context: &RequestContext,
        id: &str,
        read: impl FnOnce(&cairn_raft::StateReader, &StoreRef, u64) -> Result<T, ReadError>,
    ) -> ManagedResult<T> {
        let name = self.memory_store_name(id)?;
        self.read_in_store(
            context,
            &name,
            Consistency::Linearizable,
            |reader, store, info| read(reader, store, info.id),
        )
        .await
        .map_err(|error| match error {
            ServiceError::Refused(refusal)
                if matches!(&refusal.error, CoreError::NotFound { resource, .. } if *resource == cairn_core::Resource::Store) =>
            {
                ManagedError::NotFound(format!("memory store {id:?} not found"))
            }
            other => other.into(),
        })
    }

    /// The memory's current head: its path and version.
    async fn memory_head(
        &self,
        context: &RequestContext,
        store_id: &str,
        memory: &str,
    ) -> ManagedResult<(String, u64)> {
        let missing = || ManagedError::NotFound(format!("memory {memory:?} not found"));
        let (path, revision) = decode_id(MEMORY_PREFIX, memory).ok_or_else(missing)?;
        let head = self
            .read_memory_store(context, store_id, |reader, _, id| {
                Ok(memory::memory_head(reader, id, &path, revision)?)
            })
            .await?;
        match head {
            Some(MemoryHead::Live { path, version }) => Ok((path, version)),
            _ => Err(missing()),
        }
    }

    async fn memory_at(
        &self,
        context: &RequestContext,
        store_id: &str,
        path: &str,
        version: u64,
        view: View,
    ) -> ManagedResult<Memory> {
        let memory_store_id = store_id.to_string();
        let missing = ManagedError::NotFound(format!("memory at {path:?} not found"));
        let path = path.to_string();
        self.read_memory_store(context, store_id, move |reader, _, id| {
            Ok(memory_view(
                reader,
                id,
                &memory_store_id,
                &path,
                version,
                view,
            )?)
        })
        .await?
        .ok_or(missing)
    }

    /// The id of the live memory at `path`, if there is one.
    async fn memory_at_path(
        &self,
        context: &RequestContext,
        store_id: &str,
        path: &str,
    ) -> Option<String> {
        let path = path.to_string();
        self.read_memory_store(context, store_id, move |reader, store, id| {
            let file = cairn_core::FilePath::parse(&path, &cairn_core::Limits::default())?;
            let meta = read::stat(reader, store, &file, At::Current)?;
            Ok(memory::memory_origin(reader, id, &path, meta.version)?
                .map(|(origin, revision)| memory_id(&origin, revision)))
        })
        .await
        .ok()
        .flatten()
    }

    /// Runs a transaction on the memory store; conflicts become the reference's errors.
    async fn memory_txn(
        &self,
        context: &RequestContext,
        store_id: &str,
        ops: Vec<WriteOp>,
        target: &str,
    ) -> ManagedResult<u64> {
        match self.txn_of(context, store_id, ops, None).await {
            Ok(result) => Ok(result.revision),
            Err(ServiceError::Refused(refusal)) => match refusal.error {
                CoreError::VersionConflict { path, current, .. } if path == target => {
                    let memory_id = self.memory_at_path(context, store_id, &path).await;
                    if current.is_some() && memory_id.is_some() {
                        Err(ManagedError::PathConflict { path, memory_id })
                    } else {
                        Err(ManagedError::PreconditionFailed(format!(
                            "the memory changed: {path:?} is no longer at the version read"
                        )))
                    }
                }
                CoreError::VersionConflict { path, .. } => Err(ManagedError::PreconditionFailed(
                    format!("the memory at {path:?} changed since it was read"),
                )),
                CoreError::AlreadyExists { name, .. } => {
                    let memory_id = self.memory_at_path(context, store_id, &name).await;
                    Err(ManagedError::PathConflict {
                        path: name,
                        memory_id,
                    })
                }
                CoreError::PathConflict { path, .. } => Err(ManagedError::PathConflict {
                    path,
                    memory_id: None,
                }),
                error => Err(ServiceError::Refused(cairn_core::Refusal {
                    op_index: refusal.op_index,
                    error,
                })
                .into()),
            },
            Err(error) => Err(error.into()),
        }
    }

    pub async fn create_memory(
        &self,
        context: &RequestContext,
        store_id: &str,
        request: MemoryCreate,
        view_raw: Option<&str>,
    ) -> ManagedResult<Memory> {
        let view = view(view_raw, View::Basic)?;
        let path = self.memory_path(&request.path)?;
        self.writable_memory_store(context, store_id).await?;
        let op = WriteOp::Write {
            path: path.clone(),
            content: request.content.unwrap_or_default(),
            precondition: Precondition::IfAbsent,
        };
        let revision = self
            .memory_txn(context, store_id, vec![op], path.as_str())
            .await?;
        self.memory_at(context, store_id, path.as_str(), revision, view)
            .await
    }

    pub async fn get_memory(
        &self,
        context: &RequestContext,
        store_id: &str,
        memory: &str,
        view_raw: Option<&str>,
    ) -> ManagedResult<Memory> {
        let view = view(view_raw, View::Full)?;
        let (path, version) = self.memory_head(context, store_id, memory).await?;
        self.memory_at(context, store_id, &path, version, view)
            .await
    }

    pub async fn update_memory(
        &self,
        context: &RequestContext,
        store_id: &str,
        memory: &str,
        request: MemoryUpdate,
        view_raw: Option<&str>,
    ) -> ManagedResult<Memory> {
        let view = view(view_raw, View::Basic)?;
        let expected = match request.precondition {
            None => None,
            Some(precondition) if precondition.kind == "content_sha256" => {
                let sha = precondition.content_sha256.ok_or_else(|| {
                    ManagedError::Invalid("precondition.content_sha256: required".into())
                })?;
                check_sha("precondition.content_sha256", &sha)?;
                Some(sha)
            }
            Some(precondition) => {
                return Err(ManagedError::Invalid(format!(
                    "precondition.type: expected `content_sha256`, got {:?}",
                    precondition.kind
                )));
            }
        };
        let to = request
            .path
            .as_deref()
            .map(|path| self.memory_path(path))
            .transpose()?;
        self.writable_memory_store(context, store_id).await?;
        let (path, version) = self.memory_head(context, store_id, memory).await?;
        let current = self
            .memory_at(context, store_id, &path, version, View::Full)
            .await?;
        let current_content = current.content.clone().unwrap_or_default();
        let new_content = request.content.unwrap_or_else(|| current_content.clone());
        let new_path = to
            .as_ref()
            .map_or(path.clone(), |to| to.as_str().to_string());
        let unchanged = new_content == current_content && new_path == path;
        if let Some(expected) = expected
            && expected != current.content_sha256
        {
            if unchanged {
                return self
                    .memory_at(context, store_id, &path, version, view)
                    .await;
            }
            return Err(ManagedError::PreconditionFailed(format!(
                "precondition failed: the memory's content_sha256 is {}, not {expected}",
                current.content_sha256
            )));
        }
        if unchanged {
            return self
                .memory_at(context, store_id, &path, version, view)
                .await;
        }
        let from = self.file_path(&path)?;
        let mut ops = Vec::new();
        if new_content != current_content {
            ops.push(WriteOp::Write {
                path: from.clone(),
                content: new_content,
                precondition: Precondition::IfVersion(version),
            });
        }
        if let Some(to) = to.filter(|to| to.as_str() != path) {
            let precondition = match ops.is_empty() {
                true => Precondition::IfVersion(version),
                false => Precondition::None,
            };
            ops.push(WriteOp::Rename {
                from,
                to,
                overwrite: false,
                precondition,
            });
        }
        let revision = self.memory_txn(context, store_id, ops, &new_path).await?;
        self.memory_at(context, store_id, &new_path, revision, view)
            .await
    }

    pub async fn delete_memory(
        &self,
        context: &RequestContext,
        store_id: &str,
        memory: &str,
        expected_sha: Option<&str>,
    ) -> ManagedResult<Deleted> {
        let (path, version) = self.memory_head(context, store_id, memory).await?;
        if let Some(expected) = expected_sha {
            check_sha("expected_content_sha256", expected)?;
            let current = self
                .memory_at(context, store_id, &path, version, View::Basic)
                .await?;
            if current.content_sha256 != expected {
                return Err(ManagedError::PreconditionFailed(format!(
                    "precondition failed: the memory's content_sha256 is {}, not {expected}",
                    current.content_sha256
                )));
            }
        }
        let op = WriteOp::Delete {
            path: self.file_path(&path)?,
            recursive: false,
            precondition: Precondition::IfVersion(version),
        };
        self.memory_txn(context, store_id, vec![op], "").await?;
        Ok(Deleted {
            id: memory.to_string(),
            kind: "memory_deleted".into(),
        })
    }

    pub async fn list_memories(
        &self,
        context: &RequestContext,
        store_id: &str,
        query: MemoryListQuery,
    ) -> ManagedResult<MemoryPage> {
        let view = view(query.view.as_deref(), View::Basic)?;
        let limit = page_limit(query.limit, view)?;
        let prefix = query.path_prefix.unwrap_or_else(|| "/".into());
        if !prefix.starts_with('/') || !prefix.ends_with('/') {
            return Err(ManagedError::Invalid(
                "path_prefix: must start and end with `/`".into(),
            ));
        }
        let depth = match query.depth {
            None | Some(0) => None,
            Some(1) => Some(1),
            Some(other) => {
                return Err(ManagedError::Invalid(format!(
                    "depth: expected 0 or 1, got {other}"
                )));
            }
        };
        let dir = match prefix.len() {
            1 => "/".to_string(),
            n => prefix[..n - 1].to_string(),
        };
        let dir = self.dir_path(&dir)?;
        let after = page_key(query.page.as_deref())?;
        let memory_store_id = store_id.to_string();
        let (data, more) = self
            .read_memory_store(context, store_id, move |reader, store, id| {
                let options = ListOptions {
                    depth,
                    revision: None,
                };
                let entries = match read::list(reader, store, &dir, options) {
                    Ok(listing) => listing.entries,
                    Err(ReadError::Domain(CoreError::NotFound { .. })) => Vec::new(),
                    Err(error) => return Err(error),
                };
                let mut data = Vec::new();
                for entry in entries {
                    let key = match entry.kind {
                        EntryKind::Dir => format!("{}/", entry.path),
                        EntryKind::File => entry.path.clone(),
                    };
                    // The whole subtree lists memories only; `depth=1` rolls directories up.
                    if reserved(&entry.path)
                        || (depth.is_none() && entry.kind == EntryKind::Dir)
                        || after.as_ref().is_some_and(|after| key <= *after)
                    {
                        continue;
                    }
                    if data.len() as u64 == limit {
                        return Ok((data, true));
                    }
                    match (entry.kind, entry.version) {
                        (EntryKind::Dir, _) => data.push(MemoryListItem::Prefix(MemoryPrefix {
                            kind: "memory_prefix".into(),
                            path: key,
                        })),
                        (EntryKind::File, Some(version)) => {
                            if let Some(memory) = memory_view(
                                reader,
                                id,
                                &memory_store_id,
                                &entry.path,
                                version,
                                view,
                            )? {
                                data.push(MemoryListItem::Memory(memory));
                            }
                        }
                        (EntryKind::File, None) => {}
                    }
                }
                Ok((data, false))
            })
            .await?;
        let next_page = match more {
            true => data.last().map(|item| match item {
                MemoryListItem::Memory(memory) => page_token(&memory.path),
                MemoryListItem::Prefix(prefix) => page_token(&prefix.path),
            }),
            false => None,
        };
        Ok(MemoryPage { data, next_page })
    }

    pub async fn list_memory_versions(
        &self,
        context: &RequestContext,
        store_id: &str,
        query: MemoryVersionListQuery,
    ) -> ManagedResult<MemoryVersionPage> {
        let view = view(query.view.as_deref(), View::Basic)?;
        let limit = page_limit(query.limit, view)?;
        let since = parse_time("created_at[gte]", query.created_at_gte.as_deref())?;
        let until = parse_time("created_at[lte]", query.created_at_lte.as_deref())?;
        let operation = match query.operation.as_deref() {
            None => None,
            Some("created") => Some(MemoryOperation::Created),
            Some("modified") => Some(MemoryOperation::Modified),
            Some("deleted") => Some(MemoryOperation::Deleted),
            Some(other) => {
                return Err(ManagedError::Invalid(format!(
                    "operation: expected created, modified or deleted, got {other:?}"
                )));
            }
        };
        let origin = match query.memory_id.as_deref() {
            None => None,
            Some(id) => Some(decode_id(MEMORY_PREFIX, id).ok_or_else(|| {
                ManagedError::Invalid(format!("memory_id: not a memory id: {id:?}"))
            })?),
        };
        let after = match page_key(query.page.as_deref())? {
            None => None,
            Some(key) => Some(
                decode_id(VERSION_PREFIX, &key)
                    .ok_or_else(|| ManagedError::Invalid("page: not a page token".into()))?,
            ),
        };
        let memory_store_id = store_id.to_string();
        let (data, more) = self
            .read_memory_store(context, store_id, move |reader, _, id| {
                let tokens = revision_tokens(reader, id)?;
                let all = memory::store_memory_versions(reader, id, &reserved)?;
                let mut data = Vec::new();
                let mut skipping = after.is_some();
                for (path, revision) in all {
                    if skipping {
                        if after.as_ref() == Some(&(path.clone(), revision)) {
                            skipping = false;
                        }
                        continue;
                    }
                    let session_matches = |session: &str| {
                        query
                            .session_id
                            .as_deref()
                            .is_none_or(|want| want == session)
                    };
                    let key_matches = query.api_key_id.as_deref().is_none_or(|want| {
                        tokens.get(&revision).is_some_and(|token| token == want)
                    });
                    if query.service_account_id.is_some() || !key_matches {
                        continue;
                    }
                    let Some(version) =
                        memory::memory_version(reader, id, &path, revision, view == View::Full)?
                    else {
                        continue;
                    };
                    if !session_matches(&version.session)
                        || operation.is_some_and(|op| op != version.operation)
                        || origin
                            .as_ref()
                            .is_some_and(|origin| *origin != version.origin)
                        || since.is_some_and(|since| version.time_ms < since)
                        || until.is_some_and(|until| version.time_ms > until)
                    {
                        continue;
                    }
                    if data.len() as u64 == limit {
                        return Ok((data, true));
                    }
                    data.push(version_view(version, &memory_store_id, &tokens));
                }
                Ok((data, false))
            })
            .await?;
        let next_page = match more {
            true => data.last().map(|last: &MemoryVersion| page_token(&last.id)),
            false => None,
        };
        Ok(MemoryVersionPage { data, next_page })
    }

    pub async fn get_memory_version(
        &self,
        context: &RequestContext,
        store_id: &str,
        version: &str,
        view_raw: Option<&str>,
    ) -> ManagedResult<MemoryVersion> {
        let view = view(view_raw, View::Full)?;
        let missing = || ManagedError::NotFound(format!("memory version {version:?} not found"));
        let (path, revision) = decode_id(VERSION_PREFIX, version).ok_or_else(missing)?;
        if reserved(&path) {
            return Err(missing());
        }
        let memory_store_id = store_id.to_string();
        self.read_memory_store(context, store_id, move |reader, _, id| {
            let tokens = revision_tokens(reader, id)?;
            Ok(
                memory::memory_version(reader, id, &path, revision, view == View::Full)?
                    .map(|version| version_view(version, &memory_store_id, &tokens)),
            )
        })
        .await?
        .ok_or_else(missing)
    }

    pub async fn redact_memory_version(
        &self,
        context: &RequestContext,
        store_id: &str,
        version: &str,
    ) -> ManagedResult<MemoryVersion> {
        let found = self
            .get_memory_version(context, store_id, version, Some("basic"))
            .await?;
        let missing = || ManagedError::NotFound(format!("memory version {version:?} not found"));
        let (path, revision) = decode_id(VERSION_PREFIX, version).ok_or_else(missing)?;
        if found.redacted_at.is_some() {
            return Ok(found);
        }
        if found.operation == "deleted" {
            return Err(ManagedError::Invalid(
                "a `deleted` version holds no content to redact".into(),
            ));
        }
        if let Ok((head_path, head_version)) =
            self.memory_head(context, store_id, &found.memory_id).await
            && head_path == path
            && head_version == revision
        {
            return Err(ManagedError::Invalid(
                "a version that is the current head of a live memory cannot be redacted: write \
                 a new version first (or delete the memory), then redact the old one"
                    .into(),
            ));
        }
        let request = RedactRequest {
            path: Some(path),
            version: Some(revision),
            string: None,
            path_prefix: None,
            reason: format!("memory_versions.redact {version}"),
        };
        self.redact(context, store_id, request).await?;
        self.get_memory_version(context, store_id, version, Some("basic"))
            .await
    }
}

fn if_version(version: u64) -> PreconditionFields {
    PreconditionFields {
        if_version: Some(version),
        ..PreconditionFields::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_malformed_input() {
        let id = memory_id("/notes/a é.md", 42);
        assert!(id.starts_with("mem_000000000000002a"));
        assert_eq!(
            decode_id(MEMORY_PREFIX, &id),
            Some(("/notes/a é.md".to_string(), 42))
        );
        assert_eq!(decode_id(VERSION_PREFIX, &id), None);
        for bad in [
            "mem_",
            "mem_zz",
            "mem_000000000000002a2",
            "mem_000000000000002a61",
        ] {
            assert_eq!(decode_id(MEMORY_PREFIX, bad), None, "{bad}");
        }
        assert_eq!(
            page_key(Some(&page_token("/x/"))).unwrap().as_deref(),
            Some("/x/")
        );
        assert!(page_key(Some("page_q")).is_err());
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            parse_time("t", Some("2023-11-14T22:13:20.123Z")).unwrap(),
            Some(1_700_000_000_123)
        );
    }
}
