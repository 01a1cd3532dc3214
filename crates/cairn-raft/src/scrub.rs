//! `Scrubber`: after a redaction, takes the removed bytes off this node's
//! disk. A redaction's `apply` rewrites the state machine's rows, but the
//! removed bytes are still in (1) the Raft log entries that wrote them,
//! (2) a snapshot being sent or received (it ends with its transfer), and
//! (3) the content file (`state.redb.content-N`, which keeps overwritten
//! and deleted content until it is rewritten) and pages redb freed in both
//! databases. So once
//! the state machine applied a redaction at log index `I` (or installed a
//! snapshot, which replaced the whole state and may be a redaction this node
//! never applied, unless the node held nothing before it:
//! `StateMachine::holds_nothing_older`), the scrubber, in order:
//!
//! 1. has openraft build a snapshot covering `I` (`trigger().snapshot()`),
//!    which makes the state durable up to it (no snapshot file is kept);
//! 2. has openraft purge the log up to `I` (`trigger().purge_log(I)`): a
//!    leader purges once no replication to a follower is using those entries
//!    (a follower behind the purge then gets the snapshot instead);
//! 3. rewrites the state (its content file, then `state.redb`) and the Raft
//!    log (`StateDb::rewrite`, `LogDb::rewrite`: a new segment holding the
//!    live entries, the older ones removed): fresh files holding only the
//!    live records, so no freed page or purged entry keeps the removed bytes.
//!    They run on `IoMode::background` (seconds at a million files); the
//!    state's keeps its writes waiting meanwhile, not its reads.
//!
//! The state machine also asks for a pass once the content file holds more
//! dead content than live (`StateDb::compaction_due`): the same rewrite is
//! what gives that space back.
//!
//! Each wait is bounded and retried; the scrubber works on the highest index
//! signalled, so several redactions in a row cost one pass.
//!
//! A pass writes copies of both files, so it starts only
//! while the disk is above the replication floor (`StorageRoom`); below it
//! the scrubber waits for room (the removed bytes stay on this node's disk
//! until then, and no read serves them).

use std::sync::Arc;
use std::time::Duration;

use cairn_storage::{LogDb, StateDb};
use openraft::error::Fatal;
use openraft::metrics::WaitError;
use tokio::sync::watch;

use crate::StorageRoom;
use crate::types::Raft;

/// How long one wait for a snapshot or a purge may take before it is
/// triggered again.
const STEP_WAIT_MS: u64 = 2_000;
/// How often the scrubber looks whether purged entries are gone from the log.
const REMOVAL_POLL_MS: u64 = 50;
/// How many times a step is triggered before the pass gives up (it is tried
/// again at the next signal, or at the next start).
const STEP_ATTEMPTS_MAX: u32 = 150;

/// The state machine's side: signals that bytes up to a log index must go.
#[derive(Clone, Debug)]
pub struct ScrubSignal(Arc<watch::Sender<u64>>);

impl ScrubSignal {
    /// Asks for a scrub of everything up to log index `index`.
    pub fn request(&self, index: u64) {
        self.0.send_if_modified(|wanted| {
            let raise = index > *wanted;
            if raise {
                *wanted = index;
            }
            raise
        });
    }

    /// A signal nobody listens to (tests, the conformance suite).
    pub fn detached() -> ScrubSignal {
        ScrubSignal(Arc::new(watch::channel(0).0))
    }
}

/// A signal and the receiver the scrubber task listens on.
pub fn channel() -> (ScrubSignal, watch::Receiver<u64>) {
    let (sender, receiver) = watch::channel(0);
    (ScrubSignal(Arc::new(sender)), receiver)
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Snapshot,
    Purge,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Snapshot => "snapshot",
            Step::Purge => "purge",
        }
    }
}

pub struct Scrubber {
    pub node_id: u64,
    pub raft: Raft,
    pub state: Arc<StateDb>,
    pub log: Arc<LogDb>,
    /// Whether the disk has room above the replication floor (none: always).
    pub room: Option<Arc<dyn StorageRoom>>,
    /// Where the rewrites run: they copy the whole state without yielding.
    pub io: crate::IoMode,
}

