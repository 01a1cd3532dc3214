//! Reads of the state machine: linearizable (after the leader's read
//! index is applied here) or stale (as this replica is).

use std::sync::atomic::AtomicBool;

use cairn_core::ReadError;
use cairn_storage::StateReader;

use super::Node;
use super::routing::{RETRY_PAUSE, Route};
use crate::error::fatal;
use crate::forward::ForwardFailure;
use crate::leader;
use crate::transport::{PeerRequest, PeerResponse};
use crate::{Consistency, NodeError};

impl Node {
    /// Waits until this node's state machine has applied everything the
    /// cluster committed before this call: the leader's read index, asked
    /// of the leader when this node is a follower or learner.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.id()))]
    pub async fn linearize(&self) -> Result<(), NodeError> {
        let index = self.read_index().await?;
        self.inner
            .raft
            .wait(None)
            .applied_index_at_least(Some(index), "linearizable read")
            .await
            .map_err(|error| NodeError::Unavailable(error.to_string()))?;
        Ok(())
    }

    /// The leader's read index from a round that started after this call,
    /// shared with every read waiting here for one (`ReadBatcher`): taken
    /// here when this node leads, else asked of the leader.
    async fn read_index(&self) -> Result<u64, NodeError> {
        loop {
            let answer = match self.route().await? {
                // A leader handing over runs no read-index round (each is a
                // heartbeat that renews its followers' lease); the read
                // waits for the new leader.
                Route::Local if self.inner.peer_server.handoff.stepping_aside() => {
                    Some(Err(crate::handoff::HandOff::not_leader()))
                }
                Route::Local => {
                    let reads = &self.inner.peer_server.leader_reads;
                    Some(leader::read_index(&self.inner.raft, reads).await)
                }
                Route::Leader { id, raft_addr } => {
                    let reads = &self.inner.follower_reads;
                    reads
                        .run(|| self.ask_leader_for_read_index(id, &raft_addr))
                        .await?
                }
            };
            match answer {
                // A read changes nothing: any failure to reach the leader,
                // or a leader that stepped down, is safe to retry.
                None | Some(Err(NodeError::NotLeader { .. })) => {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Some(result) => return result,
            }
        }
    }

    /// One forwarded read-index request; `None` when the leader did not answer.
    async fn ask_leader_for_read_index(
        &self,
        leader: u64,
        raft_addr: &str,
    ) -> Option<Result<u64, NodeError>> {
        let forwarder = &self.inner.forwarder;
        match forwarder
            .call(raft_addr, &PeerRequest::ReadIndex, &AtomicBool::new(false))
            .await
        {
            Ok(PeerResponse::ReadIndex(answer)) => Some(answer),
            Ok(_) => Some(Err(fatal("leader answered with the wrong kind"))),
            Err(ForwardFailure::NotSent(error)) => {
                tracing::debug!(leader, %error, "leader unreachable; routing again");
                None
            }
            Err(ForwardFailure::NoAnswer(detail)) => {
                tracing::debug!(leader, %detail, "no read index from the leader; routing again");
                None
            }
        }
    }

    /// Runs `read` against the state machine once it is as fresh as `consistency` demands.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.id(), ?consistency))]
    pub async fn read<T>(
        &self,
        consistency: Consistency,
        read: impl FnOnce(&StateReader) -> Result<T, ReadError>,
    ) -> Result<Result<T, ReadError>, NodeError> {
        if consistency == Consistency::Linearizable {
            self.linearize().await?;
        }
        let reader = self.inner.state.reader().map_err(fatal)?;
        Ok(read(&reader))
    }

    /// As `read`, for a read without a bound (a whole audit chain): it runs
    /// in the background (`IoMode::background`), where it holds no runtime
    /// worker however long it takes.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.id(), ?consistency))]
    pub async fn read_in_background<T: Send + 'static>(
        &self,
        consistency: Consistency,
        name: &str,
        read: impl FnOnce(&StateReader) -> Result<T, ReadError> + Send + 'static,
    ) -> Result<Result<T, ReadError>, NodeError> {
        if consistency == Consistency::Linearizable {
            self.linearize().await?;
        }
        let reader = self.inner.state.reader().map_err(fatal)?;
        self.inner
            .config
            .io
            .background(name, move || read(&reader))
            .await
            .map_err(fatal)
    }
}
