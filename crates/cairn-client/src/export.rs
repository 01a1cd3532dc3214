//! Whole stores as archives (`docs/export.md`): `GET .../export` streamed
//! into a sink, and `/v1/imports…` (begin, chunks, commit, abort).

use bytes::Bytes;
use cairn_api::{ARCHIVE_CONTENT_TYPE, ImportList, ImportRequest, ImportView, StoreInfo};
use hyper::Method;
use hyper::header::HeaderValue;

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// Streams the store's archive into `sink` as it arrives; answers the
    /// bytes written. Only a pause of more than the client's timeout between
    /// two pieces fails it, not the length of the whole. Whether the archive
    /// is whole is for its reader to check (its trailer).
    pub async fn export(
        &self,
        store: &str,
        sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, ClientError> {
        let target = Target::store_route(store, "export").into_string();
        self.stream(Outgoing::get(target), sink).await
    }

    /// `GET /v1/imports`: the imports being staged that the caller may work on.
    pub async fn imports(&self) -> Result<ImportList, ClientError> {
        self.call_json(Outgoing::get(Target::v1(&["imports"]).into_string()))
            .await
    }

    /// `POST /v1/imports`: begins an import into a new store `store`.
    pub async fn import_begin(&self, store: &str) -> Result<ImportView, ClientError> {
        let request = ImportRequest {
            store: store.to_string(),
        };
        let target = Target::v1(&["imports"]).into_string();
        self.call_json(Outgoing::new(Method::POST, target).json_body(&request)?)
            .await
    }

    /// `POST /v1/imports/{id}/chunks`: the next whole records of the
    /// archive. `idempotency_key` makes a retry after a timeout stage once.
    pub async fn import_chunk(
        &self,
        id: u64,
        records: Bytes,
        idempotency_key: &str,
    ) -> Result<ImportView, ClientError> {
        let target = Target::v1(&["imports", &id.to_string(), "chunks"]).into_string();
        let outgoing = Outgoing::new(Method::POST, target)
            .idempotency_key(Some(idempotency_key))?
            .raw_body(records, HeaderValue::from_static(ARCHIVE_CONTENT_TYPE));
        self.call_json(outgoing).await
    }

    /// `POST /v1/imports/{id}/commit`: the import becomes the store.
    pub async fn import_commit(&self, id: u64) -> Result<StoreInfo, ClientError> {
        let target = Target::v1(&["imports", &id.to_string(), "commit"]).into_string();
        self.call_json(Outgoing::new(Method::POST, target)).await
    }

    /// `DELETE /v1/imports/{id}`: abandons the import and everything staged.
    pub async fn import_abort(&self, id: u64) -> Result<ImportView, ClientError> {
        let target = Target::v1(&["imports", &id.to_string()]).into_string();
        self.call_json(Outgoing::new(Method::DELETE, target)).await
    }
}
