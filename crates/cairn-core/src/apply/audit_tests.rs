//! The audit trail: one event per applied command, chains that verify and
//! catch tampering, and queries that walk only the index rows they need.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;

use super::apply;
use crate::audit::{AuditOp, ChainKey, record_key};
use crate::command::{Command, Meta, Outcome, Precondition, Proposal, WriteOp};
use crate::error::StorageError;
use crate::governance::{Access, Role, StoreRef, TokenOwner};
use crate::kv::{KvRead, KvWrite, MemoryKv, Table};
use crate::limits::Limits;
use crate::path::{FilePath, OrgName, StoreName, UserName};
use crate::read::{self, AuditFilter, AuditQuery, EventPlace};

const OPERATOR: &str = "operator-token";
const ANN: &str = "ann-token";

struct Harness {
    kv: MemoryKv,
    log_index: u64,
    time_ms: u64,
}

/// Who proposes a command, and with which labels.
struct By<'a> {
    token: Option<&'a str>,
    agent: &'a str,
    session: &'a str,
    key: Option<&'a str>,
}

const OP: By<'static> = By {
    token: Some(OPERATOR),
    agent: "ops-agent",
    session: "ops-session",
    key: None,
};

fn store(org_id: u64, name: &str) -> StoreRef {
    StoreRef::new(org_id, StoreName::parse(name).unwrap())
}

fn write(path: &str, content: &str) -> WriteOp {
    WriteOp::Write {
        path: FilePath::parse(path, &Limits::default()).unwrap(),
        content: content.to_string(),
        precondition: Precondition::None,
    }
}

impl Harness {
    fn new() -> Harness {
        let mut h = Harness {
            kv: MemoryKv::default(),
            log_index: 0,
            time_ms: 5_000,
        };
        let by = By { token: None, ..OP };
        let bootstrap = Command::Bootstrap {
            token_id: OPERATOR.into(),
            hash: [1; 32],
        };
        assert_eq!(h.run(&by, bootstrap), Outcome::Bootstrapped);
        h
    }

    fn run(&mut self, by: &By<'_>, command: Command) -> Outcome {
        self.log_index += 1;
        self.time_ms += 10;
        let proposal = Proposal {
            meta: Meta {
                time_ms: self.time_ms,
                agent: by.agent.into(),
                session: by.session.into(),
                idempotency_key: by.key.map(str::to_string),
                limits: Limits::default(),
                principal: by.token.map(str::to_string),
                request_id: format!("req-{}", self.log_index),
            },
            command,
        };
        // Each command alone in its entry, at the entry's first position, as
        // `apply_entry` would put it (the label index rows name entries).
        apply(&mut self.kv, super::position(self.log_index, 0), &proposal).unwrap()
    }

