//! Entries of several proposals: each is applied at its own position, as if
//! it were an entry of its own (its own outcome, refusal, idempotency record
//! and audit event), and positions keep every id unique and increasing.

use super::{POSITION_SHIFT, apply_entry, position};
use crate::audit::ChainKey;
use crate::command::{Command, Meta, Outcome, Precondition, Proposal, Proposals, WriteOp};
use crate::governance::StoreRef;
use crate::kv::MemoryKv;
use crate::limits::Limits;
use crate::path::{FilePath, StoreName};
use crate::read::{self, AuditFilter, AuditQuery};

const OPERATOR: &str = "operator-token";

struct Log {
    kv: MemoryKv,
    log_index: u64,
    time_ms: u64,
}

fn notes() -> StoreRef {
    StoreRef::new(1, StoreName::parse("notes").unwrap())
}

fn write(path: &str, precondition: Precondition) -> Command {
    Command::Txn {
        store: notes(),
        ops: vec![WriteOp::Write {
            path: FilePath::parse(path, &Limits::default()).unwrap(),
            content: format!("content of {path}"),
            precondition,
        }],
    }
}

impl Log {
    /// A state with the operator's token (entry 1).
    fn new() -> Log {
        let mut log = Log {
            kv: MemoryKv::default(),
            log_index: 0,
            time_ms: 5_000,
        };
        let bootstrap = Command::Bootstrap {
            token_id: OPERATOR.into(),
            hash: [1; 32],
        };
        let mut proposal = log.proposal(bootstrap, None);
        proposal.meta.principal = None;
        assert_eq!(log.entry(vec![proposal]), vec![Outcome::Bootstrapped]);
        log
    }

    fn proposal(&mut self, command: Command, key: Option<&str>) -> Proposal {
        self.time_ms += 1;
        Proposal {
            meta: Meta {
                time_ms: self.time_ms,
                agent: "agent".into(),
                session: "session".into(),
                idempotency_key: key.map(str::to_string),
                limits: Limits::default(),
                principal: Some(OPERATOR.into()),
                request_id: format!("req-{}", self.time_ms),
            },
            command,
        }
    }

    /// Applies one entry holding `proposals`.
    fn entry(&mut self, proposals: Vec<Proposal>) -> Vec<Outcome> {
        self.log_index += 1;
        apply_entry(&mut self.kv, self.log_index, &Proposals(proposals)).unwrap()
    }

    /// Creates store `notes` in an entry of its own.
    fn create_notes(&mut self) {
        let create = Command::CreateStore {
            store: notes(),
            owner: None,
        };
        assert!(matches!(
            self.commands(vec![(create, None)])[0],
            Outcome::StoreCreated(_)
        ));
    }

    fn commands(&mut self, commands: Vec<(Command, Option<&str>)>) -> Vec<Outcome> {
        let proposals = commands
            .into_iter()
            .map(|(command, key)| self.proposal(command, key))
            .collect();
        self.entry(proposals)
    }

    fn events(&self) -> Vec<read::AuditEvent> {
        let query = AuditQuery {
            filter: AuditFilter::default(),
            after: None,
            limit: 1000,
            candidates_max: read::AUDIT_CANDIDATES_MAX,
        };
        read::audit(&self.kv, &query, &mut |_| Ok(true))
            .unwrap()
            .events
    }
}

fn revision(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Txn(result) => result.revision,
        other => panic!("expected a transaction, got {other:?}"),
    }
}

#[test]
fn positions_are_the_entry_index_shifted_plus_the_place() {
    assert_eq!(position(7, 0), 7 << POSITION_SHIFT);
    assert_eq!(position(7, 3), (7 << POSITION_SHIFT) + 3);
    assert!(position(7, (1 << POSITION_SHIFT) - 1) < position(8, 0));
    assert_eq!(super::entry_index_of(position(7, 3)), 7);
}

