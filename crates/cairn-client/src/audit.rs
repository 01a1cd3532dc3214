//! A store's audit trail: `GET /v1/stores/{store}/audit`.

use cairn_api::{AuditPage, AuditQuery};

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// `GET .../audit`, oldest first.
    pub async fn audit(
        &self,
        store: &str,
        after: Option<u64>,
        limit: Option<u64>,
    ) -> Result<AuditPage, ClientError> {
        let query = AuditQuery {
            after,
            limit,
            consistency: self.consistency,
        };
        let target = Target::store_route(store, "audit").with_query(&query)?;
        self.call_json(Outgoing::get(target)).await
    }
}