    fn ok(&mut self, by: &By<'_>, command: Command) -> Outcome {
        let outcome = self.run(by, command);
        assert!(!matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
        outcome
    }

    /// Organization `acme` (id 2) with admin `ann` (token `ANN`) and member `bob`.
    fn with_acme() -> Harness {
        let mut h = Harness::new();
        h.ok(
            &OP,
            Command::CreateOrg {
                org: OrgName::parse("acme").unwrap(),
            },
        );
        for (user, role) in [("ann", Role::Admin), ("bob", Role::Member)] {
            h.ok(
                &OP,
                Command::CreateUser {
                    org_id: 2,
                    user: UserName::parse(user).unwrap(),
                    role,
                },
            );
        }
        h.ok(
            &OP,
            Command::CreateToken {
                id: ANN.into(),
                hash: [2; 32],
                owner: TokenOwner::User {
                    org_id: 2,
                    user: "ann".into(),
                },
                agent: None,
                expires_ms: None,
            },
        );
        h
    }

    fn events(&self) -> usize {
        self.kv.tables.get(&Table::Audit).map_or(0, BTreeMap::len)
    }

    fn page(&self, filter: AuditFilter) -> read::AuditPage {
        query(&self.kv, filter, None, 1000)
    }
}

fn query(
    kv: &(impl KvRead + ?Sized),
    filter: AuditFilter,
    after: Option<u64>,
    limit: u64,
) -> read::AuditPage {
    let query = AuditQuery {
        filter,
        after,
        limit,
        candidates_max: read::AUDIT_CANDIDATES_MAX,
    };
    read::audit(kv, &query, &mut |_| Ok(true)).unwrap()
}

#[test]
fn every_command_kind_leaves_exactly_one_event_and_failures_none() {
    let mut h = Harness::new();
    assert_eq!(h.events(), 1, "the bootstrap");
    // A repeated bootstrap that finds everything made changes nothing.
    let by = By { token: None, ..OP };
    let again = Command::Bootstrap {
        token_id: OPERATOR.into(),
        hash: [1; 32],
    };
    assert_eq!(h.run(&by, again), Outcome::Bootstrapped);
    assert_eq!(h.events(), 1);

    let notes = store(1, "notes");
    let ann = TokenOwner::User {
        org_id: 1,
        user: "ann".into(),
    };
    let commands = vec![
        (
            AuditOp::CreateOrg,
            Command::CreateOrg {
                org: OrgName::parse("acme").unwrap(),
            },
        ),
        (
            AuditOp::CreateUser,
            Command::CreateUser {
                org_id: 1,
                user: UserName::parse("ann").unwrap(),
                role: Role::Admin,
            },
        ),
        (
            AuditOp::CreateToken,
            Command::CreateToken {
                id: ANN.into(),
                hash: [2; 32],
                owner: ann,
                agent: Some("bound".into()),
                expires_ms: None,
            },
        ),
        (
            AuditOp::RevokeToken,
            Command::RevokeToken { id: ANN.into() },
        ),
        (
            AuditOp::CreateStore,
            Command::CreateStore {
                store: notes.clone(),
                owner: None,
            },
        ),
        (
            AuditOp::SetGrant,
            Command::SetGrant {
                store: notes.clone(),
                user: UserName::parse("ann").unwrap(),
                access: None,
            },
        ),
        (
            AuditOp::Txn,
            Command::Txn {
                store: notes.clone(),
                ops: vec![write("/a", "1"), write("/b", "2")],
            },
        ),
        (
            AuditOp::DeleteStore,
            Command::DeleteStore {
                store: notes.clone(),
            },
        ),
    ];
    for (op, command) in commands {
        let before = h.events();
        h.ok(&OP, command);
        assert_eq!(h.events(), before + 1, "{op}");
        let last = h.kv.tables[&Table::Audit].last_key_value().unwrap();
        let record: crate::audit::AuditRecord = crate::codec::decode(last.1).unwrap();
        assert_eq!(
            (record.op, record.log_index),
            (op, super::position(h.log_index, 0))
        );
        assert_eq!(record.request_id, format!("req-{}", h.log_index));
        assert_eq!(record.principal, "operator");
        assert_eq!(record.token_id, OPERATOR);
    }

    // A refused command and a retried one leave nothing.
    let before = h.events();
    let missing = h.run(
        &OP,
        Command::Txn {
            store: notes.clone(),
            ops: vec![write("/a", "x")],
        },
    );
    assert!(matches!(missing, Outcome::Failed { .. }));
    h.ok(
        &OP,
        Command::CreateStore {
            store: notes.clone(),
            owner: None,
        },
    );
    let keyed = By {
        key: Some("k1"),
        ..OP
    };
    let txn = Command::Txn {
        store: notes,
        ops: vec![write("/a", "x")],
    };
    h.ok(&keyed, txn.clone());
    h.ok(&keyed, txn);
    assert_eq!(h.events(), before + 2, "a store and one transaction");
}

#[test]
fn chains_verify_and_a_tampered_event_is_the_break_reported() {
    let mut h = Harness::new();
    h.ok(
        &OP,
        Command::CreateStore {
            store: store(1, "notes"),
            owner: None,
        },
    );
    for n in 0..5 {
        h.ok(
            &OP,
            Command::Txn {
                store: store(1, "notes"),
                ops: vec![write(&format!("/f{n}"), "text")],
            },
        );
    }
    let chain = ChainKey::Store(1);
    let clean = read::verify_chain(&h.kv, chain).unwrap();
    assert_eq!(clean.events, 6);
    assert_eq!(clean.first_break, None);
    let events = h.page(AuditFilter::default()).events;
    assert_eq!(clean.head_hash, events.last().unwrap().hash);
    // Each store event chains from the one before, the first from zero.
    let store_events: Vec<_> = events.iter().filter(|e| e.store_id == Some(1)).collect();
    assert_eq!(store_events[0].prev_hash, crate::audit::ZERO_HASH);
    for pair in store_events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(
        read::verify_chain(&h.kv, ChainKey::Cluster)
            .unwrap()
            .first_break,
        None
    );

    // One byte of the fourth event's agent, changed on "disk".
    let target = store_events[3];
    let key = record_key(target.log_index);
    let mut tampered = h.kv.clone();
    let mut bytes = tampered.get(Table::Audit, &key).unwrap().unwrap();
    let at = bytes
        .windows(9)
        .position(|window| window == b"ops-agent")
        .unwrap();
    bytes[at] = b'x';
    tampered.put(Table::Audit, &key, &bytes).unwrap();
    let report = read::verify_chain(&tampered, chain).unwrap();
    let found = report.first_break.unwrap();
    assert_eq!(
        (found.log_index, found.revision),
        (target.log_index, target.revision)
    );
    assert_eq!(found.found, Some(target.hash));
    assert_ne!(found.expected, Some(target.hash));
    assert_eq!(report.events, 4);

    // A removed event, with or without its index rows, breaks the link of
    // the next one (the chain's rows name entries, not events).
    let mut removed = h.kv.clone();
    removed.delete(Table::Audit, &key).unwrap();
    let without_rows = {
        let mut kv = removed.clone();
        for row in index_rows_of(&kv, target.log_index) {
            kv.delete(Table::AuditIndex, &row).unwrap();
        }
        kv
    };
    for kv in [&removed, &without_rows] {
        let unlinked = read::verify_chain(kv, chain).unwrap().first_break.unwrap();
        assert_eq!(unlinked.log_index, store_events[4].log_index);
        assert_eq!(unlinked.expected, Some(store_events[2].hash));
        assert_eq!(unlinked.found, Some(store_events[3].hash));
    }
    // And a chain cut at its end disagrees with its head.
    let mut cut = h.kv.clone();
    let last = store_events.last().unwrap().log_index;
    for row in index_rows_of(&cut, last) {
        cut.delete(Table::AuditIndex, &row).unwrap();
    }
    cut.delete(Table::Audit, &record_key(last)).unwrap();
    let short = read::verify_chain(&cut, chain)
        .unwrap()
        .first_break
        .unwrap();
    assert_eq!(short.expected, Some(store_events.last().unwrap().hash));
}

fn index_rows_of(kv: &MemoryKv, log_index: u64) -> Vec<Vec<u8>> {
    kv.tables[&Table::AuditIndex]
        .keys()
        .filter(|key| {
            key.len() > 8 && key[key.len() - 8..] == log_index.to_be_bytes() && key[0] != b'n'
        })
        .cloned()
        .collect()
}

#[test]
fn a_deleted_store_keeps_its_events_and_a_reused_name_is_another_store() {
    let mut h = Harness::new();
    let notes = store(1, "notes");
    let create = Command::CreateStore {
        store: notes.clone(),
        owner: None,
    };
    h.ok(&OP, create.clone());
    h.ok(
        &OP,
        Command::Txn {
            store: notes.clone(),
            ops: vec![write("/a", "1")],
        },
    );
    h.ok(
        &OP,
        Command::DeleteStore {
            store: notes.clone(),
        },
    );
    h.ok(&OP, create);
    assert_eq!(
        read::audit_store_ids(&h.kv, 1, "notes").unwrap(),
        vec![1, 2]
    );
    let page = h.page(AuditFilter {
        stores: Some(vec![1, 2]),
        ..AuditFilter::default()
    });
    let seen: Vec<_> = page
        .events
        .iter()
        .map(|e| (e.store_id, e.op, e.store_deleted))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some(1), AuditOp::CreateStore, true),
            (Some(1), AuditOp::Txn, true),
            (Some(1), AuditOp::DeleteStore, true),
            (Some(2), AuditOp::CreateStore, false),
        ]
    );
    assert_eq!(page.events[2].changes[0].path, "/a");
    assert_eq!(
        read::verify_chain(&h.kv, ChainKey::Store(1))
            .unwrap()
            .events,
        3
    );
}

