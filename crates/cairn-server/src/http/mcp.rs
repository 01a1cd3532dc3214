//! `/mcp`: a Streamable HTTP MCP server (the official SDK, `rmcp`) whose
//! tools call the service under the caller's token (`docs/mcp.md`).
//!
//! rmcp's `StreamableHttpService` is a tower service mounted on the router
//! beside the REST routes. It consumes the body and puts the rest of the
//! request, `http::request::Parts`, into each MCP request's extensions; the
//! tools take it with rmcp's `Extension<Parts>` extractor and build the same
//! `RequestContext` the REST handlers build (`extract::request_context`), so
//! the `Authorization: Bearer` token of the HTTP request is the one every
//! tool call presents to the service. `require_token` refuses a request
//! without a valid token before rmcp sees it, with `401` and
//! `WWW-Authenticate: Bearer`, as MCP clients expect.
//!
//! Attribution: `X-Cairn-Session` when the client sets it, else the MCP
//! session id (`Mcp-Session-Id`; absent for protocol versions without
//! sessions). The `Idempotency-Key` header is ignored: an MCP client sends
//! the same headers with every call, so it would make every write after the
//! first a replay. A write tool takes an optional `idempotency_key` argument
//! instead; without one the service makes a key.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_api::{
    Consistency, EntryKind, HistoryQuery, OpRequest, PreconditionFields, ReadQuery, SearchQuery,
    TreeQuery,
};
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};

use super::extract::request_context;
use super::{ApiError, AppState};
use crate::service::{RequestContext, Service, ServiceError, view_file};

/// The header of the MCP session id (Streamable HTTP transport).
const MCP_SESSION_ID: &str = "mcp-session-id";

/// How deep `view` lists a directory, as the memory tool does.
const VIEW_DEPTH: u64 = 2;

/// `/mcp`, behind `require_token` and the session bound of `[mcp]`.
pub(super) fn routes(state: &AppState) -> axum::Router<AppState> {
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(Duration::from_millis(state.mcp.idle_timeout_ms));
    let sessions = Arc::new(sessions);
    let gate = Gate {
        state: state.clone(),
        sessions: sessions.clone(),
    };
    axum::Router::new()
        .route_service("/mcp", service(state, sessions))
        .layer(axum::middleware::from_fn_with_state(gate, require_token))
}

/// The MCP endpoint as a tower service for `Router::route_service`.
fn service(
    state: &AppState,
    sessions: Arc<LocalSessionManager>,
) -> StreamableHttpService<CairnMcp, LocalSessionManager> {
    let service = state.service.clone();
    let body_bytes_max =
        usize::try_from(state.service.limits().request_bytes_max).unwrap_or(usize::MAX);
    // rmcp checks `Host` against loopback names by default (DNS rebinding
    // protection for servers without authentication). Every request here
    // carries a bearer token a rebinding page does not have, and a node
    // serves the names its operator gives it, so the check is off.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(body_bytes_max)
        .with_cancellation_token(state.mcp_shutdown.child_token());
    StreamableHttpService::new(move || Ok(CairnMcp::new(service.clone())), sessions, config)
}

/// What `require_token` checks against.
#[derive(Clone)]
pub(super) struct Gate {
    state: AppState,
    /// rmcp's sessions; a session leaves the map when it ends (closed by the
    /// client, idle past `[mcp] idle_timeout_ms`, or the server stopping).
    sessions: Arc<LocalSessionManager>,
}

