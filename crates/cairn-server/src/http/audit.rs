//! `/v1/stores/{store}/audit`: every applied transaction, oldest first.

use axum::Json;
use axum::extract::State;
use cairn_api::{AuditPage, AuditQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems};
use super::extract::{ApiPath, ApiQuery};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit))
}

/// A page of the store's audit trail: who changed what, at which revision.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/audit",
    tag = "history",
    params(("store" = String, Path, description = "The store's name"), AuditQuery),
    responses((status = 200, body = AuditPage), CommonProblems, ReadProblems)
)]
async fn audit(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(state.service.audit(&context, &store, query).await?))
}