/// A store deletion's event lists the files it removed while they are few;
/// past `DELETED_PATHS_LISTED_MAX` it counts them, and `path=` still finds
/// the deletion for every one (each has its path row).
#[test]
fn a_large_store_deletion_counts_its_files_and_each_path_finds_it() {
    let mut h = Harness::new();
    let mut files_of = |name: &str, count: u64| {
        let store = store(1, name);
        h.ok(
            &OP,
            Command::CreateStore {
                store: store.clone(),
                owner: None,
            },
        );
        for first in (0..count).step_by(200) {
            let ops = (first..count.min(first + 200))
                .map(|n| write(&format!("/dir/f{n:05}"), "x"))
                .collect();
            h.ok(
                &OP,
                Command::Txn {
                    store: store.clone(),
                    ops,
                },
            );
        }
        h.ok(&OP, Command::DeleteStore { store });
    };
    let large = super::DELETED_PATHS_LISTED_MAX + 1;
    files_of("small", 2);
    files_of("large", large);
    let deletion = |store_id: u64| {
        let page = h.page(AuditFilter {
            stores: Some(vec![store_id]),
            ..AuditFilter::default()
        });
        page.events.last().unwrap().clone()
    };
    let small = deletion(1);
    assert_eq!(small.op, AuditOp::DeleteStore);
    assert_eq!(small.changes.len(), 2, "the files the deletion removed");
    assert_eq!(small.detail.as_deref(), Some("2 files, 2 bytes"));
    let big = deletion(2);
    assert_eq!(big.op, AuditOp::DeleteStore);
    assert!(big.changes.is_empty());
    assert_eq!(big.detail, Some(format!("{large} files, {large} bytes")));
    for (path, expected) in [
        ("/dir/f00000", 2),
        ("/dir/f01000", 2),
        ("/dir", 7),
        ("/nothing", 0),
    ] {
        let page = h.page(AuditFilter {
            stores: Some(vec![2]),
            path: Some(path.into()),
            ..AuditFilter::default()
        });
        let ops: Vec<AuditOp> = page.events.iter().map(|event| event.op).collect();
        assert_eq!(ops.len(), expected, "{path}: {ops:?}");
        if expected > 0 {
            assert_eq!(ops.last(), Some(&AuditOp::DeleteStore), "{path}");
        }
    }
    assert_eq!(
        read::verify_chain(&h.kv, ChainKey::Store(2))
            .unwrap()
            .first_break,
        None
    );
}

