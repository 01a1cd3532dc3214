//! The audit trail: queries over the event log through its indexes, and
//! verification of a chain.
//!
//! A query picks one index to walk (the most selective filter given: path,
//! then session, agent, token, principal, revision range, store,
//! organization; else the log itself), restricted to the log index range
//! that `after` and the time range give (times never go back, so a time
//! range is a log range). Every other filter, and the caller's visibility,
//! is checked on each event the walk finds. A page is cut after `limit`
//! events, or after `candidates_max` index rows, whichever comes first;
//! `next_after` then says where to go on (a page may hold fewer than `limit`
//! events, even none, and still have a next).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use crate::apply;
use crate::audit::{
    AuditChange, AuditOp, AuditRecord, AuditRecordHead, ChainHead, ChainKey, ZERO_HASH, index,
    index_key_log_index, index_prefix, label_part, path_index_parts, path_is_under, record_key,
};
use crate::codec;
use crate::command::StoreInfo;
use crate::error::{CoreError, ReadError, StorageError};
use crate::kv::{KvRead, Table, scan_prefix};

/// Index rows one page may walk by default before it is cut.
pub const AUDIT_CANDIDATES_MAX: usize = 4096;

/// What a query asks for: every filter given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only these stores (all the stores that ever had a name, or one).
    pub stores: Option<Vec<u64>>,
    /// Only events that changed this path or a path under it (needs `stores`).
    pub path: Option<String>,
    pub agent: Option<String>,
    pub session: Option<String>,
    /// `operator` or `ORG/USER`.
    pub principal: Option<String>,
    pub token_id: Option<String>,
    /// Inclusive, milliseconds since the Unix epoch.
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
    /// Inclusive store revisions (needs `stores`).
    pub from_revision: Option<u64>,
    pub to_revision: Option<u64>,
    /// Only events of this organization (what a non-operator can see at most).
    pub org_id: Option<u64>,
}

/// One page's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    /// Only events after this log index (the previous page's `next_after`).
    pub after: Option<u64>,
    pub limit: u64,
    pub candidates_max: usize,
}

/// Where an event happened, as the caller's visibility check sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventPlace<'a> {
    Cluster,
    Org(u64),
    /// A store that still exists (the same store, not one that reused its name).
    LiveStore(&'a StoreInfo),
    /// A store since deleted.
    DeletedStore {
        org_id: u64,
        store_id: u64,
    },
}

/// One event as the audit trail shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub log_index: u64,
    pub time_ms: u64,
    pub op: AuditOp,
    pub org_id: Option<u64>,
    pub org: Option<String>,
    pub store_id: Option<u64>,
    pub store: Option<String>,
    /// The store has been deleted since (its events stay).
    pub store_deleted: bool,
    pub revision: Option<u64>,
    pub principal: String,
    pub token_id: String,
    pub agent: String,
    pub session: String,
    pub idempotency_key: Option<String>,
    pub request_id: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub changes: Vec<AuditChange>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPage {
    /// In log order.
    pub events: Vec<AuditEvent>,
    /// Pass as `after` for the next page; `None` when there is none.
    pub next_after: Option<u64>,
}

/// The ids of every store that ever had `name` in organization `org_id`,
/// oldest first (a deleted store's name may have been reused).
pub fn store_ids_named(
    kv: &(impl KvRead + ?Sized),
    org_id: u64,
    name: &str,
) -> Result<Vec<u64>, StorageError> {
    let prefix = index_prefix(
        index::STORE_NAME,
        &[&org_id.to_be_bytes(), &label_part(name)],
    );
    let mut ids = Vec::new();
    scan_prefix(kv, Table::AuditIndex, &prefix, false, &mut |key, _| {
        ids.push(index_key_log_index(key)?);
        Ok(true)
    })?;
    Ok(ids)
}