#[test]
fn each_proposal_of_an_entry_gets_its_outcome_and_audit_event_in_order() {
    let mut log = Log::new();
    let outcomes = log.commands(vec![
        (
            Command::CreateStore {
                store: notes(),
                owner: None,
            },
            None,
        ),
        (write("/a", Precondition::IfAbsent), None),
        // Refused: /a exists by now. Refuses only itself.
        (write("/a", Precondition::IfAbsent), None),
        (write("/b", Precondition::None), None),
    ]);
    assert_eq!(outcomes.len(), 4);
    assert!(
        matches!(outcomes[0], Outcome::StoreCreated(_)),
        "{outcomes:?}"
    );
    assert_eq!(revision(&outcomes[1]), 1);
    assert!(
        matches!(outcomes[2], Outcome::Failed { .. }),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(revision(&outcomes[3]), 2);

    let events = log.events();
    let positions: Vec<u64> = events.iter().map(|event| event.log_index).collect();
    // The bootstrap at entry 1; the refused proposal (place 2) left none.
    assert_eq!(
        positions,
        vec![
            position(1, 0),
            position(2, 0),
            position(2, 1),
            position(2, 3)
        ]
    );
    let report = read::verify_chain(&log.kv, ChainKey::Store(1)).unwrap();
    assert_eq!(report.events, 3);
    assert_eq!(report.first_break, None);
    assert_eq!(report.head_hash, events.last().unwrap().hash);

    // The next entry's events come after all of them.
    let next = log.commands(vec![(write("/c", Precondition::None), None)]);
    assert_eq!(revision(&next[0]), 3);
    assert_eq!(log.events().last().unwrap().log_index, position(3, 0));
    assert_eq!(
        read::verify_chain(&log.kv, ChainKey::Store(1))
            .unwrap()
            .first_break,
        None
    );
}

#[test]
fn two_creations_of_one_name_in_an_entry_are_two_generations() {
    let mut log = Log::new();
    let create = || Command::CreateStore {
        store: notes(),
        owner: None,
    };
    let outcomes = log.commands(vec![
        (create(), None),
        (Command::DeleteStore { store: notes() }, None),
        (create(), None),
    ]);
    let (
        Outcome::StoreCreated(first),
        Outcome::StoreDeleted(deleted),
        Outcome::StoreCreated(second),
    ) = (&outcomes[0], &outcomes[1], &outcomes[2])
    else {
        panic!("{outcomes:?}");
    };
    assert_eq!(deleted.id, first.id);
    assert_ne!(first.id, second.id);
    assert_eq!(first.created_log_index, position(2, 0));
    assert_eq!(second.created_log_index, position(2, 2));
    let live = read::get_store(&log.kv, &notes()).unwrap();
    assert_eq!(live.id, second.id);
    assert_eq!(live.created_log_index, second.created_log_index);
}

#[test]
fn one_idempotency_key_twice_in_an_entry_applies_once() {
    let mut log = Log::new();
    log.create_notes();
    let outcomes = log.commands(vec![
        (write("/a", Precondition::None), Some("key-1")),
        (write("/a", Precondition::None), Some("key-1")),
        (write("/a", Precondition::None), Some("key-2")),
    ]);
    assert_eq!(outcomes[0], outcomes[1], "the second is the first's answer");
    assert_eq!(revision(&outcomes[0]), 1);
    assert_eq!(revision(&outcomes[2]), 2);
    assert_eq!(read::get_store(&log.kv, &notes()).unwrap().revision, 2);
    // One event each for the creation and the two transactions that ran.
    assert_eq!(log.events().len(), 4);
}

#[test]
fn an_empty_entry_is_refused_as_corrupt() {
    let mut log = Log::new();
    assert!(apply_entry(&mut log.kv, 2, &Proposals(Vec::new())).is_err());
}

/// How many audit index rows start with `kind ‖ parts`.
fn index_rows(log: &Log, kind: u8, parts: &[&[u8]]) -> usize {
    let prefix = crate::audit::index_prefix(kind, parts);
    log.kv.tables[&crate::kv::Table::AuditIndex]
        .keys()
        .filter(|key| key.starts_with(&prefix))
        .count()
}

/// The log index of every event `filter` matches, read by pages of `limit`.
fn matching(log: &Log, filter: &AuditFilter, limit: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let query = AuditQuery {
            filter: filter.clone(),
            after,
            limit,
            candidates_max: read::AUDIT_CANDIDATES_MAX,
        };
        let page = read::audit(&log.kv, &query, &mut |_| Ok(true)).unwrap();
        seen.extend(page.events.iter().map(|event| event.log_index));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
    seen
}

/// The organization and label index rows name an entry, once however many of
/// its proposals share the label; a query by label still answers exactly the
/// events that carry it, across entries and pages.
#[test]
fn label_rows_name_the_entry_and_queries_answer_each_event() {
    let mut log = Log::new();
    log.create_notes();
    for entry in 0..3 {
        let mut proposals = Vec::new();
        for n in 0..5 {
            let mut proposal =
                log.proposal(write(&format!("/e{entry}/{n}"), Precondition::None), None);
            proposal.meta.agent = if n % 2 == 0 { "even" } else { "odd" }.into();
            proposals.push(proposal);
        }
        log.entry(proposals);
    }
    let agent = |name: &str| crate::audit::label_part(name);
    assert_eq!(
        index_rows(&log, crate::audit::index::AGENT, &[&agent("even")]),
        3,
        "one row per entry"
    );
    assert_eq!(
        index_rows(&log, crate::audit::index::AGENT, &[&agent("odd")]),
        3
    );
    let events = log.events();
    for (name, limit) in [("even", 1000), ("odd", 1000), ("odd", 2)] {
        let filter = AuditFilter {
            agent: Some(name.into()),
            ..AuditFilter::default()
        };
        let expected: Vec<u64> = events
            .iter()
            .filter(|event| event.agent == name)
            .map(|event| event.log_index)
            .collect();
        assert_eq!(expected.len(), if name == "even" { 9 } else { 6 });
        assert_eq!(
            matching(&log, &filter, limit),
            expected,
            "{name} by {limit}"
        );
    }
}

/// A chain's index rows name the entries holding its events: with two
/// stores' writes interleaved in each entry, a store's audit query, its
/// export and its chain's verification each find exactly its own events.
#[test]
fn chain_rows_name_entries_and_each_store_finds_only_its_events() {
    let mut log = Log::new();
    let drafts = StoreRef::new(1, StoreName::parse("drafts").unwrap());
    let create = |store: &StoreRef| {
        (
            Command::CreateStore {
                store: store.clone(),
                owner: None,
            },
            None,
        )
    };
    log.commands(vec![create(&notes()), create(&drafts)]);
    let in_drafts = |path: &str| match write(path, Precondition::None) {
        Command::Txn { ops, .. } => Command::Txn {
            store: drafts.clone(),
            ops,
        },
        other => other,
    };
    for entry in 0..4 {
        let mut commands = Vec::new();
        for n in 0..6 {
            let path = format!("/e{entry}/{n}");
            let command = if n % 3 == 0 {
                in_drafts(&path)
            } else {
                write(&path, Precondition::None)
            };
            commands.push((command, None));
        }
        log.commands(commands);
    }
    let events = log.events();
    for (store_id, expected_events) in [(1, 1 + 4 * 4), (2, 1 + 4 * 2)] {
        let chain = ChainKey::Store(store_id);
        assert_eq!(
            index_rows(&log, crate::audit::index::CHAIN, &[&chain.to_bytes()]),
            5,
            "one row per entry holding the store's events"
        );
        let expected: Vec<u64> = events
            .iter()
            .filter(|event| event.store_id == Some(store_id))
            .map(|event| event.log_index)
            .collect();
        assert_eq!(expected.len(), expected_events);
        let filter = AuditFilter {
            stores: Some(vec![store_id]),
            ..AuditFilter::default()
        };
        for limit in [1000, 3] {
            assert_eq!(matching(&log, &filter, limit), expected, "store {store_id}");
        }
        let mut exported = Vec::new();
        let mut cursor = read::EventCursor::Local(0);
        while cursor != read::EventCursor::Done {
            let page = read::export_events(&log.kv, store_id, cursor, u64::MAX, 4).unwrap();
            exported.extend(page.events.iter().map(|event| event.log_index));
            cursor = page.next;
        }
        assert_eq!(exported, expected, "export of store {store_id}");
        let report = read::verify_chain(&log.kv, chain).unwrap();
        assert_eq!(report.first_break, None);
        assert_eq!(report.events, expected_events as u64);
    }
}

/// A time row marks the first event at each time, however many events share
/// it: `since` and `until` still bound exactly the events inside the range.
#[test]
fn time_rows_mark_the_first_event_at_each_time_and_ranges_stay_exact() {
    let mut log = Log::new();
    log.create_notes();
    // Proposers' clocks as they arrive: equal, and one behind (kept at the
    // previous event's time, so times never go back).
    for times in [vec![9_000, 9_000, 9_002], vec![9_002, 9_001, 9_005]] {
        let mut proposals = Vec::new();
        for time_ms in times {
            let path = format!("/t{}", proposals.len() + 10 * log.log_index as usize);
            let mut proposal = log.proposal(write(&path, Precondition::None), None);
            proposal.meta.time_ms = time_ms;
            proposals.push(proposal);
        }
        log.entry(proposals);
    }
    let events = log.events();
    let times: Vec<u64> = events.iter().map(|event| event.time_ms).collect();
    assert_eq!(
        times[times.len() - 6..],
        [9_000, 9_000, 9_002, 9_002, 9_002, 9_005]
    );
    let mut distinct = times.clone();
    distinct.dedup();
    assert_eq!(
        index_rows(&log, crate::audit::index::TIME, &[]),
        distinct.len(),
        "one time row per time"
    );
    for (since, until) in [
        (Some(9_000), None),
        (Some(9_001), None),
        (Some(9_002), Some(9_002)),
        (None, Some(9_001)),
        (None, Some(9_002)),
        (Some(9_003), Some(9_004)),
        (Some(9_006), None),
        (None, Some(8_999)),
        (None, Some(u64::MAX)),
    ] {
        let expected: Vec<u64> = events
            .iter()
            .filter(|event| since.is_none_or(|since| event.time_ms >= since))
            .filter(|event| until.is_none_or(|until| event.time_ms <= until))
            .map(|event| event.log_index)
            .collect();
        let filter = AuditFilter {
            since_ms: since,
            until_ms: until,
            ..AuditFilter::default()
        };
        assert_eq!(matching(&log, &filter, 2), expected, "{since:?}..{until:?}");
    }
}
