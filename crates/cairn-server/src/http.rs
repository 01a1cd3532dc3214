//! The HTTP API (`docs/api.md`): axum handlers that turn requests into
//! proposals and reads on the `Node`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use cairn_core::api::{StoreList, TxnRequest, WriteResponse};
use cairn_core::command::{Command, Meta, Outcome, Precondition, Proposal, WriteOp};
use cairn_core::read::{self, ListOptions};
use cairn_core::{At, CoreError, DirPath, FilePath, Limits, ReadError, StoreName};
use cairn_raft::{AdminRequest, Consistency, Node, NodeError, PeerNode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::metrics::{self, RequestMetrics};

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    pub node: Node,
    pub limits: Limits,
    pub clock: Arc<dyn Clock>,
    pub request_timeout: Duration,
    pub metrics: Arc<RequestMetrics>,
    pub testing: Testing,
    /// Numbers the idempotency keys this node makes for keyless writes.
    pub auto_keys: Arc<AtomicU64>,
}

/// How long a key made by the server is remembered: long enough for the
/// node's own retries within one request.
const AUTO_KEY_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Faults planted on purpose, to prove the simulation's checkers catch them.
/// Only ever set by test code; `cairn serve` has no way to turn them on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Testing {
    /// Serve linearizable reads from the local replica, as stale reads.
    pub linearizable_reads_are_stale: bool,
}

type ApiResult<T = Response> = Result<T, ApiError>;

pub fn router(app: App) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/admin/status", get(admin_status))
        .route("/v1/admin/digest", get(admin_digest))
        .route("/v1/admin/init", post(admin_init))
        .route("/v1/admin/learners", post(admin_add_learner))
        .route("/v1/admin/voters/{id}", post(admin_promote))
        .route(
            "/v1/admin/members/{id}",
            axum::routing::delete(admin_remove),
        )
        .route("/v1/stores", get(list_stores))
        .route(
            "/v1/stores/{store}",
            put(create_store).get(get_store).delete(delete_store),
        )
        .route(
            "/v1/stores/{store}/files/{*path}",
            get(read_file).put(write_file).delete(delete_file),
        )
        .route("/v1/stores/{store}/stat/{*path}", get(stat))
        .route("/v1/stores/{store}/tree", get(tree_root))
        .route("/v1/stores/{store}/tree/{*dir}", get(tree))
        .route("/v1/stores/{store}/history/{*path}", get(history))
        .route("/v1/stores/{store}/diff/{*path}", get(diff))
        .route("/v1/stores/{store}/audit", get(audit))
        .route("/v1/stores/{store}/txn", post(txn))
        .fallback(not_found)
        // Bodies are read by `body_bytes` under `request_bytes_max`.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            metrics::track,
        ))
        .with_state(app)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {}", uri.path()),
    )
}

// ---- request pieces ----

fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn query<T: DeserializeOwned>(uri: &Uri) -> ApiResult<T> {
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|error| {
            ApiError::core(
                &CoreError::invalid_request(format!("query: {}", error.body_text())),
                None,
                false,
            )
        })
}

fn store_name(raw: &str) -> ApiResult<StoreName> {
    Ok(StoreName::parse(raw)?)
}

fn file_path(raw: &str, limits: &Limits) -> ApiResult<FilePath> {
    Ok(FilePath::parse(&format!("/{raw}"), limits)?)
}

/// Reads the whole body, refusing it unread when `Content-Length` is over
/// `request_bytes_max` and stopping as soon as a streamed body passes it.
async fn body_bytes(limits: &Limits, headers: &HeaderMap, body: Body) -> ApiResult<Bytes> {
    let max = limits.request_bytes_max;
    let too_large = |actual: u64| {
        ApiError::core(
            &CoreError::limit("request_bytes_max", max, actual),
            None,
            false,
        )
    };
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        && length > max
    {
        return Err(too_large(length));
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(max.saturating_add(1)))
}

fn utf8(bytes: Bytes, what: &str) -> ApiResult<String> {
    String::from_utf8(bytes.to_vec()).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_utf8",
            format!(
                "{what} is not UTF-8 text (invalid byte at offset {})",
                error.utf8_error().valid_up_to()
            ),
        )
    })
}

