//! The deterministic state machine: `apply` turns one committed proposal into
//! table writes and an outcome. It reads no clock and draws no randomness;
//! everything variable came in with the proposal.

use crate::command::{Outcome, Proposal};
use crate::error::StorageError;
use crate::kv::KvWrite;

/// Applies the proposal committed at `log_index`. A domain failure is an
/// `Outcome::Failed` and leaves the tables as they were; an `Err` means the
/// storage broke and the node must stop.
pub fn apply(
    kv: &mut impl KvWrite,
    log_index: u64,
    proposal: &Proposal,
) -> Result<Outcome, StorageError> {
    let _ = (kv, log_index, proposal);
    todo!()
}