/// A read view that counts, per table, the rows scans visit and the gets.
struct Counting<'a> {
    kv: &'a MemoryKv,
    scanned: RefCell<BTreeMap<Table, usize>>,
    got: RefCell<BTreeMap<Table, usize>>,
}

impl<'a> Counting<'a> {
    fn new(kv: &'a MemoryKv) -> Counting<'a> {
        Counting {
            kv,
            scanned: RefCell::default(),
            got: RefCell::default(),
        }
    }

    fn scanned(&self, table: Table) -> usize {
        self.scanned.borrow().get(&table).copied().unwrap_or(0)
    }

    fn got(&self, table: Table) -> usize {
        self.got.borrow().get(&table).copied().unwrap_or(0)
    }
}

impl KvRead for Counting<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        *self.got.borrow_mut().entry(table).or_default() += 1;
        self.kv.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: crate::kv::Visit<'_>,
    ) -> Result<(), StorageError> {
        self.kv.scan(table, start, end, reverse, &mut |key, value| {
            *self.scanned.borrow_mut().entry(table).or_default() += 1;
            visit(key, value)
        })
    }
}

/// 120 transactions by 4 agents in 12 sessions over 2 stores, 3 principals.
fn busy() -> Harness {
    let mut h = Harness::with_acme();
    for name in ["alpha", "beta"] {
        h.ok(
            &OP,
            Command::CreateStore {
                store: store(2, name),
                owner: None,
            },
        );
    }
    for n in 0..120u64 {
        let agent = format!("agent-{}", n % 4);
        let session = format!("session-{}", n % 12);
        let by = By {
            token: Some(if n % 3 == 0 { ANN } else { OPERATOR }),
            agent: &agent,
            session: &session,
            key: None,
        };
        let name = if n % 2 == 0 { "alpha" } else { "beta" };
        let dir = if n % 5 == 0 { "/hot" } else { "/cold" };
        h.ok(
            &by,
            Command::Txn {
                store: store(2, name),
                ops: vec![write(&format!("{dir}/f{n}"), &n.to_string())],
            },
        );
    }
    h
}

