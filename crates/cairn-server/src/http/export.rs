//! Export and import of whole stores (`docs/export.md`):
//! `GET /v1/stores/{store}/export` streams the archive; `/v1/imports…`
//! takes one in chunks and commits it as a new store.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::{
    ARCHIVE_CONTENT_TYPE, ConsistencyQuery, ImportList, ImportRequest, ImportView, StoreInfo,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems, WriteProblems};
use super::extract::{ApiPath, ApiQuery, BoundedBody, JsonBody};
use super::{ApiResult, AppState};
use crate::service::{ExportStream, RequestContext};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export))
        .routes(routes!(list_imports, begin_import))
        .routes(routes!(import_chunk))
        .routes(routes!(commit_import))
        .routes(routes!(abort_import))
}

/// The store as one archive (`docs/export.md`), streamed as it is read:
/// every version with its content and attribution, the audit events with
/// their chain, redaction marks, a trailer with counts and a digest. Anyone
/// who may read the store may export it. An export that fails part way ends
/// the body early, without the trailer: readers refuse such an archive.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/export",
    tag = "export",
    params(("store" = String, Path, description = "The store's name")),
    responses(
        (status = 200, description = "The archive", content_type = "application/x-cairn-archive", body = String),
        CommonProblems,
        ReadProblems,
    )
)]
async fn export(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
) -> ApiResult<Response> {
    let stream = state.service.export_store(&context, &store).await?;
    let body = futures::stream::unfold(Some(stream), |stream: Option<ExportStream>| async move {
        let mut stream = stream?;
        match stream.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok(bytes), Some(stream))),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "export stopped part way; the archive has no trailer");
                Some((Err(std::io::Error::other(error.to_string())), None))
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, ARCHIVE_CONTENT_TYPE)],
        Body::from_stream(body),
    )
        .into_response())
}

/// The imports being staged that the caller may work on (the operator:
/// every one; an organization admin: their organization's).
#[utoipa::path(get, path = "/v1/imports", tag = "export", params(ConsistencyQuery),
    responses((status = 200, body = ImportList), CommonProblems, ReadProblems))]
async fn list_imports(
    State(state): State<AppState>,
    context: RequestContext,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ImportList>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(
        state.service.list_imports(&context, consistency).await?,
    ))
}

/// Begins an import into a new store (the operator and the organization's
/// admins; `409 already_exists` if the name is taken). Send the archive to
/// `/v1/imports/{id}/chunks`, then commit it; nothing is visible before.
#[utoipa::path(post, path = "/v1/imports", tag = "export", request_body = ImportRequest,
    responses((status = 201, body = ImportView), CommonProblems, WriteProblems))]
async fn begin_import(
    State(state): State<AppState>,
    context: RequestContext,
    JsonBody(request): JsonBody<ImportRequest>,
) -> ApiResult<(StatusCode, Json<ImportView>)> {
    let view = state.service.import_begin(&context, request).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The next records of the archive: a whole number of records following the
/// last chunk taken (under `request_bytes_max`). A chunk that is malformed,
/// altered or out of order is refused (`400 invalid_archive`) and nothing of
/// it is staged.
#[utoipa::path(
    post,
    path = "/v1/imports/{id}/chunks",
    tag = "export",
    params(
        ("id" = u64, Path, description = "The import's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "A chunk sent again with the same key is staged at most once (once staged: 409 idempotency_key_reused); whether it was is the import's `digest` (GET /v1/imports)"),
    ),
    request_body(content = String, content_type = "application/octet-stream", description = "Archive records"),
    responses((status = 200, body = ImportView), CommonProblems, WriteProblems)
)]
async fn import_chunk(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(id): ApiPath<u64>,
    BoundedBody(body): BoundedBody,
) -> ApiResult<Json<ImportView>> {
    Ok(Json(state.service.import_chunk(&context, id, &body).await?))
}

/// Makes the import the store it names, once its whole archive (trailer
/// included) was taken; answers the store.
#[utoipa::path(
    post,
    path = "/v1/imports/{id}/commit",
    tag = "export",
    params(("id" = u64, Path, description = "The import's id")),
    responses((status = 201, body = StoreInfo), CommonProblems, WriteProblems)
)]
async fn commit_import(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(id): ApiPath<u64>,
) -> ApiResult<(StatusCode, Json<StoreInfo>)> {
    let info = state.service.import_commit(&context, id).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Abandons an import: everything staged for it is removed.
#[utoipa::path(
    delete,
    path = "/v1/imports/{id}",
    tag = "export",
    params(("id" = u64, Path, description = "The import's id")),
    responses((status = 200, body = ImportView), CommonProblems, WriteProblems)
)]
async fn abort_import(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(id): ApiPath<u64>,
) -> ApiResult<Json<ImportView>> {
    Ok(Json(state.service.import_abort(&context, id).await?))
}