/// One page of events matching `query` that `visible` lets the caller see.
pub fn query(
    kv: &(impl KvRead + ?Sized),
    query: &AuditQuery,
    visible: &mut dyn FnMut(EventPlace<'_>) -> Result<bool, StorageError>,
) -> Result<AuditPage, ReadError> {
    let filter = &query.filter;
    let empty = || AuditPage {
        events: Vec::new(),
        next_after: None,
    };
    if filter.stores.is_none() && (filter.path.is_some() || revision_range(filter).is_some()) {
        return Err(CoreError::invalid_request(
            "the path and revision filters need a store: name one with store=",
        )
        .into());
    }
    let Some((low, high)) = log_range(kv, filter, query.after)? else {
        return Ok(empty());
    };
    let candidates = Candidates::collect(kv, filter, low, high, query.candidates_max.max(1))?;

    let mut places = Places::default();
    let mut events = Vec::new();
    let page_max = usize::try_from(query.limit.max(1)).unwrap_or(usize::MAX);
    let mut next_after = None;
    let mut remaining = candidates.log_indexes.iter().peekable();
    while let Some(&log_index) = remaining.next() {
        let bytes = kv
            .get(Table::Audit, &record_key(log_index))?
            .ok_or_else(|| {
                StorageError::corrupt(format!("audit index names missing event {log_index}"))
            })?;
        let record: AuditRecord = codec::decode(&bytes)?;
        if record.log_index != log_index {
            return Err(StorageError::corrupt(format!(
                "audit event under log index {log_index} names {}",
                record.log_index
            ))
            .into());
        }
        if !matches(filter, &record) {
            continue;
        }
        let (place, deleted) = places.of(kv, &record)?;
        if !visible(place.as_place())? {
            continue;
        }
        events.push(event(record, deleted));
        if events.len() >= page_max {
            if remaining.peek().is_some() || candidates.cut {
                next_after = Some(log_index);
            }
            break;
        }
    }
    if events.len() < page_max && candidates.cut {
        next_after = candidates.log_indexes.last().copied();
    }
    Ok(AuditPage { events, next_after })
}

fn revision_range(filter: &AuditFilter) -> Option<(u64, u64)> {
    match (filter.from_revision, filter.to_revision) {
        (None, None) => None,
        (from, to) => Some((from.unwrap_or(0), to.unwrap_or(u64::MAX))),
    }
}

/// The log indexes `[low, high]` the query can match, from `after` and the
/// time range; `None` when no event can.
fn log_range(
    kv: &(impl KvRead + ?Sized),
    filter: &AuditFilter,
    after: Option<u64>,
) -> Result<Option<(u64, u64)>, StorageError> {
    let mut low = after.map_or(Some(0), |after| after.checked_add(1));
    let mut high = Some(u64::MAX);
    if let Some(since) = filter.since_ms {
        low = match (low, first_event_from(kv, since)?) {
            (Some(low), Some(first)) => Some(low.max(first)),
            _ => None,
        };
    }
    if let Some(until) = filter.until_ms {
        // The range ends right before the first event after `until`.
        let first_after = match until.checked_add(1) {
            Some(after) => first_event_from(kv, after)?,
            None => None,
        };
        high = first_after.map_or(Some(u64::MAX), |first| first.checked_sub(1));
    }
    Ok(match (low, high) {
        (Some(low), Some(high)) if low <= high => Some((low, high)),
        _ => None,
    })
}

/// The log index of the first event at or after `time_ms`: a time row marks
/// the first event at its time, and times never go back.
fn first_event_from(
    kv: &(impl KvRead + ?Sized),
    time_ms: u64,
) -> Result<Option<u64>, StorageError> {
    let start = index_prefix(index::TIME, &[&time_ms.to_be_bytes()]);
    let end = [index::TIME + 1];
    let mut found = None;
    kv.scan(
        Table::AuditIndex,
        Bound::Included(&start),
        Bound::Excluded(&end),
        false,
        &mut |key, _| {
            found = Some(index_key_log_index(key)?);
            Ok(false)
        },
    )?;
    Ok(found)
}

/// The log index and encoded record of each event of `chain` in `[low,
/// high]`, in order, until `visit` answers `false`. The chain's index rows name entries
/// (`apply::audit::write_index`): the events of each entry named are looked
/// at, and those of the chain visited (their leading fields tell; one that
/// does not decode is visited too, for the caller to report).
pub(super) fn chain_events(
    kv: &(impl KvRead + ?Sized),
    chain: ChainKey,
    low: u64,
    high: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<bool, StorageError>,
) -> Result<(), StorageError> {
    let prefix = index_prefix(index::CHAIN, &[&chain.to_bytes()]);
    let start = [
        prefix.as_slice(),
        &apply::entry_positions(low).0.to_be_bytes(),
    ]
    .concat();
    let end = [prefix.as_slice(), &high.to_be_bytes()].concat();
    kv.scan(
        Table::AuditIndex,
        Bound::Included(&start),
        Bound::Included(&end),
        false,
        &mut |key, _| {
            let entry = index_key_log_index(key)?;
            entry_events(kv, entry, low, high, |log_index, record| {
                let other = codec::decode_leading::<AuditRecordHead>(record)
                    .is_ok_and(|head| head.chain() != chain);
                if other {
                    Ok(true)
                } else {
                    visit(log_index, record)
                }
            })
        },
    )
}

/// Each event of the entry at position `entry` within `[low, high]`, in
/// order, with its encoded record, until `visit` answers `false`; answers
/// whether it never did.
fn entry_events(
    kv: &(impl KvRead + ?Sized),
    entry: u64,
    low: u64,
    high: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<bool, StorageError>,
) -> Result<bool, StorageError> {
    let (first, last) = apply::entry_positions(entry);
    let mut going = true;
    kv.scan(
        Table::Audit,
        Bound::Included(&record_key(first.max(low))),
        Bound::Included(&record_key(last.min(high))),
        false,
        &mut |key, record| {
            going = visit(index_key_log_index_plain(key)?, record)?;
            Ok(going)
        },
    )?;
    Ok(going)
}

/// The log indexes one page may look at, smallest first.
struct Candidates {
    log_indexes: Vec<u64>,
    /// More index rows matched than were kept: the page must say where to go on.
    cut: bool,
}

/// One walk over the index.
enum Walk {
    /// Path rows under `prefix` (each names an event): those of paths under
    /// `path`, in path order.
    Paths { prefix: Vec<u8>, path: String },
    /// A store's revision rows (each names an event) from revision `from`
    /// to `to`, in revision order.
    Revisions { store_id: u64, from: u64, to: u64 },
    /// Rows under `prefix` naming entries (an organization's, a label's):
    /// every event of each entry named, in log order
    /// (`apply::audit::write_index`).
    Entries { prefix: Vec<u8> },
    /// A store's chain (`chain_events`), in log order.
    Chain { store_id: u64 },
}

/// Keeps `log_index` among at most `keep_max` candidates in `[low, high]`,
/// the smallest; answers whether the walk goes on.
struct Keep<'a> {
    kept: &'a mut BTreeSet<u64>,
    cut: &'a mut bool,
    keep_max: usize,
    low: u64,
    high: u64,
    log_ordered: bool,
}

