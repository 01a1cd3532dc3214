//! Organizations, users, tokens and grants: `/v1/whoami`, `/v1/orgs…`,
//! `/v1/tokens/{id}`, `/v1/stores/{store}/grants…`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cairn_api::{
    ConsistencyQuery, CreateOrgRequest, CreateTokenRequest, CreateUserRequest, Grant, GrantList,
    GrantRequest, Org, OrgList, Role, TokenCreated, TokenList, TokenView, User, UserList, WhoAmI,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{CommonProblems, ReadProblems, WriteProblems};
use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::{ApiResult, AppState};
use crate::service::{NewToken, RequestContext};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(list_users, create_user))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_grants))
        .routes(routes!(set_grant, remove_grant))
}

/// The caller: principal, token, role.
#[utoipa::path(get, path = "/v1/whoami", tag = "access",
    responses((status = 200, body = WhoAmI), CommonProblems, ReadProblems))]
async fn whoami(State(state): State<AppState>, context: RequestContext) -> ApiResult<Json<WhoAmI>> {
    Ok(Json(state.service.whoami(&context).await?))
}

/// Every organization (the operator), or the caller's own.
#[utoipa::path(get, path = "/v1/orgs", tag = "access", params(ConsistencyQuery),
    responses((status = 200, body = OrgList), CommonProblems, ReadProblems))]
async fn list_orgs(
    State(state): State<AppState>,
    context: RequestContext,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<OrgList>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(state.service.list_orgs(&context, consistency).await?))
}

/// Creates an organization (the operator only).
#[utoipa::path(post, path = "/v1/orgs", tag = "access", request_body = CreateOrgRequest,
    responses((status = 201, body = Org), CommonProblems, WriteProblems))]
async fn create_org(
    State(state): State<AppState>,
    context: RequestContext,
    JsonBody(request): JsonBody<CreateOrgRequest>,
) -> ApiResult<(StatusCode, Json<Org>)> {
    let org = state.service.create_org(&context, &request.name).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// The organization's users.
#[utoipa::path(get, path = "/v1/orgs/{org}/users", tag = "access",
    params(("org" = String, Path, description = "The organization's name"), ConsistencyQuery),
    responses((status = 200, body = UserList), CommonProblems, ReadProblems))]
async fn list_users(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(org): ApiPath<String>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<UserList>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(
        state
            .service
            .list_users(&context, &org, consistency)
            .await?,
    ))
}

/// Creates a user (an admin of the organization, or the operator).
#[utoipa::path(post, path = "/v1/orgs/{org}/users", tag = "access",
    params(("org" = String, Path, description = "The organization's name")),
    request_body = CreateUserRequest,
    responses((status = 201, body = User), CommonProblems, WriteProblems))]
async fn create_user(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(org): ApiPath<String>,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let role = request.role.unwrap_or(Role::Member);
    let user = state
        .service
        .create_user(&context, &org, &request.name, role)
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// A user's tokens, without their secrets.
#[utoipa::path(get, path = "/v1/orgs/{org}/users/{user}/tokens", tag = "access",
    params(
        ("org" = String, Path, description = "The organization's name"),
        ("user" = String, Path, description = "The user's name"),
        ConsistencyQuery,
    ),
    responses((status = 200, body = TokenList), CommonProblems, ReadProblems))]
async fn list_tokens(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((org, user)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<TokenList>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(
        state
            .service
            .list_tokens(&context, &org, &user, consistency)
            .await?,
    ))
}

/// Makes a token for the user; the answer is the only time it is shown.
#[utoipa::path(post, path = "/v1/orgs/{org}/users/{user}/tokens", tag = "access",
    params(
        ("org" = String, Path, description = "The organization's name"),
        ("user" = String, Path, description = "The user's name"),
    ),
    request_body = CreateTokenRequest,
    responses((status = 201, body = TokenCreated), CommonProblems, WriteProblems))]
async fn create_token(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((org, user)): ApiPath<(String, String)>,
    JsonBody(request): JsonBody<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let new = NewToken {
        agent: request.agent,
        expires_in_s: request.expires_in_s,
    };
    let token = state
        .service
        .create_token(&context, &org, &user, new)
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// Revokes a token: it stops working on every node.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "access",
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 200, body = TokenView), CommonProblems, WriteProblems))]
async fn revoke_token(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TokenView>> {
    Ok(Json(state.service.revoke_token(&context, &id).await?))
}

/// The store's grants (for those who may change them).
#[utoipa::path(get, path = "/v1/stores/{store}/grants", tag = "access",
    params(("store" = String, Path, description = "The store's name"), ConsistencyQuery),
    responses((status = 200, body = GrantList), CommonProblems, ReadProblems))]
async fn list_grants(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath(store): ApiPath<String>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<GrantList>> {
    let consistency = query.consistency.unwrap_or_default();
    Ok(Json(
        state
            .service
            .list_grants(&context, &store, consistency)
            .await?,
    ))
}

/// Gives a user `read`, `write` or `admin` on the store (replacing the default).
#[utoipa::path(put, path = "/v1/stores/{store}/grants/{user}", tag = "access",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("user" = String, Path, description = "The user's name"),
    ),
    request_body = GrantRequest,
    responses((status = 200, body = Grant), CommonProblems, WriteProblems))]
async fn set_grant(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, user)): ApiPath<(String, String)>,
    JsonBody(request): JsonBody<GrantRequest>,
) -> ApiResult<Json<Grant>> {
    Ok(Json(
        state
            .service
            .set_grant(&context, &store, &user, Some(request.access))
            .await?,
    ))
}

/// Removes a user's grant on the store (they keep the default).
#[utoipa::path(delete, path = "/v1/stores/{store}/grants/{user}", tag = "access",
    params(
        ("store" = String, Path, description = "The store's name"),
        ("user" = String, Path, description = "The user's name"),
    ),
    responses((status = 200, body = Grant), CommonProblems, WriteProblems))]
async fn remove_grant(
    State(state): State<AppState>,
    context: RequestContext,
    ApiPath((store, user)): ApiPath<(String, String)>,
) -> ApiResult<Json<Grant>> {
    Ok(Json(
        state
            .service
            .set_grant(&context, &store, &user, None)
            .await?,
    ))
}
