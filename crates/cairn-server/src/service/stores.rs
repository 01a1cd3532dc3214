//! Stores: list, create, look up, delete.

use cairn_api::{Consistency, StoreInfo, StoreList};
use cairn_core::auth;
use cairn_core::command::{Command, Outcome};
use cairn_core::{Access, StoreRef, UserName, read};

use super::{RequestContext, Service, ServiceResult, org_name, unexpected, wire};

impl Service {
    /// The stores the caller can see: in the organization the request names
    /// (their own by default); the operator without naming one sees every
    /// organization's.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), request_id = %context.request_id))]
    pub async fn list_stores(
        &self,
        context: &RequestContext,
        consistency: Consistency,
    ) -> ServiceResult<StoreList> {
        let org = org_name(context)?;
        let stores = self
            .read_as(context, consistency, |reader, subject| {
                let org_id = match (&org, subject.is_operator()) {
                    (None, true) => None,
                    _ => Some(auth::resolve_org(reader, subject, org.as_ref())?.id),
                };
                let mut visible = Vec::new();
                for store in read::list_stores(reader, org_id)? {
                    if let Some(access) = auth::store_access(reader, subject, &store)? {
                        visible.push(wire::store_info_for(store, access));
                    }
                }
                Ok(visible)
            })
            .await?;
        Ok(StoreList { stores })
    }

    /// Creates an organization-scoped store, or with `owner` a user-scoped one.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn create_store(
        &self,
        context: &RequestContext,
        store: &str,
        owner: Option<&str>,
    ) -> ServiceResult<StoreInfo> {
        let name = self.store_name(store)?;
        let owner = owner.map(UserName::parse).transpose()?;
        let org = org_name(context)?;
        let (subject, org) = self
            .authorize(context, |reader, subject| {
                auth::resolve_org(reader, subject, org.as_ref())
            })
            .await?;
        let command = Command::CreateStore {
            store: StoreRef::new(org.id, name),
            owner,
        };
        match self.propose(context, &subject, command).await? {
            Outcome::StoreCreated(info) => Ok(wire::store_info(info)),
            other => Err(unexpected(other)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn get_store(
        &self,
        context: &RequestContext,
        store: &str,
        consistency: Consistency,
    ) -> ServiceResult<StoreInfo> {
        self.read_in_store_as(context, store, consistency, |reader, subject, _, info| {
            // Whoever may read a store has some access to it; `Read` is the least.
            let access = auth::store_access(reader, subject, info)?.unwrap_or(Access::Read);
            Ok(wire::store_info_for(info.clone(), access))
        })
        .await
    }

    /// Replaces the store's retention and quota.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn set_store_policy(
        &self,
        context: &RequestContext,
        store: &str,
        policy: cairn_api::StorePolicy,
    ) -> ServiceResult<StoreInfo> {
        let (subject, store) = self.authorize_store(context, store, Access::Admin).await?;
        let policy = cairn_core::governance::StorePolicy {
            versions_max: policy.versions_max,
            retain_ms: policy.retain_s.map(|seconds| seconds.saturating_mul(1000)),
            bytes_max: policy.bytes_max,
        };
        match self
            .propose(context, &subject, Command::SetStorePolicy { store, policy })
            .await?
        {
            Outcome::StoreUpdated(info) => Ok(wire::store_info(info)),
            other => Err(unexpected(other)),
        }
    }

    /// Deletes a store with every file and version in it; answers the store as it was.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn delete_store(
        &self,
        context: &RequestContext,
        store: &str,
    ) -> ServiceResult<StoreInfo> {
        let (subject, store) = self.authorize_store(context, store, Access::Admin).await?;
        match self
            .propose(context, &subject, Command::DeleteStore { store })
            .await?
        {
            Outcome::StoreDeleted(info) => Ok(wire::store_info(info)),
            other => Err(unexpected(other)),
        }
    }
}