/// Refuses an MCP request without a token the node knows, before rmcp, and
/// a request that would open one session more than `[mcp] sessions_max`.
pub(super) async fn require_token(
    State(gate): State<Gate>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let checked = match request_context(&parts) {
        Ok(context) if context.credentials.is_none() => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            cairn_api::ErrorCode::Unauthenticated,
            "the MCP endpoint needs `Authorization: Bearer <token>`",
        )),
        Ok(context) => gate
            .state
            .service
            .whoami(&context)
            .await
            .map(drop)
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    let checked = match checked {
        Ok(()) if opens_session(&parts) => gate.admit_session().await,
        other => other,
    };
    match checked {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(error) => {
            let unauthorized = error.0.status == StatusCode::UNAUTHORIZED.as_u16();
            let mut response = error.into_response();
            if unauthorized {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

/// A POST without a session id is an `initialize` that opens a session.
fn opens_session(parts: &Parts) -> bool {
    parts.method == axum::http::Method::POST && !parts.headers.contains_key(MCP_SESSION_ID)
}

impl Gate {
    async fn admit_session(&self) -> Result<(), ApiError> {
        let open = self.sessions.sessions.read().await.len();
        let max = self.state.mcp.sessions_max;
        if u64::try_from(open).unwrap_or(u64::MAX) < max {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            cairn_api::ErrorCode::Unavailable,
            format!(
                "this node has {open} MCP sessions open, its limit ([mcp] sessions_max = {max}); retry when one ends, or send to another node"
            ),
        )
        .retryable())
    }
}

/// The MCP server of one session: the tools over the service.
#[derive(Clone)]
pub struct CairnMcp {
    service: Service,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListStoresInput {}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ViewInput {
    /// The store's name (see list_stores).
    pub store: String,
    /// A file path such as `/notes/todo.md`, or a directory such as `/` or `/notes/`.
    #[serde(default = "root")]
    pub path: String,
    /// Only for a file: `[first, last]` line numbers to show (1-based, inclusive; `last` = -1 means to the end).
    #[serde(default)]
    pub view_range: Option<[i64; 2]>,
}

fn root() -> String {
    "/".to_string()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReadInput {
    /// The store's name.
    pub store: String,
    /// The file's path, e.g. `/notes/todo.md`.
    pub path: String,
    /// An older version to read (a version number from `history`); absent reads the current one.
    #[serde(default)]
    pub version: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WriteInput {
    /// The store's name.
    pub store: String,
    /// The file's path, e.g. `/notes/todo.md`. Parent directories need not exist.
    pub path: String,
    /// The file's whole new content (UTF-8 text).
    pub content: String,
    /// Write only if the file is still at this version (from `read`, `view` or a previous write); otherwise the call fails and says the current version.
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Write only if the file does not exist yet.
    #[serde(default)]
    pub only_if_absent: bool,
    /// Optional: a key of your choice for this change. Retrying a call that timed out with the same key applies the change once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StrReplaceInput {
    /// The store's name.
    pub store: String,
    /// The file's path.
    pub path: String,
    /// The exact text to replace; it must occur exactly once in the file.
    pub old_str: String,
    /// The text to put in its place (may be empty).
    pub new_str: String,
    /// Apply only if the file is still at this version.
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Optional: a key of your choice for this change. Retrying a call that timed out with the same key applies the change once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct InsertInput {
    /// The store's name.
    pub store: String,
    /// The file's path.
    pub path: String,
    /// Insert after this line: 0 inserts at the start, the file's line count appends.
    pub insert_line: u64,
    /// The text to insert.
    pub insert_text: String,
    /// Apply only if the file is still at this version.
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Optional: a key of your choice for this change. Retrying a call that timed out with the same key applies the change once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteInput {
    /// The store's name.
    pub store: String,
    /// The file (or, with `recursive`, directory) to delete.
    pub path: String,
    /// Delete a whole directory and everything under it.
    #[serde(default)]
    pub recursive: bool,
    /// Delete only if the file is still at this version.
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Optional: a key of your choice for this change. Retrying a call that timed out with the same key applies the change once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RenameInput {
    /// The store's name.
    pub store: String,
    /// The file's current path.
    pub old_path: String,
    /// Its new path.
    pub new_path: String,
    /// Replace a file already at `new_path`.
    #[serde(default)]
    pub overwrite: bool,
    /// Rename only if the file is still at this version.
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Optional: a key of your choice for this change. Retrying a call that timed out with the same key applies the change once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct HistoryInput {
    /// The store's name.
    pub store: String,
    /// The file's path.
    pub path: String,
    /// Versions per page, newest first (default 20).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Only versions older than this one (the previous page's `next_before`).
    #[serde(default)]
    pub before: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchInput {
    /// The store's name.
    pub store: String,
    /// The text to look for in each line (case-sensitive). With `regex: true`, a regular expression (Rust `regex` syntax, e.g. `(?i)deadline|due date`).
    pub query: String,
    /// Treat `query` as a regular expression instead of literal text.
    #[serde(default)]
    pub regex: bool,
    /// Only search files under this directory, e.g. `/customers/acme`.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Search the files as they were at this store revision instead of now.
    #[serde(default)]
    pub revision: Option<u64>,
    /// Matches per call (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<u64>,
    /// The previous call's `next_cursor`, to get the next matches (keep the other arguments the same).
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Matches per `search` call when the model gives no limit.
const SEARCH_LIMIT_DEFAULT: u64 = 50;

/// What a write answers: the version to pass as `expected_version` next.
#[derive(Debug, Serialize)]
struct Written<'a> {
    path: &'a str,
    version: u64,
}

/// Versions per `history` page when the model gives no limit.
const HISTORY_LIMIT_DEFAULT: u64 = 20;

type ToolResult = Result<CallToolResult, ErrorData>;

fn text(content: impl Into<String>) -> ToolResult {
    Ok(CallToolResult::success(vec![ContentBlock::text(content)]))
}

fn json(value: &impl Serialize) -> ToolResult {
    serde_json::to_string_pretty(value)
        .map_err(|error| ErrorData::internal_error(error.to_string(), None))
        .and_then(text)
}

/// A refusal as a tool error the model can act on: the stable code, the
/// reason, and for a version conflict the version the file is at now.
fn refused(error: ApiError) -> ToolResult {
    let problem = error.0;
    let mut message = format!("{}: {}", problem.code, problem.detail);
    if problem.code == "version_conflict" {
        match problem.current_version {
            Some(version) => message.push_str(&format!(
                ". Read the file again, then retry with expected_version={version}."
            )),
            None => message.push_str(". The file does not exist now; retry with only_if_absent."),
        }
    }
    Ok(CallToolResult::error(vec![ContentBlock::text(message)]))
}

fn failed(error: ServiceError) -> ToolResult {
    refused(ApiError::from(error))
}

/// The caller's context for one tool call, from its HTTP request.
fn context_of(parts: &Parts) -> Result<RequestContext, ApiError> {
    let mut context = request_context(parts)?;
    // A client sends the same headers with every call: an `Idempotency-Key`
    // header would make every later write a replay of the first. A write
    // tool's `idempotency_key` argument is the key of that one call.
    context.idempotency_key = None;
    if context.session.is_empty()
        && let Some(session) = parts
            .headers
            .get(MCP_SESSION_ID)
            .and_then(|value| value.to_str().ok())
    {
        context.session = session.to_string();
    }
    Ok(context)
}

fn preconditions(expected_version: Option<u64>, only_if_absent: bool) -> PreconditionFields {
    PreconditionFields {
        if_version: expected_version,
        if_absent: only_if_absent,
        if_exists: false,
    }
}

impl CairnMcp {
    fn new(service: Service) -> CairnMcp {
        CairnMcp { service }
    }

    /// One operation as a transaction; answers the file's new version.
    async fn one_op(
        &self,
        parts: &Parts,
        idempotency_key: Option<String>,
        store: &str,
        path: &str,
        op: OpRequest,
    ) -> ToolResult {
        let mut context = match context_of(parts) {
            Ok(context) => context,
            Err(error) => return refused(error),
        };
        context.idempotency_key = idempotency_key;
        match self.service.txn(&context, store, vec![op]).await {
            Ok(result) => json(&Written {
                path,
                version: result.revision,
            }),
            Err(error) => failed(error),
        }
    }

    async fn view_dir(&self, context: &RequestContext, store: &str, dir: &str) -> ToolResult {
        let query = TreeQuery {
            depth: Some(VIEW_DEPTH),
            ..TreeQuery::default()
        };
        let listing = match self.service.list(context, store, dir, query).await {
            Ok(listing) => listing,
            Err(error) => return failed(error),
        };
        let mut out = format!(
            "Directory {} of store {} at revision {} (up to {VIEW_DEPTH} levels deep):",
            listing.dir, listing.store, listing.revision
        );
        if listing.entries.is_empty() {
            out.push_str("\n(empty)");
        }
        for entry in &listing.entries {
            match entry.kind {
                EntryKind::Dir => out.push_str(&format!("\n{}/", entry.path)),
                EntryKind::File => out.push_str(&format!(
                    "\n{}\t(version {}, {} bytes)",
                    entry.path,
                    entry.version.unwrap_or_default(),
                    entry.bytes.unwrap_or_default()
                )),
            }
        }
        text(out)
    }
}

#[tool_router]
impl CairnMcp {
    #[tool(
        description = "List the memory stores this token can see, with each store's organization, revision and file count. Call this first to learn which store names the other tools accept."
    )]
    async fn list_stores(
        &self,
        Parameters(_): Parameters<ListStoresInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let context = match context_of(&parts) {
            Ok(context) => context,
            Err(error) => return refused(error),
        };
        match self
            .service
            .list_stores(&context, Consistency::default())
            .await
        {
            Ok(stores) => json(&stores),
            Err(error) => failed(error),
        }
    }

    #[tool(
        description = "Show a directory (its files and subdirectories two levels deep, each file with its version and size) or a file (its content with line numbers and its version). Use a path ending in `/`, or `/`, for a directory."
    )]
    async fn view(
        &self,
        Parameters(input): Parameters<ViewInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let context = match context_of(&parts) {
            Ok(context) => context,
            Err(error) => return refused(error),
        };
        if input.path.ends_with('/') {
            // The store's paths name a directory without its trailing `/`.
            let dir = match input.path.trim_end_matches('/') {
                "" => "/",
                dir => dir,
            };
            return self.view_dir(&context, &input.store, dir).await;
        }
        let file = match self
            .service
            .read_file(&context, &input.store, &input.path, ReadQuery::default())
            .await
        {
            Ok(file) => file,
            Err(error) => {
                // Not a file: perhaps a directory named without its `/`.
                let listing = self
                    .service
                    .list(&context, &input.store, &input.path, TreeQuery::default())
                    .await;
                return match listing {
                    Ok(listing) if !listing.entries.is_empty() => {
                        self.view_dir(&context, &input.store, &input.path).await
                    }
                    _ => failed(error),
                };
            }
        };
        let range = input.view_range.map(|[first, last]| (first, last));
        match view_file(&file.meta.path, &file.content, range) {
            Ok(numbered) => text(format!("Version {}.\n{numbered}", file.meta.version)),
            Err(message) => Ok(CallToolResult::error(vec![ContentBlock::text(message)])),
        }
    }

    #[tool(
        description = "Read a file's exact content and its version. Pass the version as `expected_version` to a later write so that it fails instead of overwriting someone else's change."
    )]
    async fn read(
        &self,
        Parameters(input): Parameters<ReadInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let context = match context_of(&parts) {
            Ok(context) => context,
            Err(error) => return refused(error),
        };
        let query = ReadQuery {
            version: input.version,
            ..ReadQuery::default()
        };
        match self
            .service
            .read_file(&context, &input.store, &input.path, query)
            .await
        {
            Ok(file) => json(&serde_json::json!({
                "path": file.meta.path,
                "version": file.meta.version,
                "content": file.content,
            })),
            Err(error) => failed(error),
        }
    }

    #[tool(
        description = "Create or replace a file with the given content. Give `expected_version` (the version you read) to replace only an unchanged file, or `only_if_absent` to create only a new one; on a conflict nothing is written and the error says the current version. Answers the file's new version."
    )]
    async fn write(
        &self,
        Parameters(input): Parameters<WriteInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let op = OpRequest::Write {
            path: input.path.clone(),
            content: input.content,
            precondition: preconditions(input.expected_version, input.only_if_absent),
        };
        self.one_op(&parts, input.idempotency_key, &input.store, &input.path, op)
            .await
    }

    #[tool(
        description = "Replace the one occurrence of `old_str` in a file with `new_str` (it fails if `old_str` occurs zero or several times; include more context to make it unique). Answers the file's new version."
    )]
    async fn str_replace(
        &self,
        Parameters(input): Parameters<StrReplaceInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let op = OpRequest::StrReplace {
            path: input.path.clone(),
            old: input.old_str,
            new: input.new_str,
            precondition: preconditions(input.expected_version, false),
        };
        self.one_op(&parts, input.idempotency_key, &input.store, &input.path, op)
            .await
    }

    #[tool(
        description = "Insert text into a file after line `insert_line` (0 = at the start). Answers the file's new version."
    )]
    async fn insert(
        &self,
        Parameters(input): Parameters<InsertInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let op = OpRequest::Insert {
            path: input.path.clone(),
            line: input.insert_line,
            text: input.insert_text,
            precondition: preconditions(input.expected_version, false),
        };
        self.one_op(&parts, input.idempotency_key, &input.store, &input.path, op)
            .await
    }

    #[tool(
        description = "Delete a file, or with `recursive` a directory and everything under it. Its history stays readable with `history`."
    )]
    async fn delete(
        &self,
        Parameters(input): Parameters<DeleteInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let mut context = match context_of(&parts) {
            Ok(context) => context,
            Err(error) => return refused(error),
        };
        context.idempotency_key = input.idempotency_key;
        match self
            .service
            .delete_file(
                &context,
                &input.store,
                &input.path,
                input.recursive,
                preconditions(input.expected_version, false),
            )
            .await
        {
            Ok(result) => json(&serde_json::json!({
                "deleted": result.changes.iter().map(|change| &change.path).collect::<Vec<_>>(),
                "revision": result.revision,
            })),
            Err(error) => failed(error),
        }
    }

    #[tool(
        description = "Move a file to a new path, keeping its history. Fails if a file is already at `new_path` unless `overwrite` is set. Answers the file's new version at its new path."
    )]
    async fn rename(
        &self,
        Parameters(input): Parameters<RenameInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let op = OpRequest::Rename {
            from: input.old_path,
            to: input.new_path.clone(),
            overwrite: input.overwrite,
            precondition: preconditions(input.expected_version, false),
        };
        self.one_op(
            &parts,
            input.idempotency_key,
            &input.store,
            &input.new_path,
            op,
        )
        .await
    }

    #[tool(
        description = "A file's versions, newest first: for each its version number, operation, time, agent and session. Read an old version with `read` and its `version`."
    )]
    async fn history(
        &self,
        Parameters(input): Parameters<HistoryInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let context = match context_of(&parts) {
            Ok(context) => context,
            Err(error) => return refused(error),
        };
        let query = HistoryQuery {
            limit: Some(input.limit.unwrap_or(HISTORY_LIMIT_DEFAULT)),
            before: input.before,
            ..HistoryQuery::default()
        };
        match self
            .service
            .history(&context, &input.store, &input.path, query)
            .await
        {
            Ok(page) => json(&page),
            Err(error) => failed(error),
        }
    }

    #[tool(
        description = "Search the files of a store: every line that contains `query` (or matches it, with `regex: true`), optionally only under `path_prefix` or as of a past `revision`. Returns each match's path, version, line number and line, in path order; when `next_cursor` is present, call again with it for more. Use `read` (with `view_range` via `view`) to see the lines around a match."
    )]
    async fn search(
        &self,
        Parameters(input): Parameters<SearchInput>,
        Extension(parts): Extension<Parts>,
    ) -> ToolResult {
        let context = match context_of(&parts) {
            Ok(context) => context,
            Err(error) => return refused(error),
        };
        let query = SearchQuery {
            q: input.query,
            regex: input.regex,
            prefix: input.path_prefix,
            revision: input.revision,
            limit: Some(input.limit.unwrap_or(SEARCH_LIMIT_DEFAULT)),
            cursor: input.cursor,
            ..SearchQuery::default()
        };
        match self.service.search(&context, &input.store, query).await {
            Ok(page) => json(&page),
            Err(error) => failed(error),
        }
    }
}

