//! Every failure a request can meet, as an `application/problem+json` answer
//! with a stable `code` (`docs/api.md` lists them with their statuses).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_core::api::Problem;
use cairn_core::{CoreError, ReadError};
use cairn_raft::NodeError;

#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl ApiError {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
        ApiError(Box::new(Problem::new(status.as_u16(), code, detail)))
    }

    /// A domain error. `header_precondition` turns a version conflict from
    /// `If-Match` / `If-None-Match` into `412` rather than `409`.
    pub fn core(error: &CoreError, op_index: Option<u32>, header_precondition: bool) -> ApiError {
        let status = status_for(error, header_precondition);
        ApiError(Box::new(Problem::from_core(
            status.as_u16(),
            error,
            op_index,
        )))
    }

    pub fn invalid_json(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", detail)
    }

    pub fn timeout() -> ApiError {
        let mut error = ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request did not complete in time; a write may or may not have been applied \
             (retry it with the same Idempotency-Key)",
        );
        error.0.retryable = true;
        error
    }

    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the node's log",
        )
    }
}

pub fn status_for(error: &CoreError, header_precondition: bool) -> StatusCode {
    match error.code() {
        "not_found" => StatusCode::NOT_FOUND,
        "version_conflict" if header_precondition => StatusCode::PRECONDITION_FAILED,
        "already_exists" | "version_conflict" | "path_conflict" | "idempotency_key_reused" => {
            StatusCode::CONFLICT
        }
        "no_unique_match" | "invalid_line" => StatusCode::UNPROCESSABLE_ENTITY,
        "limit_exceeded" => match error {
            CoreError::LimitExceeded { limit, .. }
                if limit == "file_bytes_max" || limit == "request_bytes_max" =>
            {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> ApiError {
        ApiError::core(&error, None, false)
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> ApiError {
        match error {
            ReadError::Domain(error) => error.into(),
            ReadError::Storage(error) => ApiError::internal(error),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(error: NodeError) -> ApiError {
        match error {
            NodeError::NotLeader { leader_id, .. } => {
                let mut api = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not_leader",
                    match leader_id {
                        Some(id) => format!("this node is not the leader; node {id} is"),
                        None => "no leader is known; an election may be under way".to_string(),
                    },
                );
                api.0.retryable = true;
                api.0.leader_id = leader_id;
                api
            }
            NodeError::Unavailable(detail) => {
                let mut api = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
                api.0.retryable = true;
                api
            }
            NodeError::OutcomeUnknown(detail) => {
                let mut api = ApiError::timeout();
                api.0.detail = format!("{}: {detail}", api.0.detail);
                api
            }
            NodeError::Membership(detail) => {
                ApiError::new(StatusCode::CONFLICT, "membership_conflict", detail)
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