fn header_label(headers: &HeaderMap, name: &str, limits: &Limits) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        ApiError::core(
            &CoreError::invalid_request(format!("header {name} must be visible ASCII")),
            None,
            false,
        )
    })?;
    if value.len() as u64 > limits.label_bytes_max {
        return Err(ApiError::core(
            &CoreError::limit(
                "label_bytes_max",
                limits.label_bytes_max,
                value.len() as u64,
            ),
            None,
            false,
        ));
    }
    Ok(Some(value.to_string()))
}

/// `If-Match: "V"` (or `*`) and `If-None-Match: *` as a precondition.
fn header_precondition(headers: &HeaderMap) -> ApiResult<Precondition> {
    let text = |name: header::HeaderName| -> ApiResult<Option<String>> {
        headers
            .get(&name)
            .map(|value| {
                value.to_str().map(|s| s.trim().to_string()).map_err(|_| {
                    ApiError::core(
                        &CoreError::invalid_request(format!("header {name} is not ASCII")),
                        None,
                        false,
                    )
                })
            })
            .transpose()
    };
    let bad = |name: &str, value: &str| {
        ApiError::core(
            &CoreError::invalid_request(format!(
                "{name}: {value:?} is not a version tag such as \"3\" or *"
            )),
            None,
            false,
        )
    };
    match (text(header::IF_MATCH)?, text(header::IF_NONE_MATCH)?) {
        (None, None) => Ok(Precondition::None),
        (Some(value), None) if value == "*" => Ok(Precondition::IfExists),
        (Some(value), None) => value
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse::<u64>()
            .map(Precondition::IfVersion)
            .map_err(|_| bad("If-Match", &value)),
        (None, Some(value)) if value == "*" => Ok(Precondition::IfAbsent),
        (None, Some(value)) => Err(bad("If-None-Match (only * is supported on writes)", &value)),
        (Some(_), Some(_)) => Err(ApiError::core(
            &CoreError::invalid_request("send at most one of If-Match and If-None-Match"),
            None,
            false,
        )),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReadQuery {
    version: Option<u64>,
    revision: Option<u64>,
    consistency: Option<String>,
}

fn consistency(raw: Option<&str>) -> ApiResult<Consistency> {
    match raw {
        None | Some("linearizable") => Ok(Consistency::Linearizable),
        Some("stale") => Ok(Consistency::Stale),
        Some(other) => Err(ApiError::core(
            &CoreError::invalid_request(format!(
                "consistency={other:?}: expected linearizable or stale"
            )),
            None,
            false,
        )),
    }
}

impl ReadQuery {
    fn at(&self) -> ApiResult<At> {
        match (self.version, self.revision) {
            (None, None) => Ok(At::Current),
            (Some(version), None) => Ok(At::Version(version)),
            (None, Some(revision)) => Ok(At::Revision(revision)),
            (Some(_), Some(_)) => Err(ApiError::core(
                &CoreError::invalid_request("give at most one of version and revision"),
                None,
                false,
            )),
        }
    }
}

impl App {
    /// Attribution, time and limits for a proposal. A write without an
    /// `Idempotency-Key` gets one made here (remembered only briefly), so that
    /// the node may retry it across a leader change without applying it twice.
    fn meta(&self, headers: &HeaderMap) -> ApiResult<Meta> {
        let time_ms = self.clock.now_ms();
        let mut limits = self.limits;
        let idempotency_key = match header_label(headers, "idempotency-key", &self.limits)? {
            Some(key) => key,
            None => {
                let n = self.auto_keys.fetch_add(1, Ordering::Relaxed);
                limits.idempotency_window_ms = AUTO_KEY_WINDOW_MS.min(limits.idempotency_window_ms);
                format!("~auto/{}/{time_ms}/{n}", self.node.id())
            }
        };
        Ok(Meta {
            time_ms,
            agent: header_label(headers, "x-cairn-agent", &self.limits)?.unwrap_or_default(),
            session: header_label(headers, "x-cairn-session", &self.limits)?.unwrap_or_default(),
            idempotency_key: Some(idempotency_key),
            limits,
        })
    }

    /// Proposes and waits, bounded by the request timeout.
    async fn propose(&self, headers: &HeaderMap, command: Command) -> ApiResult<Outcome> {
        let proposal = Proposal {
            meta: self.meta(headers)?,
            command,
        };
        Ok(self.node.propose(proposal, self.request_timeout).await?)
    }

    async fn read<T>(
        &self,
        consistency: Consistency,
        read: impl FnOnce(&cairn_storage::StateReader) -> Result<T, ReadError>,
    ) -> ApiResult<T> {
        let consistency = if self.testing.linearizable_reads_are_stale {
            Consistency::Stale
        } else {
            consistency
        };
        match tokio::time::timeout(self.request_timeout, self.node.read(consistency, read)).await {
            Ok(result) => Ok(result??),
            // A read changes nothing: running out of time only means "not now".
            Err(_) => Err(NodeError::Unavailable(format!(
                "could not confirm a linearizable read within {} ms",
                self.request_timeout.as_millis()
            ))
            .into()),
        }
    }
}

fn failed(outcome: Outcome, header_precondition: bool) -> ApiError {
    match outcome {
        Outcome::Failed { op_index, error } => {
            ApiError::core(&error, op_index, header_precondition)
        }
        other => ApiError::internal(format!("unexpected outcome {other:?}")),
    }
}

// ---- probes and admin ----

async fn health() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

async fn ready(State(app): State<App>) -> Response {
    let status = app.node.status();
    if status.running && status.current_leader.is_some() {
        json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ready", "leader": status.current_leader}),
        )
    } else {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the node knows no leader yet",
        );
        error.0.retryable = true;
        error.into_response()
    }
}