impl Keep<'_> {
    fn offer(&mut self, log_index: u64) -> bool {
        if log_index < self.low || log_index > self.high || self.kept.contains(&log_index) {
            return true;
        }
        if self.kept.len() >= self.keep_max {
            let largest = self.kept.last().copied().unwrap_or(0);
            if log_index >= largest {
                // Rows of a log-ordered walk only grow from here.
                *self.cut = true;
                return !self.log_ordered;
            }
            self.kept.pop_last();
            *self.cut = true;
        }
        self.kept.insert(log_index);
        true
    }
}

impl Candidates {
    fn collect(
        kv: &(impl KvRead + ?Sized),
        filter: &AuditFilter,
        low: u64,
        high: u64,
        keep_max: usize,
    ) -> Result<Candidates, StorageError> {
        let mut kept = BTreeSet::new();
        let mut cut = false;
        let walks = walks(filter);
        let Some(walks) = walks else {
            // No index narrows the query: the log itself, from `low`.
            let start = record_key(low);
            let end = record_key(high);
            kv.scan(
                Table::Audit,
                Bound::Included(&start),
                Bound::Included(&end),
                false,
                &mut |key, _| {
                    if kept.len() >= keep_max {
                        cut = true;
                        return Ok(false);
                    }
                    kept.insert(index_key_log_index_plain(key)?);
                    Ok(true)
                },
            )?;
            return Ok(Candidates {
                log_indexes: kept.into_iter().collect(),
                cut,
            });
        };
        for walk in walks {
            let mut keep = Keep {
                kept: &mut kept,
                cut: &mut cut,
                keep_max,
                low,
                high,
                log_ordered: matches!(walk, Walk::Entries { .. } | Walk::Chain { .. }),
            };
            match walk {
                Walk::Chain { store_id } => {
                    chain_events(kv, ChainKey::Store(store_id), low, high, |log_index, _| {
                        Ok(keep.offer(log_index))
                    })?;
                }
                Walk::Paths { prefix, path } => {
                    let end = crate::kv::prefix_end(&prefix).unwrap_or_else(|| vec![u8::MAX; 64]);
                    let (start, end) = (
                        Bound::Included(prefix.as_slice()),
                        Bound::Excluded(end.as_slice()),
                    );
                    kv.scan(Table::AuditIndex, start, end, false, &mut |key, _| {
                        let (row_path, log_index) = path_index_parts(key)?;
                        if !path_is_under(row_path, &path) {
                            return Ok(true);
                        }
                        Ok(keep.offer(log_index))
                    })?;
                }
                Walk::Revisions { store_id, from, to } => {
                    let store = store_id.to_be_bytes();
                    let start = index_prefix(index::REVISION, &[&store, &from.to_be_bytes()]);
                    let last = [&store[..], &to.to_be_bytes(), &u64::MAX.to_be_bytes()];
                    let end = index_prefix(index::REVISION, &last);
                    let (start, end) = (
                        Bound::Included(start.as_slice()),
                        Bound::Included(end.as_slice()),
                    );
                    kv.scan(Table::AuditIndex, start, end, false, &mut |key, _| {
                        Ok(keep.offer(index_key_log_index(key)?))
                    })?;
                }
                Walk::Entries { prefix } => {
                    // An entry row names the entry's first position, which may
                    // be below `low` while some of its events are not.
                    let first = apply::entry_positions(low).0;
                    let start = [prefix.as_slice(), &first.to_be_bytes()].concat();
                    let end = [prefix.as_slice(), &high.to_be_bytes()].concat();
                    let (start, end) = (
                        Bound::Included(start.as_slice()),
                        Bound::Included(end.as_slice()),
                    );
                    kv.scan(Table::AuditIndex, start, end, false, &mut |key, _| {
                        let entry = index_key_log_index(key)?;
                        entry_events(kv, entry, low, high, |log_index, _| {
                            Ok(keep.offer(log_index))
                        })
                    })?;
                }
            }
        }
        Ok(Candidates {
            log_indexes: kept.into_iter().collect(),
            cut,
        })
    }
}

