//! `GET /v1/stores/{store}/watch`: the store's change feed as server-sent
//! events (`cairn_api::watch` lists the events). The feed is the service's
//! (`service/watch.rs`); this file turns its items into SSE events and ends
//! the stream when the server stops (`AppState::mcp_shutdown`), with an
//! `end` event of reason `shutdown`, so an open stream never holds the drain.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use cairn_api::watch::event;
use cairn_api::{ErrorCode, WatchEnd, WatchEndReason, WatchQuery, headers};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, CommonProblems, ReadProblems};
use super::extract::{ApiPath, ApiQuery};
use super::{ApiResult, AppState};
use crate::service::{RequestContext, WatchFeed, WatchItem};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(watch))
}

/// The store's changes in revision order, as server-sent events: `change`
/// (data: a `WatchChange`, `id:` its revision), `heartbeat`, `too_old`,
/// `end` and `error` (a problem). Resume with `Last-Event-ID: R` (the last
/// `id:` seen) on any node. Paths, versions and attribution only, never
/// content.
#[utoipa::path(
    get,
    path = "/v1/stores/{store}/watch",
    tag = "history",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("last-event-id" = Option<String>, Header, description = "The revision of the last change seen: resume after it"),
        WatchQuery,
    ),
    responses(
        (status = 200, description = "A stream of server-sent events", content_type = "text/event-stream", body = String),
        CommonProblems,
        ReadProblems,
    )
)]
async fn watch(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<WatchQuery>,
    request_headers: HeaderMap,
) -> ApiResult<Response> {
    let last_event_id = last_event_id(&request_headers)?;
    let feed = state
        .service
        .watch(&context, &store, query, last_event_id)
        .await?;
    let stream = futures::stream::unfold(
        Some((feed, state.mcp_shutdown.clone())),
        |open| async move {
            let (feed, shutdown) = open?;
            let (event, open) = next_event(feed, shutdown).await;
            Some((Ok::<Event, Infallible>(event), open))
        },
    );
    Ok(Sse::new(stream).into_response())
}

/// The feed's next event, and the feed again unless the stream ends with it.
async fn next_event(
    mut feed: WatchFeed,
    shutdown: CancellationToken,
) -> (Event, Option<(WatchFeed, CancellationToken)>) {
    let item = tokio::select! {
        biased;
        () = shutdown.cancelled() => {
            let end = WatchEnd {
                reason: WatchEndReason::Shutdown,
                last_revision: feed.last_revision(),
            };
            return (json_event(event::END, &end), None);
        }
        item = feed.next() => item,
    };
    match item {
        Ok(Some(WatchItem::Change(change))) => {
            let id = change.revision.to_string();
            (
                json_event(event::CHANGE, &change).id(id),
                Some((feed, shutdown)),
            )
        }
        Ok(Some(WatchItem::Heartbeat(beat))) => {
            (json_event(event::HEARTBEAT, &beat), Some((feed, shutdown)))
        }
        Ok(Some(WatchItem::TooOld(too_old))) => (json_event(event::TOO_OLD, &too_old), None),
        Ok(Some(WatchItem::End(end))) => (json_event(event::END, &end), None),
        // The feed said everything (it says `end` or `too_old` first).
        Ok(None) => {
            let end = WatchEnd {
                reason: WatchEndReason::Limit,
                last_revision: feed.last_revision(),
            };
            (json_event(event::END, &end), None)
        }
        Err(error) => {
            let problem = ApiError::from(error).0;
            (json_event(event::ERROR, &problem), None)
        }
    }
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    let event = Event::default().event(name);
    match serde_json::to_string(data) {
        Ok(json) => event.data(json),
        // Plain structs of strings and numbers always serialize.
        Err(error) => event.data(format!("{{\"error\":{:?}}}", error.to_string())),
    }
}

/// `Last-Event-ID`: a revision, or absent.
fn last_event_id(request_headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(value) = request_headers.get(headers::LAST_EVENT_ID) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "Last-Event-ID must be a revision (the id: of a change event)",
            )
        })
}
