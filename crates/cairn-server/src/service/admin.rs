//! The node's Raft view and membership changes.

use cairn_api::{DigestView, LearnerRequest, NodeStatusView, PeerView, Ready};
use cairn_core::CoreError;
use cairn_raft::{AdminRequest, NodeError, PeerNode};

use super::{RequestContext, Service, ServiceError, ServiceResult};

/// Whether the node can serve: its Raft runs and it knows a leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadyState {
    Ready(Ready),
    /// Why not, for the `unavailable` answer.
    NotReady(String),
    /// Raft stopped on an error: why, and what to do (`node_stopped`).
    Stopped(String),
}

fn peer_view(node: PeerNode) -> PeerView {
    PeerView {
        raft_addr: node.raft_addr,
        api_addr: node.api_addr,
        tags: node.tags,
    }
}

impl Service {
    pub fn ready(&self) -> ReadyState {
        let status = self.node.status();
        if let Some(reason) = status.stopped_reason {
            return ReadyState::Stopped(reason);
        }
        if status.running && status.current_leader.is_some() {
            ReadyState::Ready(Ready {
                status: "ready".to_string(),
                leader: status.current_leader,
            })
        } else if !status.running {
            ReadyState::NotReady("the node is shutting down".to_string())
        } else {
            ReadyState::NotReady("the node knows no leader yet".to_string())
        }
    }

    /// This node's view of the cluster (the operator's).
    pub async fn status(&self, context: &RequestContext) -> ServiceResult<NodeStatusView> {
        self.require_operator(context).await?;
        self.node_status()
    }

    fn node_status(&self) -> ServiceResult<NodeStatusView> {
        let status = self.node.status();
        Ok(NodeStatusView {
            node_id: status.node_id,
            self_node: peer_view(self.node.peer_node()),
            state: status.state.parse().map_err(ServiceError::Internal)?,
            current_term: status.current_term,
            current_leader: status.current_leader,
            last_log_index: status.last_log_index,
            committed_index: status.committed_index,
            last_applied: status.last_applied,
            snapshot_index: status.snapshot_index,
            purged_index: status.purged_index,
            voters: status.voters,
            learners: status.learners,
            nodes: status
                .nodes
                .into_iter()
                .map(|(id, node)| (id, peer_view(node)))
                .collect(),
            matched: status.matched,
            staleness_ms: self.staleness_ms(),
            running: status.running,
            stopped_reason: status.stopped_reason,
            refusing_replication: status.refusing_replication,
            handing_over_to: status.handing_over_to,
        })
    }

    /// The state machine digest at the applied index (the operator's).
    pub async fn digest(&self, context: &RequestContext) -> ServiceResult<DigestView> {
        self.require_operator(context).await?;
        // The index of the state digested, not the node's index now.
        let (digest, last_applied) = self.node.state_digest_applied().await?;
        Ok(DigestView {
            digest: format!("{digest:016x}"),
            last_applied,
        })
    }

