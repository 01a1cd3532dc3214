//! Search: `GET /v1/stores/{store}/search`.

use cairn_api::{SearchPage, SearchQuery};

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// One page of the lines of `store`'s files that match `query`; pass the
    /// page's `next_cursor` back as `query.cursor` for the next one.
    pub async fn search(
        &self,
        store: &str,
        mut query: SearchQuery,
    ) -> Result<SearchPage, ClientError> {
        query.consistency = query.consistency.or(self.consistency);
        let target = Target::store_route(store, "search").with_query(&query)?;
        self.call_json(Outgoing::get(target)).await
    }
}