#[derive(Debug, thiserror::Error)]
enum ScrubError {
    #[error("openraft stopped: {0}")]
    Fatal(#[from] Fatal<u64>),
    #[error("{what} did not reach log index {index} after {attempts} attempts")]
    Stalled {
        what: &'static str,
        index: u64,
        attempts: u32,
    },
    #[error("openraft is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Storage(#[from] cairn_core::StorageError),
}

impl Scrubber {
    /// Runs until the signal's sender is gone (the node stopped).
    pub async fn run(self, mut wanted: watch::Receiver<u64>) {
        let mut done = 0u64;
        loop {
            if wanted.changed().await.is_err() {
                return;
            }
            let index = *wanted.borrow_and_update();
            if index <= done {
                continue;
            }
            match self.scrub(index).await {
                Ok(()) => done = index,
                Err(ScrubError::ShuttingDown) => return,
                Err(error) => {
                    tracing::error!(node_id = self.node_id, log_index = index, %error, "scrub after redaction failed");
                }
            }
        }
    }

    #[tracing::instrument(name = "scrub", skip_all, fields(node_id = self.node_id, log_index = index))]
    async fn scrub(&self, index: u64) -> Result<(), ScrubError> {
        self.wait_for_room().await;
        self.step(Step::Snapshot, index, |metrics| {
            metrics.snapshot.is_some_and(|id| id.index >= index)
        })
        .await?;
        self.step(Step::Purge, index, |metrics| {
            metrics.purged.is_some_and(|id| id.index >= index)
        })
        .await?;
        self.wait_for_removal(index).await?;
        let (state, log) = (self.state.clone(), self.log.clone());
        let (state, log) = self
            .io
            .background("scrub-rewrite", move || {
                Ok::<_, cairn_core::StorageError>((state.rewrite()?, log.rewrite()?))
            })
            .await
            .map_err(cairn_core::StorageError::new)??;
        tracing::info!(
            ?state,
            ?log,
            "scrubbed: snapshot built, log purged, files rewritten"
        );
        Ok(())
    }

    /// Returns once the log holds no entry at or below `index`. A purge is
    /// recorded first and its entries removed afterwards, a step at a time
    /// (`log_store.rs`), and the rewrite copies whatever entries are left.
    async fn wait_for_removal(&self, index: u64) -> Result<(), ScrubError> {
        let polls = STEP_ATTEMPTS_MAX * (STEP_WAIT_MS / REMOVAL_POLL_MS) as u32;
        for _ in 0..polls {
            if self.log.first_index()?.is_none_or(|first| first > index) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(REMOVAL_POLL_MS)).await;
        }
        Err(ScrubError::Stalled {
            what: "removing purged log entries",
            index,
            attempts: polls,
        })
    }

    /// Returns once the disk is above the replication floor, saying once
    /// why it waits.
    async fn wait_for_room(&self) {
        let Some(room) = &self.room else { return };
        let mut said = false;
        while let Err(why) = room.admit_replication(0) {
            if !said {
                tracing::info!(%why, "the disk is below the replication floor: the scrub waits for room");
                said = true;
            }
            tokio::time::sleep(Duration::from_millis(STEP_WAIT_MS)).await;
        }
    }

    /// Triggers `step` until the metrics show it reached `index`.
    async fn step(
        &self,
        step: Step,
        index: u64,
        reached: impl Fn(&openraft::RaftMetrics<u64, crate::types::PeerNode>) -> bool + Send + Sync,
    ) -> Result<(), ScrubError> {
        for _ in 0..STEP_ATTEMPTS_MAX {
            if reached(&self.raft.metrics().borrow()) {
                return Ok(());
            }
            match step {
                Step::Snapshot => self.raft.trigger().snapshot().await?,
                Step::Purge => self.raft.trigger().purge_log(index).await?,
            }
            let wait = self
                .raft
                .wait(Some(Duration::from_millis(STEP_WAIT_MS)))
                .metrics(|metrics| reached(metrics), step.name())
                .await;
            match wait {
                Ok(_) => return Ok(()),
                Err(WaitError::Timeout(..)) => continue,
                Err(WaitError::ShuttingDown) => return Err(ScrubError::ShuttingDown),
            }
        }
        Err(ScrubError::Stalled {
            what: step.name(),
            index,
            attempts: STEP_ATTEMPTS_MAX,
        })
    }
}
