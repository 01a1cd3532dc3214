//! Domain values into their wire shapes (`cairn-api`). The core's types are
//! the state machine's; what goes out as JSON is decided here, so that a
//! change to either side is a visible edit of one function.

use cairn_api as api;
use cairn_core::auth::hex;
use cairn_core::command::{Change, OpKind, StoreInfo, TxnResult};
use cairn_core::governance::{Access, OrgInfo, Role, TokenInfo, TokenOwner, UserInfo};
use cairn_core::read::search::SearchPage;
use cairn_core::read::watch::ChangeEvent;
use cairn_core::read::{
    AuditEvent, AuditPage, ChainReport, EntryKind, FileMeta, HistoryPage, ListEntry, Listing,
    RedactionInfo, VersionInfo,
};
use cairn_core::redact::Redaction;

pub fn store_info(info: StoreInfo) -> api::StoreInfo {
    api::StoreInfo {
        id: info.id,
        name: info.name,
        org: info.org,
        owner: info.owner,
        created_ms: info.created_ms,
        created_log_index: cairn_core::entry_index_of(info.created_log_index),
        revision: info.revision,
        file_count: info.file_count,
        bytes_total: info.bytes_total,
        policy: api::StorePolicy {
            versions_max: info.policy.versions_max,
            retain_s: info.policy.retain_ms.map(|ms| ms / 1000),
            bytes_max: info.policy.bytes_max,
        },
        access: None,
    }
}

/// A store as its reader sees it: with what they may do with it.
pub fn store_info_for(info: StoreInfo, caller: Access) -> api::StoreInfo {
    api::StoreInfo {
        access: Some(access(caller)),
        ..store_info(info)
    }
}

pub fn op_kind(kind: OpKind) -> api::OpKind {
    match kind {
        OpKind::Write => api::OpKind::Write,
        OpKind::Delete => api::OpKind::Delete,
        OpKind::Rename => api::OpKind::Rename,
        OpKind::StrReplace => api::OpKind::StrReplace,
        OpKind::Insert => api::OpKind::Insert,
        OpKind::DeleteStore => api::OpKind::DeleteStore,
        OpKind::Redact => api::OpKind::Redact,
    }
}

fn change(change: Change) -> api::Change {
    api::Change {
        path: change.path,
        op: op_kind(change.op),
        version: change.version,
    }
}

fn changes(changes: Vec<Change>) -> Vec<api::Change> {
    changes.into_iter().map(change).collect()
}

pub fn txn_result(result: TxnResult) -> api::TxnResult {
    api::TxnResult {
        revision: result.revision,
        changes: changes(result.changes),
    }
}

pub fn file_meta(meta: FileMeta) -> api::FileMeta {
    api::FileMeta {
        path: meta.path,
        version: meta.version,
        bytes: meta.bytes,
        store_revision: meta.store_revision,
        op: op_kind(meta.op),
        time_ms: meta.time_ms,
        agent: meta.agent,
        session: meta.session,
        redaction: meta.redaction.map(redaction_view),
    }
}

fn redaction_view(info: RedactionInfo) -> api::RedactionView {
    api::RedactionView {
        redacted: true,
        revision: info.revision,
        time_ms: info.time_ms,
        principal: info.principal,
        reason: info.reason,
        whole: info.whole,
    }
}

pub fn redaction(redaction: Redaction) -> api::RedactResult {
    api::RedactResult {
        revision: Some(redaction.revision),
        versions: redaction
            .versions
            .into_iter()
            .map(|version| api::RedactedVersion {
                path: version.path,
                version: version.version,
                whole: version.whole,
                bytes: version.bytes,
            })
            .collect(),
        rewritten: changes(redaction.rewritten),
    }
}

fn list_entry(entry: ListEntry) -> api::ListEntry {
    api::ListEntry {
        path: entry.path,
        kind: match entry.kind {
            EntryKind::File => api::EntryKind::File,
            EntryKind::Dir => api::EntryKind::Dir,
        },
        version: entry.version,
        bytes: entry.bytes,
    }
}

pub fn listing(listing: Listing) -> api::Listing {
    api::Listing {
        store: listing.store,
        dir: listing.dir,
        revision: listing.revision,
        entries: listing.entries.into_iter().map(list_entry).collect(),
    }
}

fn version_info(version: VersionInfo) -> api::VersionInfo {
    api::VersionInfo {
        path: version.path,
        version: version.version,
        op: op_kind(version.op),
        time_ms: version.time_ms,
        agent: version.agent,
        session: version.session,
        bytes: version.bytes,
        content: version.content,
        renamed_from: version.renamed_from,
        renamed_to: version.renamed_to,
        redaction: version.redaction.map(redaction_view),
    }
}

