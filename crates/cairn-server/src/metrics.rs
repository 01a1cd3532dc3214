//! `GET /metrics` in Prometheus text format: Raft gauges read from the node
//! and request counts and latencies by route, method and status, recorded by
//! `track`, a middleware on every route.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::App;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    buckets: [u64; BUCKETS.len() + 1],
}

/// Request statistics, keyed by (route, method, status).
#[derive(Default)]
pub struct RequestMetrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl RequestMetrics {
    pub fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut series = self.series.lock().expect("metrics lock");
        let entry = series
            .entry((route.to_string(), method.to_string(), status))
            .or_default();
        entry.count += 1;
        entry.sum_seconds += seconds;
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        entry.buckets[slot] += 1;
    }

    fn render(&self, out: &mut String) {
        let series = self.series.lock().expect("metrics lock");
        out.push_str("# HELP cairn_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE cairn_http_requests_total counter\n");
        for ((route, method, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "cairn_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP cairn_http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE cairn_http_request_duration_seconds histogram\n");
        for ((route, method, status), s) in series.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(s.buckets.iter()) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "cairn_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "cairn_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "cairn_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "cairn_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }
}

/// Times every request and counts it under its route pattern (never the raw
/// path, so label cardinality stays bounded). Also stamps every answer with
/// the index this node has applied, and stale reads with how stale they may be.
pub async fn track(State(app): State<App>, request: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = request.method().as_str().to_string();
    let stale = request
        .uri()
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "consistency=stale"));
    let mut response = next.run(request).await;
    if let Some(applied) = app.node.applied_index()
        && let Ok(value) = HeaderValue::from_str(&applied.to_string())
    {
        response
            .headers_mut()
            .insert("x-cairn-applied-index", value);
    }
    if stale {
        let staleness = app.node.staleness_ms();
        let value = if staleness == u64::MAX {
            HeaderValue::from_static("unknown")
        } else {
            HeaderValue::from_str(&staleness.to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        };
        response.headers_mut().insert("x-cairn-staleness-ms", value);
    }
    app.metrics.record(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn gauge(out: &mut String, name: &str, help: &str, value: Option<u64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    match value {
        Some(value) => {
            let _ = writeln!(out, "{name} {value}");
        }
        None => {
            let _ = writeln!(out, "{name} NaN");
        }
    }
}

pub async fn metrics(State(app): State<App>) -> Response {
    let status = app.node.status();
    let mut out = String::new();
    let is_leader = status.current_leader == Some(status.node_id);
    gauge(
        &mut out,
        "cairn_raft_term",
        "Current Raft term.",
        Some(status.current_term),
    );
    gauge(
        &mut out,
        "cairn_raft_leader_id",
        "The leader this node knows (NaN if none).",
        status.current_leader,
    );
    gauge(
        &mut out,
        "cairn_raft_is_leader",
        "1 if this node is the leader.",
        Some(u64::from(is_leader)),
    );
    gauge(
        &mut out,
        "cairn_raft_last_log_index",
        "Index of the last entry in this node's log.",
        status.last_log_index,
    );
    gauge(
        &mut out,
        "cairn_raft_commit_index",
        "Highest index known committed (leader only).",
        status.committed_index,
    );
    gauge(
        &mut out,
        "cairn_raft_applied_index",
        "Index of the last entry applied to the state machine.",
        status.last_applied,
    );
    gauge(
        &mut out,
        "cairn_raft_snapshot_index",
        "Last index covered by the current snapshot.",
        status.snapshot_index,
    );
    gauge(
        &mut out,
        "cairn_raft_purged_index",
        "Last index purged from the log.",
        status.purged_index,
    );
    gauge(
        &mut out,
        "cairn_raft_log_entries",
        "Entries held in the Raft log.",
        app.node.log_entries().ok(),
    );
    let (log_bytes, state_bytes, snapshot_bytes) = app.node.file_bytes();
    gauge(
        &mut out,
        "cairn_raft_log_file_bytes",
        "Size of raft-log.redb.",
        log_bytes,
    );
    gauge(
        &mut out,
        "cairn_state_file_bytes",
        "Size of state.redb.",
        state_bytes,
    );
    gauge(
        &mut out,
        "cairn_snapshot_bytes",
        "Size of the current snapshot file.",
        snapshot_bytes,
    );
    gauge(
        &mut out,
        "cairn_raft_voters",
        "Voting members.",
        Some(status.voters.len() as u64),
    );
    gauge(
        &mut out,
        "cairn_raft_learners",
        "Learners.",
        Some(status.learners.len() as u64),
    );
    app.metrics.render(&mut out);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}
