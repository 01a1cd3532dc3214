//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, made
//! from the handlers' annotations and the `cairn-api` types.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Spec;

/// The document's fixed parts; the routes add their paths and schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn",
        description = "Replicated, versioned memory for AI agents: stores of small text files, \
                       every change a version, linearizable compare-and-swap writes. Errors are \
                       application/problem+json with a stable `code`.",
    ),
    tags(
        (name = "probes", description = "Liveness, readiness, metrics and this document"),
        (name = "admin", description = "The node's Raft view and membership changes"),
        (name = "stores", description = "Stores"),
        (name = "files", description = "Files: read, write, delete, stat"),
        (name = "tree", description = "Directory listings"),
        (name = "history", description = "Versions, diffs and the audit trail"),
        (name = "txn", description = "Transactions of several operations at one revision"),
    )
)]
struct Base;

pub(super) fn base() -> Spec {
    Base::openapi()
}

/// The whole document. axum spells catch-all segments `{*path}`; OpenAPI
/// knows only `{path}`.
pub fn openapi() -> Spec {
    let (_, mut spec) = super::api_router().split_for_parts();
    spec.paths.paths = std::mem::take(&mut spec.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    spec
}

static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    openapi()
        .to_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"OpenAPI document: {error}\"}}"))
});

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub(super) async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.as_str(),
    )
}
