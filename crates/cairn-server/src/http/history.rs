//! `/v1/stores/{store}/history/{path}` and `/diff/{path}`: a file's past.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use cairn_api::{DiffQuery, HistoryPage, HistoryQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems};
use super::extract::{ApiPath, ApiQuery};
use super::{ApiResult, AppState, rooted};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(diff))
}

/// The file's versions, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/history/{*path}",
    tag = "history",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("path" = String, Path, description = "The file's path, without the leading /"),
        HistoryQuery,
    ),
    responses((status = 200, body = HistoryPage), CommonProblems, ReadProblems)
)]
async fn history(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, path)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<HistoryPage>> {
    let page = state
        .service
        .history(&context, &store, &rooted(&path), query)
        .await?;
    Ok(Json(page))
}

/// A unified diff from version `from` to version `to`.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/diff/{*path}",
    tag = "history",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("path" = String, Path, description = "The file's path, without the leading /"),
        DiffQuery,
    ),
    responses(
        (status = 200, description = "A unified diff", content_type = "text/plain; charset=utf-8", body = String),
        CommonProblems,
        ReadProblems,
    )
)]
async fn diff(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, path)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> ApiResult<impl IntoResponse> {
    let text = state
        .service
        .diff(&context, &store, &rooted(&path), query)
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text))
}
