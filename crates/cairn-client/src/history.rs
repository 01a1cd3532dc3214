//! A file's past: `history/` (its versions) and `diff/` under a store.

use cairn_api::{DiffQuery, HistoryPage, HistoryQuery};

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// `GET .../history/{path}`, newest first.
    pub async fn history(
        &self,
        store: &str,
        path: &str,
        limit: Option<u64>,
        before: Option<u64>,
        with_content: bool,
    ) -> Result<HistoryPage, ClientError> {
        let query = HistoryQuery {
            limit,
            before,
            content: with_content,
            consistency: self.consistency,
        };
        let target = Target::store_path(store, "history", path).with_query(&query)?;
        self.call_json(Outgoing::get(target)).await
    }

    /// `GET .../diff/{path}?from=&to=`: a unified diff.
    pub async fn diff(
        &self,
        store: &str,
        path: &str,
        from: u64,
        to: u64,
    ) -> Result<String, ClientError> {
        let query = DiffQuery {
            from,
            to,
            consistency: self.consistency,
        };
        let target = Target::store_path(store, "diff", path).with_query(&query)?;
        self.call(Outgoing::get(target)).await?.into_text("diff")
    }
}