#[tool_handler(
    name = "cairn",
    instructions = "Cairn: shared, versioned memory stores. Every file has a version; pass the version you read as `expected_version` when you write, so that a concurrent change is reported instead of overwritten."
)]
impl ServerHandler for CairnMcp {}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().uri("/mcp");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).expect("a request").into_parts().0
    }

    #[test]
    fn the_session_is_x_cairn_session_else_the_mcp_session_id() {
        let token = ("authorization", "Bearer t");
        let mcp_only = context_of(&parts(&[token, (MCP_SESSION_ID, "m-1")])).expect("context");
        assert_eq!(mcp_only.session, "m-1");
        let both = parts(&[
            token,
            (MCP_SESSION_ID, "m-1"),
            ("x-cairn-session", "chosen"),
        ]);
        assert_eq!(context_of(&both).expect("context").session, "chosen");
        let neither = context_of(&parts(&[token])).expect("context");
        assert_eq!(neither.session, "");
        assert_eq!(mcp_only.credentials.as_ref().map(|c| c.token()), Some("t"));
    }

    #[test]
    fn an_idempotency_key_header_is_not_every_call_s_key() {
        let keyed = parts(&[("authorization", "Bearer t"), ("idempotency-key", "k")]);
        assert_eq!(context_of(&keyed).expect("context").idempotency_key, None);
    }

    #[test]
    fn a_conflict_names_the_version_to_retry_with() {
        let error = ApiError::core(
            &cairn_core::CoreError::VersionConflict {
                path: "/a.md".to_string(),
                expected: cairn_core::command::Precondition::IfVersion(3),
                current: Some(5),
            },
            None,
            false,
        );
        let result = refused(error).expect("a tool result");
        assert_eq!(result.is_error, Some(true));
        let text = result.content[0].as_text().expect("text").text.clone();
        assert!(text.starts_with("version_conflict: "), "{text}");
        assert!(text.contains("current version is 5"), "{text}");
        assert!(text.ends_with("retry with expected_version=5."), "{text}");
    }
}
