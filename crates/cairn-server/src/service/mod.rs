//! The application layer: every operation of the API as a plain async
//! function over typed arguments and a `RequestContext`. It knows nothing of
//! axum or HTTP; adapters (the REST handlers in `http/`, and the memory tool,
//! MCP and console that follow) extract, call the service, and render.
//!
//! **Architecture invariant:** adapters call the service and never `Node`
//! directly; the service is where attribution, idempotency keys, validation
//! before proposing, and the read/propose policy live.

mod admin;
mod audit;
mod context;
mod files;
mod history;
mod stores;
mod txn;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_core::command::{Command, Meta, Outcome, Proposal};
use cairn_core::{
    CoreError, DirPath, FilePath, Limits, ReadError, Refusal, StorageError, StoreName,
};
use cairn_raft::{Node, NodeError, StateReader};

use crate::clock::Clock;

pub use admin::{RaftGauges, ReadyState};
pub use context::{Principal, RequestContext};
pub use files::FileRead;

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
        }
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
    fn meta(&self, context: &RequestContext) -> Meta {
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
        Meta {
            time_ms,
            agent: context.agent.clone(),
            session: context.session.clone(),
            idempotency_key: Some(idempotency_key),
            limits,
        }
    }

    /// Checks a command, proposes it and waits for its outcome, bounded by
    /// the request timeout. A command that breaks a stateless rule is refused
    /// here, without a round through the log (`apply` checks again, and is
    /// authoritative); one that fails when applied is refused with its reason.
    async fn propose(&self, context: &RequestContext, command: Command) -> ServiceResult<Outcome> {
        let proposal = Proposal {
            meta: self.meta(context),
            command,
        };
        proposal.check().map_err(ServiceError::Refused)?;
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

/// The outcome a command of one kind must have; anything else is a bug.
fn unexpected(outcome: Outcome) -> ServiceError {
    ServiceError::Internal(format!("unexpected outcome {outcome:?}"))
}
