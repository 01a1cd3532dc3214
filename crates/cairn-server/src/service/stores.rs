//! Stores: list, create, look up, delete.

use cairn_api::{Consistency, StoreInfo, StoreList};
use cairn_core::command::{Command, Outcome};
use cairn_core::read;

use super::{RequestContext, Service, ServiceResult, unexpected, wire};

impl Service {
    #[tracing::instrument(skip_all, fields(node_id = self.node_id(), request_id = %context.request_id))]
    pub async fn list_stores(
        &self,
        context: &RequestContext,
        consistency: Consistency,
    ) -> ServiceResult<StoreList> {
        let stores = self.read(consistency, read::list_stores).await?;
        Ok(StoreList {
            stores: stores.into_iter().map(wire::store_info).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn create_store(
        &self,
        context: &RequestContext,
        store: &str,
    ) -> ServiceResult<StoreInfo> {
        let store = self.store_name(store)?;
        match self
            .propose(context, Command::CreateStore { store })
            .await?
        {
            Outcome::StoreCreated(info) => Ok(wire::store_info(info)),
            other => Err(unexpected(other)),
        }
    }

    #[tracing::instrument(skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn get_store(
        &self,
        context: &RequestContext,
        store: &str,
        consistency: Consistency,
    ) -> ServiceResult<StoreInfo> {
        let store = self.store_name(store)?;
        let info = self
            .read(consistency, |reader| read::get_store(reader, &store))
            .await?;
        Ok(wire::store_info(info))
    }

    /// Deletes a store with every file and version in it; answers the store as it was.
    #[tracing::instrument(skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn delete_store(
        &self,
        context: &RequestContext,
        store: &str,
    ) -> ServiceResult<StoreInfo> {
        let store = self.store_name(store)?;
        match self
            .propose(context, Command::DeleteStore { store })
            .await?
        {
            Outcome::StoreDeleted(info) => Ok(wire::store_info(info)),
            other => Err(unexpected(other)),
        }
    }
}
