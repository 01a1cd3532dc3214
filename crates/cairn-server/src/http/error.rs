//! Every failure a request can meet, as an `application/problem+json` answer
//! with a stable `code` (`docs/api.md` lists them with their statuses), and
//! the sets of problems each kind of route documents in the OpenAPI spec.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::problem::PROBLEM_CONTENT_TYPE;
use cairn_api::{ErrorCode, Problem};
use cairn_core::{CoreError, ErrorKind};
use cairn_raft::NodeError;

use crate::service::ServiceError;

#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError(Box::new(Problem::new(status.as_u16(), code, detail)))
    }

    /// A domain error. `header_precondition` turns a version conflict from
    /// `If-Match` / `If-None-Match` into `412` rather than `409`.
    pub fn core(error: &CoreError, op_index: Option<u32>, header_precondition: bool) -> ApiError {
        let status = status_for(error, header_precondition);
        let code = ErrorCode::parse(error.code()).unwrap_or(ErrorCode::InvalidRequest);
        let mut problem = Problem::new(status.as_u16(), code, error.to_string());
        problem.op_index = op_index;
        match error {
            CoreError::VersionConflict { path, current, .. } => {
                problem.path = Some(path.clone());
                problem.current_version = *current;
            }
            CoreError::NoUniqueMatch { path, occurrences } => {
                problem.path = Some(path.clone());
                problem.occurrences = Some(*occurrences);
            }
            CoreError::LimitExceeded { limit, .. } => problem.limit = Some(limit.clone()),
            CoreError::RollbackConflict { paths } => problem.paths = Some(paths.clone()),
            CoreError::InvalidPath { path, .. }
            | CoreError::InvalidLine { path, .. }
            | CoreError::PathConflict { path, .. } => problem.path = Some(path.clone()),
            _ => {}
        }
        ApiError(Box::new(problem))
    }

    /// A service failure; `header_precondition` as for [`ApiError::core`].
    pub fn service(error: ServiceError, header_precondition: bool) -> ApiError {
        match error {
            ServiceError::Refused(refusal) => {
                ApiError::core(&refusal.error, refusal.op_index, header_precondition)
            }
            ServiceError::Node(error) => error.into(),
            ServiceError::Storage(error) => ApiError::internal(error),
            ServiceError::StorageFull(detail) => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorCode::StorageFull,
                detail,
            )
            .retryable(),
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
    }

    pub fn invalid_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, detail)
    }

    pub fn invalid_json(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, detail)
    }

    pub fn retryable(mut self) -> ApiError {
        self.0.retryable = true;
        self
    }

    pub fn timeout() -> ApiError {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Timeout,
            "the request did not complete in time; a write may or may not have been applied \
             (retry it with the same Idempotency-Key)",
        )
        .retryable()
    }

    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; see the node's log",
        )
    }
}

/// The status of a domain error, by its kind.
pub fn status_for(error: &CoreError, header_precondition: bool) -> StatusCode {
    match error.kind() {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict if header_precondition && error.code() == "version_conflict" => {
            StatusCode::PRECONDITION_FAILED
        }
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Gone => StatusCode::GONE,
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> ApiError {
        ApiError::core(&error, None, false)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        ApiError::service(error, false)
    }
}

impl From<NodeError> for ApiError {
    fn from(error: NodeError) -> ApiError {
        match error {
            NodeError::NotLeader { leader_id, .. } => {
                let mut api = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::NotLeader,
                    match leader_id {
                        Some(id) => format!("this node is not the leader; node {id} is"),
                        None => "no leader is known; an election may be under way".to_string(),
                    },
                )
                .retryable();
                api.0.leader_id = leader_id;
                api
            }
            NodeError::Unavailable(detail) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                detail,
            )
            .retryable(),
            NodeError::OutcomeUnknown(detail) => {
                let mut api = ApiError::timeout();
                api.0.detail = format!("{}: {detail}", api.0.detail);
                api
            }
            NodeError::Membership(detail) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::MembershipConflict, detail)
            }
            // The leader's disk is below its reserve: refused there, as this
            // node's own service refuses writes when its disk is.
            NodeError::StorageFull(detail) => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorCode::StorageFull,
                format!("the leader refused the write: {detail}"),
            )
            .retryable(),
            // Nothing was proposed; another node can take the request.
            NodeError::Stopped(detail) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::NodeStopped,
                detail,
            )
            .retryable(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.0)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cairn\""),
            );
        }
        response
    }
}

/// The problems any route may answer (OpenAPI).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only its OpenAPI description is used.
pub enum CommonProblems {
    /// A malformed request: bad query, header, path or body (`invalid_request`,
    /// `invalid_path`, `invalid_store_name`, `invalid_name`, `invalid_json`, `invalid_pattern`, `not_utf8`).
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// `unauthenticated`: no token, or an unknown, revoked or expired one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthenticated(Problem),
    /// `forbidden`: the caller sees the resource but may not do this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// `internal`: details only in the node's log.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
}

/// The problems of reads (OpenAPI).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ReadProblems {
    /// `not_found`: no such store, file or version.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// `redacted`: the content of this version was removed by a redaction
    /// (its metadata, with who and when, is still in `stat` and the history).
    #[response(status = 410, content_type = "application/problem+json")]
    Gone(Problem),
    /// `limit_exceeded` (a page larger than `page_entries_max`).
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// `unavailable` / `not_leader`: retryable; no leader could confirm the read in time.
    /// `node_stopped`: Raft stopped on this node (a storage error); ask another node.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The problems of writes (OpenAPI).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum WriteProblems {
    /// `not_found`: no such store or file.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// `version_conflict` (a body precondition), `already_exists`, `path_conflict`,
    /// `idempotency_key_reused`.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `version_conflict` from `If-Match` / `If-None-Match`.
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// `invalid_request`: the body did not all arrive within the request timeout.
    #[response(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Problem),
    /// `limit_exceeded`: a body over `request_bytes_max` or a file over `file_bytes_max`.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// `no_unique_match`, `invalid_line`, or another `limit_exceeded`.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// `unavailable` / `not_leader`: retryable; nothing was applied.
    /// `node_stopped`: Raft stopped on this node (a storage error); nothing was
    /// applied, ask another node.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
    /// `timeout`: retryable; the write may or may not have been applied.
    #[response(status = 504, content_type = "application/problem+json")]
    Timeout(Problem),
}

/// The problems of membership changes (OpenAPI).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum AdminProblems {
    /// `membership_conflict`: unknown node, or a change already in progress.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `invalid_request`: the body did not all arrive within the request timeout.
    #[response(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Problem),
    /// `unavailable` / `not_leader`: retryable.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
    /// `timeout`: retryable; the change may or may not have been made.
    #[response(status = 504, content_type = "application/problem+json")]
    Timeout(Problem),
}
