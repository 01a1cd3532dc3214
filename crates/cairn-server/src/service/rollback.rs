//! Rollback: plan on a read, show or apply as one transaction.

use cairn_api as api;
use cairn_core::command::{Command, Outcome};
use cairn_core::read::{self, RollbackPlan, RollbackTarget};
use cairn_core::{Access, CoreError, Refusal, StoreRef};

use super::{RequestContext, Service, ServiceError, ServiceResult, unexpected};

impl Service {
    /// Puts files back to an earlier state as one new change at a new
    /// revision. Session and agent rollbacks refuse, naming every path,
    /// where someone else changed a file afterwards (unless `force`); a plan
    /// overtaken by a change before it applies is refused the same way.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn rollback(
        &self,
        context: &RequestContext,
        store: &str,
        request: api::RollbackRequest,
    ) -> ServiceResult<api::RollbackResult> {
        let target = self.rollback_target(&request)?;
        let (subject, store) = self.authorize_store(context, store, Access::Admin).await?;
        let (plan, ops) = self.plan_rollback(&store, &target).await?;
        if !plan.conflicts.is_empty() && !request.force && !request.dry_run {
            return Err(conflict(plan.conflicts.iter().map(|c| c.path.clone())));
        }
        if request.dry_run || plan.steps.is_empty() {
            return Ok(result(plan, None));
        }
        let command = Command::Rollback {
            store: store.clone(),
            planned_at: plan.planned_at,
            ops,
        };
        match self.propose(context, &subject, command).await {
            Ok(Outcome::Txn(applied)) => Ok(result(plan, Some(applied.revision))),
            Ok(other) => Err(unexpected(other)),
            Err(ServiceError::Refused(Refusal {
                error: CoreError::VersionConflict { .. },
                ..
            })) => {
                // Overtaken: name every file that moved since the plan.
                let (now, _) = self.plan_rollback(&store, &target).await?;
                let moved = plan.steps.iter().filter_map(|step| {
                    let same = now
                        .steps
                        .iter()
                        .any(|later| later.path == step.path && later.current == step.current);
                    (!same).then(|| step.path.clone())
                });
                Err(conflict(moved))
            }
            Err(error) => Err(error),
        }
    }

    fn rollback_target(&self, request: &api::RollbackRequest) -> ServiceResult<RollbackTarget> {
        let api::RollbackRequest {
            path,
            to_version,
            to_revision,
            session,
            agent,
            ..
        } = request;
        let target = match (path, to_version, to_revision, session, agent) {
            (Some(path), Some(version), None, None, None) => RollbackTarget::File {
                path: self.file_path(path)?,
                version: *version,
            },
            (path, None, Some(revision), None, None) => RollbackTarget::Tree {
                dir: self.dir_path(path.as_deref().unwrap_or("/"))?,
                revision: *revision,
            },
            (None, None, None, Some(session), None) => RollbackTarget::Session(session.clone()),
            (None, None, None, None, Some(agent)) => RollbackTarget::Agent(agent.clone()),
            _ => {
                return Err(CoreError::invalid_request(
                    "give one of: path and to_version; to_revision (with a path for a subtree); \
                     session; agent",
                )
                .into());
            }
        };
        Ok(target)
    }

    /// The plan and its operations, on a linearizable read.
    async fn plan_rollback(
        &self,
        store: &StoreRef,
        target: &RollbackTarget,
    ) -> ServiceResult<(RollbackPlan, Vec<cairn_core::WriteOp>)> {
        self.read(api::Consistency::Linearizable, |reader| {
            let plan = read::plan_rollback(reader, store, target)?;
            let ops = read::rollback_ops(reader, store, &plan)?;
            Ok((plan, ops))
        })
        .await
    }
}

fn conflict(paths: impl Iterator<Item = String>) -> ServiceError {
    let mut paths: Vec<String> = paths.collect();
    paths.sort();
    paths.dedup();
    CoreError::RollbackConflict { paths }.into()
}

fn result(plan: RollbackPlan, revision: Option<u64>) -> api::RollbackResult {
    api::RollbackResult {
        planned_at: plan.planned_at,
        applied: revision.is_some(),
        revision,
        steps: plan
            .steps
            .into_iter()
            .map(|step| api::RollbackStep {
                path: step.path,
                current_version: step.current,
                restore_version: step.restore,
            })
            .collect(),
        conflicts: plan
            .conflicts
            .into_iter()
            .map(|conflict| api::RollbackConflict {
                path: conflict.path,
                version: conflict.version,
                agent: conflict.agent,
                session: conflict.session,
            })
            .collect(),
    }
}
