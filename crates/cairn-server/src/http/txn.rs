//! `POST /v1/stores/{store}/txn`: several operations at one revision, or none.

use axum::Json;
use axum::extract::State;
use cairn_api::{TxnRequest, TxnResult};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, WriteProblems};
use super::extract::{ApiPath, JsonBody};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(txn))
}

/// Applies every operation at one revision, or none. A failed body
/// precondition answers `409 version_conflict` with `current_version` and
/// the failing `op_index`. An optional `message` is kept as the audit
/// event's `detail`.
#[utoipa::path(
    post,
    path = "/v1/stores/{store}/txn",
    tag = "txn",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried transaction with the same key is applied once"),
    ),
    request_body = TxnRequest,
    responses((status = 200, body = TxnResult), CommonProblems, WriteProblems)
)]
async fn txn(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    JsonBody(request): JsonBody<TxnRequest>,
) -> ApiResult<Json<TxnResult>> {
    Ok(Json(
        state
            .service
            .txn_with_message(&context, &store, request.ops, request.message)
            .await?,
    ))
}
