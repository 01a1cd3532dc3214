//! `ProposeBatcher`: the leader puts every proposal waiting at one moment
//! into one Raft entry, so one log fsync and one replication round serve
//! them all.
//!
//! Why at Cairn's level: openraft 0.9's core awaits the log flush of every
//! `client_write` before it takes the next one, and each `client_write` is
//! one entry, so one proposal per entry costs one fsync per write, in
//! series. A batch is a `Proposals` payload; the state machine applies its
//! proposals in order, each at its own position (`cairn_core::apply_entry`).
//!
//! A proposal that finds fewer than `WRITES_IN_FLIGHT_MAX` `client_write`s
//! in flight goes at once, alone or with whatever queued before it (a lone
//! client waits for nothing). Batches form only from proposals that
//! arrive while the writes in flight are being appended: when one ends, the
//! task that ran it takes everything queued by then (up to
//! `PROPOSALS_PER_ENTRY_MAX` proposals and `ENTRY_PROPOSAL_BYTES_MAX`
//! bytes; a larger proposal goes alone) and writes it as the next entry.
//! Every proposal gets its own outcome; an error of the `client_write`
//! (not the leader, stopped) goes to every proposal of that entry, as it
//! would have to each alone. Proposals leave the queue in arrival order.
//!
//! Each `client_write` runs on a task of its own (tokio's, so the
//! simulation runs it too): a caller that gives up must not strand the
//! other proposals of its entry, and an entry handed to openraft cannot be
//! taken back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_core::{Outcome, Proposal, Proposals, codec};
use openraft::error::{Fatal, RaftError};
use tokio::sync::oneshot;

use crate::NodeError;
use crate::error::from_write_error;
use crate::types::Raft;

/// Most proposals in one entry. Well below what a position can number
/// (`cairn_core::PROPOSALS_PER_ENTRY_MAX`).
pub(crate) const PROPOSALS_PER_ENTRY_MAX: usize = 1024;
const _: () = assert!(PROPOSALS_PER_ENTRY_MAX <= cairn_core::PROPOSALS_PER_ENTRY_MAX);

/// Most encoded proposal bytes in one entry of several proposals: an entry
/// stays well inside a replication batch (`REPLICATION_BATCH_BYTES_MAX`,
/// 1 MiB) and a peer frame. A single proposal larger than this goes alone,
/// as it would without batching (the request limits bound it).
pub(crate) const ENTRY_PROPOSAL_BYTES_MAX: usize = 256 * 1024;
const _: () = assert!(ENTRY_PROPOSAL_BYTES_MAX <= crate::log_store::REPLICATION_BATCH_BYTES_MAX);

/// `client_write`s in flight at once. One: with the log's batch costing one
/// write and one fdatasync, a node's CPU, not the disk, bounds writes under
/// load, and each entry costs CPU on every node (its append, replication,
/// and a commit of the state machine's transaction), so fewer, larger
/// entries serve more proposals. Measured against 2 (3 nodes, 2 cores):
/// +15% CAS at 16 clients, +8% at 64, +7% at 256, the same at one
/// (docs/benchmarks.md, session 14). Two won when the log was a redb
/// database and its commit, not the CPU, was the bound.
pub(crate) const WRITES_IN_FLIGHT_MAX: usize = 1;

/// Most proposals waiting for an entry. Past it a proposal is refused as
/// unavailable (nothing appended, retryable) rather than queued without limit.
pub(crate) const PROPOSALS_WAITING_MAX: usize = 16 * 1024;

/// What a proposal's caller is told.
type Reply = oneshot::Sender<Result<Outcome, NodeError>>;

struct Waiting {
    proposal: Proposal,
    bytes: usize,
    reply: Reply,
}

struct Queue {
    waiting: VecDeque<Waiting>,
    writes_in_flight: usize,
}

/// See the module comment.
pub(crate) struct ProposeBatcher {
    queue: Mutex<Queue>,
    /// Entries this node appended through the batcher, and the proposals
    /// in them: their ratio is the mean batch (`/metrics`).
    entries: AtomicU64,
    proposals: AtomicU64,
}

/// Counts of what the batcher proposed since the node started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProposalCounts {
    /// Entries appended by `client_write` (accepted by openraft or not).
    pub entries: u64,
    /// Proposals in those entries.
    pub proposals: u64,
}

