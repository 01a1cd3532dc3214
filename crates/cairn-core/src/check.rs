//! The stateless rules of a proposal, checked in one place.
//!
//! `Proposal::check` needs nothing but the proposal: its rules depend only on
//! the command and on the limits carried in `Meta`. An adapter calls it before
//! proposing, to refuse early without a round through the Raft log; `apply`
//! calls it again and is authoritative, because a log entry may come from a
//! node whose adapter checked differently (or not at all).

use crate::command::{Command, Meta, Outcome, Proposal, TXN_MESSAGE_BYTES_MAX, WriteOp};
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
            Command::CreateStore { .. }
            | Command::DeleteStore { .. }
            | Command::CreateOrg { .. }
            | Command::CreateUser { .. }
            | Command::SetGrant { .. }
            | Command::SetStorePolicy { .. } => Ok(()),
            Command::Txn { ops, .. } | Command::Rollback { ops, .. } => check_txn(ops, limits),
            Command::TxnWithMessage { ops, message, .. } => {
                check_message(message)?;
                check_txn(ops, limits)
            }
            Command::CreateToken { id, agent, .. } => {
                check_label(id, limits)?;
                check_label(agent.as_deref().unwrap_or(""), limits)?;
                Ok(())
            }
            Command::RecordRefusal {
                operation, reason, ..
            } => {
                check_label(operation, limits)?;
                check_label(reason, limits)?;
                Ok(())
            }
            Command::RevokeToken { id } | Command::Bootstrap { token_id: id, .. } => {
                Ok(check_label(id, limits)?)
            }
            Command::Redact {
                reason, targets, ..
            } => Ok(crate::redact::check(reason, targets, limits)?),
            Command::ImportBegin { .. }
            | Command::ImportCommit { .. }
            | Command::ImportAbort { .. } => Ok(()),
            Command::ImportChunk { chunk, .. } => Ok(crate::import::check_chunk(chunk, limits)?),
        }
    }
}

fn check_labels(meta: &Meta) -> Result<(), CoreError> {
    let labels = [
        Some(meta.agent.as_str()),
        Some(meta.session.as_str()),
        meta.idempotency_key.as_deref(),
        meta.principal.as_deref(),
        Some(meta.request_id.as_str()),
    ];
    for label in labels.into_iter().flatten() {
        check_label(label, &meta.limits)?;
    }
    Ok(())
}

fn check_label(label: &str, limits: &Limits) -> Result<(), CoreError> {
    let bytes = label.len() as u64;
    if bytes > limits.label_bytes_max {
        return Err(CoreError::limit(
            "label_bytes_max",
            limits.label_bytes_max,
            bytes,
        ));
    }
    Ok(())
}

