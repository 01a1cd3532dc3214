//! A typed async client for Cairn's HTTP API (`docs/api.md`), used by the
//! `cairn` CLI and the integration tests.
//!
//! It speaks HTTP/1.1 over hyper's low-level connection API, keeps a few idle
//! keep-alive connections per [`Client`] (shared by its clones), bounds every
//! request by a timeout, and dials through a [`Connector`] so that the
//! simulation can swap the network.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_client::ClientError> {
//! use cairn_client::{Client, WriteOptions};
//! let client = Client::new("http://127.0.0.1:7700")?.with_agent("planner");
//! client.create_store("notes").await?;
//! let written = client.write_file("notes", "/a.md", "hello", &WriteOptions::default()).await?;
//! let read = client.read_file("notes", "/a.md", cairn_core::At::Current).await?;
//! assert_eq!((read.content.as_str(), read.version), ("hello", written.version));
//! # Ok(()) }
//! ```

mod admin;
mod connector;
mod error;
mod url;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

use cairn_core::api::{OpRequest, PreconditionFields, StoreList, TxnRequest, WriteResponse};
use cairn_core::read::{AuditPage, FileMeta, HistoryPage, Listing};
use cairn_core::{At, StoreInfo, TxnResult};

pub use admin::{DigestView, LearnerRequest, NodeStatusView, PeerView};
pub use cairn_core::api::Problem;
pub use connector::{ConnectFuture, Connection, Connector, TcpConnector};
pub use error::{ClientError, ProblemExt};
pub use url::{BaseUrl, Target, encode_component, encode_path};

/// How long a request may take, connect to last body byte, unless changed
/// with [`Client::with_timeout`].
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// Most idle keep-alive connections a client (and its clones) keeps.
pub const IDLE_CONNECTIONS_MAX: usize = 8;

/// Largest response body the client accepts, in bytes. Files are at most
/// 1 MiB by default; history pages with content can be larger.
pub const RESPONSE_BYTES_MAX: usize = 256 * 1024 * 1024;

pub const HEADER_AGENT: &str = "x-cairn-agent";
pub const HEADER_SESSION: &str = "x-cairn-session";
pub const HEADER_VERSION: &str = "x-cairn-version";
pub const HEADER_REVISION: &str = "x-cairn-revision";
pub const HEADER_IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const HEADER_APPLIED_INDEX: &str = "x-cairn-applied-index";
pub const HEADER_STALENESS_MS: &str = "x-cairn-staleness-ms";

/// How fresh a read must be (`?consistency=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Through the leader's read index: sees every acknowledged write.
    Linearizable,
    /// The local replica as it is: may lag behind the leader.
    Stale,
}

impl Consistency {
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Linearizable => "linearizable",
            Consistency::Stale => "stale",
        }
    }
}

impl std::str::FromStr for Consistency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "linearizable" => Ok(Consistency::Linearizable),
            "stale" => Ok(Consistency::Stale),
            other => Err(format!(
                "unknown consistency {other:?}: expected linearizable or stale"
            )),
        }
    }
}

