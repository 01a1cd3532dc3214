//! Transactions, and the wire operations they are made of.

use cairn_api::{OpRequest, PreconditionFields, TxnResult};
use cairn_core::command::{Precondition, WriteOp};
use cairn_core::{CoreError, FilePath, Limits};

use super::{RequestContext, Service, ServiceError, ServiceResult, wire};

/// At most one of `if_version`, `if_absent` and `if_exists`.
pub(super) fn precondition(fields: PreconditionFields) -> ServiceResult<Precondition> {
    match (fields.if_version, fields.if_absent, fields.if_exists) {
        (None, false, false) => Ok(Precondition::None),
        (Some(version), false, false) => Ok(Precondition::IfVersion(version)),
        (None, true, false) => Ok(Precondition::IfAbsent),
        (None, false, true) => Ok(Precondition::IfExists),
        _ => Err(CoreError::invalid_request(
            "at most one of if_version, if_absent and if_exists may be set",
        )
        .into()),
    }
}

/// A wire operation as a command operation, its paths and precondition parsed.
fn write_op(op: OpRequest, limits: &Limits) -> ServiceResult<WriteOp> {
    let path = |raw: &str| FilePath::parse(raw, limits);
    Ok(match op {
        OpRequest::Write {
            path: raw,
            content,
            precondition: fields,
        } => WriteOp::Write {
            path: path(&raw)?,
            content,
            precondition: precondition(fields)?,
        },
        OpRequest::Delete {
            path: raw,
            recursive,
            precondition: fields,
        } => WriteOp::Delete {
            path: path(&raw)?,
            recursive,
            precondition: precondition(fields)?,
        },
        OpRequest::Rename {
            from,
            to,
            overwrite,
            precondition: fields,
        } => WriteOp::Rename {
            from: path(&from)?,
            to: path(&to)?,
            overwrite,
            precondition: precondition(fields)?,
        },
        OpRequest::StrReplace {
            path: raw,
            old,
            new,
            precondition: fields,
        } => WriteOp::StrReplace {
            path: path(&raw)?,
            old,
            new,
            precondition: precondition(fields)?,
        },
        OpRequest::Insert {
            path: raw,
            line,
            text,
            precondition: fields,
        } => WriteOp::Insert {
            path: path(&raw)?,
            line,
            text,
            precondition: precondition(fields)?,
        },
    })
}

impl Service {
    /// Applies every operation at one revision, or none.
    pub async fn txn(
        &self,
        context: &RequestContext,
        store: &str,
        ops: Vec<OpRequest>,
    ) -> ServiceResult<TxnResult> {
        self.txn_with_message(context, store, ops, None).await
    }

    /// [`Service::txn`] with an optional message from its author, recorded
    /// as the audit event's `detail`.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, ops = ops.len(), request_id = %context.request_id))]
    pub async fn txn_with_message(
        &self,
        context: &RequestContext,
        store: &str,
        ops: Vec<OpRequest>,
        message: Option<String>,
    ) -> ServiceResult<TxnResult> {
        let mut write_ops = Vec::with_capacity(ops.len());
        for (index, op) in ops.into_iter().enumerate() {
            let op = write_op(op, &self.limits).map_err(|error| match error {
                ServiceError::Refused(refusal) => ServiceError::Refused(refusal.at_op(index)),
                other => other,
            })?;
            write_ops.push(op);
        }
        Ok(wire::txn_result(
            self.txn_of(context, store, write_ops, message).await?,
        ))
    }
}
