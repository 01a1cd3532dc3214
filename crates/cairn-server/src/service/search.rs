//! Search over a store's files: lines that contain (or match) a pattern, now
//! or as of a past revision, a page at a time (`cairn_core::read::search`).

use cairn_api::{SearchMode, SearchPage, SearchQuery};
use cairn_core::CoreError;
use cairn_core::limits::{
    SEARCH_BYTES_SCANNED_MAX, SEARCH_FILES_SCANNED_MAX, SEARCH_MATCHES_PER_PAGE_DEFAULT,
    SEARCH_MATCHES_PER_PAGE_MAX,
};
use cairn_core::read::search::{self, Pattern, SearchCursor, SearchRequest};

use super::{RequestContext, Service, ServiceResult, wire};

impl Service {
    /// One page of the lines of `store`'s files that match `query`.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn search(
        &self,
        context: &RequestContext,
        store: &str,
        query: SearchQuery,
    ) -> ServiceResult<SearchPage> {
        let mode = match query.mode.unwrap_or_default() {
            SearchMode::Lexical => search::SearchMode::Lexical,
        };
        let pattern = Pattern::new(&query.q, query.regex)?;
        let prefix = self.dir_path(query.prefix.as_deref().unwrap_or("/"))?;
        let after = query
            .cursor
            .as_deref()
            .map(SearchCursor::decode)
            .transpose()?;
        let matches_max = match query.limit {
            None => SEARCH_MATCHES_PER_PAGE_DEFAULT,
            Some(0) => return Err(CoreError::invalid_request("limit must be positive").into()),
            Some(limit) if limit > SEARCH_MATCHES_PER_PAGE_MAX => {
                return Err(CoreError::limit(
                    "search_matches_per_page_max",
                    SEARCH_MATCHES_PER_PAGE_MAX,
                    limit,
                )
                .into());
            }
            Some(limit) => limit,
        };
        let request = SearchRequest {
            mode,
            pattern: &pattern,
            prefix: &prefix,
            revision: query.revision,
            after,
            matches_max,
            files_max: SEARCH_FILES_SCANNED_MAX,
            bytes_max: SEARCH_BYTES_SCANNED_MAX,
        };
        let page = self
            .read_store(
                context,
                store,
                query.consistency.unwrap_or_default(),
                |reader, store| search::search(reader, store, &request),
            )
            .await?;
        Ok(wire::search_page(store, page))
    }
}
