//! `/v1/stores/{store}/files/{path}` and `/stat/{path}`: one file.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cairn_api::{DeleteQuery, FileMeta, ReadQuery, TxnResult, WriteResponse, etag, headers};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems, WriteProblems};
use super::extract::{ApiPath, ApiQuery, HeaderPreconditions, TextBody};
use super::{ApiError, ApiResult, AppState, rooted};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read_file, write_file, delete_file))
        .routes(routes!(stat))
}

/// The file's content (`text/plain; charset=utf-8`) with `ETag: "V"`,
/// `X-Cairn-Version` and `X-Cairn-Revision` (the store's revision);
/// `?version=V` or `?revision=R` read the past. `HEAD` answers the headers.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/files/{*path}",
    tag = "files",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("path" = String, Path, description = "The file's path, without the leading /"),
        ReadQuery,
    ),
    responses(
        (status = 200, description = "The content", content_type = "text/plain; charset=utf-8", body = String, headers(
            ("ETag" = String, description = "The version as an entity tag: \"V\""),
            ("X-Cairn-Version" = u64, description = "The file's version"),
            ("X-Cairn-Revision" = u64, description = "The store's revision when the read was served"),
        )),
        CommonProblems,
        ReadProblems,
    )
)]
async fn read_file(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, path)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> ApiResult<Response> {
    let file = state
        .service
        .read_file(&context, &store, &rooted(&path), query)
        .await?;
    let version = file.meta.version;
    Ok((
        [
            (
                header::CONTENT_TYPE.as_str(),
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::ETAG.as_str(), etag::etag(version)),
            (headers::VERSION, version.to_string()),
            (headers::REVISION, file.meta.store_revision.to_string()),
        ],
        file.content,
    )
        .into_response())
}

/// Creates or replaces the file with the raw UTF-8 body. `If-Match: "V"`
/// writes only over version V, `If-None-Match: *` only if there is no file
/// (`412 version_conflict` otherwise).
#[utoipa::path(
    put,
    path = "/v1/stores/{store}/files/{*path}",
    tag = "files",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("path" = String, Path, description = "The file's path, without the leading /"),
        ("If-Match" = Option<String>, Header, description = "\"V\": write only over version V; *: only if the file exists"),
        ("If-None-Match" = Option<String>, Header, description = "*: write only if there is no file"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried write with the same key is applied once"),
        ("X-Cairn-Agent" = Option<String>, Header, description = "The agent the version is attributed to"),
        ("X-Cairn-Session" = Option<String>, Header, description = "The agent's session"),
    ),
    request_body(content = String, content_type = "text/plain", description = "The file's new content, UTF-8"),
    responses(
        (status = 200, body = WriteResponse, headers(("ETag" = String, description = "The new version: \"V\""))),
        CommonProblems,
        WriteProblems,
    )
)]
async fn write_file(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, path)): ApiPath<(String, String)>,
    preconditions: HeaderPreconditions,
    TextBody(content): TextBody,
) -> ApiResult<Response> {
    let written = state
        .service
        .write_file(&context, &store, &rooted(&path), content, preconditions.0)
        .await
        .map_err(|error| ApiError::service(error, preconditions.is_set()))?;
    let tag = etag::etag(written.version);
    Ok(([(header::ETAG, tag)], Json(written)).into_response())
}

/// Deletes the file, or with `?recursive=true` every file under the directory.
#[utoipa::path(
    delete,
    path = "/v1/stores/{store}/files/{*path}",
    tag = "files",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("path" = String, Path, description = "The file's path, without the leading /"),
        ("If-Match" = Option<String>, Header, description = "\"V\": delete only version V; *: only if the file exists"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried delete with the same key is applied once"),
        DeleteQuery,
    ),
    responses((status = 200, body = TxnResult), CommonProblems, WriteProblems)
)]
async fn delete_file(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, path)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
    preconditions: HeaderPreconditions,
) -> ApiResult<Json<TxnResult>> {
    let result = state
        .service
        .delete_file(
            &context,
            &store,
            &rooted(&path),
            query.recursive,
            preconditions.0,
        )
        .await
        .map_err(|error| ApiError::service(error, preconditions.is_set()))?;
    Ok(Json(result))
}

/// The file's metadata; `?version=V` or `?revision=R` for the past.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/stat/{*path}",
    tag = "files",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("path" = String, Path, description = "The file's path, without the leading /"),
        ReadQuery,
    ),
    responses((status = 200, body = FileMeta), CommonProblems, ReadProblems)
)]
async fn stat(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, path)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> ApiResult<Json<FileMeta>> {
    let meta = state
        .service
        .stat(&context, &store, &rooted(&path), query)
        .await?;
    Ok(Json(meta))
}
