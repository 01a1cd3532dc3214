//! `GET /v1/stores/{store}/search`: lines of the store's files that match.

use axum::Json;
use axum::extract::State;
use cairn_api::{SearchPage, SearchQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems};
use super::extract::{ApiPath, ApiQuery};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

/// The lines of the store's files (now, or at `revision`) that contain `q`,
/// or match it as a regular expression with `regex=true`, under `prefix`, in
/// path then line order, a page at a time. A bad pattern is
/// `400 invalid_pattern`.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/search",
    tag = "files",
    params(("store" = String, Path, description = "The store's name"), SearchQuery),
    responses((status = 200, body = SearchPage), CommonProblems, ReadProblems)
)]
async fn search(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchPage>> {
    Ok(Json(state.service.search(&context, &store, query).await?))
}
