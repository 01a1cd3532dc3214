//! Who is asking, and on whose behalf: what every service call receives from
//! its adapter (REST, and later the memory tool and MCP).

/// The authenticated caller. Until tokens exist every caller is anonymous;
/// authorization will be decided here, once, for every adapter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Principal {
    #[default]
    Anonymous,
}

/// One request's identity and attribution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub principal: Principal,
    /// The agent a write is attributed to (may be empty).
    pub agent: String,
    /// The agent's session (may be empty).
    pub session: String,
    /// The client's key for a write; the service makes one when it is absent.
    pub idempotency_key: Option<String>,
    /// The request's id, taken from the client or made by the node; in every
    /// log line of the request.
    pub request_id: String,
}