/// A transaction's message: not empty (send none instead) and at most
/// `TXN_MESSAGE_BYTES_MAX`.
fn check_message(message: &str) -> Result<(), CoreError> {
    if message.trim().is_empty() {
        return Err(CoreError::invalid_request(
            "a transaction message may not be empty; leave it out instead",
        ));
    }
    if message.len() > TXN_MESSAGE_BYTES_MAX {
        return Err(CoreError::limit(
            "txn_message_bytes_max",
            TXN_MESSAGE_BYTES_MAX as u64,
            message.len() as u64,
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Precondition;
    use crate::path::{FilePath, StoreName};

    fn path(text: &str) -> FilePath {
        FilePath::parse(text, &Limits::default()).unwrap()
    }

    fn write(at: &str, content: &str) -> WriteOp {
        WriteOp::Write {
            path: path(at),
            content: content.to_string(),
            precondition: Precondition::None,
        }
    }

    fn txn(ops: Vec<WriteOp>) -> Proposal {
        Proposal {
            meta: Meta {
                time_ms: 1,
                agent: "agent".into(),
                session: "session".into(),
                idempotency_key: Some("key".into()),
                limits: Limits::default(),
                principal: Some("tok".into()),
                request_id: "req".into(),
            },
            command: Command::Txn {
                store: crate::governance::StoreRef::new(1, StoreName::parse("notes").unwrap()),
                ops,
            },
        }
    }

    fn refusal(proposal: &Proposal) -> (Option<u32>, String, &'static str) {
        let refusal = proposal.check().unwrap_err();
        let limit = match &refusal.error {
            CoreError::LimitExceeded { limit, .. } => limit.clone(),
            _ => String::new(),
        };
        (refusal.op_index, limit, refusal.error.code())
    }

    #[test]
    fn a_proposal_within_every_rule_passes() {
        assert_eq!(txn(vec![write("/a", "x")]).check(), Ok(()));
        let mut store = txn(vec![]);
        store.command = Command::CreateStore {
            owner: None,
            store: crate::governance::StoreRef::new(1, StoreName::parse("notes").unwrap()),
        };
        assert_eq!(store.check(), Ok(()));
    }

    #[test]
    fn labels_longer_than_label_bytes_max_are_refused() {
        let long = "x".repeat(9);
        for field in [
            "agent",
            "session",
            "idempotency_key",
            "principal",
            "request_id",
        ] {
            let mut proposal = txn(vec![write("/a", "x")]);
            proposal.meta.limits.label_bytes_max = 8;
            match field {
                "agent" => proposal.meta.agent = long.clone(),
                "session" => proposal.meta.session = long.clone(),
                "principal" => proposal.meta.principal = Some(long.clone()),
                "request_id" => proposal.meta.request_id = long.clone(),
                _ => proposal.meta.idempotency_key = Some(long.clone()),
            }
            let expected = (None, "label_bytes_max".to_string(), "limit_exceeded");
            assert_eq!(refusal(&proposal), expected, "{field}");
            proposal.meta.limits.label_bytes_max = 9;
            assert_eq!(proposal.check(), Ok(()), "{field} at the limit");
        }
    }

    #[test]
    fn a_transaction_has_between_one_and_txn_ops_max_operations() {
        let empty = txn(vec![]).check().unwrap_err();
        assert_eq!(
            empty,
            Refusal {
                op_index: None,
                error: CoreError::invalid_request(EMPTY_TXN_REASON),
            }
        );
        assert_eq!(
            empty.error.to_string(),
            "invalid request: a transaction needs at least one operation"
        );
        let mut three = txn(vec![write("/a", ""), write("/b", ""), write("/c", "")]);
        three.meta.limits.txn_ops_max = 2;
        assert_eq!(
            refusal(&three),
            (None, "txn_ops_max".to_string(), "limit_exceeded")
        );
        three.meta.limits.txn_ops_max = 3;
        assert_eq!(three.check(), Ok(()));
    }

    #[test]
    fn written_content_is_at_most_file_bytes_max() {
        let mut proposal = txn(vec![write("/a", "1234"), write("/b", "12345")]);
        proposal.meta.limits.file_bytes_max = 4;
        assert_eq!(
            refusal(&proposal),
            (Some(1), "file_bytes_max".to_string(), "limit_exceeded")
        );
        assert_eq!(
            proposal.check().unwrap_err().error.kind(),
            crate::error::ErrorKind::TooLarge
        );
    }

    /// Every operation's paths are checked against the proposal's limits,
    /// which may be tighter than those the paths were parsed under.
    #[test]
    fn every_operations_paths_are_within_the_path_limits() {
        let deep = path("/a/b/c");
        let ops = [
            write("/a/b/c", ""),
            WriteOp::Delete {
                path: deep.clone(),
                recursive: false,
                precondition: Precondition::None,
            },
            WriteOp::Rename {
                from: path("/x"),
                to: deep.clone(),
                overwrite: false,
                precondition: Precondition::None,
            },
            WriteOp::StrReplace {
                path: deep.clone(),
                old: "a".into(),
                new: "b".into(),
                precondition: Precondition::None,
            },
            WriteOp::Insert {
                path: deep.clone(),
                line: 0,
                text: "t".into(),
                precondition: Precondition::None,
            },
        ];
        for op in ops {
            let mut proposal = txn(vec![write("/ok", ""), op.clone()]);
            proposal.meta.limits.path_depth_max = 2;
            assert_eq!(
                refusal(&proposal),
                (Some(1), "path_depth_max".to_string(), "limit_exceeded"),
                "{op:?}"
            );
            proposal.meta.limits.path_depth_max = 3;
            proposal.meta.limits.path_bytes_max = 5;
            assert_eq!(
                refusal(&proposal),
                (Some(1), "path_bytes_max".to_string(), "limit_exceeded"),
                "{op:?}"
            );
        }
    }

    #[test]
    fn a_rename_to_itself_and_an_empty_old_text_are_invalid() {
        let to_itself = WriteOp::Rename {
            from: path("/a"),
            to: path("/a"),
            overwrite: true,
            precondition: Precondition::None,
        };
        assert_eq!(
            refusal(&txn(vec![to_itself])),
            (Some(0), String::new(), "invalid_request")
        );
        let empty_old = WriteOp::StrReplace {
            path: path("/a"),
            old: String::new(),
            new: "x".into(),
            precondition: Precondition::None,
        };
        assert_eq!(
            refusal(&txn(vec![write("/b", ""), empty_old])),
            (Some(1), String::new(), "invalid_request")
        );
    }

    #[test]
    fn a_refusal_becomes_the_failed_outcome_with_its_index() {
        let refusal = Refusal::from(CoreError::invalid_request("r")).at_op(3);
        assert_eq!(refusal.op_index, Some(3));
        // An index already named is kept.
        assert_eq!(refusal.clone().at_op(5).op_index, Some(3));
        assert_eq!(
            refusal.into_outcome(),
            Outcome::Failed {
                op_index: Some(3),
                error: CoreError::invalid_request("r"),
            }
        );
        assert_eq!(op_index(usize::MAX), u32::MAX);
    }
}
