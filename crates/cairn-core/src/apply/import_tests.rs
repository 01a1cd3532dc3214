//! Imports: a store read out with the export reads and staged into another
//! state machine compares equal and its chain verifies; refused chunks and
//! early commits change nothing; aborts and idle imports leave nothing;
//! only the operator and organization admins import.

use super::apply;
use crate::audit::{AuditRecord, ChainKey};
use crate::auth::sha256;
use crate::codec::RedactionMark;
use crate::command::{Command, Meta, Outcome, Precondition, Proposal, WriteOp};
use crate::error::CoreError;
use crate::governance::{Role, StoreRef, TokenOwner};
use crate::import::{
    DIGEST_START, IMPORT_IDLE_MS_MAX, ImportChunk, ImportSource, ImportState, ImportTrailer,
    ImportedVersion,
};
use crate::kv::{KvRead, MemoryKv, Table, scan_prefix};
use crate::limits::Limits;
use crate::path::{FilePath, StoreName, UserName};
use crate::read::{self, EventCursor};

const OPERATOR: &str = "operator-token";
const MEMBER: &str = "member-token";
const ADMIN: &str = "admin-token";

struct Node {
    kv: MemoryKv,
    log_index: u64,
    time_ms: u64,
}

fn store(name: &str) -> StoreRef {
    StoreRef::new(1, StoreName::parse(name).unwrap())
}

fn path(text: &str) -> FilePath {
    FilePath::parse(text, &Limits::default()).unwrap()
}

impl Node {
    fn new(time_ms: u64) -> Node {
        let mut node = Node {
            kv: MemoryKv::default(),
            log_index: 0,
            time_ms,
        };
        let bootstrap = Command::Bootstrap {
            token_id: OPERATOR.into(),
            hash: [1; 32],
        };
        assert_eq!(node.run(None, bootstrap), Outcome::Bootstrapped);
        node
    }

    fn run(&mut self, token: Option<&str>, command: Command) -> Outcome {
        self.log_index += 1;
        self.time_ms += 10;
        let proposal = Proposal {
            meta: Meta {
                time_ms: self.time_ms,
                agent: format!("agent-{}", self.log_index % 2),
                session: format!("session-{}", self.log_index % 3),
                idempotency_key: None,
                limits: Limits::default(),
                principal: token.map(str::to_string),
                request_id: format!("req-{}", self.log_index),
            },
            command,
        };
        apply(&mut self.kv, self.log_index, &proposal).unwrap()
    }

