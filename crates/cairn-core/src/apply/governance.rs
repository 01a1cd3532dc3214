//! Organizations, users, tokens and grants: each command authorizes its
//! principal against the tables as they are at its entry.

use super::ApplyResult;
use super::audit::{self, Event};
use super::store::load_store;
use crate::audit::AuditOp;
use crate::auth::{self, Subject};
use crate::codec::{self, META_NEXT_ORG_ID};
use crate::command::{Meta, Outcome};
use crate::error::{CoreError, Resource, StorageError};
use crate::governance::{Access, OrgInfo, Role, StoreRef, TokenInfo, TokenOwner, UserInfo};
use crate::kv::{KvWrite, Table};
use crate::path::{OrgName, UserName};

/// The fields of `Command::CreateToken`.
pub(super) struct NewToken<'a> {
    pub id: &'a str,
    pub hash: [u8; 32],
    pub owner: &'a TokenOwner,
    pub agent: Option<&'a str>,
    pub expires_ms: Option<u64>,
}

/// The operator's token and the default organization, each unless it exists.
/// Records one cluster event when it made either (a repeated bootstrap that
/// finds both changes nothing and records nothing).
pub(super) fn bootstrap(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    token_id: &str,
    hash: [u8; 32],
) -> ApplyResult<Outcome> {
    let mut made = Vec::new();
    match auth::load_token(kv, token_id)? {
        Some(existing) if existing.owner == TokenOwner::Operator && existing.hash == hash => {}
        Some(_) => {
            return Err(CoreError::AlreadyExists {
                resource: Resource::Token,
                name: token_id.to_string(),
            }
            .into());
        }
        None => put_token(
            kv,
            &TokenInfo {
                id: token_id.to_string(),
                owner: TokenOwner::Operator,
                hash,
                agent: None,
                created_ms: meta.time_ms,
                expires_ms: None,
                revoked_ms: None,
            },
        )
        .map(|()| made.push("operator_token"))?,
    }
    if auth::load_org_by_name(kv, auth::DEFAULT_ORG)?.is_none() {
        insert_org(kv, meta, auth::DEFAULT_ORG)?;
        made.push("default_org");
    }
    if !made.is_empty() {
        let event = Event::cluster(AuditOp::Bootstrap)
            .target(token_id)
            .detail(made.join(","));
        audit::record(kv, log_index, meta, None, event)?;
    }
    Ok(Outcome::Bootstrapped)
}

pub(super) fn create_org(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    org: &OrgName,
) -> ApplyResult<Outcome> {
    if !subject.is_operator() {
        return Err(CoreError::forbidden("only the operator creates organizations").into());
    }
    if auth::load_org_by_name(kv, org.as_str())?.is_some() {
        return Err(CoreError::AlreadyExists {
            resource: Resource::Organization,
            name: org.to_string(),
        }
        .into());
    }
    let info = insert_org(kv, meta, org.as_str())?;
    let event = Event::org(AuditOp::CreateOrg, &info).target(info.name.clone());
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::OrgCreated(info))
}

fn insert_org(kv: &mut impl KvWrite, meta: &Meta, name: &str) -> Result<OrgInfo, StorageError> {
    let id = super::store::allocate_id(kv, META_NEXT_ORG_ID, "organization")?;
    let org = OrgInfo {
        id,
        name: name.to_string(),
        created_ms: meta.time_ms,
    };
    kv.put(Table::Orgs, &id.to_be_bytes(), &codec::encode(&org))?;
    kv.put(Table::OrgNames, name.as_bytes(), &codec::encode(&id))?;
    Ok(org)
}

/// The organization `org_id` as `subject` may see it: their own, or any for
/// the operator; anything else does not exist for them.
fn visible_org(kv: &impl KvWrite, subject: &Subject, org_id: u64) -> ApplyResult<OrgInfo> {
    auth::load_org(kv, org_id)?
        .filter(|org| subject.is_operator() || subject.org().is_some_and(|own| own.id == org.id))
        .ok_or_else(|| CoreError::not_found(Resource::Organization, org_id.to_string()).into())
}

pub(super) fn create_user(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    org_id: u64,
    user: &UserName,
    role: Role,
) -> ApplyResult<Outcome> {
    let org = visible_org(kv, subject, org_id)?;
    if !subject.manages_org(org.id) {
        return Err(CoreError::forbidden(format!(
            "only an admin of {:?} creates its users",
            org.name
        ))
        .into());
    }
    if auth::load_user(kv, org.id, user.as_str())?.is_some() {
        return Err(CoreError::AlreadyExists {
            resource: Resource::User,
            name: user.to_string(),
        }
        .into());
    }
    let info = UserInfo {
        org_id: org.id,
        name: user.to_string(),
        role,
        created_ms: meta.time_ms,
    };
    kv.put(
        Table::Users,
        &codec::user_key(org.id, user.as_str()),
        &codec::encode(&info),
    )?;
    let event = Event::org(AuditOp::CreateUser, &org)
        .target(info.name.clone())
        .detail(format!("role={}", role.as_str()));
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::UserCreated(info))
}