/// The index walks for the most selective filter given; `None`: none applies.
fn walks(filter: &AuditFilter) -> Option<Vec<Walk>> {
    let stores = filter.stores.as_deref();
    if let (Some(stores), Some(path)) = (stores, &filter.path) {
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        return Some(
            stores
                .iter()
                .map(|&store_id| Walk::Paths {
                    prefix: crate::audit::path_index_prefix(store_id, path),
                    path: path.to_string(),
                })
                .collect(),
        );
    }
    for (kind, label) in [
        (index::SESSION, &filter.session),
        (index::AGENT, &filter.agent),
        (index::TOKEN, &filter.token_id),
        (index::PRINCIPAL, &filter.principal),
    ] {
        if let Some(label) = label {
            let prefix = index_prefix(kind, &[&label_part(label)]);
            return Some(vec![Walk::Entries { prefix }]);
        }
    }
    if let (Some(stores), Some((from, to))) = (stores, revision_range(filter)) {
        let walk = |&store_id: &u64| Walk::Revisions { store_id, from, to };
        return Some(stores.iter().map(walk).collect());
    }
    if let Some(stores) = stores {
        let walk = |&store_id: &u64| Walk::Chain { store_id };
        return Some(stores.iter().map(walk).collect());
    }
    if let Some(org_id) = filter.org_id {
        let prefix = index_prefix(index::ORG, &[&org_id.to_be_bytes()]);
        return Some(vec![Walk::Entries { prefix }]);
    }
    // Else the log itself: the time range is already its log index range.
    None
}

/// An `sm_audit` key: the log index alone.
fn index_key_log_index_plain(key: &[u8]) -> Result<u64, StorageError> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::corrupt("malformed audit key"))
}

