//! Export and import of whole stores (`docs/export.md`).
//!
//! An export is an [`ExportStream`]: the archive produced piece by piece
//! from paged reads, each authenticated again, all bounded by the store's
//! revision and audit chain as they were when the export began, so that the
//! archive is the store at one revision whatever happens meanwhile (but a
//! redaction that lands during the export, which shows: redacted content
//! never leaves). No more than one page is held.
//!
//! An import is staged by commands (`cairn_core::import`): the service parses
//! each chunk of archive bytes, continues the digest chain from where the
//! replicated import state stands, and proposes the records; `apply` checks
//! them again against that state.

use bytes::Bytes;
use cairn_api::{Consistency, ImportList, ImportRequest, ImportView, StoreInfo};
use cairn_archive as archive;
use cairn_core::audit::{AuditChange, AuditOp, AuditRecord};
use cairn_core::auth::{self, Subject};
use cairn_core::codec::RedactionMark;
use cairn_core::command::{Command, OpKind, Outcome};
use cairn_core::governance::StorePolicy;
use cairn_core::import::{ImportChunk, ImportSource, ImportState, ImportTrailer, ImportedVersion};
use cairn_core::read::{self, EventCursor, ExportVersion};
use cairn_core::{CoreError, ReadError, Resource, StoreName, StoreRef};
use serde::Deserialize;
use serde::de::IntoDeserializer;

use super::{RequestContext, Service, ServiceResult, org_name, unexpected, wire};

/// Versions one export page reads at most.
pub const EXPORT_PAGE_VERSIONS_MAX: usize = 256;
/// Content one export page reads, about (at least one version).
pub const EXPORT_PAGE_CONTENT_BYTES_MAX: u64 = 1024 * 1024;
/// Audit events one export page reads at most.
pub const EXPORT_PAGE_EVENTS_MAX: usize = 512;

enum Phase {
    Versions(Option<Vec<u8>>),
    Events(EventCursor),
    Trailer,
    Done,
}

/// An archive being produced: call [`ExportStream::next_chunk`] until `None`.
pub struct ExportStream {
    service: Service,
    context: RequestContext,
    store: String,
    store_id: u64,
    revision: u64,
    last_log_index: u64,
    writer: archive::Writer,
    header: Option<Vec<u8>>,
    phase: Phase,
}

impl Service {
    /// Begins an export of `store` (any caller who may read it): reads where
    /// the store stands and answers the stream of its archive.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn export_store(
        &self,
        context: &RequestContext,
        store: &str,
    ) -> ServiceResult<ExportStream> {
        let start = self
            .read_store(
                context,
                store,
                Consistency::Linearizable,
                read::export_start,
            )
            .await?;
        let info = start.store;
        let header = archive::Header {
            format: archive::FORMAT.to_string(),
            version: archive::FORMAT_VERSION,
            store: archive::Store {
                name: info.name.clone(),
                org: info.org.clone(),
                owner: info.owner.clone(),
                id: info.id,
                created_ms: info.created_ms,
                revision: info.revision,
                file_count: info.file_count,
                bytes_total: info.bytes_total,
                policy: archive::Policy {
                    versions_max: info.policy.versions_max,
                    retain_ms: info.policy.retain_ms,
                    bytes_max: info.policy.bytes_max,
                },
                audit_last_log_index: start.last_log_index,
            },
            exported_ms: self.clock.now_ms(),
        };
        let mut writer = archive::Writer::new();
        let header = writer.header(&header);
        Ok(ExportStream {
            service: self.clone(),
            context: context.clone(),
            store: store.to_string(),
            store_id: info.id,
            revision: info.revision,
            last_log_index: start.last_log_index,
            writer,
            header: Some(header),
            phase: Phase::Versions(None),
        })
    }
}

