//! Query strings. The server deserializes them (unknown parameters are
//! refused); the client serializes the same structs.

use serde::{Deserialize, Serialize};

use crate::consistency::Consistency;

/// `?consistency=` alone: store reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// `linearizable` (default) or `stale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// A file (content or `stat`) now or in the past: at most one of `version`
/// and `revision`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// The file's version `V` (a revision at which it changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The file as of store revision `R`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// Which state of a file a read asks for: what `version` and `revision` of
/// [`ReadQuery`] say, as one value so that a caller cannot ask for both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum At {
    #[default]
    Current,
    /// The file's version `V` (a revision at which it changed).
    Version(u64),
    /// The state as of store revision `R`.
    Revision(u64),
}

impl At {
    /// At most one of `version` and `revision`; `version` wins if both are given.
    pub fn from_parts(version: Option<u64>, revision: Option<u64>) -> At {
        match (version, revision) {
            (Some(version), _) => At::Version(version),
            (None, Some(revision)) => At::Revision(revision),
            (None, None) => At::Current,
        }
    }

    /// The query of a read at this point, with `consistency`.
    pub fn query(self, consistency: Option<Consistency>) -> ReadQuery {
        let (version, revision) = match self {
            At::Current => (None, None),
            At::Version(version) => (Some(version), None),
            At::Revision(revision) => (None, Some(revision)),
        };
        ReadQuery {
            version,
            revision,
            consistency,
        }
    }
}

impl From<At> for ReadQuery {
    fn from(at: At) -> ReadQuery {
        at.query(None)
    }
}

/// `DELETE .../files/{path}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Delete every file under the directory `path` too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recursive: bool,
}

/// `GET .../tree/{dir}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct TreeQuery {
    /// `1` lists direct children only; absent lists the whole subtree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    /// The tree as of store revision `R`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// `GET .../history/{path}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Versions per page (default 100, at most `page_entries_max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub limit: Option<u64>,
    /// Only versions older than this one (the previous page's `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// Include each version's content.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub content: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// `GET .../diff/{path}?from=V1&to=V2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: u64,
    pub to: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// `GET /v1/stores/{store}/audit`: the store's events. Every filter given
/// must hold. (The fields are those of [`GlobalAuditQuery`] but `store`:
/// serde's `flatten` would turn numbers in a query string into strings.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events of this session (`X-Cairn-Session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Only events of this agent (`X-Cairn-Agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Only events of this principal: `operator` or `ORG/USER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Only events under this token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Only events that changed this path or a path under it (needs a store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only events at or after this time (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// Only events at or before this time (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Only events at or after this store revision (needs a store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_revision: Option<u64>,
    /// Only events at or before this store revision (needs a store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<u64>,
    /// Only events after this position (an event's `position`, or the
    /// previous page's `next_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Events per page (default 100, at most `page_entries_max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// `GET /v1/audit`: events across every store (and organization) the caller
/// may see. Every filter given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct GlobalAuditQuery {
    /// Only events of the stores that had this name in the request's
    /// organization, live or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Only events of this session (`X-Cairn-Session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Only events of this agent (`X-Cairn-Agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Only events of this principal: `operator` or `ORG/USER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Only events under this token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Only events that changed this path or a path under it (needs a store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only events at or after this time (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// Only events at or before this time (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Only events at or after this store revision (needs a store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_revision: Option<u64>,
    /// Only events at or before this store revision (needs a store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<u64>,
    /// Only events after this position (an event's `position`, or the
    /// previous page's `next_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Events per page (default 100, at most `page_entries_max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

impl GlobalAuditQuery {
    /// The same query over one store (named in the route instead).
    pub fn for_store(query: AuditQuery) -> GlobalAuditQuery {
        let AuditQuery {
            session,
            agent,
            principal,
            token,
            path,
            since,
            until,
            from_revision,
            to_revision,
            after,
            limit,
            consistency,
        } = query;
        GlobalAuditQuery {
            store: None,
            session,
            agent,
            principal,
            token,
            path,
            since,
            until,
            from_revision,
            to_revision,
            after,
            limit,
            consistency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_position_fills_at_most_one_of_version_and_revision() {
        assert_eq!(ReadQuery::from(At::Current), ReadQuery::default());
        let stale = At::Version(4).query(Some(Consistency::Stale));
        assert_eq!(
            (stale.version, stale.revision, stale.consistency),
            (Some(4), None, Some(Consistency::Stale))
        );
        let past = ReadQuery::from(At::Revision(9));
        assert_eq!((past.version, past.revision), (None, Some(9)));
        assert_eq!(At::from_parts(Some(1), Some(2)), At::Version(1));
        assert_eq!(At::from_parts(None, Some(2)), At::Revision(2));
        assert_eq!(At::from_parts(None, None), At::Current);
    }
}