/// Every filter, checked on the record (the walked index already holds one).
fn matches(filter: &AuditFilter, record: &AuditRecord) -> bool {
    let label = |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
    let in_stores = match (&filter.stores, record.store_id) {
        (None, _) => true,
        (Some(stores), Some(id)) => stores.contains(&id),
        (Some(_), None) => false,
    };
    // A store's deletion removed every path in it, listed or not
    // (`DELETED_PATHS_LISTED_MAX`).
    let on_path = filter.path.as_deref().is_none_or(|prefix| {
        record.op == AuditOp::DeleteStore
            || record
                .changes
                .iter()
                .any(|change| path_is_under(&change.path, prefix))
    });
    let in_revisions = revision_range(filter).is_none_or(|(from, to)| {
        record
            .revision
            .is_some_and(|revision| from <= revision && revision <= to)
    });
    let in_time = filter.since_ms.is_none_or(|since| record.time_ms >= since)
        && filter.until_ms.is_none_or(|until| record.time_ms <= until);
    let in_org = filter.org_id.is_none_or(|org| record.org_id == Some(org));
    in_stores
        && on_path
        && in_revisions
        && in_time
        && in_org
        && label(&filter.agent, &record.agent)
        && label(&filter.session, &record.session)
        && label(&filter.principal, &record.principal)
        && label(&filter.token_id, &record.token_id)
}

/// What each store an event names is now: live (the same store) or deleted.
#[derive(Default)]
struct Places {
    stores: BTreeMap<u64, Option<StoreInfo>>,
}

enum Place {
    Cluster,
    Org(u64),
    Live(StoreInfo),
    Deleted { org_id: u64, store_id: u64 },
}

impl Place {
    fn as_place(&self) -> EventPlace<'_> {
        match self {
            Place::Cluster => EventPlace::Cluster,
            Place::Org(id) => EventPlace::Org(*id),
            Place::Live(info) => EventPlace::LiveStore(info),
            Place::Deleted { org_id, store_id } => EventPlace::DeletedStore {
                org_id: *org_id,
                store_id: *store_id,
            },
        }
    }
}

impl Places {
    fn of(
        &mut self,
        kv: &(impl KvRead + ?Sized),
        record: &AuditRecord,
    ) -> Result<(Place, bool), StorageError> {
        let (Some(store_id), Some(org_id), Some(name)) =
            (record.store_id, record.org_id, record.store.as_deref())
        else {
            return Ok((
                match record.org_id {
                    Some(org_id) => Place::Org(org_id),
                    None => Place::Cluster,
                },
                false,
            ));
        };
        if let std::collections::btree_map::Entry::Vacant(entry) = self.stores.entry(store_id) {
            let live = kv
                .get(Table::Stores, &codec::store_key(org_id, name))?
                .map(|bytes| codec::decode::<StoreInfo>(&bytes))
                .transpose()?
                .filter(|info| info.id == store_id);
            entry.insert(live);
        }
        Ok(match self.stores.get(&store_id).cloned().flatten() {
            Some(info) => (Place::Live(info), false),
            None => (Place::Deleted { org_id, store_id }, true),
        })
    }
}

pub(super) fn event(record: AuditRecord, store_deleted: bool) -> AuditEvent {
    AuditEvent {
        log_index: record.log_index,
        time_ms: record.time_ms,
        op: record.op,
        org_id: record.org_id,
        org: record.org,
        store_id: record.store_id,
        store: record.store,
        store_deleted,
        revision: record.revision,
        principal: record.principal,
        token_id: record.token_id,
        agent: record.agent,
        session: record.session,
        idempotency_key: record.idempotency_key,
        request_id: record.request_id,
        target: record.target,
        detail: record.detail,
        changes: record.changes,
        prev_hash: record.prev_hash,
        hash: record.hash,
    }
}

/// What verifying a chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Events walked (up to and including a break).
    pub events: u64,
    /// The hash of the last event walked (`ZERO_HASH` for an empty chain).
    pub head_hash: [u8; 32],
    pub first_break: Option<ChainBreak>,
}