    fn ok(&mut self, command: Command) -> Outcome {
        let outcome = self.run(Some(OPERATOR), command);
        assert!(!matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
        outcome
    }

    fn txn(&mut self, name: &str, ops: Vec<WriteOp>) {
        self.ok(Command::Txn {
            store: store(name),
            ops,
        });
    }

    fn import_state(outcome: Outcome) -> ImportState {
        match outcome {
            Outcome::ImportUpdated(state) => *state,
            other => panic!("expected an import, got {other:?}"),
        }
    }

    /// Runs a command that must be refused as `code`, and checks that it
    /// changed nothing but the audit-free tables it may not touch.
    fn refused(&mut self, token: &str, command: Command, code: &str) -> CoreError {
        let before = self.kv.clone();
        match self.run(Some(token), command) {
            Outcome::Failed { error, .. } => {
                assert_eq!(error.code(), code, "{error}");
                assert_eq!(self.kv, before, "a refused command changed the state");
                error
            }
            other => panic!("expected {code}, got {other:?}"),
        }
    }
}

/// A store with writes by two agents, a rename, a delete and a redaction.
fn source() -> (Node, u64) {
    let mut node = Node::new(1_000_000);
    node.ok(Command::CreateStore {
        store: store("notes"),
        owner: None,
    });
    let write = |p: &str, content: &str| WriteOp::Write {
        path: path(p),
        content: content.to_string(),
        precondition: Precondition::None,
    };
    for round in 0..5 {
        node.txn(
            "notes",
            vec![
                write("/a.md", &format!("a {round}\n")),
                write("/dir/b.md", &format!("b {round}\n")),
            ],
        );
    }
    node.txn(
        "notes",
        vec![WriteOp::Rename {
            from: path("/dir/b.md"),
            to: path("/dir/c.md"),
            overwrite: false,
            precondition: Precondition::None,
        }],
    );
    node.txn(
        "notes",
        vec![WriteOp::Delete {
            path: path("/a.md"),
            recursive: false,
            precondition: Precondition::None,
        }],
    );
    let target = crate::redact::plan_version(&node.kv, &store("notes"), &path("/a.md"), 2).unwrap();
    node.ok(Command::Redact {
        store: store("notes"),
        reason: "test".into(),
        targets: vec![target],
    });
    let id = read::get_store(&node.kv, &store("notes")).unwrap().id;
    (node, id)
}

/// The store's versions and events as the export reads give them, as the
/// records an import carries.
fn exported(node: &Node, name: &str) -> (ImportSource, Vec<ImportedVersion>, Vec<AuditRecord>) {
    let start = read::export_start(&node.kv, &store(name)).unwrap();
    let info = start.store;
    let mut versions = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        // Pages of three, to cross page boundaries.
        let page = read::export_versions(
            &node.kv,
            info.id,
            info.revision,
            after.as_deref(),
            3,
            1 << 20,
        )
        .unwrap();
        for version in page.versions {
            versions.push(ImportedVersion {
                path: path(&version.path),
                revision: version.revision,
                op: version.op,
                bytes: version.bytes,
                time_ms: version.time_ms,
                agent: version.agent,
                session: version.session,
                renamed_from: version.renamed_from,
                renamed_to: version.renamed_to,
                redaction: version.redaction.map(|mark| RedactionMark {
                    revision: mark.revision,
                    time_ms: mark.time_ms,
                    principal: mark.principal,
                    token_id: mark.token_id,
                    reason: mark.reason,
                    whole: mark.whole,
                }),
                content: version.content,
            });
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut events = Vec::new();
    let mut cursor = EventCursor::Imported(0);
    while cursor != EventCursor::Done {
        let page = read::export_events(&node.kv, info.id, cursor, start.last_log_index, 2).unwrap();
        for event in page.events {
            events.push(AuditRecord {
                log_index: event.log_index,
                time_ms: event.time_ms,
                op: event.op,
                org_id: event.org_id,
                org: event.org,
                store_id: event.store_id,
                store: event.store,
                revision: event.revision,
                principal: event.principal,
                token_id: event.token_id,
                agent: event.agent,
                session: event.session,
                idempotency_key: event.idempotency_key,
                request_id: event.request_id,
                target: event.target,
                detail: event.detail,
                changes: event.changes,
                prev_hash: event.prev_hash,
                hash: event.hash,
            });
        }
        cursor = page.next;
    }
    let source = ImportSource {
        name: info.name,
        org: info.org,
        owner: info.owner,
        created_ms: info.created_ms,
        revision: info.revision,
        policy: info.policy,
        exported_ms: 0,
    };
    (source, versions, events)
}

/// A stand-in digest chain: `apply` checks its continuity, the service
/// computes it over the archive's bytes.
fn digest_after(before: [u8; 32], records: u64) -> [u8; 32] {
    let mut input = before.to_vec();
    input.extend(records.to_be_bytes());
    sha256(&input)
}

/// Chunks of the export: the header with the first versions, the rest of
/// the versions, the events and the trailer.
fn chunks(
    source: &ImportSource,
    versions: &[ImportedVersion],
    events: &[AuditRecord],
) -> Vec<ImportChunk> {
    let split = versions.len() / 2;
    let parts: [(bool, &[ImportedVersion], &[AuditRecord]); 3] = [
        (true, &versions[..split], &[]),
        (false, &versions[split..], &[]),
        (false, &[], events),
    ];
    let mut digest = DIGEST_START;
    let mut out = Vec::new();
    for (header, part_versions, part_events) in parts {
        let records = u64::from(header) + part_versions.len() as u64 + part_events.len() as u64;
        let after = digest_after(digest, records);
        out.push(ImportChunk {
            digest_before: digest,
            digest_after: after,
            records,
            header: header.then(|| source.clone()),
            versions: part_versions.to_vec(),
            events: part_events.to_vec(),
            trailer: None,
        });
        digest = after;
    }
    let content_bytes = versions
        .iter()
        .filter_map(|version| version.content.as_ref())
        .map(|content| content.len() as u64)
        .sum();
    if let Some(last) = out.last_mut() {
        last.trailer = Some(ImportTrailer {
            versions: versions.len() as u64,
            events: events.len() as u64,
            content_bytes,
            digest,
        });
    }
    out
}

fn begin(node: &mut Node, name: &str) -> u64 {
    Node::import_state(node.ok(Command::ImportBegin { store: store(name) })).id
}

fn chunk_command(import_id: u64, chunk: &ImportChunk) -> Command {
    Command::ImportChunk {
        import_id,
        chunk: Box::new(chunk.clone()),
    }
}

fn rows_of(kv: &MemoryKv, table: Table, store_id: u64) -> usize {
    let mut count = 0;
    scan_prefix(kv, table, &store_id.to_be_bytes(), false, &mut |_, _| {
        count += 1;
        Ok(true)
    })
    .unwrap();
    count
}

#[test]
fn an_imported_store_equals_its_source_and_its_chain_verifies() {
    let (source_node, source_id) = source();
    let (header, versions, events) = exported(&source_node, "notes");
    assert!(versions.iter().any(|version| version.redaction.is_some()));
    assert!(versions.iter().any(|version| version.renamed_to.is_some()));

    // Another cluster, where the store gets another id.
    let mut node = Node::new(9_000_000);
    node.ok(Command::CreateStore {
        store: store("other"),
        owner: None,
    });
    let id = begin(&mut node, "copy");
    assert_ne!(id, source_id);
    for chunk in chunks(&header, &versions, &events) {
        let state = Node::import_state(node.ok(chunk_command(id, &chunk)));
        // Staged, not visible.
        assert_eq!(state.complete, chunk.trailer.is_some());
        assert!(read::get_store(&node.kv, &store("copy")).is_err());
    }
    let info = match node.ok(Command::ImportCommit { import_id: id }) {
        Outcome::Imported(info) => info,
        other => panic!("{other:?}"),
    };
    let original = read::get_store(&source_node.kv, &store("notes")).unwrap();
    assert_eq!(
        (
            info.revision,
            info.file_count,
            info.bytes_total,
            info.created_ms
        ),
        (
            original.revision,
            original.file_count,
            original.bytes_total,
            original.created_ms
        )
    );
    for file in ["/a.md", "/dir/b.md", "/dir/c.md"] {
        let before = read::history(
            &source_node.kv,
            &store("notes"),
            &path(file),
            None,
            100,
            true,
        )
        .unwrap();
        let after = read::history(&node.kv, &store("copy"), &path(file), None, 100, true).unwrap();
        assert_eq!(before.versions, after.versions, "{file}");
    }
    let listing = |kv: &MemoryKv, name: &str| {
        read::list(
            kv,
            &store(name),
            &crate::path::DirPath::root(),
            read::ListOptions::default(),
        )
        .unwrap()
        .entries
    };
    assert_eq!(listing(&source_node.kv, "notes"), listing(&node.kv, "copy"));

    let report = read::verify_chain(&node.kv, ChainKey::Store(id)).unwrap();
    assert_eq!(report.first_break, None);
    assert_eq!(report.events, events.len() as u64 + 1);
    // Exported again: the same events, then the import's.
    let (_, again_versions, again_events) = exported(&node, "copy");
    assert_eq!(again_versions, versions);
    assert_eq!(again_events[..events.len()], events[..]);
    assert_eq!(
        again_events[events.len()].prev_hash,
        events.last().unwrap().hash
    );
    assert_eq!(again_events[events.len()].op, crate::audit::AuditOp::Import);

    // A write goes on from the original revision, and the chain still holds.
    node.txn(
        "copy",
        vec![WriteOp::Write {
            path: path("/new.md"),
            content: "new".into(),
            precondition: Precondition::None,
        }],
    );
    assert_eq!(
        read::get_store(&node.kv, &store("copy")).unwrap().revision,
        original.revision + 1
    );
    assert_eq!(
        read::verify_chain(&node.kv, ChainKey::Store(id))
            .unwrap()
            .first_break,
        None
    );

    // An imported event changed on disk is the break reported.
    let key = crate::import::imported_event_key(id, 1);
    let mut record: AuditRecord =
        crate::codec::decode(&node.kv.get(Table::ImportedAudit, &key).unwrap().unwrap()).unwrap();
    record.agent.push('!');
    node.kv
        .tables
        .get_mut(&Table::ImportedAudit)
        .unwrap()
        .insert(key, crate::codec::encode(&record));
    let report = read::verify_chain(&node.kv, ChainKey::Store(id)).unwrap();
    let broken = report.first_break.unwrap();
    assert_eq!(broken.log_index, events[1].log_index);
    assert!(broken.reason.contains("imported"), "{}", broken.reason);
}

#[test]
fn refused_chunks_and_early_commits_change_nothing() {
    let (source_node, _) = source();
    let (header, versions, events) = exported(&source_node, "notes");
    let mut node = Node::new(9_000_000);
    let id = begin(&mut node, "copy");
    let parts = chunks(&header, &versions, &events);

    // Not the first chunk first; the first chunk twice.
    node.refused(OPERATOR, chunk_command(id, &parts[1]), "invalid_archive");
    node.ok(chunk_command(id, &parts[0]));
    node.refused(OPERATOR, chunk_command(id, &parts[0]), "invalid_archive");
    node.refused(
        OPERATOR,
        Command::ImportCommit { import_id: id },
        "invalid_archive",
    );

    // Versions out of order.
    let mut shuffled = parts[1].clone();
    shuffled.versions.swap(0, 1);
    node.refused(OPERATOR, chunk_command(id, &shuffled), "invalid_archive");
    node.ok(chunk_command(id, &parts[1]));

    // An event that is not what it hashes to, or does not chain.
    let mut altered = parts[2].clone();
    altered.events[1].session.push('!');
    node.refused(OPERATOR, chunk_command(id, &altered), "invalid_archive");
    let mut unchained = parts[2].clone();
    unchained.events.remove(1);
    unchained.records -= 1;
    node.refused(OPERATOR, chunk_command(id, &unchained), "invalid_archive");

    // A trailer that does not add up.
    let mut miscounted = parts[2].clone();
    miscounted.trailer.as_mut().unwrap().content_bytes += 1;
    let error = node.refused(OPERATOR, chunk_command(id, &miscounted), "invalid_archive");
    assert!(error.to_string().contains("content bytes"), "{error}");

    node.ok(chunk_command(id, &parts[2]));
    // Nothing more after the trailer.
    node.refused(OPERATOR, chunk_command(id, &parts[2]), "invalid_archive");

    // A store took the name meanwhile: the commit is refused, the import stays.
    node.ok(Command::CreateStore {
        store: store("copy"),
        owner: None,
    });
    node.refused(
        OPERATOR,
        Command::ImportCommit { import_id: id },
        "already_exists",
    );
    node.refused(
        OPERATOR,
        Command::ImportBegin {
            store: store("copy"),
        },
        "already_exists",
    );
}

#[test]
fn aborted_and_idle_imports_leave_nothing_staged() {
    let (source_node, _) = source();
    let (header, versions, events) = exported(&source_node, "notes");
    let parts = chunks(&header, &versions, &events);
    let mut node = Node::new(9_000_000);

    let id = begin(&mut node, "copy");
    node.ok(chunk_command(id, &parts[0]));
    assert!(rows_of(&node.kv, Table::Versions, id) > 0);
    node.ok(Command::ImportAbort { import_id: id });
    for table in [
        Table::Files,
        Table::Versions,
        Table::Content,
        Table::ImportedAudit,
    ] {
        assert_eq!(rows_of(&node.kv, table, id), 0, "{table:?}");
    }
    assert!(read::imports(&node.kv, None).unwrap().is_empty());
    node.refused(
        OPERATOR,
        Command::ImportCommit { import_id: id },
        "not_found",
    );

    // An import no chunk reached for a day goes when the next one begins.
    let idle = begin(&mut node, "idle");
    node.ok(chunk_command(idle, &parts[0]));
    node.time_ms += IMPORT_IDLE_MS_MAX + 1;
    let fresh = begin(&mut node, "fresh");
    let staged: Vec<u64> = read::imports(&node.kv, None)
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(staged, vec![fresh]);
    assert_eq!(rows_of(&node.kv, Table::Versions, idle), 0);
}

#[test]
fn only_the_operator_and_organization_admins_import() {
    let mut node = Node::new(1_000);
    for (user, role, token) in [("ann", Role::Admin, ADMIN), ("bob", Role::Member, MEMBER)] {
        node.ok(Command::CreateUser {
            org_id: 1,
            user: UserName::parse(user).unwrap(),
            role,
        });
        node.ok(Command::CreateToken {
            id: token.into(),
            hash: [3; 32],
            owner: TokenOwner::User {
                org_id: 1,
                user: user.into(),
            },
            agent: None,
            expires_ms: None,
        });
    }
    node.refused(
        MEMBER,
        Command::ImportBegin {
            store: store("mine"),
        },
        "forbidden",
    );
    let id = match node.run(
        Some(ADMIN),
        Command::ImportBegin {
            store: store("mine"),
        },
    ) {
        Outcome::ImportUpdated(state) => state.id,
        other => panic!("{other:?}"),
    };
    // The member cannot touch the admin's import either.
    node.refused(MEMBER, Command::ImportAbort { import_id: id }, "not_found");
    assert!(matches!(
        node.run(Some(ADMIN), Command::ImportAbort { import_id: id }),
        Outcome::ImportUpdated(_)
    ));
}