async fn admin_status(State(app): State<App>) -> Response {
    let status = app.node.status();
    let me = app.node.peer_node();
    let nodes: serde_json::Map<String, serde_json::Value> = status
        .nodes
        .iter()
        .map(|(id, node)| {
            (
                id.to_string(),
                serde_json::json!({"raft_addr": node.raft_addr, "api_addr": node.api_addr, "tags": node.tags}),
            )
        })
        .collect();
    let matched: serde_json::Map<String, serde_json::Value> = status
        .matched
        .iter()
        .map(|(id, index)| (id.to_string(), serde_json::json!(index)))
        .collect();
    let staleness = app.node.staleness_ms();
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "node_id": status.node_id,
            "self": {"raft_addr": me.raft_addr, "api_addr": me.api_addr, "tags": me.tags},
            "state": status.state,
            "current_term": status.current_term,
            "current_leader": status.current_leader,
            "last_log_index": status.last_log_index,
            "committed_index": status.committed_index,
            "last_applied": status.last_applied,
            "snapshot_index": status.snapshot_index,
            "purged_index": status.purged_index,
            "voters": status.voters,
            "learners": status.learners,
            "nodes": nodes,
            "matched": matched,
            "staleness_ms": (staleness != u64::MAX).then_some(staleness),
            "running": status.running,
        }),
    )
}

/// `POST /v1/admin/init`: make this never-initialized node a one-member cluster.
async fn admin_init(State(app): State<App>) -> ApiResult {
    app.node.initialize_single().await?;
    Ok(admin_status(State(app)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LearnerRequest {
    node_id: u64,
    raft_addr: String,
    api_addr: String,
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
}

async fn admin_change(app: &App, request: AdminRequest) -> ApiResult {
    app.node.admin(request, app.request_timeout).await?;
    Ok(admin_status(State(app.clone())).await)
}

/// `POST /v1/admin/learners`: start replicating to a new node.
async fn admin_add_learner(State(app): State<App>, headers: HeaderMap, body: Body) -> ApiResult {
    let bytes = body_bytes(&app.limits, &headers, body).await?;
    let request: LearnerRequest = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::invalid_json(format!("learner body: {error}")))?;
    if request.node_id == 0 {
        return Err(CoreError::invalid_request("node_id must be positive").into());
    }
    for (name, addr) in [
        ("raft_addr", &request.raft_addr),
        ("api_addr", &request.api_addr),
    ] {
        if !addr.contains(':') {
            return Err(
                CoreError::invalid_request(format!("{name} {addr:?} must be host:port")).into(),
            );
        }
    }
    let node = PeerNode {
        raft_addr: request.raft_addr,
        api_addr: request.api_addr,
        tags: request.tags,
    };
    admin_change(
        &app,
        AdminRequest::AddLearner {
            node_id: request.node_id,
            node,
        },
    )
    .await
}

/// `POST /v1/admin/voters/{id}`: make a learner a voter.
async fn admin_promote(State(app): State<App>, Path(id): Path<u64>) -> ApiResult {
    admin_change(&app, AdminRequest::Promote { node_id: id }).await
}

/// `DELETE /v1/admin/members/{id}`: remove a voter or learner.
async fn admin_remove(State(app): State<App>, Path(id): Path<u64>) -> ApiResult {
    admin_change(&app, AdminRequest::Remove { node_id: id }).await
}

async fn admin_digest(State(app): State<App>) -> ApiResult {
    let digest = app.node.state_digest()?;
    let status = app.node.status();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "digest": format!("{digest:016x}"),
            "last_applied": status.last_applied,
        }),
    ))
}

