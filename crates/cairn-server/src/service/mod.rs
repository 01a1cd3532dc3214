//! The application layer: every operation of the API as a plain async
//! function over typed arguments and a `RequestContext`. It knows nothing of
//! axum or HTTP; adapters (the REST handlers in `http/`, and the memory tool,
//! MCP and console that follow) extract, call the service, and render.
//!
//! **Architecture invariant:** adapters call the service and never `Node`
//! directly; the service is where attribution, idempotency keys, validation
//! before proposing, and the read/propose policy live.

mod access;
mod admin;
mod audit;
mod context;
mod export;
mod files;
mod history;
mod managed;
mod memory_tool;
mod redact;
mod rollback;
mod search;
mod stores;
mod txn;
mod watch;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_core::auth::{self, Subject};
use cairn_core::command::{Command, Meta, Outcome, Proposal, StoreInfo};
use cairn_core::{
    Access, CoreError, DirPath, FilePath, Limits, OrgName, ReadError, Refusal, StorageError,
    StoreName, StoreRef,
};
use cairn_raft::{Node, NodeError, StateReader};

use crate::clock::{Clock, Entropy, OsEntropy};
use crate::disk::DiskGuard;

pub use access::NewToken;
pub use admin::{RaftGauges, ReadyState};
pub use context::{Credentials, RequestContext};
pub use export::ExportStream;
pub use files::FileRead;
pub use managed::{ManagedError, ManagedResult};
pub(crate) use memory_tool::view_file;
pub use watch::{WatchFeed, WatchItem, WatchSettings};

/// How long a key made by the server is remembered: long enough for the
/// node's own retries within one request.
const AUTO_KEY_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Faults planted on purpose, to prove the simulation's checkers catch them.
/// Only ever set by test code; `cairn serve` has no way to turn them on.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlantedFaults {
    /// Serve linearizable reads from the local replica, as stale reads.
    pub linearizable_reads_are_stale: bool,
}

/// Why a service call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request was refused and changed nothing; the refusal's
    /// `op_index` says which operation of a transaction.
    #[error("{0}")]
    Refused(Refusal),
    /// The cluster could not answer (no leader, no quorum, outcome unknown).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The node's storage failed; the caller sees an internal error.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The node's data directory is below its free-space reserve
    /// (`crate::disk`); nothing was proposed.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// Something that cannot happen did (an outcome of the wrong kind).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<CoreError> for ServiceError {
    fn from(error: CoreError) -> ServiceError {
        ServiceError::Refused(error.into())
    }
}

