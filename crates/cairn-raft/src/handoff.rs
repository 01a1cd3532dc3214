//! A leader whose disk is below its reserve hands leadership to a voter
//! with room. openraft 0.9 has no leadership transfer, so the leader steps
//! aside instead, and the node it chose stands for election:
//!
//! 1. The leader (`run`, a task on nodes with a `StorageRoom`) asks the
//!    voters in turn, most caught up first (`successors`), to take over
//!    (`PeerRequest::HandOver`); a voter below its own reserve refuses.
//! 2. Once one accepts, the leader stops everything that renews its
//!    followers' leader lease: heartbeats off (`enable_heartbeat(false)`),
//!    and proposals, read-index rounds and membership changes answered
//!    `NotLeader` (every node retries those by itself until the new
//!    leader is known). openraft makes a voter refuse a vote for
//!    `leader_lease` (= `election_timeout_max`) after its vote was last
//!    renewed by any append-entries or snapshot request, so a quiet leader
//!    is what lets an election succeed.
//! 3. The chosen voter waits until it has heard nothing from the leader for
//!    the lease (and a heartbeat interval more), and holds the leader's last
//!    entry, then calls `trigger().elect()` (which `enable_elect(false)` does
//!    not stop). The old leader grants the vote (its own vote was renewed
//!    when it was elected, longer ago than the lease) and steps down.
//! 4. If leadership has not moved within `HAND_OVER_BOUND_LEASES` leases, the
//!    leader takes up heartbeats and requests again and retries after a
//!    rest: a cluster is never left without a leader by this.
//!
//! A node below its reserve does not stand for election itself
//! (`enable_elect(false)`) while a leader is heard from, so it does not win
//! leadership back while full; after `QUIET_LEASES` leases without a leader
//! it stands again, so a cluster whose every node is full still elects one.
//! If no other voter has room the leader keeps leading and refuses writes
//! that grow the data (`507 storage_full`), as before.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openraft::ServerState;

use crate::forward::Forwarder;
use crate::transport::{PeerRequest, PeerResponse};
use crate::types::Raft;
use crate::{NodeError, StorageRoom};

/// How long a hand-over may take, in leases, before the leader takes up
/// heartbeats again.
pub(crate) const HAND_OVER_BOUND_LEASES: u32 = 3;

/// How long a leader rests, in leases, after a hand-over failed or found
/// no voter with room, before it tries again.
pub(crate) const REST_LEASES: u32 = 10;

/// How long a node below its reserve hears no leader, in leases, before it
/// stands for election again.
pub(crate) const QUIET_LEASES: u32 = 4;

/// A hand-over's state, shared by the leader's task, the peer server (which
/// answers `NotLeader` while handing over and notes every message from a
/// leader) and the status.
pub(crate) struct HandOff {
    /// `election_timeout_max`: openraft's leader lease.
    pub lease: Duration,
    /// A heartbeat interval: the margin past the lease, and the task's tick.
    pub tick: Duration,
    origin: tokio::time::Instant,
    /// The node leadership is being handed to, while this node steps aside.
    handing_over_to: Mutex<Option<u64>>,
    stepping_aside: AtomicBool,
    /// Milliseconds after `origin` of the last append-entries or snapshot
    /// request answered here; `u64::MAX` before the first.
    last_leader_message_ms: AtomicU64,
    started: AtomicU64,
    completed: AtomicU64,
}

/// Hand-overs this node began and saw through as the leader, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandOverCounts {
    pub started: u64,
    pub completed: u64,
}

