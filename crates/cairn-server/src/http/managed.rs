//! `/v1/memory_stores…`: the Managed Agents memory-store API, answered in
//! Anthropic's shapes, with Anthropic's error body
//! (`{"type":"error","error":{"type","message"}}`) on every failure, so the
//! `anthropic` SDKs' `client.beta.memory_stores` work against a Cairn node.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_api::managed::{
    AnthropicError, AnthropicErrorDetail, Deleted, Memory, MemoryCreate, MemoryDeleteQuery,
    MemoryListQuery, MemoryPage, MemoryStore, MemoryStoreCreate, MemoryStoreListQuery,
    MemoryStorePage, MemoryStoreUpdate, MemoryUpdate, MemoryVersion, MemoryVersionListQuery,
    MemoryVersionPage, ViewQuery,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiPath, ApiQuery, BoundedBody, JsonBody};
use super::{ApiError, AppState};
use crate::service::{ManagedError, RequestContext};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores, create_store))
        .routes(routes!(get_store, update_store, delete_store))
        .routes(routes!(archive_store))
        .routes(routes!(list_memories, create_memory))
        .routes(routes!(get_memory, update_memory, delete_memory))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(redact_version))
}

/// An error in Anthropic's shape.
pub struct ManagedApiError {
    status: StatusCode,
    body: AnthropicError,
}

impl ManagedApiError {
    fn new(status: StatusCode, kind: &str, message: String) -> ManagedApiError {
        ManagedApiError {
            status,
            body: AnthropicError {
                kind: "error".into(),
                error: AnthropicErrorDetail {
                    kind: kind.into(),
                    message,
                    conflicting_memory_id: None,
                    conflicting_path: None,
                },
            },
        }
    }
}

/// The reference's error type for a status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 409 | 412 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 | 410 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 504 => "overloaded_error",
        _ => "api_error",
    }
}

impl From<ApiError> for ManagedApiError {
    fn from(error: ApiError) -> ManagedApiError {
        let status =
            StatusCode::from_u16(error.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // Cairn's own conflicts (a grant, an idempotency key) stay 409s.
        ManagedApiError::new(status, error_type(status), error.0.detail.clone())
    }
}

impl From<ManagedError> for ManagedApiError {
    fn from(error: ManagedError) -> ManagedApiError {
        let message = error.to_string();
        match error {
            ManagedError::Service(error) => ApiError::from(error).into(),
            ManagedError::Invalid(_) => {
                ManagedApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            }
            ManagedError::NotFound(_) => {
                ManagedApiError::new(StatusCode::NOT_FOUND, "not_found_error", message)
            }
            ManagedError::PreconditionFailed(_) => ManagedApiError::new(
                StatusCode::CONFLICT,
                "memory_precondition_failed_error",
                message,
            ),
            ManagedError::PathConflict { path, memory_id } => {
                let mut error = ManagedApiError::new(
                    StatusCode::CONFLICT,
                    "memory_path_conflict_error",
                    message,
                );
                error.body.error.conflicting_path = Some(path);
                error.body.error.conflicting_memory_id = memory_id;
                error
            }
        }
    }
}

impl IntoResponse for ManagedApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type ManagedApiResult<T> = Result<Json<T>, ManagedApiError>;

/// The errors every memory-store route may answer (OpenAPI).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only its OpenAPI description is used.
pub enum ManagedErrors {
    /// `invalid_request_error`: a malformed id, query, body or path; an archived store.
    #[response(status = 400)]
    BadRequest(AnthropicError),
    /// `authentication_error`: no token, or an unknown, revoked or expired one.
    #[response(status = 401)]
    Unauthenticated(AnthropicError),
    /// `permission_error`: the token's grant does not allow this.
    #[response(status = 403)]
    Forbidden(AnthropicError),
    /// `not_found_error`: no such store, memory or version.
    #[response(status = 404)]
    NotFound(AnthropicError),
    /// `memory_precondition_failed_error` or `memory_path_conflict_error`.
    #[response(status = 409)]
    Conflict(AnthropicError),
    /// `request_too_large`: content or body over Cairn's limits.
    #[response(status = 413)]
    TooLarge(AnthropicError),
    /// `invalid_request_error`: over a count or length limit.
    #[response(status = 422)]
    Unprocessable(AnthropicError),
    /// `api_error`: details only in the node's log.
    #[response(status = 500)]
    Internal(AnthropicError),
    /// `overloaded_error`: no leader or quorum just now; retry.
    #[response(status = 503)]
    Unavailable(AnthropicError),
    /// `overloaded_error`: the outcome of a write is unknown; retry.
    #[response(status = 504)]
    Timeout(AnthropicError),
}

macro_rules! context {
    ($context:expr) => {
        $context.map_err(ManagedApiError::from)?
    };
}

/// Lists memory stores (archived ones with `include_archived=true`).
#[utoipa::path(get, path = "/v1/memory_stores", tag = "memory_stores",
    params(MemoryStoreListQuery),
    responses((status = 200, description = "A page of stores", body = MemoryStorePage), ManagedErrors))]