pub(super) fn create_token(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    token: NewToken<'_>,
) -> ApplyResult<Outcome> {
    let TokenOwner::User { org_id, user } = token.owner else {
        return Err(CoreError::forbidden(
            "operator tokens come only from the node's bootstrap or its configuration",
        )
        .into());
    };
    let org = visible_org(kv, subject, *org_id)?;
    if auth::load_user(kv, org.id, user)?.is_none() {
        return Err(CoreError::not_found(Resource::User, user.as_str()).into());
    }
    if !subject.manages_user(org.id, user) {
        return Err(CoreError::forbidden(format!(
            "{} may not create tokens for {user}",
            subject.principal()
        ))
        .into());
    }
    if token
        .expires_ms
        .is_some_and(|expires| expires <= meta.time_ms)
    {
        return Err(CoreError::invalid_request("the token would expire before it is made").into());
    }
    if auth::load_token(kv, token.id)?.is_some() {
        return Err(CoreError::AlreadyExists {
            resource: Resource::Token,
            name: token.id.to_string(),
        }
        .into());
    }
    let info = TokenInfo {
        id: token.id.to_string(),
        owner: token.owner.clone(),
        hash: token.hash,
        agent: token.agent.map(str::to_string),
        created_ms: meta.time_ms,
        expires_ms: token.expires_ms,
        revoked_ms: None,
    };
    put_token(kv, &info)?;
    let event = Event::org(AuditOp::CreateToken, &org)
        .target(info.id.clone())
        .detail(token_detail(&info));
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::TokenCreated(info))
}

pub(super) fn revoke_token(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    id: &str,
) -> ApplyResult<Outcome> {
    let not_found = || CoreError::not_found(Resource::Token, id);
    let mut info = auth::load_token(kv, id)?.ok_or_else(not_found)?;
    let allowed = match &info.owner {
        TokenOwner::Operator => subject.is_operator(),
        TokenOwner::User { org_id, user } => {
            if !(subject.is_operator() || subject.org().is_some_and(|org| org.id == *org_id)) {
                return Err(not_found().into());
            }
            subject.manages_user(*org_id, user)
        }
    };
    if !allowed {
        return Err(CoreError::forbidden(format!(
            "{} may not revoke token {id}",
            subject.principal()
        ))
        .into());
    }
    if info.revoked_ms.is_none() {
        info.revoked_ms = Some(meta.time_ms);
        put_token(kv, &info)?;
    }
    // An operator token's revocation is the cluster's event; a user token's,
    // its organization's. A repeated revocation is recorded too: it was
    // acknowledged like any other command.
    let event = match &info.owner {
        TokenOwner::Operator => Event::cluster(AuditOp::RevokeToken),
        TokenOwner::User { org_id, .. } => {
            let org = auth::load_org(kv, *org_id)?.ok_or_else(|| {
                StorageError::corrupt(format!("token {id} belongs to a missing organization"))
            })?;
            Event::org(AuditOp::RevokeToken, &org)
        }
    };
    let event = event.target(info.id.clone()).detail(token_detail(&info));
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::TokenRevoked(info))
}

pub(super) fn set_grant(
    kv: &mut impl KvWrite,
    log_index: u64,
    meta: &Meta,
    subject: &Subject,
    store: &StoreRef,
    user: &UserName,
    access: Option<Access>,
) -> ApplyResult<Outcome> {
    let info = auth::authorize_store(kv, subject, store, Access::Admin)?;
    if auth::load_user(kv, info.org_id, user.as_str())?.is_none() {
        return Err(CoreError::not_found(Resource::User, user.as_str()).into());
    }
    debug_assert!(load_store(kv, store)?.is_some());
    let key = codec::grant_key(info.id, user.as_str());
    match access {
        Some(access) => kv.put(Table::Grants, &key, &codec::encode(&access))?,
        None => kv.delete(Table::Grants, &key)?,
    }
    let event = Event::store(AuditOp::SetGrant, &info)
        .target(user.to_string())
        .detail(access.map_or("none", Access::as_str));
    audit::record(kv, log_index, meta, Some(subject), event)?;
    Ok(Outcome::GrantSet {
        store: info.name,
        user: user.to_string(),
        access,
    })
}

/// Whose a token is and what binds it, for its audit events.
fn token_detail(info: &TokenInfo) -> String {
    let mut detail = match &info.owner {
        TokenOwner::Operator => "owner=operator".to_string(),
        TokenOwner::User { user, .. } => format!("owner={user}"),
    };
    if let Some(agent) = &info.agent {
        detail.push_str(&format!(" agent={agent}"));
    }
    if let Some(expires_ms) = info.expires_ms {
        detail.push_str(&format!(" expires_ms={expires_ms}"));
    }
    detail
}

fn put_token(kv: &mut impl KvWrite, info: &TokenInfo) -> Result<(), StorageError> {
    kv.put(Table::Tokens, info.id.as_bytes(), &codec::encode(info))
}
