//! A file's past: its versions and the diff between two of them.

use cairn_api::{DiffQuery, HistoryPage, HistoryQuery};
use cairn_core::read;

use super::{RequestContext, Service, ServiceResult, wire};

impl Service {
    /// A page of versions, newest first.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, path = %path, request_id = %context.request_id))]
    pub async fn history(
        &self,
        context: &RequestContext,
        store: &str,
        path: &str,
        query: HistoryQuery,
    ) -> ServiceResult<HistoryPage> {
        let path = self.file_path(path)?;
        let limit = self.page_limit(query.limit)?;
        let page = self
            .read_store(
                context,
                store,
                query.consistency.unwrap_or_default(),
                |reader, store| {
                    read::history(reader, store, &path, query.before, limit, query.content)
                },
            )
            .await?;
        Ok(wire::history_page(page))
    }

    /// A unified diff from version `from` to version `to`.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, path = %path, request_id = %context.request_id))]
    pub async fn diff(
        &self,
        context: &RequestContext,
        store: &str,
        path: &str,
        query: DiffQuery,
    ) -> ServiceResult<String> {
        let path = self.file_path(path)?;
        self.read_store(
            context,
            store,
            query.consistency.unwrap_or_default(),
            |reader, store| read::diff(reader, store, &path, query.from, query.to),
        )
        .await
    }
}
