//! What wraps every request: its id, its tracing span, the freshness headers,
//! and its count and latency in the metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use cairn_api::{Consistency, headers};
use tracing::Instrument;

use super::AppState;
use crate::metrics::RequestLabels;

/// Longest request id taken from a client; a longer or non-ASCII one is
/// replaced by one the node makes.
pub const REQUEST_ID_BYTES_MAX: usize = 128;

/// The request's id, in the request's extensions for the handlers.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Makes request ids: `<node>-<start ms, hex>-<n>`, unique per node across
/// restarts, and deterministic under the simulation's clock.
pub struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new(node_id: u64, start_ms: u64) -> RequestIds {
        RequestIds {
            prefix: format!("{node_id}-{start_ms:x}"),
            next: AtomicU64::new(0),
        }
    }

    fn make(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.prefix)
    }

    /// The client's id when it is a sensible one, else a new one.
    fn for_request(&self, request: &Request) -> String {
        request
            .headers()
            .get(headers::REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty() && id.len() <= REQUEST_ID_BYTES_MAX)
            .map_or_else(|| self.make(), str::to_string)
    }
}

/// Whether the query asks for a stale read (`consistency=stale` is the
/// only spelling the query parser accepts for it).
fn is_stale_read(request: &Request) -> bool {
    let stale = format!("consistency={}", Consistency::Stale);
    request
        .uri()
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == stale))
}

/// Gives the request its id and span, stamps the answer with the id, the
/// index this node has applied and (for stale reads) how stale they may be,
/// and records the request in the metrics.
pub async fn around_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = tokio::time::Instant::now();
    let request_id = state.request_ids.for_request(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = request.method().as_str().to_string();
    let stale = is_stale_read(&request);
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", node_id = state.service.node_id(), %method, %route, %request_id);
    let mut response = next.run(request).instrument(span).await;

    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response_headers.insert(headers::REQUEST_ID, value);
    }
    if let Some(applied) = state.service.applied_index() {
        response_headers.insert(headers::APPLIED_INDEX, HeaderValue::from(applied));
    }
    if stale {
        let value = match state.service.staleness_ms() {
            Some(staleness) => HeaderValue::from(staleness),
            None => HeaderValue::from_static("unknown"),
        };
        response_headers.insert(headers::STALENESS_MS, value);
    }
    let labels = RequestLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    state
        .metrics
        .record_request(&labels, started.elapsed().as_secs_f64());
    response
}
