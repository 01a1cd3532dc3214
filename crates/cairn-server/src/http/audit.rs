//! The audit trail: `/v1/audit` (across stores), `/v1/stores/{store}/audit`
//! and `/v1/stores/{store}/audit/verify`.

use axum::Json;
use axum::extract::State;
use cairn_api::{AuditPage, AuditQuery, AuditVerify, ConsistencyQuery, GlobalAuditQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems};
use super::extract::{ApiPath, ApiQuery};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(audit))
        .routes(routes!(store_audit))
        .routes(routes!(verify_audit))
}

/// A page of audit events across every store the caller may read (and, for
/// an organization's admins and the operator, the organization's own
/// events), in log order.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "history",
    params(GlobalAuditQuery),
    responses((status = 200, body = AuditPage), CommonProblems, ReadProblems)
)]
async fn audit(
    State(state): State<AppState>,
    context: RequestContext,
    ApiQuery(query): ApiQuery<GlobalAuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(state.service.audit(&context, query).await?))
}

/// A page of the store's audit trail: who changed what, at which revision.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/audit",
    tag = "history",
    params(("store" = String, Path, description = "The store's name"), AuditQuery),
    responses((status = 200, body = AuditPage), CommonProblems, ReadProblems)
)]
async fn store_audit(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(
        state.service.store_audit(&context, &store, query).await?,
    ))
}

/// Recomputes the store's audit chain: ok with the count and head hash, or
/// the first break (200 either way).
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/audit/verify",
    tag = "history",
    params(("store" = String, Path, description = "The store's name"), ConsistencyQuery),
    responses((status = 200, body = AuditVerify), CommonProblems, ReadProblems)
)]
async fn verify_audit(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<AuditVerify>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(
        state
            .service
            .verify_audit(&context, &store, consistency)
            .await?,
    ))
}
