//! Probes: `/health`, `/ready`, `/metrics`, and `/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::{ErrorCode, Health, Ready};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::PeerAddr;
use super::openapi::{__path_openapi_json, openapi_json};
use super::{ApiError, AppState};
use crate::config::MetricsAccess;
use crate::metrics;
use crate::service::{ReadyState, RequestContext};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

/// `200` while the process runs.
#[utoipa::path(get, path = "/health", tag = "probes", responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
    })
}

/// `200` when the node knows a leader, else `503 unavailable`; `503
/// node_stopped`, with why and what to do, once Raft stopped on an error.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "probes",
    responses(
        (status = 200, body = Ready),
        (status = 503, description = "`unavailable`: no leader known yet; `node_stopped`: Raft stopped on a storage error (restart the node once its disk has room)", content_type = "application/problem+json", body = cairn_api::Problem),
    )
)]
async fn ready(State(state): State<AppState>) -> Response {
    match state.service.ready() {
        ReadyState::Ready(ready) => Json(ready).into_response(),
        ReadyState::NotReady(reason) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            reason,
        )
        .retryable()
        .into_response(),
        ReadyState::Stopped(reason) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NodeStopped,
            reason,
        )
        .into_response(),
    }
}

/// Raft gauges and request counts and latencies, in OpenMetrics text.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "probes",
    responses(
        (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "`unauthenticated`: not on loopback (`[auth] metrics`) and no operator token", content_type = "application/problem+json", body = cairn_api::Problem),
        (status = 403, description = "`forbidden`: a token that is not the operator's", content_type = "application/problem+json", body = cairn_api::Problem),
        (status = 500, description = "`internal`", content_type = "application/problem+json", body = cairn_api::Problem),
    )
)]
async fn metrics(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let open = match state.metrics_access {
        MetricsAccess::Open => true,
        MetricsAccess::Loopback => peer.is_some_and(|peer| peer.ip().is_loopback()),
        MetricsAccess::Token => false,
    };
    if !open {
        state.service.require_operator(&context).await?;
    }
    let text = state
        .metrics
        .render(&state.service.raft_gauges())
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}