impl From<ReadError> for ServiceError {
    fn from(error: ReadError) -> ServiceError {
        match error {
            ReadError::Domain(error) => error.into(),
            ReadError::Storage(error) => ServiceError::Storage(error),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Everything the operations share: the node, the edge limits, the clock.
/// Cheap to clone.
#[derive(Clone)]
pub struct Service {
    node: Node,
    limits: Limits,
    clock: Arc<dyn Clock>,
    request_timeout: Duration,
    planted: PlantedFaults,
    /// Numbers the idempotency keys this node makes for keyless writes.
    auto_keys: Arc<AtomicU64>,
    /// Where token secrets come from.
    entropy: Arc<dyn Entropy>,
    /// The change feed's heartbeat and replay window (`[watch]`).
    watch: WatchSettings,
    /// SHA-256 of the operator's token when this node's configuration (or
    /// its `admin.token` file) supplies one: what a blank node accepts on
    /// its admin routes before the cluster's tokens reach it.
    local_operator: Option<[u8; 32]>,
    /// Refuses writes while the data directory is below its reserve.
    disk: Option<DiskGuard>,
}

impl Service {
    pub fn new(
        node: Node,
        limits: Limits,
        clock: Arc<dyn Clock>,
        request_timeout: Duration,
    ) -> Service {
        Service {
            node,
            limits,
            clock,
            request_timeout,
            planted: PlantedFaults::default(),
            auto_keys: Arc::default(),
            entropy: Arc::new(OsEntropy),
            watch: WatchSettings::default(),
            local_operator: None,
            disk: None,
        }
    }

    /// Refuses writes that would grow the data while `disk` is below its
    /// reserve (`[storage] reserve_bytes`).
    pub fn with_disk_guard(mut self, disk: DiskGuard) -> Service {
        self.disk = Some(disk);
        self
    }

    /// The operator's token as this node's configuration knows it (see
    /// `require_operator`).
    pub fn with_operator_token(mut self, token: &str) -> Service {
        self.local_operator = Some(auth::sha256(token.as_bytes()));
        self
    }

    pub(crate) fn local_operator(&self) -> Option<[u8; 32]> {
        self.local_operator
    }

    /// Draws token secrets from `entropy` (the simulation's seeded source).
    pub fn with_entropy(mut self, entropy: Arc<dyn Entropy>) -> Service {
        self.entropy = entropy;
        self
    }

    pub fn with_planted_faults(mut self, planted: PlantedFaults) -> Service {
        self.planted = planted;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// How long one request may take (`[http] request_timeout_ms`).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    pub fn node_id(&self) -> u64 {
        self.node.id()
    }

    /// The last log index this node applied.
    pub fn applied_index(&self) -> Option<u64> {
        self.node.applied_index()
    }

    /// Milliseconds since this node last heard from a leader (`None`: never).
    pub fn staleness_ms(&self) -> Option<u64> {
        let staleness = self.node.staleness_ms();
        (staleness != u64::MAX).then_some(staleness)
    }

    /// Attribution, time and limits for a proposal. A write without an
    /// idempotency key gets one made here (remembered only briefly), so that
    /// the node may retry it across a leader change without applying it twice.
    fn meta(&self, context: &RequestContext, subject: Option<&Subject>) -> Meta {
        let time_ms = self.clock.now_ms();
        let mut limits = self.limits;
        let idempotency_key = match &context.idempotency_key {
            Some(key) => key.clone(),
            None => {
                let n = self.auto_keys.fetch_add(1, Ordering::Relaxed);
                limits.idempotency_window_ms = AUTO_KEY_WINDOW_MS.min(limits.idempotency_window_ms);
                format!("~auto/{}/{time_ms}/{n}", self.node.id())
            }
        };
        // A token bound to an agent writes as that agent, whatever the header says.
        let agent = subject
            .and_then(|subject| subject.token.agent.clone())
            .unwrap_or_else(|| context.agent.clone());
        Meta {
            time_ms,
            agent,
            session: context.session.clone(),
            idempotency_key: Some(idempotency_key),
            limits,
            principal: subject.map(|subject| subject.token.id.clone()),
            request_id: context.request_id.clone(),
        }
    }

    /// Checks a command, proposes it and waits for its outcome, bounded by
    /// the request timeout. A command that breaks a stateless rule is refused
    /// here, without a round through the log (`apply` checks again, and is
    /// authoritative); one that fails when applied is refused with its reason.
    async fn propose(
        &self,
        context: &RequestContext,
        subject: &Subject,
        command: Command,
    ) -> ServiceResult<Outcome> {
        self.propose_as(context, Some(subject), command).await
    }

    /// `propose`, or with no subject the node's own bootstrap.
    async fn propose_as(
        &self,
        context: &RequestContext,
        subject: Option<&Subject>,
        command: Command,
    ) -> ServiceResult<Outcome> {
        let proposal = Proposal {
            meta: self.meta(context, subject),
            command,
        };
        proposal.check().map_err(ServiceError::Refused)?;
        if let Some(disk) = &self.disk {
            disk.admit(&proposal.command, self.node.is_leader())
                .map_err(ServiceError::StorageFull)?;
        }
        match self.node.propose(proposal, self.request_timeout).await? {
            Outcome::Failed { op_index, error } => {
                Err(ServiceError::Refused(Refusal { op_index, error }))
            }
            outcome => Ok(outcome),
        }
    }

    /// Runs `read` over the state machine once it is as fresh as
    /// `consistency` asks, bounded by the request timeout.
    async fn read<T>(
        &self,
        consistency: cairn_api::Consistency,
        read: impl FnOnce(&StateReader) -> Result<T, ReadError>,
    ) -> ServiceResult<T> {
        let consistency = match consistency {
            _ if self.planted.linearizable_reads_are_stale => cairn_raft::Consistency::Stale,
            cairn_api::Consistency::Linearizable => cairn_raft::Consistency::Linearizable,
            cairn_api::Consistency::Stale => cairn_raft::Consistency::Stale,
        };
        match tokio::time::timeout(self.request_timeout, self.node.read(consistency, read)).await {
            Ok(result) => Ok(result??),
            // A read changes nothing: running out of time only means "not now".
            Err(_) => Err(NodeError::Unavailable(format!(
                "could not confirm a linearizable read within {} ms",
                self.request_timeout.as_millis()
            ))
            .into()),
        }
    }

    /// Runs `read` as the caller: the token is checked inside the read, so a
    /// linearizable read sees the token and grants as of its read index.
    async fn read_as<T>(
        &self,
        context: &RequestContext,
        consistency: cairn_api::Consistency,
        read: impl FnOnce(&StateReader, &Subject) -> Result<T, ReadError>,
    ) -> ServiceResult<T> {
        let token = credentials(context)?;
        let now_ms = self.clock.now_ms();
        self.read(consistency, |reader| {
            let subject = auth::authenticate(reader, token, now_ms)?;
            read(reader, &subject)
        })
        .await
    }

    /// Runs `read` on `store` if the caller may read it.
    async fn read_store<T>(
        &self,
        context: &RequestContext,
        store: &str,
        consistency: cairn_api::Consistency,
        read: impl FnOnce(&StateReader, &StoreRef) -> Result<T, ReadError>,
    ) -> ServiceResult<T> {
        self.read_in_store(context, store, consistency, |reader, store, _| {
            read(reader, store)
        })
        .await
    }

    /// `read_store`, handing `read` the store's record as the authorization
    /// loaded it (in the same read transaction), so that it is loaded once.
    async fn read_in_store<T>(
        &self,
        context: &RequestContext,
        store: &str,
        consistency: cairn_api::Consistency,
        read: impl FnOnce(&StateReader, &StoreRef, &StoreInfo) -> Result<T, ReadError>,
    ) -> ServiceResult<T> {
        self.read_in_store_as(context, store, consistency, |reader, _, store, info| {
            read(reader, store, info)
        })
        .await
    }

    /// `read_in_store`, handing `read` the caller as well.
    async fn read_in_store_as<T>(
        &self,
        context: &RequestContext,
        store: &str,
        consistency: cairn_api::Consistency,
        read: impl FnOnce(&StateReader, &Subject, &StoreRef, &StoreInfo) -> Result<T, ReadError>,
    ) -> ServiceResult<T> {
        let name = self.store_name(store)?;
        let org = org_name(context)?;
        self.read_as(context, consistency, |reader, subject| {
            let org = auth::resolve_org(reader, subject, org.as_ref())?;
            let store = StoreRef::new(org.id, name);
            let info = auth::authorize_store(reader, subject, &store, Access::Read)?;
            read(reader, subject, &store, &info)
        })
        .await
    }

    /// Authenticates the caller and runs `check` before a write: on this
    /// node's replica first, and once more linearizably if the replica
    /// refuses (it may not have applied the token or grant yet). A pass is
    /// not final: `apply` authorizes again at the command's place in the log.
    async fn authorize<T>(
        &self,
        context: &RequestContext,
        check: impl Fn(&StateReader, &Subject) -> Result<T, ReadError>,
    ) -> ServiceResult<(Subject, T)> {
        let token = credentials(context)?;
        let now_ms = self.clock.now_ms();
        let run = |reader: &StateReader| {
            let subject = auth::authenticate(reader, token, now_ms)?;
            let checked = check(reader, &subject)?;
            Ok((subject, checked))
        };
        match self.read(cairn_api::Consistency::Stale, run).await {
            Err(ServiceError::Refused(_)) => {
                self.read(cairn_api::Consistency::Linearizable, run).await
            }
            done => done,
        }
    }

    /// The caller and `store` (in the organization the request names), if
    /// they may do what `need` asks with it.
    async fn authorize_store(
        &self,
        context: &RequestContext,
        store: &str,
        need: Access,
    ) -> ServiceResult<(Subject, StoreRef)> {
        let name = self.store_name(store)?;
        let org = org_name(context)?;
        self.authorize(context, |reader, subject| {
            let org = auth::resolve_org(reader, subject, org.as_ref())?;
            let store = StoreRef::new(org.id, name.clone());
            auth::authorize_store(reader, subject, &store, need)?;
            Ok(store)
        })
        .await
    }

    fn store_name(&self, raw: &str) -> ServiceResult<StoreName> {
        Ok(StoreName::parse(raw)?)
    }

    fn file_path(&self, raw: &str) -> ServiceResult<FilePath> {
        Ok(FilePath::parse(raw, &self.limits)?)
    }

    fn dir_path(&self, raw: &str) -> ServiceResult<DirPath> {
        Ok(DirPath::parse(raw, &self.limits)?)
    }

    /// A page size: the default when absent, refused when zero or over
    /// `page_entries_max`.
    fn page_limit(&self, limit: Option<u64>) -> ServiceResult<u64> {
        let max = self.limits.page_entries_max;
        match limit {
            None => Ok(max.min(100)),
            Some(0) => Err(CoreError::invalid_request("limit must be positive").into()),
            Some(limit) if limit > max => {
                Err(CoreError::limit("page_entries_max", max, limit).into())
            }
            Some(limit) => Ok(limit),
        }
    }
}

/// The token the caller presented, or `unauthenticated`.
fn credentials(context: &RequestContext) -> ServiceResult<&str> {
    context
        .credentials
        .as_ref()
        .map(Credentials::token)
        .ok_or_else(|| {
            CoreError::unauthenticated(
                "no token: send Authorization: Bearer <token> (or x-api-key: <token>)",
            )
            .into()
        })
}

/// The organization the request names, validated.
fn org_name(context: &RequestContext) -> ServiceResult<Option<OrgName>> {
    Ok(context.org.as_deref().map(OrgName::parse).transpose()?)
}

/// The outcome a command of one kind must have; anything else is a bug.
fn unexpected(outcome: Outcome) -> ServiceError {
    ServiceError::Internal(format!("unexpected outcome {outcome:?}"))
}
