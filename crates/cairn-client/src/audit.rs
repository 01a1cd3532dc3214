//! The audit trail: `GET /v1/audit`, `GET /v1/stores/{store}/audit` and
//! `GET /v1/stores/{store}/audit/verify`.

use cairn_api::{AuditPage, AuditQuery, AuditVerify, ConsistencyQuery, GlobalAuditQuery};

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// `GET .../audit`, in log order, after log index `after`.
    pub async fn audit(
        &self,
        store: &str,
        after: Option<u64>,
        limit: Option<u64>,
    ) -> Result<AuditPage, ClientError> {
        let query = AuditQuery {
            after,
            limit,
            ..AuditQuery::default()
        };
        self.store_audit(store, query).await
    }

    /// `GET /v1/stores/{store}/audit` with any filters.
    pub async fn store_audit(
        &self,
        store: &str,
        mut query: AuditQuery,
    ) -> Result<AuditPage, ClientError> {
        query.consistency = query.consistency.or(self.consistency);
        let target = Target::store_route(store, "audit").with_query(&query)?;
        self.call_json(Outgoing::get(target)).await
    }

    /// `GET /v1/audit`: events across every store the token may see.
    pub async fn audit_all(&self, mut query: GlobalAuditQuery) -> Result<AuditPage, ClientError> {
        query.consistency = query.consistency.or(self.consistency);
        let target = Target::v1(&["audit"]).with_query(&query)?;
        self.call_json(Outgoing::get(target)).await
    }

    /// `GET .../audit/verify`: the store's chain, recomputed by the node.
    pub async fn verify_audit(&self, store: &str) -> Result<AuditVerify, ClientError> {
        let query = ConsistencyQuery {
            consistency: self.consistency,
        };
        let target = Target::store_route(store, "audit/verify").with_query(&query)?;
        self.call_json(Outgoing::get(target)).await
    }
}