impl ProposeBatcher {
    pub(crate) fn new() -> ProposeBatcher {
        ProposeBatcher {
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                writes_in_flight: 0,
            }),
            entries: AtomicU64::new(0),
            proposals: AtomicU64::new(0),
        }
    }

    pub(crate) fn counts(&self) -> ProposalCounts {
        ProposalCounts {
            entries: self.entries.load(Ordering::Relaxed),
            proposals: self.proposals.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every statement under the lock leaves the queue consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Proposes on this node (as the leader) in the next entry and answers
    /// this proposal's outcome; `NotLeader` if this node is not the leader
    /// (nothing appended).
    pub(crate) async fn propose(
        self: &Arc<Self>,
        raft: &Raft,
        proposal: Proposal,
    ) -> Result<Outcome, NodeError> {
        let bytes = codec::encoded_len(&proposal);
        let (reply, answer) = oneshot::channel();
        let batch = {
            let mut queue = self.lock();
            if queue.waiting.len() >= PROPOSALS_WAITING_MAX {
                return Err(NodeError::Unavailable(format!(
                    "{} proposals are already waiting for the log",
                    queue.waiting.len()
                )));
            }
            queue.waiting.push_back(Waiting {
                proposal,
                bytes,
                reply,
            });
            if queue.writes_in_flight < WRITES_IN_FLIGHT_MAX {
                queue.writes_in_flight += 1;
                Some(take_batch(&mut queue.waiting))
            } else {
                None
            }
        };
        if let Some(batch) = batch {
            tokio::spawn(self.clone().write(raft.clone(), batch));
        }
        match answer.await {
            Ok(result) => result,
            // The task was dropped with the runtime (the node is going away)
            // after the entry may have been handed to openraft.
            Err(_) => Err(NodeError::OutcomeUnknown(
                "the node stopped while the write was in flight".into(),
            )),
        }
    }

    /// Writes `batch` as one entry, answers its proposals, then goes on
    /// with whatever queued meanwhile, until nothing waits.
    async fn write(self: Arc<Self>, raft: Raft, mut batch: Vec<Waiting>) {
        loop {
            let (proposals, replies): (Vec<Proposal>, Vec<Reply>) = batch
                .into_iter()
                .map(|waiting| (waiting.proposal, waiting.reply))
                .unzip();
            self.entries.fetch_add(1, Ordering::Relaxed);
            self.proposals
                .fetch_add(proposals.len() as u64, Ordering::Relaxed);
            let count = proposals.len();
            match raft.client_write(Proposals(proposals)).await {
                Ok(response) if response.data.len() == count => {
                    for (reply, outcome) in replies.into_iter().zip(response.data) {
                        // A caller that gave up has nobody to tell.
                        let _ = reply.send(Ok(outcome));
                    }
                }
                Ok(response) => {
                    let error = NodeError::Fatal(format!(
                        "an entry of {count} proposals was answered with {} outcomes",
                        response.data.len()
                    ));
                    answer_all(replies, &error);
                }
                // Stopped with the entry possibly appended: another leader may commit it.
                Err(RaftError::Fatal(Fatal::Stopped)) => answer_all(
                    replies,
                    &NodeError::OutcomeUnknown(
                        "the node stopped while the write was in flight".into(),
                    ),
                ),
                // Stopped by an error (a storage failure) with the entry perhaps
                // appended and replicated: another leader may yet commit it.
                Err(RaftError::Fatal(error)) => answer_all(
                    replies,
                    &NodeError::OutcomeUnknown(format!(
                        "Raft stopped on the leader while the write was in flight ({error})"
                    )),
                ),
                Err(error) => answer_all(replies, &from_write_error(error)),
            }
            let mut queue = self.lock();
            if queue.waiting.is_empty() {
                queue.writes_in_flight -= 1;
                return;
            }
            batch = take_batch(&mut queue.waiting);
        }
    }
}

fn answer_all(replies: Vec<Reply>, error: &NodeError) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// The oldest proposals waiting, as many as one entry takes (at least one).
fn take_batch(waiting: &mut VecDeque<Waiting>) -> Vec<Waiting> {
    let mut batch: Vec<Waiting> = Vec::new();
    let mut bytes = 0;
    while let Some(next) = waiting.front() {
        let full = batch.len() >= PROPOSALS_PER_ENTRY_MAX
            || (!batch.is_empty() && bytes + next.bytes > ENTRY_PROPOSAL_BYTES_MAX);
        if full {
            break;
        }
        bytes += next.bytes;
        batch.extend(waiting.pop_front());
    }
    assert!(
        !batch.is_empty(),
        "a batch is taken only when proposals wait"
    );
    batch
}

#[cfg(test)]
mod tests {
    use cairn_core::{Command, Limits, Meta, StoreName, StoreRef};

    use super::*;

    fn waiting(agent_bytes: usize) -> Waiting {
        let proposal = Proposal {
            meta: Meta {
                time_ms: 0,
                agent: "a".repeat(agent_bytes),
                session: String::new(),
                idempotency_key: None,
                limits: Limits::default(),
                principal: None,
                request_id: String::new(),
            },
            command: Command::CreateStore {
                store: StoreRef::new(1, StoreName::parse("notes").unwrap()),
                owner: None,
            },
        };
        let bytes = codec::encoded_len(&proposal);
        Waiting {
            proposal,
            bytes,
            reply: oneshot::channel().0,
        }
    }

    fn agents(batch: &[Waiting]) -> Vec<usize> {
        batch.iter().map(|w| w.proposal.meta.agent.len()).collect()
    }

    #[test]
    fn a_batch_takes_the_oldest_up_to_the_count_and_byte_limits() {
        let mut queue: VecDeque<Waiting> = (0..PROPOSALS_PER_ENTRY_MAX + 5)
            .map(|_| waiting(1))
            .collect();
        assert_eq!(take_batch(&mut queue).len(), PROPOSALS_PER_ENTRY_MAX);
        assert_eq!(take_batch(&mut queue).len(), 5);

        let third = ENTRY_PROPOSAL_BYTES_MAX / 3;
        let mut queue: VecDeque<Waiting> =
            [third, third, third, 7].into_iter().map(waiting).collect();
        assert_eq!(agents(&take_batch(&mut queue)), vec![third, third]);
        assert_eq!(agents(&take_batch(&mut queue)), vec![third, 7]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_proposal_over_the_byte_limit_goes_alone() {
        let big = ENTRY_PROPOSAL_BYTES_MAX + 1;
        let mut queue: VecDeque<Waiting> = [3, big, 5].into_iter().map(waiting).collect();
        assert_eq!(agents(&take_batch(&mut queue)), vec![3]);
        assert_eq!(agents(&take_batch(&mut queue)), vec![big]);
        assert_eq!(agents(&take_batch(&mut queue)), vec![5]);
    }
}
