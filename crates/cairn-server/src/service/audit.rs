//! A store's audit trail.

use cairn_api::{AuditPage, AuditQuery};
use cairn_core::read;

use super::{RequestContext, Service, ServiceResult, wire};

impl Service {
    /// A page of applied transactions, oldest first.
    #[tracing::instrument(skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn audit(
        &self,
        context: &RequestContext,
        store: &str,
        query: AuditQuery,
    ) -> ServiceResult<AuditPage> {
        let limit = self.page_limit(query.limit)?;
        let page = self
            .read_store(
                context,
                store,
                query.consistency.unwrap_or_default(),
                |reader, store| read::audit(reader, store, query.after, limit),
            )
            .await?;
        Ok(wire::audit_page(page))
    }
}