#[test]
fn queries_walk_only_the_index_rows_of_their_filter() {
    let h = busy();
    let total = h.events();
    assert!(total > 120);
    // A session: 10 of the 120 transactions.
    let counting = Counting::new(&h.kv);
    let filter = AuditFilter {
        session: Some("session-5".into()),
        ..AuditFilter::default()
    };
    let page = query(&counting, filter, None, 100);
    assert_eq!(page.events.len(), 10);
    assert!(page.events.iter().all(|e| e.session == "session-5"));
    assert_eq!(
        counting.scanned(Table::AuditIndex),
        10,
        "index rows walked (one per entry and session)"
    );
    assert_eq!(counting.got(Table::Audit), 10, "events read");
    assert_eq!(
        counting.scanned(Table::Audit),
        10,
        "the log is looked at only inside the entries named (one event each here)"
    );

    // Each filter, with what it must match.
    let cases: Vec<(AuditFilter, usize)> = vec![
        (
            AuditFilter {
                agent: Some("agent-1".into()),
                ..AuditFilter::default()
            },
            30,
        ),
        (
            AuditFilter {
                principal: Some("acme/ann".into()),
                ..AuditFilter::default()
            },
            40,
        ),
        (
            AuditFilter {
                token_id: Some(ANN.into()),
                ..AuditFilter::default()
            },
            40,
        ),
        (
            AuditFilter {
                stores: Some(vec![1]),
                path: Some("/hot".into()),
                ..AuditFilter::default()
            },
            12,
        ),
        (
            AuditFilter {
                stores: Some(vec![2]),
                from_revision: Some(10),
                to_revision: Some(19),
                ..AuditFilter::default()
            },
            10,
        ),
        (
            AuditFilter {
                stores: Some(vec![2]),
                ..AuditFilter::default()
            },
            61,
        ),
        (
            AuditFilter {
                org_id: Some(2),
                ..AuditFilter::default()
            },
            total - 1,
        ),
    ];
    for (filter, expected) in cases {
        let counting = Counting::new(&h.kv);
        let page = query(&counting, filter.clone(), None, 1000);
        assert_eq!(page.events.len(), expected, "{filter:?}");
        assert_eq!(
            counting.got(Table::Audit),
            expected,
            "{filter:?} read events it did not answer"
        );
        assert!(
            counting.scanned(Table::Audit) <= expected,
            "{filter:?} looked at events outside the entries its index named"
        );
    }

    // A time range is a log range: only the events inside it are read.
    let all = h.page(AuditFilter::default()).events;
    let (since, until) = (all[40].time_ms, all[49].time_ms);
    let counting = Counting::new(&h.kv);
    let filter = AuditFilter {
        since_ms: Some(since),
        until_ms: Some(until),
        ..AuditFilter::default()
    };
    let page = query(&counting, filter, None, 1000);
    assert_eq!(page.events, all[40..50].to_vec());
    assert_eq!(
        counting.scanned(Table::Audit),
        10,
        "only the range is walked"
    );
    assert_eq!(counting.got(Table::Audit), 10);
    assert_eq!(counting.scanned(Table::AuditIndex), 2, "one seek per bound");
}

#[test]
fn pages_follow_on_and_the_candidate_bound_cuts_a_page() {
    let h = busy();
    let filter = AuditFilter {
        agent: Some("agent-2".into()),
        ..AuditFilter::default()
    };
    let whole = h.page(filter.clone()).events;
    assert_eq!(whole.len(), 30);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = query(&h.kv, filter.clone(), after, 7);
        paged.extend(page.events);
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, whole);

    // At most 4 candidates per page: the store's 61 events still all come,
    // a few per page.
    let filter = AuditFilter {
        stores: Some(vec![1]),
        ..AuditFilter::default()
    };
    let mut collected = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let query = AuditQuery {
            filter: filter.clone(),
            after,
            limit: 100,
            candidates_max: 4,
        };
        let page = read::audit(&h.kv, &query, &mut |_| Ok(true)).unwrap();
        assert!(page.events.len() <= 4);
        pages += 1;
        collected.extend(page.events);
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(collected.len(), 61);
    assert!(pages >= 16);
}

