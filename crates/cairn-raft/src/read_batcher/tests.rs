//! The batcher driven by hand, poll by poll, with rounds that end only
//! when the test releases them: which round answers which read.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;

use futures::poll;
use tokio::sync::watch;

use super::ReadBatcher;
use crate::NodeError;

type Answer = Result<u64, NodeError>;

/// Rounds numbered from 1 in the order they start; round `n` ends once
/// `release(n)` was called and answers `n` (or fails, if told to).
struct Rounds {
    started: AtomicU64,
    released: watch::Sender<u64>,
    failing: AtomicU64,
}

impl Rounds {
    fn new() -> Rounds {
        Rounds {
            started: AtomicU64::new(0),
            released: watch::Sender::new(0),
            failing: AtomicU64::new(0),
        }
    }

    fn started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    fn release(&self, round: u64) {
        self.released.send_replace(round);
    }

    async fn round(&self) -> Answer {
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let mut released = self.released.subscribe();
        released
            .wait_for(|&released| released >= number)
            .await
            .unwrap();
        if self.failing.load(Ordering::SeqCst) == number {
            return Err(NodeError::Unavailable(format!("round {number} failed")));
        }
        Ok(number)
    }
}

/// One read; a function, so that every read has the same future type.
fn read<'a>(
    batcher: &'a ReadBatcher<Answer>,
    rounds: &'a Rounds,
) -> impl Future<Output = Result<Answer, NodeError>> + 'a {
    batcher.run(move || rounds.round())
}

fn answered_by(poll: Poll<Result<Answer, NodeError>>) -> u64 {
    match poll {
        Poll::Ready(Ok(Ok(round))) => round,
        Poll::Ready(other) => panic!("expected an answer, got {other:?}"),
        Poll::Pending => panic!("expected an answer, still waiting"),
    }
}

#[tokio::test]
async fn a_read_arriving_during_a_round_waits_for_the_next_one() {
    let batcher = ReadBatcher::<Answer>::new(16);
    let rounds = Rounds::new();

    let mut first = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut first).is_pending());
    assert_eq!(rounds.started(), 1, "the first read starts a round at once");

    let mut second = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut second).is_pending());
    assert_eq!(rounds.started(), 1, "a read during a round starts none");

    rounds.release(1);
    assert_eq!(answered_by(poll!(&mut first)), 1);
    assert!(
        poll!(&mut second).is_pending(),
        "round 1 started before the second read arrived: it must not answer it"
    );
    assert_eq!(rounds.started(), 2, "the second read runs the next round");

    rounds.release(2);
    assert_eq!(answered_by(poll!(&mut second)), 2);

    // Nothing in flight any more: the next read starts a round at once.
    let mut third = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut third).is_pending());
    assert_eq!(rounds.started(), 3);
    rounds.release(3);
    assert_eq!(answered_by(poll!(&mut third)), 3);
}

#[tokio::test]
async fn reads_queued_during_a_round_share_the_next_round() {
    let batcher = ReadBatcher::<Answer>::new(16);
    let rounds = Rounds::new();

    let mut first = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut first).is_pending());
    let mut queued = [
        Box::pin(read(&batcher, &rounds)),
        Box::pin(read(&batcher, &rounds)),
        Box::pin(read(&batcher, &rounds)),
    ];
    for read in &mut queued {
        assert!(poll!(read.as_mut()).is_pending());
    }

    rounds.release(1);
    assert_eq!(answered_by(poll!(&mut first)), 1);
    for read in &mut queued {
        assert!(poll!(read.as_mut()).is_pending());
    }
    assert_eq!(rounds.started(), 2, "three queued reads, one round");

    rounds.release(2);
    for read in &mut queued {
        assert_eq!(answered_by(poll!(read.as_mut())), 2);
    }
    assert_eq!(rounds.started(), 2);
}

#[tokio::test]
async fn a_failed_round_fails_every_read_of_its_batch_alike() {
    let batcher = ReadBatcher::<Answer>::new(16);
    let rounds = Rounds::new();
    rounds.failing.store(2, Ordering::SeqCst);

    let mut first = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut first).is_pending());
    let mut second = pin!(read(&batcher, &rounds));
    let mut third = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut second).is_pending());
    assert!(poll!(&mut third).is_pending());
    rounds.release(2);
    assert_eq!(answered_by(poll!(&mut first)), 1);
    for read in [&mut second, &mut third] {
        match poll!(read) {
            Poll::Ready(Ok(Err(NodeError::Unavailable(message)))) => {
                assert_eq!(message, "round 2 failed");
            }
            other => panic!("expected round 2's error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_runner_dropped_mid_round_hands_its_reads_to_a_new_round() {
    let batcher = ReadBatcher::<Answer>::new(16);
    let rounds = Rounds::new();

    let mut first = Box::pin(read(&batcher, &rounds));
    assert!(poll!(first.as_mut()).is_pending());
    let mut second = Box::pin(read(&batcher, &rounds));
    assert!(poll!(second.as_mut()).is_pending());
    // The second read now runs round 2 for itself and the third.
    rounds.release(1);
    assert_eq!(answered_by(poll!(first.as_mut())), 1);
    let mut third = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut third).is_pending());
    assert!(poll!(second.as_mut()).is_pending());
    assert!(poll!(&mut third).is_pending());
    assert_eq!(rounds.started(), 2);
    drop(first);

    // The second read's caller gives up mid-round (a request timeout).
    drop(second);
    assert!(
        poll!(&mut third).is_pending(),
        "the third read takes the turn"
    );
    assert_eq!(rounds.started(), 3, "a new round, not the abandoned one");
    rounds.release(3);
    assert_eq!(answered_by(poll!(&mut third)), 3);
}

#[tokio::test]
async fn a_read_handed_the_turn_and_dropped_passes_it_on() {
    let batcher = ReadBatcher::<Answer>::new(16);
    let rounds = Rounds::new();

    let mut first = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut first).is_pending());
    let mut second = Box::pin(read(&batcher, &rounds));
    let mut third = pin!(read(&batcher, &rounds));
    assert!(poll!(second.as_mut()).is_pending());
    assert!(poll!(&mut third).is_pending());

    rounds.release(1);
    assert_eq!(answered_by(poll!(&mut first)), 1);
    // The turn went to the second read, which is dropped before it runs.
    drop(second);
    assert!(poll!(&mut third).is_pending());
    assert_eq!(rounds.started(), 2, "the third read runs the next round");
    rounds.release(2);
    assert_eq!(answered_by(poll!(&mut third)), 2);
}

#[tokio::test]
async fn a_full_queue_refuses_reads_as_unavailable() {
    let batcher = ReadBatcher::<Answer>::new(2);
    let rounds = Rounds::new();

    let mut running = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut running).is_pending());
    let mut queued = [
        Box::pin(read(&batcher, &rounds)),
        Box::pin(read(&batcher, &rounds)),
    ];
    for read in &mut queued {
        assert!(poll!(read.as_mut()).is_pending());
    }
    let refused = read(&batcher, &rounds).await;
    assert!(
        matches!(refused, Err(NodeError::Unavailable(_))),
        "{refused:?}"
    );

    // A caller that gave up frees its place.
    let [first_queued, mut second_queued] = queued;
    drop(first_queued);
    let mut admitted = pin!(read(&batcher, &rounds));
    assert!(poll!(&mut admitted).is_pending());
    rounds.release(2);
    assert_eq!(answered_by(poll!(&mut running)), 1);
    assert_eq!(answered_by(poll!(second_queued.as_mut())), 2);
    assert_eq!(answered_by(poll!(&mut admitted)), 2);
}
