//! `ReadBatcher`: linearizable reads that arrive together share one
//! read-index round (a quorum heartbeat on the leader, one forwarded
//! `ReadIndex` request on a follower) instead of paying for one each.
//!
//! The rule that keeps reads linearizable: a read is answered only by a round
//! that started after the read arrived. A round already in flight may have
//! taken its read index before a write this reader saw acknowledged, so a
//! read arriving while a round is in flight waits for the next round. At most
//! one round is in flight per batcher; every read that queued meanwhile is
//! served by the next one.
//!
//! No task of its own runs the rounds (a task would outlive the node's
//! callers and need the node to stay alive): the first read that finds no
//! round in flight runs one itself, for every read queued at that moment, and
//! when the round ends hands the turn to the oldest read that queued during
//! it. A runner whose caller gave up (its future dropped mid-round) puts the
//! reads of its batch back at the head of the queue and hands the turn on, so
//! no read waits for a round that nobody runs.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::NodeError;

/// Most reads waiting for the next round, per batcher. Far above the
/// number of requests one node serves at once; past it a read is refused
/// as unavailable (retryable) rather than queued without limit.
pub(crate) const READS_WAITING_MAX: usize = 4096;

/// What a queued read is told when its wait ends.
enum Turn<T> {
    /// A round that started after the read queued ended with this answer.
    Answered(T),
    /// The round in flight ended and this read is the oldest waiting: it
    /// runs the next round, for itself and every read queued by then.
    RunRound,
}

struct Queue<T> {
    round_in_flight: bool,
    /// Reads waiting for a round that has not started yet, oldest first.
    waiting: VecDeque<oneshot::Sender<Turn<T>>>,
}

/// Shares read-index rounds among concurrent reads; see the module comment.
pub(crate) struct ReadBatcher<T> {
    queue: Mutex<Queue<T>>,
    waiting_max: usize,
}

impl<T: Clone> ReadBatcher<T> {
    pub(crate) fn new(waiting_max: usize) -> ReadBatcher<T> {
        assert!(
            waiting_max > 0,
            "a read batcher must let at least one read wait"
        );
        ReadBatcher {
            queue: Mutex::new(Queue {
                round_in_flight: false,
                waiting: VecDeque::new(),
            }),
            waiting_max,
        }
    }

    /// The answer of a round that started after this call. `round` runs
    /// only if this read's turn comes to run one; otherwise another read's
    /// round serves it. Every read of a batch gets the same answer, errors
    /// included. `Unavailable` when too many reads are waiting already.
    pub(crate) async fn run<F, Fut>(&self, round: F) -> Result<T, NodeError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let Some(receiver) = self.join()? else {
            return Ok(self.run_round(round).await);
        };
        let mut waiting = WaitingRead {
            batcher: self,
            receiver,
        };
        match (&mut waiting.receiver).await {
            Ok(Turn::Answered(answer)) => Ok(answer),
            Ok(Turn::RunRound) => Ok(self.run_round(round).await),
            // Senders are answered, handed the turn, or put back in the
            // queue, which lives as long as `self`: never dropped unanswered.
            Err(_) => Err(NodeError::Unavailable(
                "a linearizable read lost its place in the read queue".into(),
            )),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        // The queue is consistent between statements: a panic elsewhere
        // while it was held leaves nothing half-done.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the turn if no round is in flight (`None`), else queues this
    /// read for the next round and answers where its turn will arrive.
    fn join(&self) -> Result<Option<oneshot::Receiver<Turn<T>>>, NodeError> {
        let mut queue = self.lock();
        if !queue.round_in_flight {
            assert!(queue.waiting.is_empty(), "reads wait only behind a round");
            queue.round_in_flight = true;
            return Ok(None);
        }
        if queue.waiting.len() >= self.waiting_max {
            // Callers that gave up still hold places; free those first.
            queue.waiting.retain(|sender| !sender.is_closed());
        }
        if queue.waiting.len() >= self.waiting_max {
            return Err(NodeError::Unavailable(format!(
                "{} linearizable reads are already waiting",
                queue.waiting.len()
            )));
        }
        let (sender, receiver) = oneshot::channel();
        queue.waiting.push_back(sender);
        Ok(Some(receiver))
    }

    /// Runs one round for this read and every read queued now, answers
    /// them all, and hands the turn on (also if this future is dropped).
    async fn run_round<F, Fut>(&self, round: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let mut batch = RoundInFlight {
            batcher: self,
            reads: std::mem::take(&mut self.lock().waiting),
        };
        let answer = round().await;
        for read in batch.reads.drain(..) {
            // A read whose caller gave up has nobody to tell.
            let _ = read.send(Turn::Answered(answer.clone()));
        }
        answer
    }

    /// After a round: the oldest read still waiting runs the next one; with
    /// none waiting, no round is in flight.
    fn hand_on_turn(&self, queue: &mut Queue<T>) {
        assert!(
            queue.round_in_flight,
            "only a round's runner hands on the turn"
        );
        while let Some(next) = queue.waiting.pop_front() {
            if next.send(Turn::RunRound).is_ok() {
                return;
            }
        }
        queue.round_in_flight = false;
    }
}

/// The batch of a round in flight; dropping it ends the round.
struct RoundInFlight<'a, T: Clone> {
    batcher: &'a ReadBatcher<T>,
    /// Reads not answered yet: all of them until the round ends.
    reads: VecDeque<oneshot::Sender<Turn<T>>>,
}

impl<T: Clone> Drop for RoundInFlight<'_, T> {
    fn drop(&mut self) {
        let mut queue = self.batcher.lock();
        // Left only if the runner was dropped mid-round: those reads queued
        // before a round that never ended, so any later round may serve them.
        while let Some(read) = self.reads.pop_back() {
            queue.waiting.push_front(read);
        }
        self.batcher.hand_on_turn(&mut queue);
    }
}

/// A read queued for the next round; dropping it gives up its place.
struct WaitingRead<'a, T: Clone> {
    batcher: &'a ReadBatcher<T>,
    receiver: oneshot::Receiver<Turn<T>>,
}

impl<T: Clone> Drop for WaitingRead<'_, T> {
    fn drop(&mut self) {
        // Closing first makes any later send fail, so the turn cannot be
        // handed to this read after the check below and then be lost.
        self.receiver.close();
        if let Ok(Turn::RunRound) = self.receiver.try_recv() {
            let mut queue = self.batcher.lock();
            self.batcher.hand_on_turn(&mut queue);
        }
    }
}

#[cfg(test)]
mod tests;
