//! What can go wrong with a request, told apart so that callers (the CLI's
//! exit codes, tests, agents' retry loops) can act on it.

use cairn_api::{ErrorCode, Problem};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an `application/problem+json` body (boxed:
    /// it is much larger than the other variants).
    #[error("{}: {}", .0.code, .0.detail)]
    Api(Box<Problem>),

    /// The server answered with an error status but no problem body (a proxy,
    /// a router fallback, or a server bug).
    #[error("HTTP {status}: {body}")]
    Http { status: u16, body: String },

    /// The request could not be sent or its answer not received: connection
    /// refused or reset, a closed connection, an unreadable response.
    #[error("transport: {0}")]
    Transport(String),

    /// No complete answer within the client's timeout. A write may or may not
    /// have been applied; retry it with the same idempotency key.
    #[error("request timed out")]
    Timeout,

    #[error("invalid URL: {0}")]
    InvalidUrl(String),

    /// An https:// connection that could not be secured: the server's
    /// certificate is not signed by a trusted CA or does not name the host,
    /// the server does not speak TLS, or the CA file is unusable. Retrying
    /// does not help; the trust or the URL must change.
    #[error("tls: {0}")]
    Tls(String),

    /// A header value (agent, session, idempotency key) that HTTP cannot carry.
    #[error("invalid header value: {0}")]
    InvalidHeader(String),

    /// A 2xx answer whose body or headers are not what the API promises.
    #[error("unexpected response: {0}")]
    Decode(String),
}

impl ClientError {
    /// The stable code: the problem's `code` for API errors, otherwise the
    /// client-side kind (`http`, `transport`, `timeout`, `invalid_url`,
    /// `invalid_header`, `decode`, `tls`).
    pub fn code(&self) -> &str {
        match self {
            ClientError::Api(problem) => &problem.code,
            ClientError::Http { .. } => "http",
            ClientError::Transport(_) => "transport",
            ClientError::Timeout => "timeout",
            ClientError::InvalidUrl(_) => "invalid_url",
            ClientError::Tls(_) => "tls",
            ClientError::InvalidHeader(_) => "invalid_header",
            ClientError::Decode(_) => "decode",
        }
    }

    /// Whether the server refused the request with this problem code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.problem().is_some_and(|problem| problem.is(code))
    }

    /// The HTTP status of an answered request.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api(problem) => Some(problem.status),
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Api(problem) => Some(problem),
            _ => None,
        }
    }

    /// A human-readable explanation without the code.
    pub fn detail(&self) -> String {
        match self {
            ClientError::Api(problem) => problem.detail.clone(),
            ClientError::Http { status, body } if body.is_empty() => format!("HTTP {status}"),
            ClientError::Http { status, body } => format!("HTTP {status}: {body}"),
            ClientError::Transport(message)
            | ClientError::InvalidUrl(message)
            | ClientError::Tls(message)
            | ClientError::InvalidHeader(message)
            | ClientError::Decode(message) => message.clone(),
            ClientError::Timeout => "no answer within the request timeout".to_string(),
        }
    }

    /// Whether the server never saw the request or said that it may succeed
    /// later (elections, overload, 5xx). A retried write should carry an
    /// idempotency key.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Api(problem) => problem.retryable || problem.status >= 500,
            ClientError::Http { status, .. } => *status >= 500,
            ClientError::Transport(_) | ClientError::Timeout => true,
            ClientError::InvalidUrl(_)
            | ClientError::Tls(_)
            | ClientError::InvalidHeader(_)
            | ClientError::Decode(_) => false,
        }
    }

    /// Whether this is the server refusing the request as made (a 4xx), as
    /// opposed to a node or network that could not answer.
    pub fn is_client_error(&self) -> bool {
        self.status()
            .is_some_and(|status| (400..500).contains(&status))
    }
}

/// `problem.code()`, for symmetry with [`ClientError::code`].
pub trait ProblemExt {
    fn code(&self) -> &str;
}

impl ProblemExt for Problem {
    fn code(&self) -> &str {
        &self.code
    }
}
