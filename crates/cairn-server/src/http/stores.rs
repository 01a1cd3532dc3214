//! `/v1/stores` and `/v1/stores/{store}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cairn_api::{ConsistencyQuery, CreateStoreRequest, StoreInfo, StoreList, StorePolicy};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems, WriteProblems};
use super::extract::{ApiPath, ApiQuery, JsonBody, OptionalJsonBody};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores))
        .routes(routes!(create_store, get_store, delete_store))
        .routes(routes!(set_policy))
}

/// The stores the caller can see (in the organization `X-Cairn-Org` names;
/// the operator without one sees every organization's).
#[utoipa::path(
    get,
    path = "/v1/stores",
    tag = "stores",
    params(ConsistencyQuery),
    responses((status = 200, body = StoreList), CommonProblems, ReadProblems)
)]
async fn list_stores(
    State(state): State<AppState>,
    context: RequestContext,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<StoreList>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(
        state.service.list_stores(&context, consistency).await?,
    ))
}

/// Creates a store (`409 already_exists` if there is one of that name in
/// the organization); the body is optional.
#[utoipa::path(
    put,
    path = "/v1/stores/{store}",
    tag = "stores",
    params(("store" = String, Path, description = "The store's name")),
    request_body(content = Option<CreateStoreRequest>, content_type = "application/json"),
    responses((status = 201, body = StoreInfo), CommonProblems, WriteProblems)
)]
async fn create_store(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    OptionalJsonBody(body): OptionalJsonBody<CreateStoreRequest>,
) -> ApiResult<(StatusCode, Json<StoreInfo>)> {
    let info = state
        .service
        .create_store(&context, &store, body.owner.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// One store and its counters.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}",
    tag = "stores",
    params(("store" = String, Path, description = "The store's name"), ConsistencyQuery),
    responses((status = 200, body = StoreInfo), CommonProblems, ReadProblems)
)]
async fn get_store(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<StoreInfo>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(
        state
            .service
            .get_store(&context, &store, consistency)
            .await?,
    ))
}

/// Deletes a store and everything in it; answers the store as it was.
#[utoipa::path(
    delete,
    path = "/v1/stores/{store}",
    tag = "stores",
    params(("store" = String, Path, description = "The store's name")),
    responses((status = 200, body = StoreInfo), CommonProblems, WriteProblems)
)]
async fn delete_store(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
) -> ApiResult<Json<StoreInfo>> {
    Ok(Json(state.service.delete_store(&context, &store).await?))
}

/// Replaces the store's retention (`versions_max`, `retain_s`) and quota
/// (`bytes_max`); store `admin` access.
#[utoipa::path(
    put,
    path = "/v1/stores/{store}/policy",
    tag = "stores",
    params(("store" = String, Path, description = "The store's name")),
    request_body = StorePolicy,
    responses((status = 200, body = StoreInfo), CommonProblems, WriteProblems)
)]
async fn set_policy(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    JsonBody(policy): JsonBody<StorePolicy>,
) -> ApiResult<Json<StoreInfo>> {
    Ok(Json(
        state
            .service
            .set_store_policy(&context, &store, policy)
            .await?,
    ))
}
