//! Requests only the leader can answer: run here when this node leads,
//! else forwarded to the leader it knows, retried only while they certainly
//! took no effect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_core::{Outcome, Proposal};

use super::Node;
use crate::NodeError;
use crate::error::fatal;
use crate::forward::ForwardFailure;
use crate::leader::AdminRequest;
use crate::transport::{PeerRequest, PeerResponse};

/// Pause before retrying when no leader is known or the leader moved.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Where a request that only the leader can answer goes.
pub(super) enum Route {
    Local,
    Leader { id: u64, raft_addr: String },
}

impl Node {
    /// Waits until a leader is known, then says how to reach it. Bounded
    /// only by the caller (the HTTP layer's request timeout).
    pub(super) async fn route(&self) -> Result<Route, NodeError> {
        let mut metrics = self.inner.raft.metrics();
        loop {
            let (leader, raft_addr) = {
                let current = metrics.borrow_and_update();
                if let Err(error) = &current.running_state {
                    return Err(crate::error::stopped(error));
                }
                let leader = current.current_leader;
                let addr = leader.and_then(|id| {
                    current
                        .membership_config
                        .membership()
                        .get_node(&id)
                        .map(|node| node.raft_addr.clone())
                });
                (leader, addr)
            };
            match (leader, raft_addr) {
                (Some(id), _) if id == self.id() => return Ok(Route::Local),
                (Some(id), Some(raft_addr)) => return Ok(Route::Leader { id, raft_addr }),
                _ => {
                    if metrics.changed().await.is_err() {
                        return Err(NodeError::Unavailable("the node is shutting down".into()));
                    }
                }
            }
        }
    }

    /// Sends a request to the leader; `Ok(None)` means "leader moved, route again".
    pub(super) async fn to_leader(
        &self,
        leader: u64,
        raft_addr: &str,
        request: &PeerRequest,
        sent: &AtomicBool,
    ) -> Result<Option<PeerResponse>, ForwardFailure> {
        match self.inner.forwarder.call(raft_addr, request, sent).await {
            Ok(response) => Ok(Some(response)),
            Err(ForwardFailure::NotSent(error)) => {
                tracing::debug!(leader, %error, "leader unreachable; routing again");
                tokio::time::sleep(RETRY_PAUSE).await;
                Ok(None)
            }
            Err(failure) => Err(failure),
        }
    }

    /// Runs a request that changes state on the leader: here, or forwarded to
    /// the one this node knows. Retries only while it certainly took no
    /// effect. If `timeout` passes first, the answer is `Unavailable` when
    /// nothing was handed to a leader yet, else `OutcomeUnknown`. `answer`
    /// takes the result out of the leader's response, which is the same
    /// whether the leader is this node or another.
    async fn on_leader<T>(
        &self,
        request: PeerRequest,
        timeout: Duration,
        answer: impl Fn(PeerResponse) -> Option<Result<T, NodeError>>,
    ) -> Result<T, NodeError> {
        let sent = AtomicBool::new(false);
        let attempt = async {
            loop {
                let response = match self.route().await? {
                    Route::Local => {
                        sent.store(true, Ordering::Relaxed);
                        // Cloned because a retry after `NotLeader` sends it again.
                        let peer_server = &self.inner.peer_server;
                        peer_server.answer(self.id(), request.clone()).await
                    }
                    Route::Leader { id, raft_addr } => {
                        match self.to_leader(id, &raft_addr, &request, &sent).await {
                            Ok(Some(response)) => response,
                            Ok(None) => continue,
                            Err(ForwardFailure::NoAnswer(detail)) => {
                                return Err(NodeError::OutcomeUnknown(detail));
                            }
                            Err(ForwardFailure::NotSent(error)) => {
                                return Err(NodeError::Unavailable(error.to_string()));
                            }
                        }
                    }
                };
                let result = answer(response)
                    .ok_or_else(|| fatal("the leader answered with the wrong kind"))?;
                match result {
                    // Leadership moved. The entry may still have been appended
                    // (openraft answers pending writes this way when a leader
                    // steps down) and may yet commit: `sent` stays set, and
                    // the retry is safe only because every proposal carries an
                    // idempotency key (the server adds one if the client did not).
                    Err(NodeError::NotLeader { .. }) => tokio::time::sleep(RETRY_PAUSE).await,
                    other => return other,
                }
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) if sent.load(Ordering::Relaxed) => Err(NodeError::OutcomeUnknown(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
            Err(_) => Err(NodeError::Unavailable(format!(
                "no leader could take the request within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    /// Proposes a command through the leader and waits until it is
    /// committed and applied there, for at most `timeout`.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.id(), timeout_ms = timeout.as_millis() as u64))]
    pub async fn propose(
        &self,
        proposal: Proposal,
        timeout: Duration,
    ) -> Result<Outcome, NodeError> {
        self.on_leader(
            PeerRequest::Propose(proposal),
            timeout,
            |response| match response {
                PeerResponse::Propose(result) => Some(result),
                _ => None,
            },
        )
        .await
    }

    /// A membership change, made by the leader wherever it is asked.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.id(), ?request))]
    pub async fn admin(&self, request: AdminRequest, timeout: Duration) -> Result<(), NodeError> {
        self.on_leader(
            PeerRequest::Admin(request),
            timeout,
            |response| match response {
                PeerResponse::Admin(result) => Some(result),
                _ => None,
            },
        )
        .await
    }
}
