//! `/v1/admin/*`: the node's Raft view and membership changes (forwarded to
//! the leader by the node).

use axum::Json;
use axum::extract::State;
use cairn_api::{DigestView, LearnerRequest, NodeStatusView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{AdminProblems, CommonProblems};
use super::extract::{ApiPath, JsonBody};
use super::{ApiResult, AppState};
use crate::service::RequestContext;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(digest))
        .routes(routes!(init))
        .routes(routes!(add_learner))
        .routes(routes!(promote))
        .routes(routes!(remove_member))
}

/// This node's Raft view: id, state, term, leader, log / applied / snapshot /
/// purged index, voters, learners, members' addresses and tags.
#[utoipa::path(get, path = "/v1/admin/status", tag = "admin", responses((status = 200, body = NodeStatusView), CommonProblems))]
async fn status(
    State(state): State<AppState>,
    context: RequestContext,
) -> ApiResult<Json<NodeStatusView>> {
    Ok(Json(state.service.status(&context).await?))
}

/// The state machine digest (`docs/format.md`): equal on replicas that
/// applied the same log.
#[utoipa::path(get, path = "/v1/admin/digest", tag = "admin", responses((status = 200, body = DigestView), CommonProblems))]
async fn digest(
    State(state): State<AppState>,
    context: RequestContext,
) -> ApiResult<Json<DigestView>> {
    Ok(Json(state.service.digest(&context).await?))
}

/// Makes this never-initialized node a one-member cluster (a no-op otherwise).
#[utoipa::path(post, path = "/v1/admin/init", tag = "admin", responses((status = 200, body = NodeStatusView), CommonProblems, AdminProblems))]
async fn init(
    State(state): State<AppState>,
    context: RequestContext,
) -> ApiResult<Json<NodeStatusView>> {
    Ok(Json(state.service.init(&context).await?))
}

/// Adds a learner: a new node that receives the log but does not vote yet.
#[utoipa::path(
    post,
    path = "/v1/admin/learners",
    tag = "admin",
    request_body = LearnerRequest,
    responses((status = 200, body = NodeStatusView), CommonProblems, AdminProblems)
)]
async fn add_learner(
    State(state): State<AppState>,
    context: RequestContext,
    JsonBody(request): JsonBody<LearnerRequest>,
) -> ApiResult<Json<NodeStatusView>> {
    Ok(Json(state.service.add_learner(&context, request).await?))
}

/// Promotes a learner to voter.
#[utoipa::path(
    post,
    path = "/v1/admin/voters/{id}",
    tag = "admin",
    params(("id" = u64, Path, description = "The learner's node id")),
    responses((status = 200, body = NodeStatusView), CommonProblems, AdminProblems)
)]
async fn promote(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(id): ApiPath<u64>,
) -> ApiResult<Json<NodeStatusView>> {
    Ok(Json(state.service.promote(&context, id).await?))
}

/// Removes a voter or learner.
#[utoipa::path(
    delete,
    path = "/v1/admin/members/{id}",
    tag = "admin",
    params(("id" = u64, Path, description = "The member's node id")),
    responses((status = 200, body = NodeStatusView), CommonProblems, AdminProblems)
)]
async fn remove_member(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(id): ApiPath<u64>,
) -> ApiResult<Json<NodeStatusView>> {
    Ok(Json(state.service.remove_member(&context, id).await?))
}