pub fn history_page(page: HistoryPage) -> api::HistoryPage {
    api::HistoryPage {
        path: page.path,
        versions: page.versions.into_iter().map(version_info).collect(),
        next_before: page.next_before,
    }
}

pub fn audit_page(page: AuditPage) -> api::AuditPage {
    api::AuditPage {
        records: page.events.into_iter().map(audit_event).collect(),
        next_after: page.next_after,
    }
}

fn audit_event(event: AuditEvent) -> api::AuditEvent {
    api::AuditEvent {
        // The core keys events by position; the entry's index is shown too.
        log_index: cairn_core::entry_index_of(event.log_index),
        position: event.log_index,
        time_ms: event.time_ms,
        operation: event.op.as_str().to_string(),
        org: event.org,
        store: event.store,
        store_id: event.store_id,
        store_deleted: event.store_deleted,
        revision: event.revision,
        principal: event.principal,
        token_id: event.token_id,
        agent: event.agent,
        session: event.session,
        idempotency_key: event.idempotency_key,
        request_id: event.request_id,
        target: event.target,
        detail: event.detail,
        changes: event
            .changes
            .into_iter()
            .map(|change| api::AuditChange {
                path: change.path,
                op: op_kind(change.op),
                version: change.version,
                content_sha256: change.content_sha256.map(|digest| hex(&digest)),
            })
            .collect(),
        prev_hash: hex(&event.prev_hash),
        hash: hex(&event.hash),
    }
}

pub fn audit_verify(store: StoreInfo, report: ChainReport) -> api::AuditVerify {
    api::AuditVerify {
        store: store.name,
        store_id: store.id,
        ok: report.first_break.is_none(),
        events: report.events,
        head_hash: hex(&report.head_hash),
        first_break: report.first_break.map(|found| api::AuditBreak {
            log_index: cairn_core::entry_index_of(found.log_index),
            position: found.log_index,
            revision: found.revision,
            reason: found.reason,
            expected: found.expected.map(|hash| hex(&hash)),
            found: found.found.map(|hash| hex(&hash)),
        }),
    }
}

pub fn role(role: Role) -> api::Role {
    match role {
        Role::Admin => api::Role::Admin,
        Role::Member => api::Role::Member,
    }
}

pub fn role_from(role: api::Role) -> Role {
    match role {
        api::Role::Admin => Role::Admin,
        api::Role::Member => Role::Member,
    }
}

pub fn access(access: Access) -> api::Access {
    match access {
        Access::Read => api::Access::Read,
        Access::Write => api::Access::Write,
        Access::Admin => api::Access::Admin,
    }
}

pub fn access_from(access: api::Access) -> Access {
    match access {
        api::Access::Read => Access::Read,
        api::Access::Write => Access::Write,
        api::Access::Admin => Access::Admin,
    }
}

pub fn org(org: OrgInfo) -> api::Org {
    api::Org {
        id: org.id,
        name: org.name,
        created_ms: org.created_ms,
    }
}

pub fn user(org: &str, user: UserInfo) -> api::User {
    api::User {
        org: org.to_string(),
        name: user.name,
        role: role(user.role),
        created_ms: user.created_ms,
    }
}

/// A token without its hash; `org` names the owner's organization.
pub fn token_view(token: TokenInfo, org: Option<String>) -> api::TokenView {
    let (user, operator) = match token.owner {
        TokenOwner::Operator => (None, true),
        TokenOwner::User { user, .. } => (Some(user), false),
    };
    api::TokenView {
        id: token.id,
        org,
        user,
        operator,
        agent: token.agent,
        created_ms: token.created_ms,
        expires_ms: token.expires_ms,
        revoked_ms: token.revoked_ms,
    }
}

pub fn watch_change(event: ChangeEvent) -> api::WatchChange {
    api::WatchChange {
        revision: event.revision,
        operation: event.op.as_str().to_string(),
        time_ms: event.time_ms,
        principal: event.principal,
        agent: event.agent,
        session: event.session,
        changes: event
            .changes
            .into_iter()
            .map(|change| api::WatchPath {
                path: change.path,
                op: op_kind(change.op),
                version: change.version,
            })
            .collect(),
    }
}

pub fn search_page(store: &str, page: SearchPage) -> api::SearchPage {
    api::SearchPage {
        store: store.to_string(),
        revision: page.revision,
        matches: page
            .matches
            .into_iter()
            .map(|found| api::SearchMatch {
                path: found.path,
                version: found.version,
                line_number: found.line_number,
                line: found.line,
                truncated: found.truncated,
            })
            .collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
        files_scanned: page.files_scanned,
        bytes_scanned: page.bytes_scanned,
    }
}
