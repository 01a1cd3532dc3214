//! Redaction: plan by a read, propose by version ids and digests.
//!
//! A string redaction's text stays in this node: the service finds the
//! versions that hold it with a linearizable read (`redact::plan_string`),
//! and the command it proposes names each version by path, version, the
//! SHA-256 of its content and the byte ranges to replace. `apply` refuses
//! the whole command (`redaction_conflict`) if any content changed since.

use cairn_api::{Consistency, RedactRequest, RedactResult};
use cairn_core::redact;
use cairn_core::{Access, Command, CoreError, Outcome};

use super::{RequestContext, Service, ServiceResult, unexpected, wire};

impl Service {
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn redact(
        &self,
        context: &RequestContext,
        store: &str,
        request: RedactRequest,
    ) -> ServiceResult<RedactResult> {
        let (subject, store_ref) = self.authorize_store(context, store, Access::Admin).await?;
        let RedactRequest {
            path,
            version,
            string,
            path_prefix,
            reason,
        } = request;
        let targets = match (path, version, string, path_prefix) {
            (Some(path), Some(version), None, None) => {
                let path = self.file_path(&path)?;
                let target = self
                    .read(Consistency::Linearizable, |reader| {
                        redact::plan_version(reader, &store_ref, &path, version)
                    })
                    .await?;
                vec![target]
            }
            (None, None, Some(string), prefix) => {
                let prefix = prefix.unwrap_or_else(|| "/".to_string());
                let limits = self.limits;
                self.read(Consistency::Linearizable, |reader| {
                    redact::plan_string(reader, &store_ref, &prefix, &string, &limits)
                })
                .await?
            }
            _ => {
                return Err(CoreError::invalid_request(
                    "a redaction names either `path` and `version`, or `string` (and optionally \
                     `path_prefix`)",
                )
                .into());
            }
        };
        if targets.is_empty() {
            return Ok(RedactResult {
                revision: None,
                versions: Vec::new(),
                rewritten: Vec::new(),
            });
        }
        let command = Command::Redact {
            store: store_ref,
            reason,
            targets,
        };
        match self.propose(context, &subject, command).await? {
            Outcome::Redacted(redaction) => Ok(wire::redaction(redaction)),
            other => Err(unexpected(other)),
        }
    }
}
