//! The REST adapter (`docs/api.md`, `/openapi.json`): axum handlers that
//! extract typed request pieces (`extract.rs`), call the service, and render
//! its answer. One file per topic; each registers its routes with their
//! OpenAPI description, so the router and the spec come from one place.

mod access;
mod admin;
mod audit;
pub mod console;
mod error;
mod export;
mod extract;
mod files;
mod history;
mod managed;
mod mcp;
mod memory_tool;
mod middleware;
mod openapi;
mod probes;
mod redact;
mod rollback;
mod search;
pub mod serve;
mod stores;
mod tree;
mod txn;
mod watch;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use cairn_api::ErrorCode;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use crate::config::{McpConfig, MetricsAccess};
use crate::metrics::Metrics;
use crate::service::Service;

pub use error::{ApiError, status_for};
pub use extract::RemoteAddr;
pub use middleware::RequestIds;
pub use openapi::openapi;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub metrics: Arc<Metrics>,
    pub request_ids: Arc<RequestIds>,
    /// Who may read `/metrics`.
    pub metrics_access: MetricsAccess,
    /// Cancelled when the server stops: ends every MCP session and its
    /// open event streams (`GET /mcp`), and every change-feed stream
    /// (`.../watch`), which would otherwise hold their connections until
    /// the drain timeout.
    pub mcp_shutdown: CancellationToken,
    /// `[mcp]`: whether `/mcp` is served, and its session bounds.
    pub mcp: McpConfig,
}

impl AppState {
    pub fn new(service: Service) -> AppState {
        let request_ids = RequestIds::new(service.node_id(), service.clock().now_ms());
        AppState {
            service,
            metrics: Arc::default(),
            request_ids: Arc::new(request_ids),
            metrics_access: MetricsAccess::default(),
            mcp_shutdown: CancellationToken::new(),
            mcp: McpConfig::default(),
        }
    }

    pub fn with_mcp(mut self, mcp: McpConfig) -> AppState {
        self.mcp = mcp;
        self
    }

    pub fn with_metrics_access(mut self, access: MetricsAccess) -> AppState {
        self.metrics_access = access;
        self
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Every route, with its OpenAPI operation.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(probes::routes())
        .merge(admin::routes())
        .merge(access::routes())
        .merge(stores::routes())
        .merge(files::routes())
        .merge(tree::routes())
        .merge(history::routes())
        .merge(audit::routes())
        .merge(txn::routes())
        .merge(rollback::routes())
        .merge(redact::routes())
        .merge(export::routes())
        .merge(managed::routes())
        .merge(memory_tool::routes())
        .merge(watch::routes())
        .merge(search::routes())
}

pub fn router(state: AppState) -> Router {
    let (router, _) = api_router().split_for_parts();
    // `/mcp` is the MCP endpoint (Streamable HTTP, JSON-RPC), not a REST
    // route: it stays out of the OpenAPI document and `docs/api.md`'s route
    // table, and `docs/mcp.md` describes it.
    let router = if state.mcp.enabled {
        router.merge(mcp::routes(&state))
    } else {
        router
    };
    // `/console`: the browser UI's static files, not REST routes either
    // (`console.rs`, `docs/console.md`).
    router
        .merge(console::routes())
        .fallback(no_route)
        // Bodies are read by the `BoundedBody` extractor under `request_bytes_max`.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::around_request,
        ))
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route {}", uri.path()),
    )
}

/// A store path as the service takes it: the catch-all segment with its `/`.
fn rooted(path: &str) -> String {
    format!("/{path}")
}