async fn list_stores(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    query: Result<ApiQuery<MemoryStoreListQuery>, ApiError>,
) -> ManagedApiResult<MemoryStorePage> {
    let context = context!(context);
    let ApiQuery(query) = context!(query);
    Ok(Json(
        state.service.list_memory_stores(&context, query).await?,
    ))
}

/// Creates a memory store (a Cairn store named by its id).
#[utoipa::path(post, path = "/v1/memory_stores", tag = "memory_stores",
    request_body = MemoryStoreCreate,
    responses((status = 200, description = "The store", body = MemoryStore), ManagedErrors))]
async fn create_store(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    body: Result<JsonBody<MemoryStoreCreate>, ApiError>,
) -> ManagedApiResult<MemoryStore> {
    let context = context!(context);
    let JsonBody(body) = context!(body);
    Ok(Json(
        state.service.create_memory_store(&context, body).await?,
    ))
}

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`")),
    responses((status = 200, description = "The store", body = MemoryStore), ManagedErrors))]
async fn get_store(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
) -> ManagedApiResult<MemoryStore> {
    let context = context!(context);
    let ApiPath(id) = context!(id);
    Ok(Json(state.service.get_memory_store(&context, &id).await?))
}

/// Changes the name, description or metadata (a `null` value removes a key).
#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`")),
    request_body = MemoryStoreUpdate,
    responses((status = 200, description = "The store", body = MemoryStore), ManagedErrors))]
async fn update_store(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
    body: Result<JsonBody<MemoryStoreUpdate>, ApiError>,
) -> ManagedApiResult<MemoryStore> {
    let context = context!(context);
    let ApiPath(id) = context!(id);
    let JsonBody(body) = context!(body);
    Ok(Json(
        state
            .service
            .update_memory_store(&context, &id, body)
            .await?,
    ))
}

/// Deletes the store with every memory and version (needs `admin` on the Cairn store).
#[utoipa::path(delete, path = "/v1/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`")),
    responses((status = 200, description = "`memory_store_deleted`", body = Deleted), ManagedErrors))]
async fn delete_store(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
) -> ManagedApiResult<Deleted> {
    let context = context!(context);
    let ApiPath(id) = context!(id);
    Ok(Json(
        state.service.delete_memory_store(&context, &id).await?,
    ))
}

/// Archives the store (one way): its memories can no longer be created or updated.
#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}/archive", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`")),
    responses((status = 200, description = "The store", body = MemoryStore), ManagedErrors))]
async fn archive_store(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
) -> ManagedApiResult<MemoryStore> {
    let context = context!(context);
    let ApiPath(id) = context!(id);
    Ok(Json(
        state.service.archive_memory_store(&context, &id).await?,
    ))
}

/// Lists memories under `path_prefix`, the whole subtree or (`depth=1`) its children.
#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memories", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"), MemoryListQuery),
    responses((status = 200, description = "A page of memories and prefixes", body = MemoryPage), ManagedErrors))]
async fn list_memories(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
    query: Result<ApiQuery<MemoryListQuery>, ApiError>,
) -> ManagedApiResult<MemoryPage> {
    let context = context!(context);
    let ApiPath(id) = context!(id);
    let ApiQuery(query) = context!(query);
    Ok(Json(
        state.service.list_memories(&context, &id, query).await?,
    ))
}

/// Creates a memory; never overwrites (`409 memory_path_conflict_error`).
#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}/memories", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"), ViewQuery),
    request_body = MemoryCreate,
    responses((status = 200, description = "The memory", body = Memory), ManagedErrors))]
