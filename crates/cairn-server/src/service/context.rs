//! Who is asking, and on whose behalf: what every service call receives from
//! its adapter (REST, and later the memory tool, MCP and the console).

/// A token as the caller presented it. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials(String);

impl Credentials {
    pub fn new(token: impl Into<String>) -> Credentials {
        Credentials(token.into())
    }

    pub fn token(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(…)")
    }
}

/// One request's identity and attribution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The caller's token; `None` answers `unauthenticated` everywhere but
    /// the probes.
    pub credentials: Option<Credentials>,
    /// The organization the request names (`X-Cairn-Org`); by default the
    /// caller's own (the operator's: `default`).
    pub org: Option<String>,
    /// The agent a write is attributed to (may be empty; a token bound to an
    /// agent overrides it).
    pub agent: String,
    /// The agent's session (may be empty).
    pub session: String,
    /// The client's key for a write; the service makes one when it is absent.
    pub idempotency_key: Option<String>,
    /// The request's id, taken from the client or made by the node; in every
    /// log line of the request and in the audit trail.
    pub request_id: String,
}

impl RequestContext {
    /// A context presenting `token`.
    pub fn with_token(token: impl Into<String>) -> RequestContext {
        RequestContext {
            credentials: Some(Credentials::new(token)),
            ..RequestContext::default()
        }
    }
}
