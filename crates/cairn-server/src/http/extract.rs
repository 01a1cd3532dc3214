//! Request pieces as axum extractors whose rejection is an [`ApiError`], so
//! handlers take typed values and never parse headers, queries or bodies.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use cairn_api::{ErrorCode, PreconditionFields, etag, headers};
use cairn_core::CoreError;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::http::middleware::RequestId;
use crate::service::{Credentials, RequestContext};

/// A query string, unknown parameters refused.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|query| ApiQuery(query.0))
            .map_err(|error| ApiError::invalid_request(format!("query: {}", error.body_text())))
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|path| ApiPath(path.0))
            .map_err(|error| ApiError::invalid_request(format!("path: {}", error.body_text())))
    }
}

/// A header as visible ASCII text, if present.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value.to_str().map_err(|_| {
                ApiError::invalid_request(format!("header {name} must be visible ASCII"))
            })
        })
        .transpose()
}

/// The token from `Authorization: Bearer <token>` or `x-api-key: <token>`.
/// Which is right is the service's to decide; here only the form is checked.
fn credentials(headers: &HeaderMap) -> Result<Option<Credentials>, ApiError> {
    if let Some(value) = header_text(headers, header::AUTHORIZATION.as_str())? {
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthenticated,
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        return Ok(Some(Credentials::new(token)));
    }
    Ok(header_text(headers, headers::API_KEY)?
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(Credentials::new))
}

/// Who asks and on whose behalf: attribution headers, the idempotency key
/// and the request id, as the service's `RequestContext`. Label lengths are
/// the service's to check, once for every adapter. The MCP adapter builds its
/// context from the same headers (`mcp.rs`).
pub(super) fn request_context(parts: &Parts) -> Result<RequestContext, ApiError> {
    let label = |name| header_text(&parts.headers, name).map(|text| text.map(str::to_string));
    Ok(RequestContext {
        credentials: credentials(&parts.headers)?,
        org: label(headers::ORG)?,
        agent: label(headers::AGENT)?.unwrap_or_default(),
        session: label(headers::SESSION)?.unwrap_or_default(),
        idempotency_key: label(headers::IDEMPOTENCY_KEY)?,
        request_id: parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
    })
}

impl FromRequestParts<AppState> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        request_context(parts)
    }
}

/// The remote address of a connection, as `cairn serve` records it for
/// every request (plain or https listener alike; `http::serve`).
#[derive(Clone, Copy, Debug)]
pub struct RemoteAddr(pub Option<std::net::SocketAddr>);

/// The address the request came from; `None` in-process or in the simulation.
pub struct PeerAddr(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<RemoteAddr>>()
                .and_then(|info| info.0.0),
        ))
    }
}

/// `If-Match` / `If-None-Match` as the precondition of a write.
pub struct HeaderPreconditions(pub PreconditionFields);

impl HeaderPreconditions {
    /// Whether the request carried one (a failed one is then `412`, not `409`).
    pub fn is_set(&self) -> bool {
        self.0 != PreconditionFields::default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HeaderPreconditions {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let if_match = header_text(&parts.headers, header::IF_MATCH.as_str())?;
        let if_none_match = header_text(&parts.headers, header::IF_NONE_MATCH.as_str())?;
        etag::preconditions_from_headers(if_match, if_none_match)
            .map(HeaderPreconditions)
            .map_err(ApiError::invalid_request)
    }
}

/// The whole body, refused unread when `Content-Length` is over
/// `request_bytes_max`, cut off as soon as a streamed body passes it, and
/// given up with `408` when it has not all arrived within the request
/// timeout: a client that announces more than it sends, or trickles it,
/// would otherwise hold its connection and task forever.
pub struct BoundedBody(pub Bytes);

impl FromRequest<AppState> for BoundedBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let max = state.service.limits().request_bytes_max;
        let too_large =
            |actual: u64| ApiError::from(CoreError::limit("request_bytes_max", max, actual));
        if let Some(length) = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok())
            && length > max
        {
            return Err(too_large(length));
        }
        let limit = usize::try_from(max).unwrap_or(usize::MAX);
        let timeout = state.service.request_timeout();
        match tokio::time::timeout(timeout, axum::body::to_bytes(request.into_body(), limit)).await
        {
            Ok(Ok(bytes)) => Ok(BoundedBody(bytes)),
            Ok(Err(_)) => Err(too_large(max.saturating_add(1))),
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::InvalidRequest,
                format!(
                    "the request body did not arrive within {} ms",
                    timeout.as_millis()
                ),
            )),
        }
    }
}

/// A bounded body that must be UTF-8 text.
pub struct TextBody(pub String);

impl FromRequest<AppState> for TextBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let BoundedBody(bytes) = BoundedBody::from_request(request, state).await?;
        String::from_utf8(Vec::from(bytes))
            .map(TextBody)
            .map_err(|error| {
                let offset = error.utf8_error().valid_up_to() as u64;
                ApiError::from(CoreError::NotUtf8 { offset })
            })
    }
}

/// A bounded JSON body that may be absent (an empty body is `T::default()`).
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let BoundedBody(bytes) = BoundedBody::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJsonBody)
            .map_err(|error| ApiError::invalid_json(format!("request body: {error}")))
    }
}

/// A bounded JSON body.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let BoundedBody(bytes) = BoundedBody::from_request(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|error| ApiError::invalid_json(format!("request body: {error}")))
    }
}
