//! `POST /v1/stores/{store}/rollback`: files back to an earlier state, as one new change.

use axum::Json;
use axum::extract::State;
use cairn_api::{RollbackRequest, RollbackResult};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, WriteProblems};
use super::extract::{ApiPath, JsonBody};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rollback))
}

/// Puts a file (to a version), a subtree or the store (to a revision), or
/// everything a session or agent wrote, back as it was, at one new
/// revision; history is never rewritten. `409 rollback_conflict` names
/// every path someone else changed since (`force` overrides it for session
/// and agent rollbacks); `dry_run` only shows the plan.
#[utoipa::path(
    post,
    path = "/v1/stores/{store}/rollback",
    tag = "history",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried rollback with the same key is applied once"),
    ),
    request_body = RollbackRequest,
    responses((status = 200, body = RollbackResult), CommonProblems, WriteProblems)
)]
async fn rollback(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    JsonBody(request): JsonBody<RollbackRequest>,
) -> ApiResult<Json<RollbackResult>> {
    Ok(Json(
        state.service.rollback(&context, &store, request).await?,
    ))
}
