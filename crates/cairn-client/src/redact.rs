//! Redaction: `POST /v1/stores/{store}/redact`.

use cairn_api::{RedactRequest, RedactResult};
use hyper::Method;

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// Redacts one version's content, or a literal string from every version
    /// under a path prefix (see `RedactRequest`).
    pub async fn redact(
        &self,
        store: &str,
        request: &RedactRequest,
    ) -> Result<RedactResult, ClientError> {
        let target = Target::store_route(store, "redact").into_string();
        self.call_json(Outgoing::new(Method::POST, target).json_body(request)?)
            .await
    }
}
