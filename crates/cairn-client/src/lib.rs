//! A typed async client for Cairn's HTTP API (`docs/api.md`), used by the
//! `cairn` CLI and the integration tests.
//!
//! It speaks HTTP/1.1 over hyper's low-level connection API, keeps a few idle
//! keep-alive connections per [`Client`] (shared by its clones), bounds every
//! request by a timeout, and dials through a [`Connector`] so that the
//! simulation can swap the network. Every body, query and header it sends or
//! reads is a `cairn-api` type, the same the server uses; it depends on
//! neither the state machine nor the storage.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_client::ClientError> {
//! use cairn_client::{At, Client, WriteOptions};
//! let client = Client::new("http://127.0.0.1:7700")?.with_agent("planner");
//! client.create_store("notes").await?;
//! let written = client.write_file("notes", "/a.md", "hello", &WriteOptions::default()).await?;
//! let read = client.read_file("notes", "/a.md", At::Current).await?;
//! assert_eq!((read.content.as_str(), read.version), ("hello", written.version));
//! # Ok(()) }
//! ```

mod access;
mod admin;
mod audit;
mod connector;
mod error;
mod export;
mod files;
mod history;
mod memory_tool;
mod redact;
mod search;
mod stores;
#[cfg(test)]
mod test_server;
mod tls;
mod transport;
mod txn;
mod url;
mod watch;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The wire types, for what the re-exports below leave out.
pub use cairn_api as api;
pub use cairn_api::{
    Access, At, AuditBreak, AuditChange, AuditEvent, AuditPage, AuditQuery, AuditVerify, Change,
    Consistency, CreateTokenRequest, DigestView, EntryKind, ErrorCode, FileMeta, GlobalAuditQuery,
    Grant, Health, HistoryPage, LearnerRequest, ListEntry, Listing, NodeStatusView, OpKind,
    OpRequest, Org, PeerView, PreconditionFields, Problem, Role, ServerState, StoreInfo,
    TokenCreated, TokenView, TxnRequest, TxnResult, User, VersionInfo, WhoAmI, WriteResponse,
};
pub use cairn_api::{ImportList, ImportView, MemoryToolInput, MemoryToolResult};
pub use cairn_api::{
    SearchMatch, SearchMode, SearchPage, SearchQuery, WatchChange, WatchEnd, WatchEndReason,
    WatchHeartbeat, WatchPath, WatchQuery, WatchTooOld,
};
pub use connector::{ConnectFuture, Connection, Connector, TcpConnector};
pub use error::{ClientError, ProblemExt};
pub use files::{FileRead, WriteOptions};
pub use tls::TlsTrust;
pub use transport::RawResponse;
pub use url::{BaseUrl, Target, encode_component, encode_path};
pub use watch::{WATCH_EVENT_BYTES_MAX, WatchEvent, WatchStream};

use transport::Shared;

/// How long a request may take, connect to last body byte, unless changed
/// with [`Client::with_timeout`].
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// How long an idle keep-alive connection is reused, in milliseconds: well
/// below the server's shortest header read timeout (5 s), which also closes
/// idle connections, so that a write is never sent on a connection the
/// server is closing (it could not tell whether it arrived).
pub const IDLE_CONNECTION_MS_MAX: u64 = 2_000;

/// Most idle keep-alive connections a client (and its clones) keeps.
pub const IDLE_CONNECTIONS_MAX: usize = 8;

/// Largest response body the client accepts, in bytes. Files are at most
/// 1 MiB by default; history pages with content can be larger.
pub const RESPONSE_BYTES_MAX: usize = 256 * 1024 * 1024;

/// A handle to one Cairn node. Cloning is cheap; clones share the idle
/// connections, and each keeps its own agent, session, consistency and timeout.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    agent: Option<String>,
    session: Option<String>,
    token: Option<String>,
    org: Option<String>,
    consistency: Option<Consistency>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.shared.base)
            .field("agent", &self.agent)
            .field("session", &self.session)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("org", &self.org)
            .field("consistency", &self.consistency)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Client {
    /// A client for the node at `base_url` (`http://host:port`, or
    /// `https://host:port` trusting the public roots unless
    /// [`Client::with_ca_file`] says otherwise), dialing TCP.
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        Client::with_connector(base_url, Arc::new(TcpConnector))
    }

    /// A client that opens its connections through `connector` (and
    /// handshakes TLS on them for `https://`).
    pub fn with_connector(
        base_url: &str,
        connector: Arc<dyn Connector>,
    ) -> Result<Client, ClientError> {
        let base = BaseUrl::parse(base_url)?;
        let tls = match base.tls {
            true => Some(TlsTrust::public_roots()?),
            false => None,
        };
        Ok(Client {
            shared: Arc::new(Shared {
                base,
                connector,
                tls,
                idle: Mutex::new(Vec::new()),
            }),
            agent: None,
            session: None,
            token: None,
            org: None,
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

    /// Sends no `X-Cairn-Agent` / `X-Cairn-Session`.
    pub fn without_attribution(mut self) -> Client {
        self.agent = None;
        self.session = None;
        self
    }

    /// Sends `Authorization: Bearer token` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Client {
        self.token = Some(token.into());
        self
    }

    /// Sends `X-Cairn-Org: org` with every request: store names resolve in
    /// that organization (the caller's own by default).
    pub fn with_org(mut self, org: impl Into<String>) -> Client {
        self.org = Some(org.into());
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

    /// Trusts the CA certificates in `ca_file` (PEM), and no others, for
    /// `https://` (the CLI's `--ca-file`). An unreadable or empty file is a
    /// [`ClientError::Tls`] naming it.
    pub fn with_ca_file(self, ca_file: &Path) -> Result<Client, ClientError> {
        Ok(self.with_tls_trust(TlsTrust::ca_file(ca_file)?))
    }

    /// Trusts `trust` for `https://`; this client's idle connections are
    /// not shared with the clone it is made from.
    pub fn with_tls_trust(mut self, trust: TlsTrust) -> Client {
        self.shared = Arc::new(Shared {
            base: self.shared.base.clone(),
            connector: self.shared.connector.clone(),
            tls: Some(trust),
            idle: Mutex::new(Vec::new()),
        });
        self
    }

    /// A client for another node at `base_url`, with this one's settings
    /// (connector, trusted CAs, agent, session, consistency, timeout) and
    /// connections of its own.
    pub fn for_node(&self, base_url: &str) -> Result<Client, ClientError> {
        let base = BaseUrl::parse(base_url)?;
        let tls = match (&self.shared.tls, base.tls) {
            (Some(trust), _) => Some(trust.clone()),
            (None, true) => Some(TlsTrust::public_roots()?),
            (None, false) => None,
        };
        Ok(Client {
            shared: Arc::new(Shared {
                base,
                connector: self.shared.connector.clone(),
                tls,
                idle: Mutex::new(Vec::new()),
            }),
            ..self.clone()
        })
    }

    /// A client for the member whose API address (`host:port`, as the
    /// membership records it) is `api_addr`, over this client's scheme.
    pub fn for_api_addr(&self, api_addr: &str) -> Result<Client, ClientError> {
        let scheme = if self.shared.base.tls {
            "https"
        } else {
            "http"
        };
        self.for_node(&format!("{scheme}://{api_addr}"))
    }

    pub fn base_url(&self) -> &BaseUrl {
        &self.shared.base
    }
}
