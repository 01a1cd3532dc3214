//! Who may use Cairn: organizations, their users with a role, API tokens that
//! belong to a user (or to the cluster operator), and per-store grants.
//! These are replicated state like stores and files: they change only
//! through commands in the Raft log, so every node enforces the same rules.
//!
//! The types here are both the records in their tables and what reads and
//! outcomes answer (as `StoreInfo` is); none of them holds a token's secret,
//! only its SHA-256.

use serde::{Deserialize, Serialize};

use crate::path::StoreName;

/// A user's role in their organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages the organization's users, tokens, stores and grants.
    Admin,
    /// Uses what the store defaults and grants allow.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// What a caller may do with a store, weakest first (`Ord` follows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
    /// Write, delete the store, change its grants.
    Admin,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgInfo {
    pub id: u64,
    pub name: String,
    pub created_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub org_id: u64,
    pub name: String,
    pub role: Role,
    pub created_ms: u64,
}

/// Whose a token is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenOwner {
    /// The cluster operator: every organization and the cluster itself.
    Operator,
    User {
        org_id: u64,
        user: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The public part of the token, shown in lists and used to revoke it.
    pub id: String,
    pub owner: TokenOwner,
    /// SHA-256 of the whole token string; the token itself is never stored.
    pub hash: [u8; 32],
    /// Every write under this token is attributed to this agent.
    pub agent: Option<String>,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub revoked_ms: Option<u64>,
}

/// A store, named within its organization.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StoreRef {
    pub org_id: u64,
    pub name: StoreName,
}

impl StoreRef {
    pub fn new(org_id: u64, name: StoreName) -> StoreRef {
        StoreRef { org_id, name }
    }
}

impl std::fmt::Display for StoreRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.name.fmt(f)
    }
}

/// One user's grant on one store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantInfo {
    pub user: String,
    pub access: Access,
}

/// A store's retention and quota. Every field is off when `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorePolicy {
    /// Keep at most this many versions of each file (the current one always).
    pub versions_max: Option<u64>,
    /// Keep versions younger than this many milliseconds (the current one always).
    pub retain_ms: Option<u64>,
    /// The most bytes of live content the store may hold.
    pub bytes_max: Option<u64>,
}