impl HandOff {
    pub(crate) fn new(lease: Duration, tick: Duration) -> HandOff {
        HandOff {
            lease,
            tick,
            origin: tokio::time::Instant::now(),
            handing_over_to: Mutex::new(None),
            stepping_aside: AtomicBool::new(false),
            last_leader_message_ms: AtomicU64::new(u64::MAX),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Notes an append-entries or snapshot request from a leader, answered:
    /// openraft renewed this node's vote (its leader lease) while taking it.
    pub(crate) fn heard_from_leader(&self) {
        self.last_leader_message_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    /// Time since the last message from a leader; `None` if none came yet.
    pub(crate) fn since_leader_message(&self) -> Option<Duration> {
        match self.last_leader_message_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            last => Some(Duration::from_millis(self.now_ms().saturating_sub(last))),
        }
    }

    /// While true, this leader answers proposals, read indexes and
    /// membership changes `NotLeader`, so its followers' leases run out.
    pub(crate) fn stepping_aside(&self) -> bool {
        self.stepping_aside.load(Ordering::Relaxed)
    }

    /// The error a leader stepping aside answers: every node retries it.
    pub(crate) fn not_leader() -> NodeError {
        NodeError::NotLeader {
            leader_id: None,
            leader_api_addr: None,
        }
    }

    pub(crate) fn handing_over_to(&self) -> Option<u64> {
        *self
            .handing_over_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn begin(&self, to: u64) {
        *self
            .handing_over_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(to);
        self.stepping_aside.store(true, Ordering::Relaxed);
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    fn end(&self, completed: bool) {
        self.stepping_aside.store(false, Ordering::Relaxed);
        *self
            .handing_over_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        if completed {
            self.completed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn counts(&self) -> HandOverCounts {
        HandOverCounts {
            started: self.started.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
        }
    }
}

/// The voters a leader may hand over to, in the order it asks them: most
/// caught up first (by the last index the leader knows each holds), then by
/// id. Not itself, and not a learner.
pub(crate) fn successors(
    self_id: u64,
    voters: &[u64],
    matched: &BTreeMap<u64, Option<u64>>,
) -> Vec<u64> {
    let mut order: Vec<(Option<u64>, u64)> = voters
        .iter()
        .filter(|id| **id != self_id)
        .map(|id| (matched.get(id).copied().flatten(), *id))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    order.into_iter().map(|(_, id)| id).collect()
}

/// Whether a node stands for election when its election timer fires: not
/// while it is below its reserve and a leader was heard from within `quiet`.
pub(crate) fn stands_for_election(
    below_reserve: bool,
    since_leader_message: Option<Duration>,
    quiet: Duration,
) -> bool {
    !below_reserve || since_leader_message.is_none_or(|since| since >= quiet)
}

/// How long a node asked to take over still waits before it stands for
/// election: until the leader has been quiet for the lease and `margin` more
/// (openraft's voters refuse votes until then). Zero: stand now.
pub(crate) fn wait_before_electing(
    since_leader_message: Option<Duration>,
    lease: Duration,
    margin: Duration,
) -> Duration {
    match since_leader_message {
        None => Duration::ZERO,
        Some(since) => (lease + margin).saturating_sub(since),
    }
}

/// Where a leader's hand-over stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    /// Stepping aside for `to` since `since_ms`.
    HandingOver {
        to: u64,
        since_ms: u64,
    },
    /// Not trying again before `until_ms`.
    Resting {
        until_ms: u64,
    },
}

/// What the leader's task does at one tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    /// Below the reserve and leading: ask the voters with room.
    Start,
    /// Leadership moved: the hand-over is done.
    Done,
    /// Space came back while handing over: lead on.
    Cancel,
    /// Still leading after `bound_ms`: take up heartbeats, rest, retry.
    GiveUp,
}

/// The hand-over's decision at `now_ms`, from what the node sees: the pure
/// part of `run`.
pub(crate) fn step(
    phase: Phase,
    now_ms: u64,
    leading: bool,
    below_reserve: bool,
    bound_ms: u64,
) -> Step {
    match phase {
        Phase::HandingOver { .. } if !leading => Step::Done,
        Phase::HandingOver { .. } if !below_reserve => Step::Cancel,
        Phase::HandingOver { since_ms, .. } if now_ms.saturating_sub(since_ms) >= bound_ms => {
            Step::GiveUp
        }
        Phase::HandingOver { .. } => Step::Nothing,
        Phase::Resting { until_ms } if now_ms < until_ms => Step::Nothing,
        Phase::Idle | Phase::Resting { .. } if leading && below_reserve => Step::Start,
        Phase::Idle | Phase::Resting { .. } => Step::Nothing,
    }
}

/// What the leader's task needs.
pub(crate) struct Controller {
    pub node_id: u64,
    pub raft: Raft,
    pub handoff: Arc<HandOff>,
    pub room: Arc<dyn StorageRoom>,
    /// Asks voters to take over; its deadline is one peer RPC's.
    pub asker: Forwarder,
}

impl Controller {
    /// Watches this node's room and role every heartbeat interval, for as
    /// long as openraft runs.
    pub(crate) async fn run(self) {
        let handoff = &self.handoff;
        let lease_ms = handoff.lease.as_millis() as u64;
        let bound_ms = lease_ms * u64::from(HAND_OVER_BOUND_LEASES);
        let rest_ms = lease_ms * u64::from(REST_LEASES);
        let quiet = handoff.lease * QUIET_LEASES;
        let mut phase = Phase::Idle;
        let mut electing = true;
        let mut no_successor_said = false;
        loop {
            tokio::time::sleep(handoff.tick).await;
            let metrics = self.raft.metrics().borrow().clone();
            if metrics.running_state.is_err() {
                return;
            }
            let full = self.room.below_reserve();
            let leading = metrics.state == ServerState::Leader;
            let stand = stands_for_election(full.is_some(), handoff.since_leader_message(), quiet);
            if stand != electing {
                self.raft.runtime_config().elect(stand);
                electing = stand;
                tracing::info!(
                    node_id = self.node_id,
                    "{}",
                    if stand {
                        "standing for election again"
                    } else {
                        "below the storage reserve: not standing for election while a leader is heard from"
                    }
                );
            }
            let now_ms = handoff.now_ms();
            match step(phase, now_ms, leading, full.is_some(), bound_ms) {
                Step::Nothing => {}
                Step::Start => {
                    let voters: Vec<u64> =
                        metrics.membership_config.membership().voter_ids().collect();
                    let matched = crate::node::matched_indexes(&metrics);
                    let order = successors(self.node_id, &voters, &matched);
                    let request = PeerRequest::HandOver {
                        term: metrics.current_term,
                        last_log_index: metrics.last_log_index,
                    };
                    let mut refusals = Vec::new();
                    let mut chosen = None;
                    for id in order {
                        match self.ask(&metrics, id, &request).await {
                            Ok(()) => {
                                chosen = Some(id);
                                break;
                            }
                            Err(why) => refusals.push(format!("node {id}: {why}")),
                        }
                    }
                    match chosen {
                        Some(to) => {
                            handoff.begin(to);
                            self.raft.runtime_config().heartbeat(false);
                            no_successor_said = false;
                            tracing::warn!(
                                node_id = self.node_id,
                                to,
                                term = metrics.current_term,
                                reason = full.as_deref().unwrap_or_default(),
                                "below the storage reserve as the leader: handing leadership over to node {to} (heartbeats, writes and read-index rounds pause until it is elected)"
                            );
                            phase = Phase::HandingOver {
                                to,
                                since_ms: now_ms,
                            };
                        }
                        None => {
                            if !no_successor_said {
                                tracing::warn!(
                                    node_id = self.node_id,
                                    refusals = refusals.join("; "),
                                    "below the storage reserve as the leader, and no other voter has room: leading on, refusing writes that grow the data"
                                );
                                no_successor_said = true;
                            }
                            phase = Phase::Resting {
                                until_ms: now_ms + rest_ms,
                            };
                        }
                    }
                }
                Step::Done => {
                    let Phase::HandingOver { to, since_ms } = phase else {
                        continue;
                    };
                    handoff.end(true);
                    self.raft.runtime_config().heartbeat(true);
                    tracing::info!(
                        node_id = self.node_id,
                        to,
                        leader = metrics.current_leader,
                        hand_over_ms = now_ms.saturating_sub(since_ms),
                        "leadership handed over"
                    );
                    phase = Phase::Idle;
                }
                Step::Cancel => {
                    handoff.end(false);
                    self.raft.runtime_config().heartbeat(true);
                    tracing::info!(
                        node_id = self.node_id,
                        "there is room again: leading on, hand-over called off"
                    );
                    phase = Phase::Idle;
                }
                Step::GiveUp => {
                    handoff.end(false);
                    self.raft.runtime_config().heartbeat(true);
                    tracing::warn!(
                        node_id = self.node_id,
                        bound_ms,
                        "leadership did not move within the bound: leading on, trying again later"
                    );
                    phase = Phase::Resting {
                        until_ms: now_ms + rest_ms,
                    };
                }
            }
        }
    }

    /// Asks voter `id` to take over; `Err(why)` if it cannot or did not answer.
    async fn ask(
        &self,
        metrics: &openraft::RaftMetrics<u64, crate::types::PeerNode>,
        id: u64,
        request: &PeerRequest,
    ) -> Result<(), String> {
        let membership = metrics.membership_config.membership();
        let Some(node) = membership.get_node(&id) else {
            return Err("not in the membership".into());
        };
        let sent = AtomicBool::new(false);
        match self.asker.call(&node.raft_addr, request, &sent).await {
            Ok(PeerResponse::HandOver(answer)) => answer,
            Ok(_) => Err("answered out of kind".into()),
            Err(crate::forward::ForwardFailure::NotSent(error)) => Err(error.to_string()),
            Err(crate::forward::ForwardFailure::NoAnswer(detail)) => Err(detail),
        }
    }
}

/// As a voter asked by `leader` to take over in `term`: waits until the
/// leader has been quiet for its lease and this node holds its last entry,
/// then stands for election, once. Gives up after `HAND_OVER_BOUND_LEASES`
/// leases, or as soon as the term or leader changes (someone was elected).
pub(crate) async fn elect_when_quiet(
    node_id: u64,
    raft: Raft,
    handoff: Arc<HandOff>,
    leader: u64,
    term: u64,
    last_log_index: Option<u64>,
) {
    let deadline = tokio::time::Instant::now() + handoff.lease * HAND_OVER_BOUND_LEASES;
    loop {
        if tokio::time::Instant::now() >= deadline {
            tracing::info!(
                node_id,
                leader,
                "asked to take over, but the leader did not go quiet in time"
            );
            return;
        }
        let (current_term, current_leader, state, last) = {
            let metrics = raft.metrics();
            let metrics = metrics.borrow();
            (
                metrics.current_term,
                metrics.current_leader,
                metrics.state,
                metrics.last_log_index,
            )
        };
        if current_term != term || current_leader != Some(leader) || state != ServerState::Follower
        {
            return;
        }
        let wait =
            wait_before_electing(handoff.since_leader_message(), handoff.lease, handoff.tick);
        if wait.is_zero() && last >= last_log_index {
            tracing::info!(
                node_id,
                leader,
                term,
                "taking over from a leader short of disk space: standing for election"
            );
            if let Err(error) = raft.trigger().elect().await {
                tracing::warn!(node_id, %error, "cannot stand for election");
            }
            return;
        }
        tokio::time::sleep(wait.max(handoff.tick)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_caught_up_voter_is_asked_first_never_the_leader() {
        let matched = BTreeMap::from([(1, Some(90)), (2, Some(100)), (3, Some(100)), (4, None)]);
        assert_eq!(successors(1, &[1, 2, 3, 4], &matched), vec![2, 3, 4]);
        assert_eq!(successors(3, &[1, 2, 3, 4], &matched), vec![2, 1, 4]);
        // A voter the leader knows nothing of yet comes last; a learner never.
        assert_eq!(successors(2, &[2, 5, 1], &matched), vec![1, 5]);
        assert_eq!(successors(1, &[1], &matched), Vec::<u64>::new());
    }

    #[test]
    fn a_full_leader_starts_once_and_ends_when_leadership_moves_or_space_returns() {
        let bound = 1800;
        // Leading with room, or following while full: nothing to do.
        assert_eq!(step(Phase::Idle, 0, true, false, bound), Step::Nothing);
        assert_eq!(step(Phase::Idle, 0, false, true, bound), Step::Nothing);
        assert_eq!(step(Phase::Idle, 0, true, true, bound), Step::Start);
        let handing = Phase::HandingOver {
            to: 2,
            since_ms: 100,
        };
        assert_eq!(step(handing, 500, true, true, bound), Step::Nothing);
        assert_eq!(step(handing, 500, false, true, bound), Step::Done);
        assert_eq!(step(handing, 500, true, false, bound), Step::Cancel);
        // Leadership gone counts even past the bound.
        assert_eq!(step(handing, 100 + bound, false, true, bound), Step::Done);
        assert_eq!(step(handing, 100 + bound, true, true, bound), Step::GiveUp);
        assert_eq!(step(handing, 99 + bound, true, true, bound), Step::Nothing);
    }

    #[test]
    fn a_leader_resting_after_a_failed_hand_over_tries_again_only_after_the_rest() {
        let resting = Phase::Resting { until_ms: 5000 };
        assert_eq!(step(resting, 4999, true, true, 1800), Step::Nothing);
        assert_eq!(step(resting, 5000, true, true, 1800), Step::Start);
        assert_eq!(step(resting, 5000, true, false, 1800), Step::Nothing);
        assert_eq!(step(resting, 5000, false, true, 1800), Step::Nothing);
    }

    #[test]
    fn a_full_node_stands_for_election_only_once_no_leader_is_heard() {
        let quiet = Duration::from_millis(2400);
        assert!(stands_for_election(false, Some(Duration::ZERO), quiet));
        assert!(!stands_for_election(
            true,
            Some(Duration::from_millis(100)),
            quiet
        ));
        assert!(!stands_for_election(
            true,
            Some(Duration::from_millis(2399)),
            quiet
        ));
        assert!(stands_for_election(true, Some(quiet), quiet));
        // Never heard from a leader (a new cluster, a restart): it stands.
        assert!(stands_for_election(true, None, quiet));
    }

    #[test]
    fn the_new_leader_stands_once_the_lease_and_a_margin_have_passed() {
        let lease = Duration::from_millis(600);
        let margin = Duration::from_millis(50);
        assert_eq!(
            wait_before_electing(Some(Duration::from_millis(100)), lease, margin),
            Duration::from_millis(550)
        );
        assert_eq!(
            wait_before_electing(Some(Duration::from_millis(650)), lease, margin),
            Duration::ZERO
        );
        assert_eq!(wait_before_electing(None, lease, margin), Duration::ZERO);
    }
}
