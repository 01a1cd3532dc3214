//! Stores: `/v1/stores` and `/v1/stores/{store}`.

use hyper::Method;

use cairn_api::{ConsistencyQuery, StoreInfo, StoreList};

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    pub async fn create_store(&self, store: &str) -> Result<StoreInfo, ClientError> {
        let target = Target::store(store).into_string();
        self.call_json(Outgoing::new(Method::PUT, target)).await
    }

    pub async fn list_stores(&self) -> Result<Vec<StoreInfo>, ClientError> {
        let target = Target::stores().with_query(&self.consistency_query())?;
        let list: StoreList = self.call_json(Outgoing::get(target)).await?;
        Ok(list.stores)
    }

    pub async fn get_store(&self, store: &str) -> Result<StoreInfo, ClientError> {
        let target = Target::store(store).with_query(&self.consistency_query())?;
        self.call_json(Outgoing::get(target)).await
    }

    /// Deletes the store and every file in it; answers the store as it was.
    pub async fn delete_store(&self, store: &str) -> Result<StoreInfo, ClientError> {
        let target = Target::store(store).into_string();
        self.call_json(Outgoing::new(Method::DELETE, target)).await
    }

    /// Replaces the store's retention and quota.
    pub async fn set_store_policy(
        &self,
        store: &str,
        policy: &cairn_api::StorePolicy,
    ) -> Result<StoreInfo, ClientError> {
        let target = Target::store_route(store, "policy").into_string();
        self.call_json(Outgoing::new(Method::PUT, target).json_body(policy)?)
            .await
    }

    fn consistency_query(&self) -> ConsistencyQuery {
        ConsistencyQuery {
            consistency: self.consistency,
        }
    }
}