// ---- stores ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    consistency: Option<String>,
}

async fn list_stores(State(app): State<App>, uri: Uri) -> ApiResult {
    let q: ConsistencyQuery = query(&uri)?;
    let stores = app
        .read(consistency(q.consistency.as_deref())?, |reader| {
            read::list_stores(reader)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &StoreList { stores }))
}

async fn create_store(
    State(app): State<App>,
    Path(store): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let store = store_name(&store)?;
    match app
        .propose(&headers, Command::CreateStore { store })
        .await?
    {
        Outcome::StoreCreated(info) => Ok(json_response(StatusCode::CREATED, &info)),
        other => Err(failed(other, false)),
    }
}

async fn get_store(State(app): State<App>, Path(store): Path<String>, uri: Uri) -> ApiResult {
    let q: ConsistencyQuery = query(&uri)?;
    let store = store_name(&store)?;
    let info = app
        .read(consistency(q.consistency.as_deref())?, |reader| {
            read::get_store(reader, &store)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &info))
}

async fn delete_store(
    State(app): State<App>,
    Path(store): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let store = store_name(&store)?;
    match app
        .propose(&headers, Command::DeleteStore { store })
        .await?
    {
        Outcome::StoreDeleted(info) => Ok(json_response(StatusCode::OK, &info)),
        other => Err(failed(other, false)),
    }
}

// ---- files ----

/// One file as of `?version=` / `?revision=`, read with `?consistency=`.
async fn read_at<T>(
    app: &App,
    (store, path): (String, String),
    uri: &Uri,
    read: impl FnOnce(&cairn_storage::StateReader, &StoreName, &FilePath, At) -> Result<T, ReadError>,
) -> ApiResult<T> {
    let q: ReadQuery = query(uri)?;
    let store = store_name(&store)?;
    let path = file_path(&path, &app.limits)?;
    let at = q.at()?;
    app.read(consistency(q.consistency.as_deref())?, |reader| {
        read(reader, &store, &path, at)
    })
    .await
}

async fn read_file(
    State(app): State<App>,
    Path(target): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let file = read_at(&app, target, &uri, read::read_file).await?;
    let version = file.meta.version.to_string();
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::ETAG, format!("\"{version}\"")),
            (header::HeaderName::from_static("x-cairn-version"), version),
            (
                header::HeaderName::from_static("x-cairn-revision"),
                file.meta.store_revision.to_string(),
            ),
        ],
        file.content,
    )
        .into_response())
}

