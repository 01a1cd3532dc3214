//! The deterministic state machine: `apply` turns one committed proposal into
//! table writes and an outcome. It reads no clock and draws no randomness;
//! everything variable came in with the proposal.
//!
//! A transaction is first worked out in a `TxnWork` (reads go through to the
//! tables, writes are staged in memory); only when every operation succeeded
//! are the staged changes written, all at one new store revision. So a failed
//! operation leaves the tables exactly as they were.
//!
//! Files by topic: `idempotency` (remembered outcomes and their expiry),
//! `store` (create and delete), `txn` (a transaction from staging to its
//! writes), `work` (`TxnWork`, one method per `WriteOp` variant), `text`
//! (line and occurrence arithmetic), `audit` (the audit record).

mod audit;
mod idempotency;
mod store;
mod text;
mod txn;
mod work;

use crate::check::Refusal;
use crate::codec::{self, META_FORMAT_VERSION};
use crate::command::{Command, Outcome, Proposal};
use crate::error::{CoreError, StorageError};
use crate::kv::{KvWrite, Table};

pub use idempotency::IDEMPOTENCY_PRUNE_BATCH_MAX;
pub(crate) use store::load_store;
pub use text::{count_occurrences, insert_at_line, line_count};

/// Why applying stopped early: a refusal is an answer to the client (it
/// becomes `Outcome::Failed` and nothing is written); a storage failure means
/// the node cannot go on.
#[derive(Debug)]
enum ApplyError {
    Refused(Refusal),
    Storage(StorageError),
}

type ApplyResult<T> = Result<T, ApplyError>;

impl From<StorageError> for ApplyError {
    fn from(error: StorageError) -> ApplyError {
        ApplyError::Storage(error)
    }
}

impl From<CoreError> for ApplyError {
    fn from(error: CoreError) -> ApplyError {
        ApplyError::Refused(error.into())
    }
}

impl From<Refusal> for ApplyError {
    fn from(refusal: Refusal) -> ApplyError {
        ApplyError::Refused(refusal)
    }
}

impl ApplyError {
    /// Attributes a refusal to operation `index` of a transaction.
    fn at_op(self, index: usize) -> ApplyError {
        match self {
            ApplyError::Refused(refusal) => ApplyError::Refused(refusal.at_op(index)),
            storage @ ApplyError::Storage(_) => storage,
        }
    }
}

/// Applies the proposal committed at `log_index`. A domain failure is an
/// `Outcome::Failed` and leaves the tables as they were (apart from the
/// idempotency record, which remembers the failure for retries); an `Err`
/// means the storage broke and the node must stop.
pub fn apply(
    kv: &mut impl KvWrite,
    log_index: u64,
    proposal: &Proposal,
) -> Result<Outcome, StorageError> {
    check_format(kv)?;
    // Stateless refusals are not remembered under the idempotency key: the
    // same proposal is refused the same way every time it is applied.
    if let Err(refusal) = proposal.check() {
        return Ok(refusal.into_outcome());
    }
    let meta = &proposal.meta;
    idempotency::prune(kv, meta)?;
    let remembered = meta
        .idempotency_key
        .as_deref()
        .map(|key| (key, idempotency::fingerprint(&proposal.command)));
    if let Some((key, fingerprint)) = remembered
        && let Some(outcome) = idempotency::earlier_outcome(kv, key, fingerprint, meta)?
    {
        return Ok(outcome);
    }

    let outcome = match execute(kv, log_index, proposal) {
        Ok(outcome) => outcome,
        Err(ApplyError::Refused(refusal)) => refusal.into_outcome(),
        Err(ApplyError::Storage(error)) => return Err(error),
    };

    if let Some((key, fingerprint)) = remembered {
        idempotency::remember(kv, key, fingerprint, meta, &outcome)?;
    }
    Ok(outcome)
}

fn execute(kv: &mut impl KvWrite, log_index: u64, proposal: &Proposal) -> ApplyResult<Outcome> {
    let meta = &proposal.meta;
    match &proposal.command {
        Command::CreateStore { store } => store::create_store(kv, log_index, meta, store),
        Command::DeleteStore { store } => store::delete_store(kv, store),
        Command::Txn { store, ops } => txn::txn(kv, log_index, meta, store, ops),
    }
}

/// Writes the format version into a fresh state, and refuses a state written
/// by a different format. (`cairn-storage` refuses such a file when it opens
/// it; this check keeps every `KvWrite`, `MemoryKv` included, honest.)
fn check_format(kv: &mut impl KvWrite) -> Result<(), StorageError> {
    match kv.get(Table::Meta, META_FORMAT_VERSION)? {
        None => kv.put(
            Table::Meta,
            META_FORMAT_VERSION,
            &codec::encode(&codec::FORMAT_VERSION),
        ),
        Some(bytes) => {
            let found: u32 = codec::decode(&bytes)?;
            if found == codec::FORMAT_VERSION {
                Ok(())
            } else {
                Err(StorageError::corrupt(format!(
                    "state format version {found}, this build reads {}",
                    codec::FORMAT_VERSION
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests;
