//! Sending a request and reading its answer: the keep-alive pool, the
//! timeout around each request, and the one retry rule (a request that died
//! with a stale idle connection is sent again when that is safe).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

use cairn_api::{Problem, headers};

use crate::connector::Connector;
use crate::error::ClientError;
use crate::tls::TlsTrust;
use crate::url::BaseUrl;
use crate::{Client, IDLE_CONNECTIONS_MAX, RESPONSE_BYTES_MAX};

/// What every clone of a [`Client`] shares: where the server is, how to reach
/// it, and the idle keep-alive connections.
pub(crate) struct Shared {
    pub(crate) base: BaseUrl,
    pub(crate) connector: Arc<dyn Connector>,
    /// For `https://` base URLs: the CAs the server's certificate must chain to.
    pub(crate) tls: Option<TlsTrust>,
    /// Idle keep-alive connections, each with when it went idle.
    pub(crate) idle: Mutex<Vec<(tokio::time::Instant, SendRequest<Full<Bytes>>)>>,
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

    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            let mut body = self.text();
            truncate_utf8(&mut body, 512);
            ClientError::Decode(format!("{error} in body {body:?}"))
        })
    }

    /// The body as text, for answers the API promises are UTF-8 (`what` names them).
    pub(crate) fn into_text(self, what: &str) -> Result<String, ClientError> {
        String::from_utf8(self.body.to_vec())
            .map_err(|error| ClientError::Decode(format!("{what} is not UTF-8: {error}")))
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

/// A request before it becomes a hyper `Request`; kept so that a request
/// that never reached the server can be sent again on another connection.
pub(crate) struct Outgoing {
    method: Method,
    target: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Outgoing {
    pub(crate) fn new(method: Method, target: impl Into<String>) -> Outgoing {
        Outgoing {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub(crate) fn get(target: impl Into<String>) -> Outgoing {
        Outgoing::new(Method::GET, target)
    }

    pub(crate) fn header(
        mut self,
        name: &'static str,
        value: &str,
    ) -> Result<Outgoing, ClientError> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| ClientError::InvalidHeader(format!("{name}: {value:?}")))?;
        self.headers.push((HeaderName::from_static(name), value));
        Ok(self)
    }

    pub(crate) fn json_body(mut self, body: &impl Serialize) -> Result<Outgoing, ClientError> {
        let json = serde_json::to_vec(body)
            .map_err(|error| ClientError::Decode(format!("encode request body: {error}")))?;
        self.body = Bytes::from(json);
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        Ok(self)
    }

    /// The body sent byte for byte, as `text/plain` (file content).
    pub(crate) fn text_body(mut self, content: &[u8]) -> Outgoing {
        self.body = Bytes::copy_from_slice(content);
        self.headers.push((
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ));
        self
    }

    /// The body sent byte for byte with `content_type`.
    pub(crate) fn raw_body(mut self, body: Bytes, content_type: HeaderValue) -> Outgoing {
        self.body = body;
        self.headers.push((CONTENT_TYPE, content_type));
        self
    }

    pub(crate) fn idempotency_key(self, key: Option<&str>) -> Result<Outgoing, ClientError> {
        match key {
            Some(key) => self.header(headers::IDEMPOTENCY_KEY, key),
            None => Ok(self),
        }
    }

    /// `If-Match: "V"` when a version is given.
    pub(crate) fn if_match(self, version: Option<u64>) -> Result<Outgoing, ClientError> {
        match version {
            Some(version) => self.header("if-match", &cairn_api::etag::etag(version)),
            None => Ok(self),
        }
    }

    /// Whether sending it twice does no harm (so a request lost on a stale
    /// keep-alive connection may be resent).
    fn is_idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }
}

impl Client {
    /// `GET path_and_query` answered with JSON (admin and future routes).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, ClientError> {
        self.call_json(Outgoing::get(path_and_query)).await
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

    pub(crate) async fn call_json<T: DeserializeOwned>(
        &self,
        outgoing: Outgoing,
    ) -> Result<T, ClientError> {
        self.call(outgoing).await?.json()
    }

    /// Sends, and turns an unsuccessful answer into its error.
    pub(crate) async fn call(&self, outgoing: Outgoing) -> Result<RawResponse, ClientError> {
        let response = self.execute(outgoing).await?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(response.into_error())
        }
    }

    /// Sends `outgoing` on a connection of its own and hands the body of a
    /// successful answer to `sink` piece by piece as it arrives, never
    /// holding it whole. The timeout bounds the wait for the answer's head
    /// and for each piece, not the whole body. Answers the bytes handed over.
    pub(crate) async fn stream(
        &self,
        outgoing: Outgoing,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, ClientError> {
        let request = self.build(&outgoing)?;
        let timed = |what: &'static str| {
            move |_| ClientError::Transport(format!("{what}: no answer within the timeout"))
        };
        let mut sender = tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| ClientError::Timeout)??;
        let response = tokio::time::timeout(self.timeout, sender.send_request(request))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|error| transport_error(&error))?;
        if !response.status().is_success() {
            // An error answer is small: read it whole (`finish` drops the
            // connection into the pool or closes it).
            return Err(self.finish(sender, response).await?.into_error());
        }
        let mut body = response.into_body();
        let mut written = 0u64;
        loop {
            let frame = tokio::time::timeout(self.timeout, body.frame())
                .await
                .map_err(timed("read the body"))?;
            let Some(frame) = frame else { break };
            let frame =
                frame.map_err(|error| ClientError::Transport(format!("read the body: {error}")))?;
            if let Ok(data) = frame.into_data() {
                sink(&data).map_err(|error| ClientError::Transport(format!("write: {error}")))?;
                written += data.len() as u64;
            }
        }
        Ok(written)
    }

    pub(crate) async fn execute(&self, outgoing: Outgoing) -> Result<RawResponse, ClientError> {
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
        let bearer = self.token.as_ref().map(|token| format!("Bearer {token}"));
        for (name, value) in [
            (headers::AGENT, &self.agent),
            (headers::SESSION, &self.session),
            (headers::ORG, &self.org),
            ("authorization", &bearer),
        ] {
            if let Some(value) = value {
                let mut value = HeaderValue::from_str(value).map_err(|_| {
                    let shown = if name == "authorization" {
                        "…"
                    } else {
                        value
                    };
                    ClientError::InvalidHeader(format!("{name}: {shown:?}"))
                })?;
                value.set_sensitive(name == "authorization");
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
        let stream = match (base.tls, &self.shared.tls) {
            (false, _) => stream,
            (true, Some(trust)) => trust.handshake(&base.host, &base.authority, stream).await?,
            // Every constructor gives an https client a trust.
            (true, None) => {
                return Err(ClientError::Tls(format!(
                    "{}: https without any trusted CA",
                    base.authority
                )));
            }
        };
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

    /// Sends a GET on a connection of its own and returns the answer's body
    /// as it arrives, for streams that stay open (server-sent events). The
    /// timeout covers the connection and the answer's head only; an
    /// unsuccessful answer is read whole and returned as its error. The
    /// connection is never pooled.
    pub(crate) async fn open_stream(
        &self,
        outgoing: Outgoing,
    ) -> Result<hyper::body::Incoming, ClientError> {
        let request = self.build(&outgoing)?;
        let opening = async {
            let mut sender = self.connect().await?;
            sender
                .send_request(request)
                .await
                .map_err(|error| transport_error(&error))
        };
        let response = match tokio::time::timeout(self.timeout, opening).await {
            Ok(response) => response?,
            Err(_) => return Err(ClientError::Timeout),
        };
        let (parts, body) = response.into_parts();
        if parts.status.is_success() {
            return Ok(body);
        }
        let body = tokio::time::timeout(
            self.timeout,
            Limited::new(body, RESPONSE_BYTES_MAX).collect(),
        )
        .await
        .map_err(|_| ClientError::Timeout)?
        .map_err(|error| ClientError::Transport(format!("read response body: {error}")))?
        .to_bytes();
        Err(RawResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
        .into_error())
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self
            .shared
            .idle
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let fresh = std::time::Duration::from_millis(crate::IDLE_CONNECTION_MS_MAX);
        while let Some((since, sender)) = idle.pop() {
            if !sender.is_closed() && since.elapsed() < fresh {
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
            idle.push((tokio::time::Instant::now(), sender));
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use cairn_api::ErrorCode;

    use super::*;
    use crate::ProblemExt;
    use crate::url::Target;

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
    fn problem_bodies_become_api_errors() {
        let problem = Problem::new(412, ErrorCode::VersionConflict, "expected 3, current 4");
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
        assert_eq!(request.headers()[headers::AGENT], "planner");
        assert_eq!(request.headers()[headers::SESSION], "s-1");
        assert_eq!(request.headers()["if-match"], "\"3\"");

        let bad = client.clone().with_agent("line\nbreak");
        assert_eq!(bad.build(&outgoing).unwrap_err().code(), "invalid_header");
    }

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

    #[test]
    fn https_clients_carry_their_trust_to_other_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let client = Client::new("https://127.0.0.1:7710").unwrap();
        let error = client.clone().with_ca_file(&missing).unwrap_err();
        assert_eq!(error.code(), "tls");
        assert!(
            error.detail().contains(&missing.display().to_string()),
            "{error}"
        );
        assert!(!error.is_retryable());
        std::fs::write(&missing, "no certificate here").unwrap();
        let error = client.clone().with_ca_file(&missing).unwrap_err();
        assert!(error.detail().contains("no PEM certificate"), "{error}");

        let other = client
            .with_agent("planner")
            .for_api_addr("127.0.0.1:7720")
            .unwrap();
        assert!(other.base_url().tls);
        assert_eq!(other.base_url().authority, "127.0.0.1:7720");
        assert_eq!(other.agent.as_deref(), Some("planner"));
        assert!(other.shared.tls.is_some());
        let plain = Client::new("http://127.0.0.1:7710").unwrap();
        let other = plain.for_api_addr("127.0.0.1:7720").unwrap();
        assert!(!other.base_url().tls && other.shared.tls.is_none());
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
