//! `POST /v1/stores/{store}/memory-tool`: Claude's client-side memory tool
//! answered by a store (`docs/memory-tool.md`).

use axum::Json;
use axum::extract::State;
use cairn_api::{MemoryToolInput, MemoryToolResult};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, WriteProblems};
use super::extract::{ApiPath, JsonBody};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(memory_tool))
}

/// Runs one `memory` tool call (its `input` object as the model emitted it)
/// with `/memories` as the store's root. Every outcome of the tool, errors
/// included, is `200` with the text for the `tool_result` (the Python SDK's
/// `BetaLocalFilesystemMemoryTool` texts); a missing token, a store the token
/// may not read and an unknown store stay HTTP errors.
#[utoipa::path(
    post,
    path = "/v1/stores/{store}/memory-tool",
    tag = "memory-tool",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried call with the same key changes the store once"),
    ),
    request_body = MemoryToolInput,
    responses((status = 200, body = MemoryToolResult), CommonProblems, WriteProblems)
)]
async fn memory_tool(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    JsonBody(input): JsonBody<serde_json::Value>,
) -> ApiResult<Json<MemoryToolResult>> {
    Ok(Json(
        state.service.memory_tool(&context, &store, input).await?,
    ))
}