async fn create_memory(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
    query: Result<ApiQuery<ViewQuery>, ApiError>,
    body: Result<JsonBody<MemoryCreate>, ApiError>,
) -> ManagedApiResult<Memory> {
    let context = context!(context);
    let ApiPath(id) = context!(id);
    let ApiQuery(query) = context!(query);
    let JsonBody(body) = context!(body);
    Ok(Json(
        state
            .service
            .create_memory(&context, &id, body, query.view.as_deref())
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memories/{memory_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"),
        ("memory_id" = String, Path, description = "`mem_…`"), ViewQuery),
    responses((status = 200, description = "The memory", body = Memory), ManagedErrors))]
async fn get_memory(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    ids: Result<ApiPath<(String, String)>, ApiError>,
    query: Result<ApiQuery<ViewQuery>, ApiError>,
) -> ManagedApiResult<Memory> {
    let context = context!(context);
    let ApiPath((store, memory)) = context!(ids);
    let ApiQuery(query) = context!(query);
    Ok(Json(
        state
            .service
            .get_memory(&context, &store, &memory, query.view.as_deref())
            .await?,
    ))
}

/// Changes the content and/or the path (a rename keeps the id), if the
/// `content_sha256` precondition holds.
#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}/memories/{memory_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"),
        ("memory_id" = String, Path, description = "`mem_…`"), ViewQuery),
    request_body = MemoryUpdate,
    responses((status = 200, description = "The memory", body = Memory), ManagedErrors))]
async fn update_memory(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    ids: Result<ApiPath<(String, String)>, ApiError>,
    query: Result<ApiQuery<ViewQuery>, ApiError>,
    body: Result<JsonBody<MemoryUpdate>, ApiError>,
) -> ManagedApiResult<Memory> {
    let context = context!(context);
    let ApiPath((store, memory)) = context!(ids);
    let ApiQuery(query) = context!(query);
    let JsonBody(body) = context!(body);
    Ok(Json(
        state
            .service
            .update_memory(&context, &store, &memory, body, query.view.as_deref())
            .await?,
    ))
}

/// Deletes the memory, if `expected_content_sha256` (when given) matches.
#[utoipa::path(delete, path = "/v1/memory_stores/{memory_store_id}/memories/{memory_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"),
        ("memory_id" = String, Path, description = "`mem_…`"), MemoryDeleteQuery),
    responses((status = 200, description = "`memory_deleted`", body = Deleted), ManagedErrors))]
async fn delete_memory(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    ids: Result<ApiPath<(String, String)>, ApiError>,
    query: Result<ApiQuery<MemoryDeleteQuery>, ApiError>,
) -> ManagedApiResult<Deleted> {
    let context = context!(context);
    let ApiPath((store, memory)) = context!(ids);
    let ApiQuery(query) = context!(query);
    Ok(Json(
        state
            .service
            .delete_memory(
                &context,
                &store,
                &memory,
                query.expected_content_sha256.as_deref(),
            )
            .await?,
    ))
}

/// The store's memory versions, newest first, filtered.
#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memory_versions", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"), MemoryVersionListQuery),
    responses((status = 200, description = "A page of versions", body = MemoryVersionPage), ManagedErrors))]
async fn list_versions(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
    query: Result<ApiQuery<MemoryVersionListQuery>, ApiError>,
) -> ManagedApiResult<MemoryVersionPage> {
    let context = context!(context);
    let ApiPath(id) = context!(id);
    let ApiQuery(query) = context!(query);
    Ok(Json(
        state
            .service
            .list_memory_versions(&context, &id, query)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"),
        ("memory_version_id" = String, Path, description = "`memver_…`"), ViewQuery),
    responses((status = 200, description = "The version", body = MemoryVersion), ManagedErrors))]
async fn get_version(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    ids: Result<ApiPath<(String, String)>, ApiError>,
    query: Result<ApiQuery<ViewQuery>, ApiError>,
) -> ManagedApiResult<MemoryVersion> {
    let context = context!(context);
    let ApiPath((store, version)) = context!(ids);
    let ApiQuery(query) = context!(query);
    Ok(Json(
        state
            .service
            .get_memory_version(&context, &store, &version, query.view.as_deref())
            .await?,
    ))
}

/// Removes a past version's content through Cairn's redaction (bytes gone
/// from every replica; needs `admin` on the Cairn store). Any body is ignored.
#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact", tag = "memory_stores",
    params(("memory_store_id" = String, Path, description = "`memstore_…`"),
        ("memory_version_id" = String, Path, description = "`memver_…`")),
    responses((status = 200, description = "The redacted version", body = MemoryVersion), ManagedErrors))]
async fn redact_version(
    State(state): State<AppState>,
    context: Result<RequestContext, ApiError>,
    ids: Result<ApiPath<(String, String)>, ApiError>,
    body: Result<BoundedBody, ApiError>,
) -> ManagedApiResult<MemoryVersion> {
    let context = context!(context);
    let ApiPath((store, version)) = context!(ids);
    context!(body);
    Ok(Json(
        state
            .service
            .redact_memory_version(&context, &store, &version)
            .await?,
    ))
}