/// Where and how a chain stops holding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub log_index: u64,
    pub revision: Option<u64>,
    pub reason: String,
    pub expected: Option<[u8; 32]>,
    pub found: Option<[u8; 32]>,
}

/// Recomputes `chain` from its first event: each event must chain from the
/// one before (`prev_hash`), hash to what it carries, and the last must be
/// what the chain's head records. Reports the first break.
pub fn verify_chain(
    kv: &(impl KvRead + ?Sized),
    chain: ChainKey,
) -> Result<ChainReport, StorageError> {
    let mut report = ChainReport {
        events: 0,
        head_hash: ZERO_HASH,
        first_break: None,
    };
    let broken = |log_index, revision, reason: String, expected, found| ChainBreak {
        log_index,
        revision,
        reason,
        expected,
        found,
    };
    let mut last_log_index = 0;
    // An imported store's chain begins with the archive's events, verbatim
    // (their log indexes are the exporting cluster's); its own events go on
    // from the last of them.
    if let ChainKey::Store(store_id) = chain {
        let mut fault = None;
        scan_prefix(
            kv,
            Table::ImportedAudit,
            &crate::import::imported_events_prefix(store_id),
            false,
            &mut |_, value| {
                report.events += 1;
                let record: AuditRecord = match codec::decode(value) {
                    Ok(record) => record,
                    Err(error) => {
                        fault = Some(broken(
                            0,
                            None,
                            format!("an imported event does not decode: {error}"),
                            None,
                            None,
                        ));
                        return Ok(false);
                    }
                };
                let computed = record.compute_hash();
                if record.prev_hash != report.head_hash {
                    fault = Some(broken(
                        record.log_index,
                        record.revision,
                        "the imported event does not chain from the event before it".to_string(),
                        Some(report.head_hash),
                        Some(record.prev_hash),
                    ));
                    return Ok(false);
                }
                if computed != record.hash {
                    fault = Some(broken(
                        record.log_index,
                        record.revision,
                        "the imported event's fields do not match its hash".to_string(),
                        Some(computed),
                        Some(record.hash),
                    ));
                    return Ok(false);
                }
                report.head_hash = record.hash;
                Ok(true)
            },
        )?;
        if fault.is_some() {
            report.first_break = fault;
            return Ok(report);
        }
    }
    let mut fault = None;
    chain_events(kv, chain, 0, u64::MAX, |log_index, bytes| {
        report.events += 1;
        last_log_index = log_index;
        let record: AuditRecord = match codec::decode(bytes) {
            Ok(record) => record,
            Err(error) => {
                fault = Some(broken(
                    log_index,
                    None,
                    format!("the event does not decode: {error}"),
                    None,
                    None,
                ));
                return Ok(false);
            }
        };
        let found = if record.log_index != log_index || record.chain() != chain {
            Some((
                format!(
                    "the event names log index {} in chain {:?}",
                    record.log_index,
                    record.chain()
                ),
                None,
                None,
            ))
        } else if record.prev_hash != report.head_hash {
            Some((
                "the event does not chain from the event before it".to_string(),
                Some(report.head_hash),
                Some(record.prev_hash),
            ))
        } else {
            let computed = record.compute_hash();
            (computed != record.hash).then(|| {
                (
                    "the event's fields do not match its hash".to_string(),
                    Some(computed),
                    Some(record.hash),
                )
            })
        };
        if let Some((reason, expected, found)) = found {
            fault = Some(broken(log_index, record.revision, reason, expected, found));
            return Ok(false);
        }
        report.head_hash = record.hash;
        Ok(true)
    })?;
    if fault.is_some() {
        report.first_break = fault;
        return Ok(report);
    }
    let head = kv
        .get(Table::AuditChains, &chain.to_bytes())?
        .map(|bytes| codec::decode::<ChainHead>(&bytes))
        .transpose()?;
    let (head_events, head_hash) = head.map_or((0, ZERO_HASH), |head| (head.events, head.hash));
    if head_events != report.events || head_hash != report.head_hash {
        report.first_break = Some(broken(
            last_log_index,
            None,
            format!(
                "the chain's head records {head_events} events ending in another hash; {} found",
                report.events
            ),
            Some(head_hash),
            Some(report.head_hash),
        ));
    }
    Ok(report)
}