impl std::fmt::Display for Consistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Preconditions and idempotency of `PUT .../files/{path}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `If-Match: "V"`: write only if the file is at version `V`.
    pub if_match: Option<u64>,
    /// `If-None-Match: *`: write only if the file does not exist.
    pub if_none_match: bool,
    pub idempotency_key: Option<String>,
}

/// A file's content and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileRead {
    pub content: String,
    /// The file's version (`ETag` / `X-Cairn-Version`).
    pub version: u64,
    /// The store's revision when the read was served (`X-Cairn-Revision`).
    pub revision: u64,
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Health {
    pub status: String,
}

/// An answer as it came, whatever its status (see [`Client::raw_request`]).
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as a problem, if it is one.
    pub fn problem(&self) -> Option<Problem> {
        let content_type = self.header(CONTENT_TYPE.as_str()).unwrap_or_default();
        if !content_type.contains("json") {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }

    /// The error an unsuccessful answer means.
    pub fn into_error(self) -> ClientError {
        match self.problem() {
            Some(problem) => ClientError::Api(Box::new(problem)),
            None => {
                let mut body = self.text();
                truncate_utf8(&mut body, 4096);
                ClientError::Http {
                    status: self.status,
                    body,
                }
            }
        }
    }

    fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            let mut body = self.text();
            truncate_utf8(&mut body, 512);
            ClientError::Decode(format!("{error} in body {body:?}"))
        })
    }
}

fn truncate_utf8(text: &mut String, bytes_max: usize) {
    if text.len() > bytes_max {
        let mut end = bytes_max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

/// Parses an entity tag holding a version: `"5"`, or weak `W/"5"`.
pub fn parse_etag(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    value.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The version and revision headers of a file read.
fn version_headers(response: &RawResponse) -> Result<(u64, u64), ClientError> {
    let version = response
        .header(HEADER_VERSION)
        .and_then(|value| value.trim().parse().ok())
        .or_else(|| response.header("etag").and_then(parse_etag))
        .ok_or_else(|| ClientError::Decode("file read without ETag or X-Cairn-Version".into()))?;
    let revision = response
        .header(HEADER_REVISION)
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| ClientError::Decode("file read without X-Cairn-Revision".into()))?;
    Ok((version, revision))
}

/// A request before it becomes a hyper `Request`; kept so that a request
/// that never reached the server can be sent again on another connection.
struct Outgoing {
    method: Method,
    target: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Outgoing {
    fn new(method: Method, target: impl Into<String>) -> Outgoing {
        Outgoing {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Result<Outgoing, ClientError> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| ClientError::InvalidHeader(format!("{name}: {value:?}")))?;
        self.headers.push((HeaderName::from_static(name), value));
        Ok(self)
    }

    fn json_body(mut self, body: &impl Serialize) -> Result<Outgoing, ClientError> {
        let json = serde_json::to_vec(body)
            .map_err(|error| ClientError::Decode(format!("encode request body: {error}")))?;
        self.body = Bytes::from(json);
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        Ok(self)
    }

    fn idempotency_key(self, key: Option<&str>) -> Result<Outgoing, ClientError> {
        match key {
            Some(key) => self.header(HEADER_IDEMPOTENCY_KEY, key),
            None => Ok(self),
        }
    }

    /// Whether sending it twice does no harm (so a request lost on a stale
    /// keep-alive connection may be resent).
    fn is_idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }
}

struct Shared {
    base: BaseUrl,
    connector: Arc<dyn Connector>,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

/// A handle to one Cairn node. Cloning is cheap; clones share the idle
/// connections, and each keeps its own agent, session, consistency and timeout.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    agent: Option<String>,
    session: Option<String>,
    consistency: Option<Consistency>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.shared.base)
            .field("agent", &self.agent)
            .field("session", &self.session)
            .field("consistency", &self.consistency)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Client {
    /// A client for the node at `base_url` (`http://host:port`), dialing TCP.
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        Client::with_connector(base_url, Arc::new(TcpConnector))
    }

    /// A client that opens its connections through `connector`.
    pub fn with_connector(
        base_url: &str,
        connector: Arc<dyn Connector>,
    ) -> Result<Client, ClientError> {
        Ok(Client {
            shared: Arc::new(Shared {
                base: BaseUrl::parse(base_url)?,
                connector,
                idle: Mutex::new(Vec::new()),
            }),
            agent: None,
            session: None,
            consistency: None,
            timeout: Duration::from_millis(REQUEST_TIMEOUT_MS_DEFAULT),
        })
    }

    /// Sends `X-Cairn-Agent: agent` with every request.
    pub fn with_agent(mut self, agent: impl Into<String>) -> Client {
        self.agent = Some(agent.into());
        self
    }

    /// Sends `X-Cairn-Session: session` with every request.
    pub fn with_session(mut self, session: impl Into<String>) -> Client {
        self.session = Some(session.into());
        self
    }

    /// Adds `?consistency=` to every read; without it the server's default
    /// (linearizable) applies.
    pub fn with_consistency(mut self, consistency: Consistency) -> Client {
        self.consistency = Some(consistency);
        self
    }

    /// Bounds each request, from connecting to the last byte of the answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &BaseUrl {
        &self.shared.base
    }

    // ---- service ----

    /// `GET /health`: the process is up.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.call_json(Outgoing::new(Method::GET, "/health")).await
    }

    /// `GET /ready`: `Ok` only on `200` (a leader is known and applied is caught up).
    pub async fn ready(&self) -> Result<(), ClientError> {
        let response = self.execute(Outgoing::new(Method::GET, "/ready")).await?;
        if response.status == 200 {
            Ok(())
        } else if response.is_success() {
            Err(ClientError::Http {
                status: response.status,
                body: response.text(),
            })
        } else {
            Err(response.into_error())
        }
    }

    // ---- stores ----

    pub async fn create_store(&self, store: &str) -> Result<StoreInfo, ClientError> {
        self.call_json(Outgoing::new(
            Method::PUT,
            Target::store(store).into_string(),
        ))
        .await
    }

    pub async fn list_stores(&self) -> Result<Vec<StoreInfo>, ClientError> {
        let list: StoreList = self
            .call_json(Outgoing::new(
                Method::GET,
                self.read_target(Target::stores()),
            ))
            .await?;
        Ok(list.stores)
    }

    pub async fn get_store(&self, store: &str) -> Result<StoreInfo, ClientError> {
        self.call_json(Outgoing::new(
            Method::GET,
            self.read_target(Target::store(store)),
        ))
        .await
    }

    /// Deletes the store and every file in it; answers the store as it was.
    pub async fn delete_store(&self, store: &str) -> Result<StoreInfo, ClientError> {
        self.call_json(Outgoing::new(
            Method::DELETE,
            Target::store(store).into_string(),
        ))
        .await
    }

    // ---- files ----

    /// `GET .../files/{path}` now, at a version, or as of a store revision.
    pub async fn read_file(
        &self,
        store: &str,
        path: &str,
        at: At,
    ) -> Result<FileRead, ClientError> {
        let target = at_query(Target::store_path(store, "files", path), at);
        let response = self
            .call(Outgoing::new(Method::GET, self.read_target(target)))
            .await?;
        let (version, revision) = version_headers(&response)?;
        let content = String::from_utf8(response.body.to_vec())
            .map_err(|error| ClientError::Decode(format!("file content is not UTF-8: {error}")))?;
        Ok(FileRead {
            content,
            version,
            revision,
        })
    }

    /// `GET .../stat/{path}`.
    pub async fn stat(&self, store: &str, path: &str, at: At) -> Result<FileMeta, ClientError> {
        let target = at_query(Target::store_path(store, "stat", path), at);
        self.call_json(Outgoing::new(Method::GET, self.read_target(target)))
            .await
    }

    /// `PUT .../files/{path}` with `content` sent byte for byte (the server
    /// refuses bytes that are not UTF-8 with `not_utf8`).
    pub async fn write_file(
        &self,
        store: &str,
        path: &str,
        content: impl AsRef<[u8]>,
        options: &WriteOptions,
    ) -> Result<WriteResponse, ClientError> {
        let mut outgoing = Outgoing::new(
            Method::PUT,
            Target::store_path(store, "files", path).into_string(),
        )
        .idempotency_key(options.idempotency_key.as_deref())?;
        if let Some(version) = options.if_match {
            outgoing = outgoing.header("if-match", &format!("\"{version}\""))?;
        }
        if options.if_none_match {
            outgoing = outgoing.header("if-none-match", "*")?;
        }
        outgoing.body = Bytes::copy_from_slice(content.as_ref());
        outgoing.headers.push((
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ));
        self.call_json(outgoing).await
    }

    /// `DELETE .../files/{path}`; `recursive` deletes a directory subtree.
    pub async fn delete_file(
        &self,
        store: &str,
        path: &str,
        recursive: bool,
        if_match: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let mut target = Target::store_path(store, "files", path);
        if recursive {
            target = target.query("recursive", "true");
        }
        let mut outgoing =
            Outgoing::new(Method::DELETE, target.into_string()).idempotency_key(idempotency_key)?;
        if let Some(version) = if_match {
            outgoing = outgoing.header("if-match", &format!("\"{version}\""))?;
        }
        self.call_json(outgoing).await
    }

    /// `GET .../tree[/{dir}]`: `depth` 1 lists direct children only.
    pub async fn list(
        &self,
        store: &str,
        dir: &str,
        depth: Option<u64>,
        revision: Option<u64>,
    ) -> Result<Listing, ClientError> {
        let target = if dir.is_empty() || dir == "/" {
            Target::store_route(store, "tree")
        } else {
            Target::store_path(store, "tree", dir)
        };
        let target = target
            .query_opt("depth", depth)
            .query_opt("revision", revision);
        self.call_json(Outgoing::new(Method::GET, self.read_target(target)))
            .await
    }

    /// `GET .../history/{path}`, newest first.
    pub async fn history(
        &self,
        store: &str,
        path: &str,
        limit: Option<u64>,
        before: Option<u64>,
        with_content: bool,
    ) -> Result<HistoryPage, ClientError> {
        let mut target = Target::store_path(store, "history", path)
            .query_opt("limit", limit)
            .query_opt("before", before);
        if with_content {
            target = target.query("content", "true");
        }
        self.call_json(Outgoing::new(Method::GET, self.read_target(target)))
            .await
    }

    /// `GET .../diff/{path}?from=&to=`: a unified diff.
    pub async fn diff(
        &self,
        store: &str,
        path: &str,
        from: u64,
        to: u64,
    ) -> Result<String, ClientError> {
        let target = Target::store_path(store, "diff", path)
            .query("from", from)
            .query("to", to);
        let response = self
            .call(Outgoing::new(Method::GET, self.read_target(target)))
            .await?;
        String::from_utf8(response.body.to_vec())
            .map_err(|error| ClientError::Decode(format!("diff is not UTF-8: {error}")))
    }

    /// `GET .../audit`, oldest first.
    pub async fn audit(
        &self,
        store: &str,
        after: Option<u64>,
        limit: Option<u64>,
    ) -> Result<AuditPage, ClientError> {
        let target = Target::store_route(store, "audit")
            .query_opt("after", after)
            .query_opt("limit", limit);
        self.call_json(Outgoing::new(Method::GET, self.read_target(target)))
            .await
    }

    /// `POST .../txn`: every operation at one revision, or none.
    pub async fn txn(
        &self,
        store: &str,
        request: &TxnRequest,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let outgoing = Outgoing::new(
            Method::POST,
            Target::store_route(store, "txn").into_string(),
        )
        .idempotency_key(idempotency_key)?
        .json_body(request)?;
        self.call_json(outgoing).await
    }

    async fn one_op(&self, store: &str, op: OpRequest) -> Result<TxnResult, ClientError> {
        self.txn(store, &TxnRequest { ops: vec![op] }, None).await
    }

    /// Moves a file; refuses to replace `to` unless `overwrite`.
    pub async fn rename(
        &self,
        store: &str,
        from: &str,
        to: &str,
        overwrite: bool,
        if_version: Option<u64>,
    ) -> Result<TxnResult, ClientError> {
        let op = OpRequest::Rename {
            from: from.to_string(),
            to: to.to_string(),
            overwrite,
            precondition: if_version_fields(if_version),
        };
        self.one_op(store, op).await
    }

    /// Replaces the one occurrence of `old` with `new`.
    pub async fn str_replace(
        &self,
        store: &str,
        path: &str,
        old: &str,
        new: &str,
        if_version: Option<u64>,
    ) -> Result<TxnResult, ClientError> {
        let op = OpRequest::StrReplace {
            path: path.to_string(),
            old: old.to_string(),
            new: new.to_string(),
            precondition: if_version_fields(if_version),
        };
        self.one_op(store, op).await
    }

    /// Inserts `text` before 0-based line `line` (the line count appends).
    pub async fn insert(
        &self,
        store: &str,
        path: &str,
        line: u64,
        text: &str,
        if_version: Option<u64>,
    ) -> Result<TxnResult, ClientError> {
        let op = OpRequest::Insert {
            path: path.to_string(),
            line,
            text: text.to_string(),
            precondition: if_version_fields(if_version),
        };
        self.one_op(store, op).await
    }

    // ---- generic ----

    /// `GET path_and_query` answered with JSON (admin and future routes).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, ClientError> {
        self.call_json(Outgoing::new(Method::GET, path_and_query))
            .await
    }

    /// Sends any request and returns the answer whatever its status; only
    /// transport failures and timeouts are errors. The agent and session
    /// headers are added as for every request. For tests of malformed input.
    pub async fn raw_request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<RawResponse, ClientError> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| ClientError::InvalidHeader(format!("method {method:?}")))?;
        let mut outgoing = Outgoing::new(method, path_and_query);
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientError::InvalidHeader(format!("header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::InvalidHeader(format!("{name}: {value:?}")))?;
            outgoing.headers.push((name, value));
        }
        outgoing.body = body.into();
        self.execute(outgoing).await
    }

    // ---- plumbing ----

    fn read_target(&self, target: Target) -> String {
        target
            .query_opt("consistency", self.consistency.map(Consistency::as_str))
            .into_string()
    }

    async fn call_json<T: DeserializeOwned>(&self, outgoing: Outgoing) -> Result<T, ClientError> {
        self.call(outgoing).await?.json()
    }

    /// Sends, and turns an unsuccessful answer into its error.
    async fn call(&self, outgoing: Outgoing) -> Result<RawResponse, ClientError> {
        let response = self.execute(outgoing).await?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(response.into_error())
        }
    }

    async fn execute(&self, outgoing: Outgoing) -> Result<RawResponse, ClientError> {
        match tokio::time::timeout(self.timeout, self.execute_untimed(outgoing)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout),
        }
    }

    fn build(&self, outgoing: &Outgoing) -> Result<Request<Full<Bytes>>, ClientError> {
        let target = format!("{}{}", self.shared.base.path_prefix, outgoing.target);
        let mut builder = Request::builder()
            .method(outgoing.method.clone())
            .uri(target)
            .header(HOST, &self.shared.base.authority);
        for (name, value) in [(HEADER_AGENT, &self.agent), (HEADER_SESSION, &self.session)] {
            if let Some(value) = value {
                let value = HeaderValue::from_str(value)
                    .map_err(|_| ClientError::InvalidHeader(format!("{name}: {value:?}")))?;
                builder = builder.header(name, value);
            }
        }
        for (name, value) in &outgoing.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(outgoing.body.clone()))
            .map_err(|error| ClientError::InvalidUrl(format!("{}: {error}", outgoing.target)))
    }

    async fn execute_untimed(&self, outgoing: Outgoing) -> Result<RawResponse, ClientError> {
        let mut request = self.build(&outgoing)?;
        // Reuse an idle connection if one is still good. The server may have
        // closed it meanwhile; a request that provably never left, or a read,
        // moves on to the next connection.
        while let Some(mut sender) = self.take_idle() {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return self.finish(sender, response).await,
                Err(mut error) => match error.take_message() {
                    Some(unsent) => request = unsent,
                    None if outgoing.is_idempotent() => request = self.build(&outgoing)?,
                    None => return Err(transport_error(error.error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| transport_error(&error))?;
        self.finish(sender, response).await
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let base = &self.shared.base;
        let stream = self
            .shared
            .connector
            .connect(&base.host, base.port)
            .await
            .map_err(|error| {
                ClientError::Transport(format!("connect to {}: {error}", base.authority))
            })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| transport_error(&error))?;
        // The connection task ends when either side closes; its error, if
        // any, reaches the request that was in flight.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn finish(
        &self,
        sender: SendRequest<Full<Bytes>>,
        response: hyper::Response<hyper::body::Incoming>,
    ) -> Result<RawResponse, ClientError> {
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|error| ClientError::Transport(format!("read response body: {error}")))?
            .to_bytes();
        let closing = parts
            .headers
            .get(CONNECTION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        if !closing && !sender.is_closed() {
            self.put_idle(sender);
        }
        Ok(RawResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if idle.len() < IDLE_CONNECTIONS_MAX {
            idle.push(sender);
        }
    }
}

fn transport_error(error: &hyper::Error) -> ClientError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    ClientError::Transport(message)
}

fn at_query(target: Target, at: At) -> Target {
    match at {
        At::Current => target,
        At::Version(version) => target.query("version", version),
        At::Revision(revision) => target.query("revision", revision),
    }
}

fn if_version_fields(if_version: Option<u64>) -> PreconditionFields {
    PreconditionFields {
        if_version,
        ..PreconditionFields::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&'static str, &str)], status: u16, body: &str) -> RawResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        RawResponse {
            status,
            headers: map,
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn etag_parsing() {
        assert_eq!(parse_etag("\"5\""), Some(5));
        assert_eq!(parse_etag(" W/\"42\" "), Some(42));
        assert_eq!(parse_etag("5"), None);
        assert_eq!(parse_etag("\"\""), None);
        assert_eq!(parse_etag("\"x\""), None);
        assert_eq!(parse_etag("\"18446744073709551615\""), Some(u64::MAX));
    }

    #[test]
    fn version_headers_prefer_explicit_then_etag() {
        let read = response(&[("etag", "\"5\""), (HEADER_REVISION, "9")], 200, "hello");
        assert_eq!(version_headers(&read).unwrap(), (5, 9));

        let read = response(
            &[
                ("etag", "\"5\""),
                (HEADER_VERSION, "6"),
                (HEADER_REVISION, "9"),
            ],
            200,
            "",
        );
        assert_eq!(version_headers(&read).unwrap(), (6, 9));

        let read = response(&[(HEADER_REVISION, "9")], 200, "");
        assert_eq!(version_headers(&read).unwrap_err().code(), "decode");
        let read = response(&[("etag", "\"5\"")], 200, "");
        assert_eq!(version_headers(&read).unwrap_err().code(), "decode");
    }

    #[test]
    fn problem_bodies_become_api_errors() {
        let problem = Problem::new(412, "version_conflict", "expected 3, current 4");
        let body = serde_json::to_string(&problem).unwrap();
        let error =
            response(&[("content-type", "application/problem+json")], 412, &body).into_error();
        assert_eq!(error.code(), "version_conflict");
        assert_eq!(error.status(), Some(412));
        assert_eq!(error.problem().unwrap().code(), "version_conflict");
        assert!(error.is_client_error());
        assert!(!error.is_retryable());

        let error = response(&[("content-type", "text/plain")], 502, "bad gateway").into_error();
        assert!(matches!(&error, ClientError::Http { status: 502, body } if body == "bad gateway"));
        assert_eq!(error.code(), "http");
        assert!(error.is_retryable());

        // JSON that is not a problem is an HTTP error with its body.
        let error = response(&[("content-type", "application/json")], 404, "{}").into_error();
        assert!(matches!(error, ClientError::Http { status: 404, .. }));
    }

    #[test]
    fn consistency_round_trips() {
        for consistency in [Consistency::Linearizable, Consistency::Stale] {
            assert_eq!(consistency.as_str().parse::<Consistency>(), Ok(consistency));
        }
        assert!("eventual".parse::<Consistency>().is_err());
    }

    #[test]
    fn requests_carry_host_attribution_and_prefix() {
        let client = Client::new("http://127.0.0.1:7700/base")
            .unwrap()
            .with_agent("planner")
            .with_session("s-1");
        let outgoing = Outgoing::new(
            Method::PUT,
            Target::store_path("notes", "files", "/a b.md").into_string(),
        )
        .header("if-match", "\"3\"")
        .unwrap();
        let request = client.build(&outgoing).unwrap();
        assert_eq!(request.uri(), "/base/v1/stores/notes/files/a%20b.md");
        assert_eq!(request.headers()[HOST], "127.0.0.1:7700");
        assert_eq!(request.headers()[HEADER_AGENT], "planner");
        assert_eq!(request.headers()[HEADER_SESSION], "s-1");
        assert_eq!(request.headers()["if-match"], "\"3\"");

        let bad = client.clone().with_agent("line\nbreak");
        assert_eq!(bad.build(&outgoing).unwrap_err().code(), "invalid_header");
    }

    #[test]
    fn reads_carry_consistency() {
        let client = Client::new("http://127.0.0.1:7700").unwrap();
        assert_eq!(client.read_target(Target::stores()), "/v1/stores");
        let stale = client.with_consistency(Consistency::Stale);
        let target = at_query(Target::store_path("s", "files", "/a"), At::Version(4));
        assert_eq!(
            stale.read_target(target),
            "/v1/stores/s/files/a?version=4&consistency=stale"
        );
    }

    /// A one-answer-per-connection fake server: answers `answers_per_connection`
    /// GETs on each accepted connection, then closes it. Returns the address
    /// and a counter of accepted connections.
    async fn fake_server(
        answers_per_connection: usize,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut received = Vec::new();
                    let mut buffer = [0u8; 1024];
                    for _ in 0..answers_per_connection {
                        while !received.windows(4).any(|window| window == b"\r\n\r\n") {
                            match stream.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(read) => received.extend_from_slice(&buffer[..read]),
                            }
                        }
                        let end = received
                            .windows(4)
                            .position(|window| window == b"\r\n\r\n")
                            .unwrap();
                        received.drain(..end + 4);
                        let body = r#"{"status":"ok"}"#;
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    // Dropping the stream closes the connection.
                });
            }
        });
        (format!("http://{address}"), accepted)
    }

    #[tokio::test]
    async fn keep_alive_connections_are_reused() {
        let (url, accepted) = fake_server(usize::MAX).await;
        let client = Client::new(&url).unwrap();
        for _ in 0..5 {
            assert_eq!(client.health().await.unwrap().status, "ok");
        }
        // Clones share the idle connections.
        assert_eq!(client.clone().health().await.unwrap().status, "ok");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn connections_closed_by_the_server_are_replaced() {
        let (url, accepted) = fake_server(1).await;
        let client = Client::new(&url).unwrap();
        for _ in 0..5 {
            assert_eq!(client.health().await.unwrap().status, "ok");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // Accept and hold connections without answering.
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let client = Client::new(&url)
            .unwrap()
            .with_timeout(Duration::from_millis(200));
        let error = client.health().await.unwrap_err();
        assert_eq!(error.code(), "timeout", "{error}");
        holder.abort();
    }

    #[tokio::test]
    async fn unreachable_server_is_a_transport_error() {
        // Bind then drop, so nothing listens on the port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let error = client.health().await.unwrap_err();
        assert_eq!(error.code(), "transport", "{error}");
        assert!(error.is_retryable());
    }
}