#[test]
fn visibility_decides_per_event_and_deleted_stores_say_so() {
    let mut h = busy();
    h.ok(
        &OP,
        Command::SetGrant {
            store: store(2, "alpha"),
            user: UserName::parse("bob").unwrap(),
            access: Some(Access::Read),
        },
    );
    h.ok(
        &OP,
        Command::DeleteStore {
            store: store(2, "beta"),
        },
    );
    let query = AuditQuery {
        filter: AuditFilter {
            org_id: Some(2),
            ..AuditFilter::default()
        },
        after: None,
        limit: 1000,
        candidates_max: read::AUDIT_CANDIDATES_MAX,
    };
    // A caller who sees only live stores, not the organization's own events.
    let page = read::audit(&h.kv, &query, &mut |place| {
        Ok(matches!(place, EventPlace::LiveStore(info) if info.name == "alpha"))
    })
    .unwrap();
    assert_eq!(
        page.events.len(),
        1 + 60 + 1,
        "create, 60 writes, the grant"
    );
    assert!(
        page.events
            .iter()
            .all(|e| e.store.as_deref() == Some("alpha"))
    );
    let mut places = Vec::new();
    read::audit(&h.kv, &query, &mut |place| {
        places.push(match place {
            EventPlace::Cluster => "cluster",
            EventPlace::Org(_) => "org",
            EventPlace::LiveStore(_) => "live",
            EventPlace::DeletedStore { .. } => "deleted",
        });
        Ok(false)
    })
    .unwrap();
    assert_eq!(places.iter().filter(|p| **p == "deleted").count(), 62);
    assert_eq!(places.iter().filter(|p| **p == "org").count(), 4);
}

#[test]
fn path_and_revision_filters_need_a_store() {
    let h = busy();
    for filter in [
        AuditFilter {
            path: Some("/hot".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            from_revision: Some(1),
            ..AuditFilter::default()
        },
    ] {
        let query = AuditQuery {
            filter,
            after: None,
            limit: 10,
            candidates_max: 10,
        };
        assert!(read::audit(&h.kv, &query, &mut |_| Ok(true)).is_err());
    }
}

#[test]
fn event_times_never_go_back() {
    let mut h = Harness::new();
    h.ok(
        &OP,
        Command::CreateStore {
            store: store(1, "notes"),
            owner: None,
        },
    );
    // A proposer with a slow clock.
    h.time_ms -= 1_000;
    h.ok(
        &OP,
        Command::Txn {
            store: store(1, "notes"),
            ops: vec![write("/a", "1")],
        },
    );
    let events = h.page(AuditFilter::default()).events;
    assert_eq!(events[2].time_ms, events[1].time_ms);
}

#[test]
fn a_transaction_message_is_the_events_detail_and_is_bounded() {
    let mut h = Harness::new();
    let notes = store(1, "notes");
    h.ok(
        &OP,
        Command::CreateStore {
            store: notes.clone(),
            owner: None,
        },
    );
    let outcome = h.ok(
        &OP,
        Command::TxnWithMessage {
            store: notes.clone(),
            ops: vec![write("/a", "1")],
            message: "sync from the laptop".to_string(),
        },
    );
    assert!(matches!(outcome, Outcome::Txn(_)), "{outcome:?}");
    let last = h.kv.tables[&Table::Audit].last_key_value().unwrap();
    let record: crate::audit::AuditRecord = crate::codec::decode(last.1).unwrap();
    assert_eq!(record.op, AuditOp::Txn);
    assert_eq!(record.detail.as_deref(), Some("sync from the laptop"));
    assert_eq!(record.changes.len(), 1);
    // The message is part of what the chain hashes.
    assert_eq!(
        read::verify_chain(&h.kv, ChainKey::Store(1))
            .unwrap()
            .first_break,
        None
    );

    // An empty or oversized message is refused and changes nothing.
    let before = h.events();
    for message in [
        " ".to_string(),
        "m".repeat(crate::command::TXN_MESSAGE_BYTES_MAX + 1),
    ] {
        let refused = h.run(
            &OP,
            Command::TxnWithMessage {
                store: notes.clone(),
                ops: vec![write("/b", "2")],
                message,
            },
        );
        assert!(matches!(refused, Outcome::Failed { .. }), "{refused:?}");
    }
    assert_eq!(h.events(), before);
}
