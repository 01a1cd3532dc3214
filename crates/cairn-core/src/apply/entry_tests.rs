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
    log.commands(vec![(
        Command::CreateStore {
            store: notes(),
            owner: None,
        },
        None,
    )]);
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