async fn write_file(
    State(app): State<App>,
    Path((store, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let store = store_name(&store)?;
    let path = file_path(&path, &app.limits)?;
    let precondition = header_precondition(&headers)?;
    let bytes = body_bytes(&app.limits, &headers, body).await?;
    if bytes.len() as u64 > app.limits.file_bytes_max {
        return Err(CoreError::limit(
            "file_bytes_max",
            app.limits.file_bytes_max,
            bytes.len() as u64,
        )
        .into());
    }
    let content = utf8(bytes, "the file content")?;
    let op = WriteOp::Write {
        path: path.clone(),
        content,
        precondition,
    };
    let header_checked = precondition != Precondition::None;
    match app
        .propose(
            &headers,
            Command::Txn {
                store,
                ops: vec![op],
            },
        )
        .await?
    {
        Outcome::Txn(result) => {
            let version = result.revision;
            let response = WriteResponse {
                path: path.as_str().to_string(),
                version,
                revision: result.revision,
            };
            let mut response = json_response(StatusCode::OK, &response);
            if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
                response.headers_mut().insert(header::ETAG, value);
            }
            Ok(response)
        }
        other => Err(failed(other, header_checked)),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    #[serde(default)]
    recursive: bool,
}

async fn delete_file(
    State(app): State<App>,
    Path((store, path)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let q: DeleteQuery = query(&uri)?;
    let store = store_name(&store)?;
    let path = file_path(&path, &app.limits)?;
    let precondition = header_precondition(&headers)?;
    let op = WriteOp::Delete {
        path,
        recursive: q.recursive,
        precondition,
    };
    match app
        .propose(
            &headers,
            Command::Txn {
                store,
                ops: vec![op],
            },
        )
        .await?
    {
        Outcome::Txn(result) => Ok(json_response(StatusCode::OK, &result)),
        other => Err(failed(other, precondition != Precondition::None)),
    }
}

async fn stat(State(app): State<App>, Path(target): Path<(String, String)>, uri: Uri) -> ApiResult {
    let meta = read_at(&app, target, &uri, read::stat).await?;
    Ok(json_response(StatusCode::OK, &meta))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TreeQuery {
    depth: Option<u64>,
    revision: Option<u64>,
    consistency: Option<String>,
}

async fn tree_root(State(app): State<App>, Path(store): Path<String>, uri: Uri) -> ApiResult {
    list_dir(app, store, DirPath::root(), uri).await
}

async fn tree(
    State(app): State<App>,
    Path((store, dir)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let dir = DirPath::parse(&format!("/{dir}"), &app.limits)?;
    list_dir(app, store, dir, uri).await
}

async fn list_dir(app: App, store: String, dir: DirPath, uri: Uri) -> ApiResult {
    let q: TreeQuery = query(&uri)?;
    let store = store_name(&store)?;
    let options = ListOptions {
        depth: q.depth,
        revision: q.revision,
    };
    let listing = app
        .read(consistency(q.consistency.as_deref())?, |reader| {
            read::list(reader, &store, &dir, options)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &listing))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    limit: Option<u64>,
    before: Option<u64>,
    #[serde(default)]
    content: bool,
    consistency: Option<String>,
}

fn page_limit(limit: Option<u64>, limits: &Limits) -> ApiResult<u64> {
    match limit {
        None => Ok(limits.page_entries_max.min(100)),
        Some(0) => Err(CoreError::invalid_request("limit must be positive").into()),
        Some(limit) if limit > limits.page_entries_max => {
            Err(CoreError::limit("page_entries_max", limits.page_entries_max, limit).into())
        }
        Some(limit) => Ok(limit),
    }
}

async fn history(
    State(app): State<App>,
    Path((store, path)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let q: HistoryQuery = query(&uri)?;
    let store = store_name(&store)?;
    let path = file_path(&path, &app.limits)?;
    let limit = page_limit(q.limit, &app.limits)?;
    let page = app
        .read(consistency(q.consistency.as_deref())?, |reader| {
            read::history(reader, &store, &path, q.before, limit, q.content)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &page))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    from: u64,
    to: u64,
    consistency: Option<String>,
}

async fn diff(
    State(app): State<App>,
    Path((store, path)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let q: DiffQuery = query(&uri)?;
    let store = store_name(&store)?;
    let path = file_path(&path, &app.limits)?;
    let text = app
        .read(consistency(q.consistency.as_deref())?, |reader| {
            read::diff(reader, &store, &path, q.from, q.to)
        })
        .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<u64>,
    limit: Option<u64>,
    consistency: Option<String>,
}

async fn audit(State(app): State<App>, Path(store): Path<String>, uri: Uri) -> ApiResult {
    let q: AuditQuery = query(&uri)?;
    let store = store_name(&store)?;
    let limit = page_limit(q.limit, &app.limits)?;
    let page = app
        .read(consistency(q.consistency.as_deref())?, |reader| {
            read::audit(reader, &store, q.after, limit)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &page))
}

// ---- transactions ----

async fn txn(
    State(app): State<App>,
    Path(store): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let store = store_name(&store)?;
    let bytes = body_bytes(&app.limits, &headers, body).await?;
    let request: TxnRequest = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::invalid_json(format!("transaction body: {error}")))?;
    if request.ops.is_empty() {
        return Err(CoreError::invalid_request("a transaction needs at least one op").into());
    }
    if request.ops.len() as u64 > app.limits.txn_ops_max {
        return Err(CoreError::limit(
            "txn_ops_max",
            app.limits.txn_ops_max,
            request.ops.len() as u64,
        )
        .into());
    }
    let mut ops = Vec::with_capacity(request.ops.len());
    for (index, op) in request.ops.into_iter().enumerate() {
        let op = op
            .into_op(&app.limits)
            .map_err(|error| ApiError::core(&error, Some(index as u32), false))?;
        ops.push(op);
    }
    match app.propose(&headers, Command::Txn { store, ops }).await? {
        Outcome::Txn(result) => Ok(json_response(StatusCode::OK, &result)),
        other => Err(failed(other, false)),
    }
}
