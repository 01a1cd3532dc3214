//! Authentication and authorization, decided here once for every adapter
//! and again by `apply` for every command, against the replicated tables.
//!
//! A token is `cairn_<id>_<secret>`: `id` is 16 hex digits (the public name a
//! token is listed and revoked by), `secret` 64 hex digits (256 random bits).
//! Only the SHA-256 of the whole string is kept. An operator token supplied
//! by configuration may be any string of at least `SUPPLIED_TOKEN_BYTES_MIN`
//! bytes; its id is then derived from its hash.
//!
//! Who may do what with a store:
//! - the operator: everything, in every organization;
//! - an organization admin: everything in their organization;
//! - the owner of a user-scoped store: everything with it;
//! - anyone else in the store's organization: their grant on the store if
//!   they have one, else `read` on an organization-scoped store and nothing
//!   on a user-scoped one.
//!
//! A store the caller has no access to answers `not_found`, exactly like a
//! store that does not exist; one they may read but not change answers
//! `forbidden`.

use sha2::{Digest, Sha256};

use crate::codec;
use crate::command::StoreInfo;
use crate::error::{CoreError, ReadError, Resource, StorageError};
use crate::governance::{Access, OrgInfo, Role, StoreRef, TokenInfo, TokenOwner, UserInfo};
use crate::kv::{KvRead, Table};
use crate::path::OrgName;

pub const TOKEN_PREFIX: &str = "cairn_";
/// The shortest operator token a configuration may supply.
pub const SUPPLIED_TOKEN_BYTES_MIN: usize = 16;
/// The organization the bootstrap creates, and the one the operator's store
/// requests resolve in when they name none.
pub const DEFAULT_ORG: &str = "default";

/// SHA-256 of a token string.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

/// SHA-256 of any bytes (content digests in the audit trail).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// A new token from 8 random bytes (its id) and 32 random bytes (its secret).
pub fn format_token(id: [u8; 8], secret: [u8; 32]) -> String {
    format!("{TOKEN_PREFIX}{}_{}", hex(&id), hex(&secret))
}

/// The id of a token: the one it carries, or for a supplied operator token
/// one derived from its hash.
pub fn token_id(token: &str) -> String {
    let carried = token
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| id)
        .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    match carried {
        Some(id) => id.to_ascii_lowercase(),
        None => format!("op{}", &hex(&token_hash(token))[..14]),
    }
}

/// An authenticated caller: a live token and who it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub token: TokenInfo,
    pub who: Who,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    Operator,
    User { org: OrgInfo, user: UserInfo },
}

impl Subject {
    pub fn is_operator(&self) -> bool {
        matches!(self.who, Who::Operator)
    }

    /// The caller's organization; `None` for the operator.
    pub fn org(&self) -> Option<&OrgInfo> {
        match &self.who {
            Who::Operator => None,
            Who::User { org, .. } => Some(org),
        }
    }

    pub fn user(&self) -> Option<&UserInfo> {
        match &self.who {
            Who::Operator => None,
            Who::User { user, .. } => Some(user),
        }
    }

    /// The operator, or an admin of organization `org_id`.
    pub fn manages_org(&self, org_id: u64) -> bool {
        match &self.who {
            Who::Operator => true,
            Who::User { org, user } => org.id == org_id && user.role == Role::Admin,
        }
    }

    /// May manage `user`'s tokens: the operator, their organization's admins, themselves.
    pub fn manages_user(&self, org_id: u64, user: &str) -> bool {
        self.manages_org(org_id)
            || matches!(&self.who, Who::User { org, user: me } if org.id == org_id && me.name == user)
    }

    /// A short name for the principal, for the audit trail and log lines:
    /// `operator` or `ORG/USER`.
    pub fn principal(&self) -> String {
        match &self.who {
            Who::Operator => "operator".to_string(),
            Who::User { org, user } => format!("{}/{}", org.name, user.name),
        }
    }

    /// What scopes the subject's idempotency keys: one namespace per principal.
    pub fn idempotency_scope(&self) -> String {
        match &self.who {
            Who::Operator => "operator".to_string(),
            Who::User { org, user } => format!("{}/{}", org.id, user.name),
        }
    }
}

/// The subject a token string authenticates, at time `now_ms`.
pub fn authenticate(
    kv: &(impl KvRead + ?Sized),
    token: &str,
    now_ms: u64,
) -> Result<Subject, ReadError> {
    let id = token_id(token);
    let unknown = || CoreError::unauthenticated("unknown token");
    let info = load_token(kv, &id)?.ok_or_else(unknown)?;
    if info.hash != token_hash(token) {
        return Err(unknown().into());
    }
    subject_of(kv, info, now_ms)
}

/// The subject behind token `id` (already authenticated when it was
/// proposed), at time `now_ms`: `apply` checks again that it is still live.
pub fn subject(kv: &(impl KvRead + ?Sized), id: &str, now_ms: u64) -> Result<Subject, ReadError> {
    let info = load_token(kv, id)?
        .ok_or_else(|| CoreError::unauthenticated(format!("token {id} does not exist")))?;
    subject_of(kv, info, now_ms)
}

