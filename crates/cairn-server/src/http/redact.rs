//! `POST /v1/stores/{store}/redact`: removing content from versions for good.

use axum::Json;
use axum::extract::State;
use cairn_api::{RedactRequest, RedactResult};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, WriteProblems};
use super::extract::{ApiPath, JsonBody};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(redact))
}

/// Redacts one version's content (`path`, `version`) or a literal `string`
/// from every version under `path_prefix` (store `admin` access). The bytes
/// leave every replica's state, snapshots and Raft log; the audit keeps who,
/// when, why and which versions.
#[utoipa::path(
    post,
    path = "/v1/stores/{store}/redact",
    tag = "history",
    params(("store" = String, Path, description = "The store's name")),
    request_body = RedactRequest,
    responses((status = 200, body = RedactResult), CommonProblems, WriteProblems)
)]
async fn redact(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    JsonBody(request): JsonBody<RedactRequest>,
) -> ApiResult<Json<RedactResult>> {
    Ok(Json(state.service.redact(&context, &store, request).await?))
}
