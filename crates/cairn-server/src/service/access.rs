//! Organizations, users, tokens and grants. Each operation authorizes the
//! caller on a replica before proposing (to refuse early), and `apply`
//! authorizes again at the command's place in the log.

use std::ops::Bound;

use cairn_api as api;
use cairn_core::auth::{self, Subject, Who};
use cairn_core::codec;
use cairn_core::command::{Command, Outcome};
use cairn_core::governance::{TokenInfo, TokenOwner};
use cairn_core::{
    Access, CoreError, KvRead, OrgName, ReadError, Resource, StoreRef, Table, UserName,
};

use super::{RequestContext, Service, ServiceResult, org_name, unexpected, wire};

/// What `create_token` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewToken {
    pub agent: Option<String>,
    pub expires_in_s: Option<u64>,
}

impl Service {
    /// The caller as the node sees them.
    pub async fn whoami(&self, context: &RequestContext) -> ServiceResult<api::WhoAmI> {
        let subject = self
            .read_as(context, api::Consistency::Stale, |_, subject| {
                Ok(subject.clone())
            })
            .await?;
        Ok(whoami(subject))
    }

    /// Checks that the caller is the operator (the cluster's admin routes
    /// that only look: status, digest, metrics). A node whose state holds no
    /// token at all (never initialized, or not yet caught up with its
    /// cluster) cannot check a token against the cluster's: it accepts the
    /// operator's token its own configuration supplies, and without one it
    /// answers anyone, so that it can be watched while it joins (it holds
    /// nothing to protect).
    pub async fn require_operator(&self, context: &RequestContext) -> ServiceResult<()> {
        self.check_operator(context, false).await
    }

    /// Like `require_operator`, for the admin routes that change the cluster
    /// (init, learners, voters, removal): a blank node without an operator
    /// token of its own refuses them, so that nobody can initialize a node
    /// into a cluster of their own or make it join one before its operator
    /// has a token.
    pub async fn require_operator_to_change(&self, context: &RequestContext) -> ServiceResult<()> {
        self.check_operator(context, true).await
    }

