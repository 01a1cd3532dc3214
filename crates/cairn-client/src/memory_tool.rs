//! Claude's client-side memory tool: `POST /v1/stores/{store}/memory-tool`.

use cairn_api::MemoryToolResult;
use hyper::Method;

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// Runs one `memory` tool call on `store`: `input` is the `tool_use`
    /// block's `input` exactly as the model emitted it, and the answer is what
    /// goes back in the `tool_result` (`content`, and `is_error` for an error
    /// of the tool itself). A missing token, a store this token may not read
    /// and an unknown store are `ClientError`s, as everywhere.
    pub async fn memory_tool(
        &self,
        store: &str,
        input: &serde_json::Value,
    ) -> Result<MemoryToolResult, ClientError> {
        let target = Target::store_route(store, "memory-tool").into_string();
        self.call_json(Outgoing::new(Method::POST, target).json_body(input)?)
            .await
    }
}