fn subject_of(
    kv: &(impl KvRead + ?Sized),
    token: TokenInfo,
    now_ms: u64,
) -> Result<Subject, ReadError> {
    if token.revoked_ms.is_some() {
        return Err(CoreError::unauthenticated(format!("token {} was revoked", token.id)).into());
    }
    if token.expires_ms.is_some_and(|expires| expires <= now_ms) {
        return Err(CoreError::unauthenticated(format!("token {} has expired", token.id)).into());
    }
    let who = match &token.owner {
        TokenOwner::Operator => Who::Operator,
        TokenOwner::User { org_id, user } => {
            let gone =
                || CoreError::unauthenticated(format!("the user of token {} is gone", token.id));
            let org = load_org(kv, *org_id)?.ok_or_else(gone)?;
            let user = load_user(kv, *org_id, user)?.ok_or_else(gone)?;
            Who::User { org, user }
        }
    };
    Ok(Subject { token, who })
}

/// The organization a request acts in: the caller's own (naming another is
/// `not_found`, as if it did not exist); the operator names one, or gets
/// `default`.
pub fn resolve_org(
    kv: &(impl KvRead + ?Sized),
    subject: &Subject,
    named: Option<&OrgName>,
) -> Result<OrgInfo, ReadError> {
    match (&subject.who, named) {
        (Who::User { org, .. }, None) => Ok(org.clone()),
        (Who::User { org, .. }, Some(name)) if org.name == name.as_str() => Ok(org.clone()),
        (Who::User { .. }, Some(name)) => {
            Err(CoreError::not_found(Resource::Organization, name.as_str()).into())
        }
        (Who::Operator, named) => {
            let name = named.map_or(DEFAULT_ORG, OrgName::as_str);
            Ok(load_org_by_name(kv, name)?
                .ok_or_else(|| CoreError::not_found(Resource::Organization, name))?)
        }
    }
}

/// What `subject` may do with `store` (`None`: they may not even see it).
pub fn store_access(
    kv: &(impl KvRead + ?Sized),
    subject: &Subject,
    store: &StoreInfo,
) -> Result<Option<Access>, StorageError> {
    let (org, user) = match &subject.who {
        Who::Operator => return Ok(Some(Access::Admin)),
        Who::User { org, user } => (org, user),
    };
    if org.id != store.org_id {
        return Ok(None);
    }
    if user.role == Role::Admin || store.owner.as_deref() == Some(user.name.as_str()) {
        return Ok(Some(Access::Admin));
    }
    if let Some(access) = load_grant(kv, store.id, &user.name)? {
        return Ok(Some(access));
    }
    Ok(store.owner.is_none().then_some(Access::Read))
}

/// The store, if `subject` may do what `need` asks with it: `not_found`
/// when they cannot see it, `forbidden` when they can but `need` is more.
pub fn authorize_store(
    kv: &(impl KvRead + ?Sized),
    subject: &Subject,
    store: &StoreRef,
    need: Access,
) -> Result<StoreInfo, ReadError> {
    let not_found = || CoreError::not_found(Resource::Store, store.name.as_str());
    let info = crate::apply::load_store(kv, store)?.ok_or_else(not_found)?;
    match store_access(kv, subject, &info)? {
        None => Err(not_found().into()),
        Some(access) if access >= need => Ok(info),
        Some(access) => Err(CoreError::forbidden(format!(
            "{} has {} access to store {:?}; this needs {}",
            subject.principal(),
            access.as_str(),
            store.name.as_str(),
            need.as_str()
        ))
        .into()),
    }
}

pub fn load_token(
    kv: &(impl KvRead + ?Sized),
    id: &str,
) -> Result<Option<TokenInfo>, StorageError> {
    decode_row(kv.get(Table::Tokens, id.as_bytes())?)
}

pub fn load_org(kv: &(impl KvRead + ?Sized), id: u64) -> Result<Option<OrgInfo>, StorageError> {
    decode_row(kv.get(Table::Orgs, &id.to_be_bytes())?)
}

pub fn load_org_by_name(
    kv: &(impl KvRead + ?Sized),
    name: &str,
) -> Result<Option<OrgInfo>, StorageError> {
    match decode_row::<u64>(kv.get(Table::OrgNames, name.as_bytes())?)? {
        Some(id) => load_org(kv, id),
        None => Ok(None),
    }
}

pub fn load_user(
    kv: &(impl KvRead + ?Sized),
    org_id: u64,
    name: &str,
) -> Result<Option<UserInfo>, StorageError> {
    decode_row(kv.get(Table::Users, &codec::user_key(org_id, name))?)
}

pub fn load_grant(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    user: &str,
) -> Result<Option<Access>, StorageError> {
    decode_row(kv.get(Table::Grants, &codec::grant_key(store_id, user))?)
}

fn decode_row<T: serde::de::DeserializeOwned>(
    row: Option<Vec<u8>>,
) -> Result<Option<T>, StorageError> {
    row.map(|bytes| codec::decode(&bytes)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_carried_or_derived() {
        let token = format_token([0xab; 8], [7; 32]);
        assert!(token.starts_with("cairn_abababababababab_0707"));
        assert_eq!(token.len(), 6 + 16 + 1 + 64);
        assert_eq!(token_id(&token), "abababababababab");
        let supplied = token_id("a supplied operator secret");
        assert!(supplied.starts_with("op") && supplied.len() == 16);
        assert_eq!(supplied, token_id("a supplied operator secret"));
        assert_ne!(supplied, token_id("another supplied secret"));
        // A malformed id is not taken at its word.
        assert!(token_id("cairn_xyz_secret").starts_with("op"));
    }

    #[test]
    fn access_levels_order_weakest_first() {
        assert!(Access::Read < Access::Write && Access::Write < Access::Admin);
    }
}