    async fn check_operator(&self, context: &RequestContext, change: bool) -> ServiceResult<()> {
        let blank = self
            .read(api::Consistency::Stale, |reader| {
                let mut any = false;
                reader.scan(
                    Table::Tokens,
                    Bound::Unbounded,
                    Bound::Unbounded,
                    false,
                    &mut |_, _| {
                        any = true;
                        Ok(false)
                    },
                )?;
                Ok(!any)
            })
            .await?;
        if blank {
            return match (self.local_operator(), &context.credentials) {
                (Some(operator), Some(credentials))
                    if auth::sha256(credentials.token().as_bytes()) == operator =>
                {
                    Ok(())
                }
                (Some(_), None) => Err(CoreError::unauthenticated(
                    "no token: this node is not initialized yet and accepts only the operator's token from its configuration",
                )
                .into()),
                (Some(_), Some(_)) => Err(CoreError::unauthenticated(
                    "this node is not initialized yet and accepts only the operator's token from its configuration",
                )
                .into()),
                (None, _) if change => Err(CoreError::forbidden(
                    "this node holds no token yet and its configuration supplies no operator token: set [auth] admin_token (or CAIRN_ADMIN_TOKEN) to initialize or change the cluster through it",
                )
                .into()),
                (None, _) => Ok(()),
            };
        }
        self.authorize(context, |_, subject| {
            if subject.is_operator() {
                Ok(())
            } else {
                Err(CoreError::forbidden("only the operator manages the cluster").into())
            }
        })
        .await
        .map(|_| ())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), org = %name, request_id = %context.request_id))]
    pub async fn create_org(
        &self,
        context: &RequestContext,
        name: &str,
    ) -> ServiceResult<api::Org> {
        let org = OrgName::parse(name)?;
        let (subject, ()) = self
            .authorize(context, |_, subject| {
                if subject.is_operator() {
                    Ok(())
                } else {
                    Err(CoreError::forbidden("only the operator creates organizations").into())
                }
            })
            .await?;
        match self
            .propose(context, &subject, Command::CreateOrg { org })
            .await?
        {
            Outcome::OrgCreated(org) => Ok(wire::org(org)),
            other => Err(unexpected(other)),
        }
    }

    /// Every organization (the operator), or the caller's own.
    pub async fn list_orgs(
        &self,
        context: &RequestContext,
        consistency: api::Consistency,
    ) -> ServiceResult<api::OrgList> {
        let orgs = self
            .read_as(context, consistency, |reader, subject| {
                match subject.org() {
                    Some(org) => Ok(vec![org.clone()]),
                    None => scan_all(reader, Table::Orgs),
                }
            })
            .await?;
        Ok(api::OrgList {
            orgs: orgs.into_iter().map(wire::org).collect(),
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), org = %org, user = %name, request_id = %context.request_id))]
    pub async fn create_user(
        &self,
        context: &RequestContext,
        org: &str,
        name: &str,
        role: api::Role,
    ) -> ServiceResult<api::User> {
        let org = OrgName::parse(org)?;
        let user = UserName::parse(name)?;
        let (subject, org) = self
            .authorize(context, |reader, subject| {
                let org = auth::resolve_org(reader, subject, Some(&org))?;
                if subject.manages_org(org.id) {
                    Ok(org)
                } else {
                    Err(forbidden(subject, "create users").into())
                }
            })
            .await?;
        let command = Command::CreateUser {
            org_id: org.id,
            user,
            role: wire::role_from(role),
        };
        match self.propose(context, &subject, command).await? {
            Outcome::UserCreated(user) => Ok(wire::user(&org.name, user)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn list_users(
        &self,
        context: &RequestContext,
        org: &str,
        consistency: api::Consistency,
    ) -> ServiceResult<api::UserList> {
        let org = OrgName::parse(org)?;
        let (org, users) = self
            .read_as(context, consistency, |reader, subject| {
                let org = auth::resolve_org(reader, subject, Some(&org))?;
                let mut users = Vec::new();
                cairn_core::kv::scan_prefix(
                    reader,
                    Table::Users,
                    &org.id.to_be_bytes(),
                    false,
                    &mut |_, value| {
                        users.push(codec::decode(value)?);
                        Ok(true)
                    },
                )?;
                Ok((org, users))
            })
            .await?;
        Ok(api::UserList {
            users: users
                .into_iter()
                .map(|user| wire::user(&org.name, user))
                .collect(),
        })
    }

    /// Makes a token for `user`: random, shown once, stored as its hash.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), org = %org, user = %user, request_id = %context.request_id))]
    pub async fn create_token(
        &self,
        context: &RequestContext,
        org: &str,
        user: &str,
        new: NewToken,
    ) -> ServiceResult<api::TokenCreated> {
        let org = OrgName::parse(org)?;
        let user = UserName::parse(user)?;
        let (subject, org) = self
            .authorize(context, |reader, subject| {
                let org = auth::resolve_org(reader, subject, Some(&org))?;
                if auth::load_user(reader, org.id, user.as_str())?.is_none() {
                    return Err(CoreError::not_found(Resource::User, user.as_str()).into());
                }
                if subject.manages_user(org.id, user.as_str()) {
                    Ok(org)
                } else {
                    Err(forbidden(subject, &format!("create tokens for {user}")).into())
                }
            })
            .await?;
        let expires_ms = match new.expires_in_s {
            None => None,
            Some(0) => {
                return Err(CoreError::invalid_request("expires_in_s must be positive").into());
            }
            Some(seconds) => Some(
                self.clock
                    .now_ms()
                    .saturating_add(seconds.saturating_mul(1000)),
            ),
        };
        let (mut id, mut secret) = ([0u8; 8], [0u8; 32]);
        self.entropy.fill(&mut id);
        self.entropy.fill(&mut secret);
        let token = auth::format_token(id, secret);
        let command = Command::CreateToken {
            id: auth::token_id(&token),
            hash: auth::token_hash(&token),
            owner: TokenOwner::User {
                org_id: org.id,
                user: user.to_string(),
            },
            agent: new.agent,
            expires_ms,
        };
        match self.propose(context, &subject, command).await? {
            Outcome::TokenCreated(info) => Ok(api::TokenCreated {
                token,
                view: wire::token_view(info, Some(org.name)),
            }),
            other => Err(unexpected(other)),
        }
    }

    /// `user`'s tokens (never their secrets), revoked ones included.
    pub async fn list_tokens(
        &self,
        context: &RequestContext,
        org: &str,
        user: &str,
        consistency: api::Consistency,
    ) -> ServiceResult<api::TokenList> {
        let org = OrgName::parse(org)?;
        let user = UserName::parse(user)?;
        let (org, tokens) = self
            .read_as(context, consistency, |reader, subject| {
                let org = auth::resolve_org(reader, subject, Some(&org))?;
                if !subject.manages_user(org.id, user.as_str()) {
                    return Err(forbidden(subject, &format!("list {user}'s tokens")).into());
                }
                let owner = TokenOwner::User {
                    org_id: org.id,
                    user: user.to_string(),
                };
                let tokens: Vec<TokenInfo> = scan_all(reader, Table::Tokens)?;
                Ok((
                    org,
                    tokens
                        .into_iter()
                        .filter(|token| token.owner == owner)
                        .collect::<Vec<_>>(),
                ))
            })
            .await?;
        Ok(api::TokenList {
            tokens: tokens
                .into_iter()
                .map(|token| wire::token_view(token, Some(org.name.clone())))
                .collect(),
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), token = %id, request_id = %context.request_id))]
    pub async fn revoke_token(
        &self,
        context: &RequestContext,
        id: &str,
    ) -> ServiceResult<api::TokenView> {
        let (subject, ()) = self.authorize(context, |_, _| Ok(())).await?;
        let command = Command::RevokeToken { id: id.to_string() };
        match self.propose(context, &subject, command).await? {
            Outcome::TokenRevoked(info) => {
                let org = match (&info.owner, subject.org()) {
                    (TokenOwner::User { .. }, Some(org)) => Some(org.name.clone()),
                    _ => None,
                };
                Ok(wire::token_view(info, org))
            }
            other => Err(unexpected(other)),
        }
    }

    /// Sets (`Some`) or removes (`None`) `user`'s grant on `store`.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, user = %user, request_id = %context.request_id))]
    pub async fn set_grant(
        &self,
        context: &RequestContext,
        store: &str,
        user: &str,
        access: Option<api::Access>,
    ) -> ServiceResult<api::Grant> {
        let user = UserName::parse(user)?;
        let (subject, store) = self.authorize_store(context, store, Access::Admin).await?;
        let command = Command::SetGrant {
            store,
            user,
            access: access.map(wire::access_from),
        };
        match self.propose(context, &subject, command).await? {
            Outcome::GrantSet {
                store,
                user,
                access,
            } => Ok(api::Grant {
                store,
                user,
                access: access.map(wire::access),
            }),
            other => Err(unexpected(other)),
        }
    }

    /// The grants on `store` (for those who may change them).
    pub async fn list_grants(
        &self,
        context: &RequestContext,
        store: &str,
        consistency: api::Consistency,
    ) -> ServiceResult<api::GrantList> {
        let name = self.store_name(store)?;
        let org = org_name(context)?;
        let grants = self
            .read_as(context, consistency, |reader, subject| {
                let org = auth::resolve_org(reader, subject, org.as_ref())?;
                let store = StoreRef::new(org.id, name.clone());
                let info = auth::authorize_store(reader, subject, &store, Access::Admin)?;
                let mut grants = Vec::new();
                cairn_core::kv::scan_prefix(
                    reader,
                    Table::Grants,
                    &codec::store_prefix(info.id),
                    false,
                    &mut |key, value| {
                        let user = codec::file_key_path(key)?.to_string();
                        grants.push((user, codec::decode::<Access>(value)?));
                        Ok(true)
                    },
                )?;
                Ok(grants)
            })
            .await?;
        Ok(api::GrantList {
            store: name.to_string(),
            grants: grants
                .into_iter()
                .map(|(user, access)| api::Grant {
                    store: name.to_string(),
                    user,
                    access: Some(wire::access(access)),
                })
                .collect(),
        })
    }

    /// The node's own bootstrap: the operator token `token` and the default
    /// organization, each unless it exists. Safe to repeat.
    pub async fn bootstrap(&self, token: &str) -> ServiceResult<()> {
        let context = RequestContext {
            request_id: format!("bootstrap/{}", self.node_id()),
            idempotency_key: Some(format!("bootstrap/{}", auth::token_id(token))),
            ..RequestContext::default()
        };
        let command = Command::Bootstrap {
            token_id: auth::token_id(token),
            hash: auth::token_hash(token),
        };
        match self.propose_as(&context, None, command).await? {
            Outcome::Bootstrapped => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}

fn forbidden(subject: &Subject, what: &str) -> CoreError {
    CoreError::forbidden(format!("{} may not {what}", subject.principal()))
}

fn whoami(subject: Subject) -> api::WhoAmI {
    let (org, role) = match &subject.who {
        Who::Operator => (None, None),
        Who::User { org, user } => (Some(org.name.clone()), Some(wire::role(user.role))),
    };
    api::WhoAmI {
        principal: subject.principal(),
        token: wire::token_view(subject.token, org),
        role,
    }
}

/// Every row of a small table, decoded.
fn scan_all<T: serde::de::DeserializeOwned>(
    reader: &(impl KvRead + ?Sized),
    table: Table,
) -> Result<Vec<T>, ReadError> {
    let mut rows = Vec::new();
    reader.scan(
        table,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |_, value| {
            rows.push(codec::decode(value)?);
            Ok(true)
        },
    )?;
    Ok(rows)
}