impl ExportStream {
    /// The next piece of the archive; `None` after the trailer. An error
    /// leaves the archive without its trailer, which every reader refuses.
    pub async fn next_chunk(&mut self) -> ServiceResult<Option<Bytes>> {
        let mut out = self.header.take().unwrap_or_default();
        // A page may hold nothing (every version after the export's
        // revision, say): go on to the next rather than answer an empty piece.
        while out.is_empty() {
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Versions(after) => {
                    let (store_id, revision) = (self.store_id, self.revision);
                    let page = self
                        .page(|reader| {
                            read::export_versions(
                                reader,
                                store_id,
                                revision,
                                after.as_deref(),
                                EXPORT_PAGE_VERSIONS_MAX,
                                EXPORT_PAGE_CONTENT_BYTES_MAX,
                            )
                        })
                        .await?;
                    for version in page.versions {
                        let (record, content) = archive_version(version);
                        out.extend(self.writer.version(record, content.as_deref()));
                    }
                    self.phase = match page.next {
                        Some(next) => Phase::Versions(Some(next)),
                        None => Phase::Events(EventCursor::Imported(0)),
                    };
                }
                Phase::Events(cursor) => {
                    let (store_id, last) = (self.store_id, self.last_log_index);
                    let page = self
                        .page(|reader| {
                            read::export_events(
                                reader,
                                store_id,
                                cursor,
                                last,
                                EXPORT_PAGE_EVENTS_MAX,
                            )
                        })
                        .await?;
                    for event in page.events {
                        out.extend(self.writer.event(&archive_event(event)));
                    }
                    self.phase = match page.next {
                        EventCursor::Done => Phase::Trailer,
                        next => Phase::Events(next),
                    };
                }
                Phase::Trailer => out.extend(self.writer.trailer()),
                Phase::Done => return Ok(None),
            }
        }
        Ok(Some(Bytes::from(out)))
    }

    /// One page, read as the caller (a token revoked meanwhile ends the
    /// export) from the same store (not one that took its name since).
    async fn page<T>(
        &self,
        read: impl FnOnce(&cairn_raft::StateReader) -> Result<T, ReadError>,
    ) -> ServiceResult<T> {
        let store_id = self.store_id;
        self.service
            .read_store(
                &self.context,
                &self.store,
                Consistency::Stale,
                |reader, store| {
                    let info = read::get_store(reader, store)?;
                    if info.id != store_id {
                        return Err(
                            CoreError::not_found(Resource::Store, store.name.as_str()).into()
                        );
                    }
                    read(reader)
                },
            )
            .await
    }
}

fn archive_version(version: ExportVersion) -> (archive::Version, Option<String>) {
    let record = archive::Version {
        path: version.path,
        version: version.revision,
        op: version.op.as_str().to_string(),
        bytes: version.bytes,
        time_ms: version.time_ms,
        agent: version.agent,
        session: version.session,
        principal: version.principal,
        token_id: version.token_id,
        renamed_from: version.renamed_from,
        renamed_to: version.renamed_to,
        redaction: version.redaction.map(|mark| archive::Redaction {
            revision: mark.revision,
            time_ms: mark.time_ms,
            principal: mark.principal,
            token_id: mark.token_id,
            reason: mark.reason,
            whole: mark.whole,
        }),
        content_bytes: None,
        content_sha256: None,
    };
    (record, version.content)
}

fn archive_event(event: read::AuditEvent) -> archive::Event {
    archive::Event {
        log_index: event.log_index,
        time_ms: event.time_ms,
        op: event.op.as_str().to_string(),
        org_id: event.org_id,
        org: event.org,
        store_id: event.store_id,
        store: event.store,
        revision: event.revision,
        principal: event.principal,
        token_id: event.token_id,
        agent: event.agent,
        session: event.session,
        idempotency_key: event.idempotency_key,
        request_id: event.request_id,
        target: event.target,
        detail: event.detail,
        changes: event
            .changes
            .into_iter()
            .map(|change| archive::Change {
                path: change.path,
                op: change.op.as_str().to_string(),
                version: change.version,
                content_sha256: change.content_sha256.map(|digest| auth::hex(&digest)),
            })
            .collect(),
        prev_hash: auth::hex(&event.prev_hash),
        hash: auth::hex(&event.hash),
    }
}

/// A name serde knows (`write`, `txn`, …) as the enum it names.
fn named<'de, T: Deserialize<'de>>(what: &str, name: &'de str) -> Result<T, CoreError> {
    T::deserialize(name.into_deserializer()).map_err(|_: serde::de::value::Error| {
        CoreError::invalid_archive(format!("unknown {what} {name:?}"))
    })
}

fn digest(what: &str, text: &str) -> Result<[u8; 32], CoreError> {
    archive::parse_digest(text)
        .ok_or_else(|| CoreError::invalid_archive(format!("{what} {text:?} is not a SHA-256")))
}