    /// Makes this never-initialized node a one-member cluster (a no-op otherwise).
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), request_id = %context.request_id))]
    pub async fn init(&self, context: &RequestContext) -> ServiceResult<NodeStatusView> {
        self.require_operator_to_change(context).await?;
        self.node.initialize_single().await?;
        self.node_status()
    }

    /// Starts replicating to a new node, which does not vote yet.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), learner = request.node_id, request_id = %context.request_id))]
    pub async fn add_learner(
        &self,
        context: &RequestContext,
        request: LearnerRequest,
    ) -> ServiceResult<NodeStatusView> {
        self.require_operator_to_change(context).await?;
        if request.node_id == 0 {
            return Err(CoreError::invalid_request("node_id must be positive").into());
        }
        for (name, addr) in [
            ("raft_addr", &request.raft_addr),
            ("api_addr", &request.api_addr),
        ] {
            if !addr.contains(':') {
                return Err(CoreError::invalid_request(format!(
                    "{name} {addr:?} must be host:port"
                ))
                .into());
            }
        }
        // Two members at one Raft address would have one node answer for
        // both; the peer hello refuses that too, but refusing it here keeps
        // the leader from replicating forever to a member it can never reach.
        // This node's view of the membership may lag; the hello check does not.
        let status = self.node_status()?;
        if let Some((&member, _)) = status
            .nodes
            .iter()
            .find(|(id, node)| **id != request.node_id && node.raft_addr == request.raft_addr)
        {
            return Err(ServiceError::Node(NodeError::Membership(format!(
                "raft_addr {} is node {member}'s",
                request.raft_addr
            ))));
        }
        let node = PeerNode {
            raft_addr: request.raft_addr,
            api_addr: request.api_addr,
            tags: request.tags,
        };
        self.change_membership(AdminRequest::AddLearner {
            node_id: request.node_id,
            node,
        })
        .await
    }

    /// Makes a learner a voter.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), member = node_id, request_id = %context.request_id))]
    pub async fn promote(
        &self,
        context: &RequestContext,
        node_id: u64,
    ) -> ServiceResult<NodeStatusView> {
        self.require_operator_to_change(context).await?;
        self.change_membership(AdminRequest::Promote { node_id })
            .await
    }

    /// Takes a voter or learner out of the cluster.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), member = node_id, request_id = %context.request_id))]
    pub async fn remove_member(
        &self,
        context: &RequestContext,
        node_id: u64,
    ) -> ServiceResult<NodeStatusView> {
        self.require_operator_to_change(context).await?;
        self.change_membership(AdminRequest::Remove { node_id })
            .await
    }

    async fn change_membership(&self, request: AdminRequest) -> ServiceResult<NodeStatusView> {
        self.node.admin(request, self.request_timeout).await?;
        self.node_status()
    }

    /// Raft gauges for `/metrics`.
    pub fn raft_gauges(&self) -> RaftGauges {
        let status = self.node.status();
        let (log_file_bytes, state_file_bytes, snapshot_bytes) = self.node.file_bytes();
        RaftGauges {
            is_leader: status.current_leader == Some(status.node_id),
            term: status.current_term,
            leader_id: status.current_leader,
            last_log_index: status.last_log_index,
            commit_index: status.committed_index,
            applied_index: status.last_applied,
            snapshot_index: status.snapshot_index,
            purged_index: status.purged_index,
            log_entries: self.node.log_entries().ok(),
            log_file_bytes,
            state_file_bytes,
            snapshot_bytes,
            voters: status.voters.len() as u64,
            learners: status.learners.len() as u64,
            proposals: self.node.proposal_counts(),
            running: status.running,
            refusing_replication: status.refusing_replication.is_some(),
            handing_over: status.handing_over_to.is_some(),
            hand_overs: self.node.hand_over_counts(),
        }
    }
}

/// What `/metrics` shows of Raft, read at scrape time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftGauges {
    pub is_leader: bool,
    pub term: u64,
    pub leader_id: Option<u64>,
    pub last_log_index: Option<u64>,
    pub commit_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub log_entries: Option<u64>,
    pub log_file_bytes: Option<u64>,
    pub state_file_bytes: Option<u64>,
    /// Snapshot files on disk: only those being received (none is kept).
    pub snapshot_bytes: Option<u64>,
    pub voters: u64,
    pub learners: u64,
    /// Entries this node proposed as the leader, and the proposals batched
    /// into them, since it started.
    pub proposals: cairn_raft::ProposalCounts,
    /// openraft runs (false once it stopped on a storage error).
    pub running: bool,
    /// This node refuses the leader's entries for want of disk space.
    pub refusing_replication: bool,
    /// This leader is handing leadership over for want of disk space.
    pub handing_over: bool,
    /// Hand-overs this node began and saw through, since it started.
    pub hand_overs: cairn_raft::HandOverCounts,
}
