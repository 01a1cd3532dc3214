//! The stateless rules of a proposal, checked in one place.
//!
//! `Proposal::check` needs nothing but the proposal: its rules depend only on
//! the command and on the limits carried in `Meta`. An adapter calls it before
//! proposing, to refuse early without a round through the Raft log; `apply`
//! calls it again and is authoritative, because a log entry may come from a
//! node whose adapter checked differently (or not at all).

use crate::command::{Command, Meta, Outcome, Proposal, WriteOp};
use crate::error::CoreError;
use crate::limits::Limits;

/// The one wording of the empty-transaction refusal.
pub const EMPTY_TXN_REASON: &str = "a transaction needs at least one operation";

/// Why a proposal was refused; `op_index` names the operation of a
/// transaction at fault, `None` when the proposal as a whole is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub op_index: Option<u32>,
    pub error: CoreError,
}

impl Refusal {
    /// The refusal as the answer `apply` gives.
    pub fn into_outcome(self) -> Outcome {
        Outcome::Failed {
            op_index: self.op_index,
            error: self.error,
        }
    }

    /// The refusal attributed to operation `index` of a transaction, unless
    /// it already names one.
    pub fn at_op(self, index: usize) -> Refusal {
        Refusal {
            op_index: self.op_index.or(Some(op_index(index))),
            error: self.error,
        }
    }
}

impl From<CoreError> for Refusal {
    fn from(error: CoreError) -> Refusal {
        Refusal {
            op_index: None,
            error,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.op_index {
            Some(index) => write!(f, "operation {index}: {}", self.error),
            None => self.error.fmt(f),
        }
    }
}

/// An operation's index as the `u32` outcomes carry. `txn_ops_max` keeps
/// indexes small; saturating instead of wrapping keeps a bad limit from
/// naming the wrong operation.
pub(crate) fn op_index(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

impl Proposal {
    /// Checks every rule that needs no state: label lengths, the shape of a
    /// transaction, content sizes, path limits, and the per-operation rules
    /// that hold whatever the files contain.
    pub fn check(&self) -> Result<(), Refusal> {
        let limits = &self.meta.limits;
        check_labels(&self.meta)?;
        match &self.command {
            // A `StoreName` is valid by construction (parse or deserialize)
            // and its length bound is a constant, not a limit.
            Command::CreateStore { .. } | Command::DeleteStore { .. } => Ok(()),
            Command::Txn { ops, .. } => check_txn(ops, limits),
        }
    }
}

fn check_labels(meta: &Meta) -> Result<(), CoreError> {
    let labels = [
        Some(meta.agent.as_str()),
        Some(meta.session.as_str()),
        meta.idempotency_key.as_deref(),
    ];
    for label in labels.into_iter().flatten() {
        let bytes = label.len() as u64;
        if bytes > meta.limits.label_bytes_max {
            return Err(CoreError::limit(
                "label_bytes_max",
                meta.limits.label_bytes_max,
                bytes,
            ));
        }
    }
    Ok(())
}

fn check_txn(ops: &[WriteOp], limits: &Limits) -> Result<(), Refusal> {
    if ops.is_empty() {
        return Err(CoreError::invalid_request(EMPTY_TXN_REASON).into());
    }
    let count = ops.len() as u64;
    if count > limits.txn_ops_max {
        return Err(CoreError::limit("txn_ops_max", limits.txn_ops_max, count).into());
    }
    for (index, op) in ops.iter().enumerate() {
        check_op(op, limits).map_err(|error| Refusal::from(error).at_op(index))?;
    }
    Ok(())
}

fn check_op(op: &WriteOp, limits: &Limits) -> Result<(), CoreError> {
    match op {
        WriteOp::Write { path, content, .. } => {
            path.check_limits(limits)?;
            let bytes = content.len() as u64;
            if bytes > limits.file_bytes_max {
                return Err(CoreError::limit(
                    "file_bytes_max",
                    limits.file_bytes_max,
                    bytes,
                ));
            }
            Ok(())
        }
        WriteOp::Delete { path, .. } | WriteOp::Insert { path, .. } => path.check_limits(limits),
        WriteOp::Rename { from, to, .. } => {
            from.check_limits(limits)?;
            to.check_limits(limits)?;
            if from == to {
                return Err(CoreError::invalid_request(
                    "rename needs two different paths",
                ));
            }
            Ok(())
        }
        WriteOp::StrReplace { path, old, .. } => {
            path.check_limits(limits)?;
            if old.is_empty() {
                return Err(CoreError::invalid_request(
                    "str_replace needs non-empty old text",
                ));
            }
            Ok(())
        }
    }
}