fn import_view(state: ImportState) -> ImportView {
    ImportView {
        id: state.id,
        org: state.org,
        store: state.store,
        principal: state.principal,
        started_ms: state.started_ms,
        updated_ms: state.updated_ms,
        source: state.source.map(|source| cairn_api::ImportSource {
            org: source.org,
            store: source.name,
            revision: source.revision,
            exported_ms: source.exported_ms,
        }),
        records: state.records,
        versions: state.versions,
        events: state.events,
        content_bytes: state.content_bytes,
        digest: auth::hex(&state.digest),
        complete: state.complete,
    }
}

/// Where the archive reader stands after what `state` staged.
fn position(state: &ImportState) -> archive::Position {
    archive::Position {
        digest: state.digest,
        records: state.records,
        versions: state.versions,
        events: state.events,
        content_bytes: state.content_bytes,
        stage: if state.complete {
            archive::Stage::Done
        } else if state.records == 0 {
            archive::Stage::Header
        } else if state.events > 0 {
            archive::Stage::Events
        } else {
            archive::Stage::Versions
        },
    }
}

impl Service {
    /// Begins an import into a new store `request.store` of the request's
    /// organization: the operator and the organization's admins.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), request_id = %context.request_id))]
    pub async fn import_begin(
        &self,
        context: &RequestContext,
        request: ImportRequest,
    ) -> ServiceResult<ImportView> {
        let name = StoreName::parse(&request.store)?;
        let org = org_name(context)?;
        let (subject, org) = self
            .authorize(context, |reader, subject| {
                let org = auth::resolve_org(reader, subject, org.as_ref())?;
                if !subject.manages_org(org.id) {
                    return Err(CoreError::forbidden(format!(
                        "{} may not import stores into organization {:?}: only its admins and \
                         the operator",
                        subject.principal(),
                        org.name
                    ))
                    .into());
                }
                Ok(org)
            })
            .await?;
        let command = Command::ImportBegin {
            store: StoreRef::new(org.id, name),
        };
        match self.propose(context, &subject, command).await? {
            Outcome::ImportUpdated(state) => Ok(import_view(*state)),
            other => Err(unexpected(other)),
        }
    }

    /// The caller, if they may work on import `id` (else `not_found`).
    async fn authorize_import(&self, context: &RequestContext, id: u64) -> ServiceResult<Subject> {
        let (subject, _) = self
            .authorize(context, |reader, subject| match read::import(reader, id)? {
                Some(state) if subject.manages_org(state.org_id) => Ok(()),
                _ => Err(CoreError::not_found(Resource::Import, id.to_string()).into()),
            })
            .await?;
        Ok(subject)
    }

    /// Stages the next records of import `id`: `body` is a whole number of
    /// archive records, following the last chunk staged.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), import = id, request_id = %context.request_id))]
    pub async fn import_chunk(
        &self,
        context: &RequestContext,
        id: u64,
        body: &[u8],
    ) -> ServiceResult<ImportView> {
        let subject = self.authorize_import(context, id).await?;
        if body.is_empty() {
            return Err(CoreError::invalid_archive("an empty chunk").into());
        }
        let state = self
            .read(Consistency::Linearizable, |reader| read::import(reader, id))
            .await?
            .ok_or_else(|| CoreError::not_found(Resource::Import, id.to_string()))?;
        let chunk = self.parse_chunk(&state, body)?;
        let command = Command::ImportChunk {
            import_id: id,
            chunk: Box::new(chunk),
        };
        match self.propose(context, &subject, command).await? {
            Outcome::ImportUpdated(state) => Ok(import_view(*state)),
            other => Err(unexpected(other)),
        }
    }

    fn parse_chunk(&self, state: &ImportState, body: &[u8]) -> ServiceResult<ImportChunk> {
        let invalid = |error: archive::ArchiveError| {
            CoreError::invalid_archive(format!(
                "{error} (offsets count from this chunk, which follows record {})",
                state.records
            ))
        };
        let mut reader = archive::Reader::resume(body, position(state));
        let mut chunk = ImportChunk {
            digest_before: state.digest,
            digest_after: state.digest,
            records: 0,
            header: None,
            versions: Vec::new(),
            events: Vec::new(),
            trailer: None,
        };
        while let Some(record) = reader.next_record().map_err(invalid)? {
            match record.entry {
                archive::Entry::Header(header) => {
                    chunk.header = Some(ImportSource {
                        name: header.store.name,
                        org: header.store.org,
                        owner: header.store.owner,
                        created_ms: header.store.created_ms,
                        revision: header.store.revision,
                        policy: StorePolicy {
                            versions_max: header.store.policy.versions_max,
                            retain_ms: header.store.policy.retain_ms,
                            bytes_max: header.store.policy.bytes_max,
                        },
                        exported_ms: header.exported_ms,
                    });
                }
                archive::Entry::Version(version, content) => {
                    chunk
                        .versions
                        .push(self.imported_version(version, content)?);
                }
                archive::Entry::Event(event) => chunk.events.push(imported_event(event)?),
                archive::Entry::Trailer(trailer) => {
                    chunk.trailer = Some(ImportTrailer {
                        versions: trailer.versions,
                        events: trailer.events,
                        content_bytes: trailer.content_bytes,
                        digest: digest("the trailer's digest", &trailer.sha256)?,
                    });
                }
            }
            if chunk.trailer.is_none() {
                chunk.records += 1;
                chunk.digest_after = reader.position().digest;
            }
        }
        Ok(chunk)
    }

