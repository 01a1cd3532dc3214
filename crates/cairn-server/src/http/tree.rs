//! `/v1/stores/{store}/tree` and `/tree/{dir}`: directory listings.

use axum::Json;
use axum::extract::State;
use cairn_api::{Listing, TreeQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems};
use super::extract::{ApiPath, ApiQuery};
use super::{ApiResult, AppState, rooted};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tree_root))
        .routes(routes!(tree))
}

/// The whole store's tree; `?depth=1` lists only the top level, `?revision=R`
/// the tree as of revision R.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/tree",
    tag = "tree",
    params(("store" = String, Path, description = "The store's name"), TreeQuery),
    responses((status = 200, body = Listing), CommonProblems, ReadProblems)
)]
async fn tree_root(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<TreeQuery>,
) -> ApiResult<Json<Listing>> {
    Ok(Json(
        state.service.list(&context, &store, "/", query).await?,
    ))
}

/// The tree under `dir`.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/tree/{*dir}",
    tag = "tree",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("dir" = String, Path, description = "The directory, without the leading /"),
        TreeQuery,
    ),
    responses((status = 200, body = Listing), CommonProblems, ReadProblems)
)]
async fn tree(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, dir)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<TreeQuery>,
) -> ApiResult<Json<Listing>> {
    Ok(Json(
        state
            .service
            .list(&context, &store, &rooted(&dir), query)
            .await?,
    ))
}
