//! Reads of the state machine: linearizable (after the leader's read
//! index is applied here) or stale (as this replica is).

use std::sync::atomic::AtomicBool;

use cairn_core::ReadError;
use cairn_storage::StateReader;

use super::Node;
use super::routing::{RETRY_PAUSE, Route};
use crate::error::fatal;
use crate::leader;
use crate::transport::{PeerRequest, PeerResponse};
use crate::{Consistency, NodeError};

impl Node {
    /// Waits until this node's state machine has applied everything the
    /// cluster committed before this call: the leader's read index, asked
    /// of the leader when this node is a follower or learner.
    #[tracing::instrument(skip_all, fields(node_id = self.id()))]
    pub async fn linearize(&self) -> Result<(), NodeError> {
        loop {
            let result = match self.route().await? {
                Route::Local => leader::linearize(&self.inner.raft).await,
                Route::Leader { id, raft_addr } => {
                    match self
                        .to_leader(
                            id,
                            &raft_addr,
                            &PeerRequest::ReadIndex,
                            &AtomicBool::new(false),
                        )
                        .await
                    {
                        Ok(Some(PeerResponse::ReadIndex(Ok(index)))) => {
                            self.inner
                                .raft
                                .wait(None)
                                .applied_index_at_least(Some(index), "linearizable read")
                                .await
                                .map_err(|error| NodeError::Unavailable(error.to_string()))?;
                            Ok(())
                        }
                        Ok(Some(PeerResponse::ReadIndex(Err(error)))) => Err(error),
                        Ok(Some(_)) => return Err(fatal("leader answered with the wrong kind")),
                        // A read changes nothing: any failure is safe to retry.
                        Ok(None) | Err(_) => {
                            tokio::time::sleep(RETRY_PAUSE).await;
                            continue;
                        }
                    }
                }
            };
            match result {
                Err(NodeError::NotLeader { .. }) => tokio::time::sleep(RETRY_PAUSE).await,
                other => return other,
            }
        }
    }

    /// Runs `read` against the state machine once it is as fresh as `consistency` demands.
    #[tracing::instrument(skip_all, fields(node_id = self.id(), ?consistency))]
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
}