    fn imported_version(
        &self,
        version: archive::Version,
        content: Option<String>,
    ) -> Result<ImportedVersion, CoreError> {
        let path = self.file_path(&version.path).map_err(|error| {
            CoreError::invalid_archive(format!(
                "version {}@{}: {error}",
                version.path, version.version
            ))
        })?;
        Ok(ImportedVersion {
            path,
            revision: version.version,
            op: named::<OpKind>("operation", &version.op)?,
            bytes: version.bytes,
            time_ms: version.time_ms,
            agent: version.agent,
            session: version.session,
            renamed_from: version.renamed_from,
            renamed_to: version.renamed_to,
            redaction: version.redaction.map(|mark| RedactionMark {
                revision: mark.revision,
                time_ms: mark.time_ms,
                principal: mark.principal,
                token_id: mark.token_id,
                reason: mark.reason,
                whole: mark.whole,
            }),
            content,
        })
    }

    /// Makes a fully staged import the store it names; answers the store.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), import = id, request_id = %context.request_id))]
    pub async fn import_commit(
        &self,
        context: &RequestContext,
        id: u64,
    ) -> ServiceResult<StoreInfo> {
        let subject = self.authorize_import(context, id).await?;
        match self
            .propose(context, &subject, Command::ImportCommit { import_id: id })
            .await?
        {
            Outcome::Imported(info) => Ok(wire::store_info(info)),
            other => Err(unexpected(other)),
        }
    }

    /// Abandons import `id`: everything staged for it is removed.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), import = id, request_id = %context.request_id))]
    pub async fn import_abort(
        &self,
        context: &RequestContext,
        id: u64,
    ) -> ServiceResult<ImportView> {
        let subject = self.authorize_import(context, id).await?;
        match self
            .propose(context, &subject, Command::ImportAbort { import_id: id })
            .await?
        {
            Outcome::ImportUpdated(state) => Ok(import_view(*state)),
            other => Err(unexpected(other)),
        }
    }

    /// The imports being staged that the caller may work on.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), request_id = %context.request_id))]
    pub async fn list_imports(
        &self,
        context: &RequestContext,
        consistency: Consistency,
    ) -> ServiceResult<ImportList> {
        let imports = self
            .read_as(context, consistency, |reader, subject| {
                let all = read::imports(reader, None)?;
                Ok(all
                    .into_iter()
                    .filter(|state| subject.manages_org(state.org_id))
                    .collect::<Vec<_>>())
            })
            .await?;
        Ok(ImportList {
            imports: imports.into_iter().map(import_view).collect(),
        })
    }
}

fn imported_event(event: archive::Event) -> Result<AuditRecord, CoreError> {
    let mut changes = Vec::with_capacity(event.changes.len());
    for change in event.changes {
        changes.push(AuditChange {
            op: named::<OpKind>("operation", &change.op)?,
            content_sha256: change
                .content_sha256
                .as_deref()
                .map(|text| digest("a change's content digest", text))
                .transpose()?,
            path: change.path,
            version: change.version,
        });
    }
    Ok(AuditRecord {
        log_index: event.log_index,
        time_ms: event.time_ms,
        op: named::<AuditOp>("audit operation", &event.op)?,
        org_id: event.org_id,
        org: event.org,
        store_id: event.store_id,
        store: event.store,
        revision: event.revision,
        principal: event.principal,
        token_id: event.token_id,
        agent: event.agent,
        session: event.session,
        idempotency_key: event.idempotency_key,
        request_id: event.request_id,
        target: event.target,
        detail: event.detail,
        changes,
        prev_hash: digest("an event's previous hash", &event.prev_hash)?,
        hash: digest("an event's hash", &event.hash)?,
    })
}
