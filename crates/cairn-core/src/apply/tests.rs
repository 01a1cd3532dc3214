//! Unit tests of the state machine: every operation, every precondition
//! outcome, all-or-nothing transactions and deterministic replay.

use std::ops::Bound;

use super::*;
use crate::command::{Change, Meta, OpKind, Precondition, TxnResult, WriteOp};
use crate::error::Resource;
use crate::governance::StoreRef;
use crate::kv::{KvRead, MemoryKv, state_digest};
use crate::limits::Limits;
use crate::path::{DirPath, FilePath, StoreName};
use crate::read::{self, At, EntryKind, ListOptions};

const STORE: &str = "mem";

struct Harness {
    kv: MemoryKv,
    log_index: u64,
    time_ms: u64,
    limits: Limits,
}

fn path(p: &str) -> FilePath {
    FilePath::parse(p, &Limits::default()).unwrap()
}

/// The default organization's id: the bootstrap makes it first.
const ORG: u64 = 1;
/// The operator token every test command is proposed under.
const OPERATOR: &str = "operator-test-token";

fn store() -> StoreRef {
    named(STORE)
}

fn named(name: &str) -> StoreRef {
    StoreRef::new(ORG, StoreName::parse(name).unwrap())
}

fn write(p: &str, content: &str) -> WriteOp {
    write_if(p, content, Precondition::None)
}

fn write_if(p: &str, content: &str, precondition: Precondition) -> WriteOp {
    WriteOp::Write {
        path: path(p),
        content: content.to_string(),
        precondition,
    }
}

fn replace(p: &str, old: &str, new: &str) -> WriteOp {
    WriteOp::StrReplace {
        path: path(p),
        old: old.to_string(),
        new: new.to_string(),
        precondition: Precondition::None,
    }
}

fn insert(p: &str, line: u64, text: &str) -> WriteOp {
    WriteOp::Insert {
        path: path(p),
        line,
        text: text.to_string(),
        precondition: Precondition::None,
    }
}

fn delete(p: &str, recursive: bool) -> WriteOp {
    WriteOp::Delete {
        path: path(p),
        recursive,
        precondition: Precondition::None,
    }
}

fn rename(from: &str, to: &str, overwrite: bool) -> WriteOp {
    WriteOp::Rename {
        from: path(from),
        to: path(to),
        overwrite,
        precondition: Precondition::None,
    }
}

impl Harness {
    fn new() -> Harness {
        let mut harness = Harness {
            kv: MemoryKv::default(),
            log_index: 0,
            time_ms: 1_000_000,
            limits: Limits::default(),
        };
        let bootstrap = harness.system(Command::Bootstrap {
            token_id: OPERATOR.to_string(),
            hash: [1; 32],
        });
        assert_eq!(bootstrap, Outcome::Bootstrapped);
        let outcome = harness.command(
            Command::CreateStore {
                store: store(),
                owner: None,
            },
            None,
        );
        assert!(matches!(outcome, Outcome::StoreCreated(_)), "{outcome:?}");
        harness
    }

    fn command(&mut self, command: Command, idempotency_key: Option<&str>) -> Outcome {
        self.command_as(Some(OPERATOR), command, idempotency_key)
    }

    /// A command the node proposes itself, without a token.
    fn system(&mut self, command: Command) -> Outcome {
        self.command_as(None, command, None)
    }

    fn command_as(
        &mut self,
        principal: Option<&str>,
        command: Command,
        idempotency_key: Option<&str>,
    ) -> Outcome {
        self.log_index += 1;
        self.time_ms += 10;
        let proposal = Proposal {
            meta: Meta {
                time_ms: self.time_ms,
                agent: "agent-1".into(),
                session: "session-1".into(),
                idempotency_key: idempotency_key.map(str::to_string),
                limits: self.limits,
                principal: principal.map(str::to_string),
                request_id: format!("req-{}", self.log_index),
            },
            command,
        };
        apply(&mut self.kv, self.log_index, &proposal).unwrap()
    }

    fn txn(&mut self, ops: Vec<WriteOp>) -> Outcome {
        self.command(
            Command::Txn {
                store: store(),
                ops,
            },
            None,
        )
    }

    fn ok(&mut self, ops: Vec<WriteOp>) -> TxnResult {
        match self.txn(ops) {
            Outcome::Txn(result) => result,
            other => panic!("expected success, got {other:?}"),
        }
    }

    /// Runs a transaction that must fail, checks that it changed nothing, and returns the error.
    fn fails(&mut self, ops: Vec<WriteOp>) -> (Option<u32>, CoreError) {
        let before = self.kv.clone();
        match self.txn(ops) {
            Outcome::Failed { op_index, error } => {
                assert_eq!(self.kv, before, "a failed transaction changed the state");
                (op_index, error)
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }

    fn read(&self, p: &str) -> Option<String> {
        match read::read_file(&self.kv, &store(), &path(p), At::Current) {
            Ok(file) => Some(file.content),
            Err(ReadErrorKind::Domain(CoreError::NotFound { .. })) => None,
            Err(other) => panic!("read {p}: {other:?}"),
        }
    }

    fn revision(&self) -> u64 {
        read::get_store(&self.kv, &store()).unwrap().revision
    }
}

use crate::error::ReadError as ReadErrorKind;

/// Every audit event of the test store, oldest first.
pub(super) fn store_events(kv: &impl KvRead) -> Vec<read::AuditEvent> {
    let id = read::get_store(kv, &store()).unwrap().id;
    let query = read::AuditQuery {
        filter: read::AuditFilter {
            stores: Some(vec![id]),
            ..read::AuditFilter::default()
        },
        after: None,
        limit: 1000,
        candidates_max: read::AUDIT_CANDIDATES_MAX,
    };
    read::audit(kv, &query, &mut |_| Ok(true)).unwrap().events
}

#[test]
fn stores_are_created_once_listed_and_deleted_with_their_data() {
    let mut h = Harness::new();
    let again = h.command(
        Command::CreateStore {
            store: store(),
            owner: None,
        },
        None,
    );
    assert!(matches!(
        again,
        Outcome::Failed {
            error: CoreError::AlreadyExists {
                resource: Resource::Store,
                ..
            },
            ..
        }
    ));
    h.ok(vec![write("/a", "x")]);
    let other = named("other");
    let Outcome::StoreCreated(info) = h.command(
        Command::CreateStore {
            store: other.clone(),
            owner: None,
        },
        None,
    ) else {
        panic!()
    };
    assert_eq!(info.id, 2, "store ids count up");
    assert_eq!(read::list_stores(&h.kv, Some(ORG)).unwrap().len(), 2);

    let Outcome::StoreDeleted(deleted) = h.command(Command::DeleteStore { store: store() }, None)
    else {
        panic!()
    };
    assert_eq!((deleted.revision, deleted.file_count), (1, 1));
    assert_eq!(
        store_audit(&h.kv, 1, None, 10).events.last().map(|e| e.op),
        Some(crate::audit::AuditOp::DeleteStore),
        "the deleted store's audit events stay"
    );
    for table in [Table::Files, Table::Versions] {
        let mut rows = 0;
        h.kv.scan(
            table,
            Bound::Unbounded,
            Bound::Unbounded,
            false,
            &mut |_, _| {
                rows += 1;
                Ok(true)
            },
        )
        .unwrap();
        assert_eq!(rows, 0, "{table:?} still holds rows of the deleted store");
    }
    let missing = h.command(Command::DeleteStore { store: store() }, None);
    assert!(matches!(
        missing,
        Outcome::Failed {
            error: CoreError::NotFound {
                resource: Resource::Store,
                ..
            },
            ..
        }
    ));
    let write_missing = h.txn(vec![write("/a", "x")]);
    assert_eq!(failed_code(&write_missing), "not_found");
}

fn failed_code(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Failed { error, .. } => error.code(),
        other => panic!("expected failure, got {other:?}"),
    }
}

#[test]
fn every_write_gets_the_next_revision_and_the_file_its_version() {
    let mut h = Harness::new();
    let first = h.ok(vec![write("/notes/a.md", "one")]);
    assert_eq!(first.revision, 1);
    assert_eq!(
        first.changes,
        vec![Change {
            path: "/notes/a.md".into(),
            op: OpKind::Write,
            version: Some(1)
        }]
    );
    h.ok(vec![write("/notes/b.md", "other")]);
    let third = h.ok(vec![write("/notes/a.md", "two")]);
    assert_eq!(third.revision, 3);
    assert_eq!(h.read("/notes/a.md").as_deref(), Some("two"));
    let meta = read::stat(&h.kv, &store(), &path("/notes/a.md"), At::Current).unwrap();
    assert_eq!((meta.version, meta.bytes, meta.store_revision), (3, 3, 3));
    assert_eq!(
        (meta.agent.as_str(), meta.session.as_str()),
        ("agent-1", "session-1")
    );
    let info = read::get_store(&h.kv, &store()).unwrap();
    assert_eq!(
        (info.revision, info.file_count, info.bytes_total),
        (3, 2, 8)
    );
}

#[test]
fn preconditions_hold_or_fail_with_the_current_version() {
    let mut h = Harness::new();
    assert_eq!(
        h.ok(vec![write_if("/a", "1", Precondition::IfAbsent)])
            .revision,
        1
    );
    let (_, error) = h.fails(vec![write_if("/a", "2", Precondition::IfAbsent)]);
    assert_eq!(
        error,
        CoreError::VersionConflict {
            path: "/a".into(),
            expected: Precondition::IfAbsent,
            current: Some(1)
        }
    );
    let (_, error) = h.fails(vec![write_if("/a", "2", Precondition::IfVersion(7))]);
    assert!(matches!(
        error,
        CoreError::VersionConflict {
            current: Some(1),
            ..
        }
    ));
    h.ok(vec![write_if("/a", "2", Precondition::IfVersion(1))]);
    h.ok(vec![write_if("/a", "3", Precondition::IfExists)]);
    let (_, error) = h.fails(vec![write_if("/b", "x", Precondition::IfExists)]);
    assert!(matches!(
        error,
        CoreError::VersionConflict { current: None, .. }
    ));
    let (_, error) = h.fails(vec![write_if("/b", "x", Precondition::IfVersion(1))]);
    assert!(matches!(
        error,
        CoreError::VersionConflict { current: None, .. }
    ));
    assert_eq!(h.read("/a").as_deref(), Some("3"));
    assert_eq!(h.revision(), 3);
}

#[test]
fn reads_of_the_past_by_version_and_by_revision() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", "v1")]); // r1
    h.ok(vec![write("/b", "b")]); // r2
    h.ok(vec![write("/a", "v3")]); // r3
    h.ok(vec![delete("/a", false)]); // r4
    let at = |h: &Harness, at| read::read_file(&h.kv, &store(), &path("/a"), at).map(|f| f.content);
    assert_eq!(at(&h, At::Version(1)).unwrap(), "v1");
    assert_eq!(at(&h, At::Version(3)).unwrap(), "v3");
    assert_eq!(at(&h, At::Revision(2)).unwrap(), "v1");
    assert_eq!(at(&h, At::Revision(3)).unwrap(), "v3");
    assert!(matches!(
        at(&h, At::Revision(4)),
        Err(ReadErrorKind::Domain(CoreError::NotFound { .. }))
    ));
    assert!(matches!(
        at(&h, At::Current),
        Err(ReadErrorKind::Domain(CoreError::NotFound { .. }))
    ));
    assert!(matches!(
        at(&h, At::Version(2)),
        Err(ReadErrorKind::Domain(CoreError::NotFound {
            resource: Resource::Version,
            ..
        }))
    ));
    assert!(matches!(
        at(&h, At::Version(4)),
        Err(ReadErrorKind::Domain(CoreError::NotFound {
            resource: Resource::Version,
            ..
        }))
    ));
    assert!(matches!(
        at(&h, At::Revision(9)),
        Err(ReadErrorKind::Domain(CoreError::InvalidRequest { .. }))
    ));

    let history = read::history(&h.kv, &store(), &path("/a"), None, 2, true).unwrap();
    let versions: Vec<_> = history
        .versions
        .iter()
        .map(|v| (v.version, v.op, v.content.clone()))
        .collect();
    assert_eq!(
        versions,
        vec![
            (4, OpKind::Delete, None),
            (3, OpKind::Write, Some("v3".into()))
        ]
    );
    assert_eq!(history.next_before, Some(3));
    let older = read::history(&h.kv, &store(), &path("/a"), Some(3), 2, false).unwrap();
    assert_eq!(
        older.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(older.versions[0].content, None);
    assert_eq!(older.next_before, None);
    assert!(read::history(&h.kv, &store(), &path("/never"), None, 10, false).is_err());

    let diff = read::diff(&h.kv, &store(), &path("/a"), 1, 3).unwrap();
    assert!(diff.contains("-v1") && diff.contains("+v3"), "{diff}");
}

#[test]
fn str_replace_needs_exactly_one_occurrence() {
    let mut h = Harness::new();
    h.ok(vec![write("/f", "alpha\nbeta\naaa\n")]);
    h.ok(vec![replace("/f", "beta", "BETA")]);
    assert_eq!(h.read("/f").as_deref(), Some("alpha\nBETA\naaa\n"));
    let (index, error) = h.fails(vec![replace("/f", "gamma", "x")]);
    assert_eq!(index, Some(0));
    assert_eq!(
        error,
        CoreError::NoUniqueMatch {
            path: "/f".into(),
            occurrences: 0
        }
    );
    let (_, error) = h.fails(vec![replace("/f", "a", "x")]);
    assert_eq!(
        error,
        CoreError::NoUniqueMatch {
            path: "/f".into(),
            occurrences: 5
        }
    );
    // Overlapping matches count: "aa" starts at two places in "aaa".
    let (_, error) = h.fails(vec![replace("/f", "aa", "x")]);
    assert_eq!(
        error,
        CoreError::NoUniqueMatch {
            path: "/f".into(),
            occurrences: 2
        }
    );
    assert_eq!(
        h.fails(vec![replace("/f", "", "x")]).1.code(),
        "invalid_request"
    );
    assert_eq!(
        h.fails(vec![replace("/missing", "a", "x")]).1.code(),
        "not_found"
    );
    h.limits.file_bytes_max = 20;
    assert_eq!(
        h.fails(vec![replace("/f", "alpha", "a much longer alpha")])
            .1
            .code(),
        "limit_exceeded"
    );
}

#[test]
fn two_edits_to_different_lines_both_land() {
    let mut h = Harness::new();
    h.ok(vec![write("/f", "line-1\nline-2\n")]);
    h.ok(vec![replace("/f", "line-1", "first")]);
    h.ok(vec![replace("/f", "line-2", "second")]);
    assert_eq!(h.read("/f").as_deref(), Some("first\nsecond\n"));
}

#[test]
fn insert_puts_whole_lines_before_the_given_line() {
    assert_eq!(line_count(""), 0);
    assert_eq!(line_count("a"), 1);
    assert_eq!(line_count("a\n"), 1);
    assert_eq!(line_count("a\nb"), 2);
    let p = path("/f");
    let cases = [
        ("a\nb\n", 0, "x", "x\na\nb\n"),
        ("a\nb\n", 1, "x\n", "a\nx\nb\n"),
        ("a\nb\n", 2, "x", "a\nb\nx\n"),
        ("a\nb", 2, "x", "a\nb\nx\n"),
        ("a\nb", 1, "x\ny", "a\nx\ny\nb"),
        ("", 0, "x", "x\n"),
    ];
    for (content, line, text, expected) in cases {
        assert_eq!(
            insert_at_line(&p, content, line, text).unwrap(),
            expected,
            "{content:?} @ {line}"
        );
    }
    assert_eq!(
        insert_at_line(&p, "a\nb\n", 3, "x").unwrap_err(),
        CoreError::InvalidLine {
            path: "/f".into(),
            line: 3,
            lines: 2
        }
    );

    let mut h = Harness::new();
    h.ok(vec![write("/f", "a\nb\n")]);
    h.ok(vec![insert("/f", 1, "mid")]);
    assert_eq!(h.read("/f").as_deref(), Some("a\nmid\nb\n"));
    assert_eq!(h.fails(vec![insert("/f", 9, "x")]).1.code(), "invalid_line");
    assert_eq!(h.fails(vec![insert("/nope", 0, "x")]).1.code(), "not_found");
}

#[test]
fn a_transaction_applies_all_at_one_revision_or_nothing() {
    let mut h = Harness::new();
    h.ok(vec![write("/keep", "k")]);
    let result = h.ok(vec![
        write("/a", "1"),
        write("/b", "2"),
        replace("/a", "1", "one"),
        delete("/keep", false),
    ]);
    assert_eq!(result.revision, 2);
    assert_eq!(
        result.changes,
        vec![
            Change {
                path: "/a".into(),
                op: OpKind::StrReplace,
                version: Some(2)
            },
            Change {
                path: "/b".into(),
                op: OpKind::Write,
                version: Some(2)
            },
            Change {
                path: "/keep".into(),
                op: OpKind::Delete,
                version: None
            },
        ]
    );
    assert_eq!(h.read("/a").as_deref(), Some("one"));

    let (index, error) = h.fails(vec![
        write("/c", "3"),
        write_if("/a", "x", Precondition::IfVersion(1)),
        write("/d", "4"),
    ]);
    assert_eq!(index, Some(1));
    assert_eq!(error.code(), "version_conflict");
    assert_eq!(h.read("/c"), None);
    assert_eq!(h.revision(), 2);

    // A later op sees an earlier op's version: the transaction's revision.
    h.ok(vec![
        write("/e", "1"),
        write_if("/e", "2", Precondition::IfVersion(3)),
    ]);
    assert_eq!(h.read("/e").as_deref(), Some("2"));
    assert_eq!(h.fails(vec![]).1.code(), "invalid_request");
    h.limits.txn_ops_max = 2;
    let (_, error) = h.fails(vec![write("/x", ""), write("/y", ""), write("/z", "")]);
    assert!(matches!(error, CoreError::LimitExceeded { ref limit, .. } if limit == "txn_ops_max"));
}

#[test]
fn created_and_deleted_in_one_transaction_leaves_no_trace() {
    let mut h = Harness::new();
    let result = h.ok(vec![
        write("/tmp", "x"),
        delete("/tmp", false),
        write("/kept", "y"),
    ]);
    assert_eq!(result.changes.len(), 1);
    assert!(read::history(&h.kv, &store(), &path("/tmp"), None, 10, false).is_err());
}

#[test]
fn delete_of_files_and_subtrees() {
    let mut h = Harness::new();
    h.ok(vec![
        write("/d/a", "1"),
        write("/d/e/b", "2"),
        write("/dx", "3"),
    ]);
    assert_eq!(h.fails(vec![delete("/d", false)]).1.code(), "not_found");
    assert_eq!(
        h.fails(vec![delete("/nothing", true)]).1.code(),
        "not_found"
    );
    let result = h.ok(vec![delete("/d", true)]);
    let deleted: Vec<_> = result.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        deleted,
        vec!["/d/a", "/d/e/b"],
        "a sibling with the same prefix (/dx) must survive"
    );
    assert_eq!(h.read("/dx").as_deref(), Some("3"));
    let info = read::get_store(&h.kv, &store()).unwrap();
    assert_eq!((info.file_count, info.bytes_total), (1, 1));
    let (_, error) = h.fails(vec![WriteOp::Delete {
        path: path("/dx"),
        recursive: false,
        precondition: Precondition::IfVersion(99),
    }]);
    assert_eq!(error.code(), "version_conflict");
}

#[test]
fn a_file_cannot_sit_under_a_file_or_replace_a_directory() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", "file")]);
    let (_, error) = h.fails(vec![write("/a/b", "x")]);
    assert!(
        matches!(error, CoreError::PathConflict { ref conflicting, .. } if conflicting == "/a")
    );
    h.ok(vec![write("/d/x/y", "deep")]);
    let (_, error) = h.fails(vec![write("/d", "x")]);
    assert!(
        matches!(error, CoreError::PathConflict { ref conflicting, .. } if conflicting == "/d/x/y")
    );
    // Once /a is gone, /a can become a directory within the same transaction.
    h.ok(vec![delete("/a", false), write("/a/b", "now a dir")]);
}

#[test]
fn rename_moves_content_and_history_shows_both_ends() {
    let mut h = Harness::new();
    h.ok(vec![write("/old", "content"), write("/taken", "t")]);
    assert_eq!(
        h.fails(vec![rename("/old", "/taken", false)]).1.code(),
        "already_exists"
    );
    assert_eq!(
        h.fails(vec![rename("/missing", "/x", false)]).1.code(),
        "not_found"
    );
    assert_eq!(
        h.fails(vec![rename("/old", "/old", false)]).1.code(),
        "invalid_request"
    );
    assert_eq!(
        h.fails(vec![rename("/old", "/taken/x", false)]).1.code(),
        "path_conflict"
    );
    let result = h.ok(vec![rename("/old", "/new", false)]);
    assert_eq!(result.changes.len(), 2);
    assert_eq!(h.read("/old"), None);
    assert_eq!(h.read("/new").as_deref(), Some("content"));
    let history = read::history(&h.kv, &store(), &path("/new"), None, 10, false).unwrap();
    assert_eq!(history.versions[0].renamed_from.as_deref(), Some("/old"));
    let history = read::history(&h.kv, &store(), &path("/old"), None, 10, false).unwrap();
    assert_eq!(history.versions[0].renamed_to.as_deref(), Some("/new"));
    h.ok(vec![rename("/new", "/taken", true)]);
    assert_eq!(h.read("/taken").as_deref(), Some("content"));
    assert_eq!(read::get_store(&h.kv, &store()).unwrap().file_count, 1);
}

#[test]
fn idempotency_keys_answer_retries_with_the_first_outcome() {
    let mut h = Harness::new();
    let command = Command::Txn {
        store: store(),
        ops: vec![write("/counter", "1")],
    };
    let first = h.command(command.clone(), Some("key-1"));
    let retry = h.command(command.clone(), Some("key-1"));
    assert_eq!(first, retry);
    assert_eq!(h.revision(), 1, "the retry must not apply again");
    let reused = h.command(
        Command::Txn {
            store: store(),
            ops: vec![write("/counter", "2")],
        },
        Some("key-1"),
    );
    assert_eq!(failed_code(&reused), "idempotency_key_reused");
    // A failure is remembered too, so a retry cannot turn it into a success.
    let conflict = Command::Txn {
        store: store(),
        ops: vec![write_if("/counter", "x", Precondition::IfVersion(9))],
    };
    let failed = h.command(conflict.clone(), Some("key-2"));
    assert_eq!(failed_code(&failed), "version_conflict");
    assert_eq!(h.command(conflict, Some("key-2")), failed);

    // After the window the key is forgotten and pruned.
    h.time_ms += h.limits.idempotency_window_ms + 1;
    let again = h.command(command, Some("key-1"));
    assert!(matches!(again, Outcome::Txn(TxnResult { revision: 2, .. })));
    assert_eq!(
        idempotency_keys(&h),
        vec!["operator\u{0}key-1".to_string()],
        "key-2 expired and was pruned; key-1 was stored anew, in the operator's scope"
    );
}

/// Each key is kept for its own window: writes remembered briefly (the
/// node's own keys, five minutes) do not cut short a client's key (a day).
#[test]
fn a_short_window_does_not_forget_a_longer_windows_key() {
    let mut h = Harness::new();
    let command = Command::Txn {
        store: store(),
        ops: vec![write("/counter", "1")],
    };
    let first = h.command(command.clone(), Some("client-key"));
    let day = h.limits.idempotency_window_ms;
    h.time_ms += 10 * 60 * 1000;
    h.limits.idempotency_window_ms = 5 * 60 * 1000;
    for n in 0..20 {
        let key = format!("~auto/1/{}/{n}", h.time_ms);
        let other = Command::Txn {
            store: store(),
            ops: vec![write(&format!("/other-{n}"), "x")],
        };
        assert!(matches!(h.command(other, Some(&key)), Outcome::Txn(_)));
    }
    h.limits.idempotency_window_ms = day;
    assert_eq!(h.command(command, Some("client-key")), first);
    assert_eq!(h.revision(), 21, "the retry must not apply again");
}

/// Each apply sweeps four records from where the last stopped (wrapping
/// past the last key), so every expired record goes within a lap of the
/// table, and live ones stay.
#[test]
fn expired_keys_are_swept_within_a_lap() {
    let mut h = Harness::new();
    let write_with = |h: &mut Harness, path: String, key: String| {
        let command = Command::Txn {
            store: store(),
            ops: vec![write(&path, "x")],
        };
        assert!(matches!(h.command(command, Some(&key)), Outcome::Txn(_)));
    };
    for n in 0..40 {
        write_with(&mut h, format!("/old-{n}"), format!("old-{n:02}"));
    }
    h.time_ms += h.limits.idempotency_window_ms + 1;
    for n in 0..20 {
        write_with(&mut h, format!("/new-{n}"), format!("new-{n:02}"));
    }
    // 20 applies looked at 80 records of a table that held at most 60.
    let live: Vec<String> = (0..20)
        .map(|n| format!("operator\u{0}new-{n:02}"))
        .collect();
    assert_eq!(idempotency_keys(&h), live);
}

/// Every stored idempotency key, in key order.
fn idempotency_keys(h: &Harness) -> Vec<String> {
    let mut keys = Vec::new();
    h.kv.scan(
        Table::Idempotency,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |key, _| {
            keys.push(String::from_utf8(key.to_vec()).unwrap());
            Ok(true)
        },
    )
    .unwrap();
    keys
}

#[test]
fn limits_on_files_size_and_stores() {
    let mut h = Harness::new();
    h.limits.files_per_store_max = 2;
    h.ok(vec![write("/a", ""), write("/b", "")]);
    let (_, error) = h.fails(vec![write("/c", "")]);
    assert!(
        matches!(error, CoreError::LimitExceeded { ref limit, actual: 3, .. } if limit == "files_per_store_max")
    );
    h.ok(vec![delete("/a", false), write("/c", "")]);
    h.limits.file_bytes_max = 4;
    assert_eq!(
        h.fails(vec![write("/c", "12345")]).1.code(),
        "limit_exceeded"
    );
    h.limits.stores_max = 1;
    let outcome = h.command(
        Command::CreateStore {
            owner: None,
            store: named("two"),
        },
        None,
    );
    assert_eq!(failed_code(&outcome), "limit_exceeded");
}

#[test]
fn listing_to_a_depth_and_as_of_a_revision() {
    let mut h = Harness::new();
    h.ok(vec![
        write("/a/b/c.md", "1"),
        write("/a/d.md", "22"),
        write("/z", "3"),
    ]); // r1
    h.ok(vec![delete("/a/d.md", false), write("/a/b/e.md", "4")]); // r2
    let listing = |h: &Harness, dir: &str, depth, revision| {
        let dir = DirPath::parse(dir, &Limits::default()).unwrap();
        read::list(&h.kv, &store(), &dir, ListOptions { depth, revision })
            .unwrap()
            .entries
            .into_iter()
            .map(|e| (e.path, e.kind))
            .collect::<Vec<_>>()
    };
    use EntryKind::{Dir, File};
    assert_eq!(
        listing(&h, "/", None, None),
        vec![
            ("/a".into(), Dir),
            ("/a/b".into(), Dir),
            ("/a/b/c.md".into(), File),
            ("/a/b/e.md".into(), File),
            ("/z".into(), File)
        ]
    );
    assert_eq!(
        listing(&h, "/", Some(1), None),
        vec![("/a".into(), Dir), ("/z".into(), File)]
    );
    assert_eq!(
        listing(&h, "/a", Some(1), Some(1)),
        vec![("/a/b".into(), Dir), ("/a/d.md".into(), File)]
    );
    assert_eq!(
        listing(&h, "/a/b/c.md", None, None),
        vec![("/a/b/c.md".into(), File)]
    );
    let missing = read::list(
        &h.kv,
        &store(),
        &DirPath::parse("/nope", &Limits::default()).unwrap(),
        ListOptions::default(),
    );
    assert!(matches!(
        missing,
        Err(ReadErrorKind::Domain(CoreError::NotFound { .. }))
    ));
}

/// Store `store_id`'s audit events as the operator sees them.
pub(super) fn store_audit(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    after: Option<u64>,
    limit: u64,
) -> read::AuditPage {
    let query = read::AuditQuery {
        filter: read::AuditFilter {
            stores: Some(vec![store_id]),
            ..read::AuditFilter::default()
        },
        after,
        limit,
        candidates_max: read::AUDIT_CANDIDATES_MAX,
    };
    read::audit(kv, &query, &mut |_| Ok(true)).unwrap()
}

#[test]
fn audit_records_every_transaction_with_its_attribution() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", "1")]);
    h.ok(vec![write("/b", "2"), delete("/a", false)]);
    let page = store_audit(&h.kv, 1, None, 10);
    assert_eq!(
        page.events
            .iter()
            .map(|r| (r.revision, r.changes.len()))
            .collect::<Vec<_>>(),
        vec![(Some(0), 0), (Some(1), 1), (Some(2), 2)]
    );
    assert_eq!(page.events[2].agent, "agent-1");
    assert_eq!(
        page.events[1].changes[0].content_sha256,
        Some(crate::auth::sha256(b"1"))
    );
    assert_eq!(page.events[2].changes[1].content_sha256, None);
    let after = store_audit(&h.kv, 1, Some(page.events[1].log_index), 10);
    assert_eq!(after.events.len(), 1);
    let first_page = store_audit(&h.kv, 1, None, 1);
    assert_eq!(first_page.next_after, Some(page.events[0].log_index));
}

#[test]
fn replaying_the_same_proposals_gives_byte_identical_state() {
    fn run() -> MemoryKv {
        let mut h = Harness::new();
        h.ok(vec![write("/a", "1"), write("/dir/b", "2")]);
        h.txn(vec![write_if("/a", "x", Precondition::IfVersion(7))]);
        h.ok(vec![replace("/a", "1", "one"), insert("/dir/b", 0, "zero")]);
        h.command(
            Command::Txn {
                store: store(),
                ops: vec![write("/c", "3")],
            },
            Some("k"),
        );
        h.ok(vec![rename("/c", "/d", false), delete("/dir", true)]);
        h.kv
    }
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    assert_eq!(
        state_digest(&first).unwrap(),
        state_digest(&second).unwrap()
    );
    let mut changed = second.clone();
    changed.put(Table::Meta, b"x", b"y").unwrap();
    assert_ne!(
        state_digest(&first).unwrap(),
        state_digest(&changed).unwrap()
    );
}

#[test]
fn count_occurrences_handles_multibyte_text() {
    assert_eq!(count_occurrences("ééé", "éé"), 2);
    assert_eq!(count_occurrences("日本日本", "日本"), 2);
    assert_eq!(count_occurrences("abc", "d"), 0);
}

/// Every refusal of `Proposal::check` is also `apply`'s answer, and leaves
/// every table as it was (not even the idempotency key is remembered).
#[test]
fn apply_refuses_what_check_refuses_and_changes_nothing() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", "text")]);
    let base = |ops: Vec<WriteOp>| Proposal {
        meta: Meta {
            time_ms: h.time_ms + 10,
            agent: "agent-1".into(),
            session: "session-1".into(),
            idempotency_key: Some("refused".into()),
            limits: Limits::default(),
            principal: Some(OPERATOR.into()),
            request_id: "req".into(),
        },
        command: Command::Txn {
            store: store(),
            ops,
        },
    };
    let mut refused = vec![
        base(vec![]),
        base(vec![write("/b", "x"), rename("/a", "/a", false)]),
        base(vec![replace("/a", "", "x")]),
    ];
    let mut long_agent = base(vec![write("/b", "x")]);
    long_agent.meta.agent = "x".repeat(257);
    refused.push(long_agent);
    let mut too_many = base(vec![write("/b", "x"), write("/c", "y")]);
    too_many.meta.limits.txn_ops_max = 1;
    refused.push(too_many);
    let mut too_large = base(vec![write("/b", "12345")]);
    too_large.meta.limits.file_bytes_max = 4;
    refused.push(too_large);
    let mut too_deep = base(vec![write("/b/c/d", "x")]);
    too_deep.meta.limits.path_depth_max = 2;
    refused.push(too_deep);

    for proposal in refused {
        let refusal = proposal.check().unwrap_err();
        let before = h.kv.clone();
        let outcome = apply(&mut h.kv, h.log_index + 1, &proposal).unwrap();
        assert_eq!(outcome, refusal.clone().into_outcome());
        assert_eq!(h.kv, before, "refused ({refusal}) yet the tables changed");
    }
    assert_eq!(h.revision(), 1);
}

/// A read view that fails any read of `Table::Content`, to show which reads
/// never touch content.
struct WithoutContent<'a>(&'a MemoryKv);

impl KvRead for WithoutContent<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if table == Table::Content {
            return Err(StorageError::corrupt("content was read"));
        }
        self.0.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: crate::kv::Visit<'_>,
    ) -> Result<(), StorageError> {
        if table == Table::Content {
            return Err(StorageError::corrupt("content was scanned"));
        }
        self.0.scan(table, start, end, reverse, visit)
    }
}

#[test]
fn metadata_reads_never_load_content() {
    let mut h = Harness::new();
    h.ok(vec![write("/d/a", "one"), write("/d/b", "two")]); // r1
    h.ok(vec![replace("/d/a", "one", "three"), delete("/d/b", false)]); // r2
    let kv = WithoutContent(&h.kv);
    let a = path("/d/a");
    let meta = read::stat(&kv, &store(), &a, At::Current).unwrap();
    assert_eq!((meta.version, meta.bytes), (2, 5));
    let old = read::stat(&kv, &store(), &a, At::Revision(1)).unwrap();
    assert_eq!((old.version, old.bytes), (1, 3));
    let dir = DirPath::parse("/d", &Limits::default()).unwrap();
    for revision in [None, Some(1), Some(2)] {
        let options = ListOptions {
            depth: None,
            revision,
        };
        let listing = read::list(&kv, &store(), &dir, options).unwrap();
        let sizes: Vec<_> = listing.entries.iter().map(|e| e.bytes).collect();
        let expected = match revision {
            Some(1) => vec![Some(3), Some(3)],
            _ => vec![Some(5)],
        };
        assert_eq!(sizes, expected, "as of {revision:?}");
    }
    let history = read::history(&kv, &store(), &a, None, 10, false).unwrap();
    let sizes: Vec<_> = history.versions.iter().map(|v| v.bytes).collect();
    assert_eq!(sizes, vec![Some(5), Some(3)]);
    assert_eq!(store_audit(&kv, 1, None, 10).events.len(), 3);

    // Reading content does go to the content table: the wrapper is not vacuous.
    assert!(read::read_file(&kv, &store(), &a, At::Current).is_err());
    assert!(read::history(&kv, &store(), &a, None, 10, true).is_err());
    let history = read::history(&h.kv, &store(), &a, None, 10, true).unwrap();
    let contents: Vec<_> = history.versions.iter().map(|v| v.content.clone()).collect();
    assert_eq!(contents, vec![Some("three".into()), Some("one".into())]);
}

fn rows(kv: &MemoryKv, table: Table) -> usize {
    kv.tables.get(&table).map_or(0, |rows| rows.len())
}

#[test]
fn content_is_one_row_per_live_version_and_goes_with_its_store() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", "1"), write("/b", "2")]);
    h.ok(vec![delete("/a", false), rename("/b", "/c", false)]);
    // Two writes and a rename's new version have content; deletes have none.
    assert_eq!(rows(&h.kv, Table::Content), 3);
    assert_eq!(rows(&h.kv, Table::Versions), 5);
    assert_eq!(h.read("/c").as_deref(), Some("2"));

    let Outcome::StoreDeleted(_) = h.command(Command::DeleteStore { store: store() }, None) else {
        panic!("the store was not deleted")
    };
    assert_eq!(
        rows(&h.kv, Table::Audit),
        5,
        "audit events outlive their store"
    );
    for table in [Table::Files, Table::Versions, Table::Content] {
        assert_eq!(
            rows(&h.kv, table),
            0,
            "{table:?} kept rows of a deleted store"
        );
    }
}

#[test]
fn a_version_whose_content_row_is_missing_is_corruption_not_an_answer() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", "text")]);
    let store_id = read::get_store(&h.kv, &store()).unwrap().id;
    h.kv.delete(Table::Content, &codec::content_key(store_id, "/a", 1))
        .unwrap();
    assert!(matches!(
        read::read_file(&h.kv, &store(), &path("/a"), At::Current),
        Err(ReadErrorKind::Storage(_))
    ));
    let proposal = Proposal {
        meta: Meta {
            time_ms: h.time_ms + 10,
            agent: String::new(),
            session: String::new(),
            idempotency_key: None,
            limits: Limits::default(),
            principal: Some(OPERATOR.into()),
            request_id: "req".into(),
        },
        command: Command::Txn {
            store: store(),
            ops: vec![replace("/a", "text", "new")],
        },
    };
    assert!(apply(&mut h.kv, h.log_index + 1, &proposal).is_err());
}

/// Reads take any `KvRead`, trait objects included, so an adapter can read
/// without naming the storage crate's reader type.
#[test]
fn reads_work_through_a_trait_object() {
    let mut h = Harness::new();
    h.ok(vec![write("/a", "text")]);
    let kv: &dyn KvRead = &h.kv;
    assert_eq!(
        read::read_file(kv, &store(), &path("/a"), At::Current)
            .unwrap()
            .content,
        "text"
    );
    assert_eq!(read::list_stores(kv, None).unwrap().len(), 1);
    let dir = DirPath::root();
    assert_eq!(
        read::list(kv, &store(), &dir, ListOptions::default())
            .unwrap()
            .entries
            .len(),
        1
    );
}

/// Rollbacks are planned on a read and applied as one transaction with a
/// precondition per file: to a file's version, a tree's revision, and
/// undoing a session (with someone else's later change as a conflict).
#[test]
fn rollbacks_plan_each_target_and_refuse_a_stale_plan() {
    use crate::read::{RollbackStep, RollbackTarget, plan_rollback, rollback_ops};
    let mut h = Harness::new();
    let by = |h: &mut Harness, session: &str, ops: Vec<WriteOp>| {
        h.log_index += 1;
        h.time_ms += 10;
        let proposal = Proposal {
            meta: Meta {
                time_ms: h.time_ms,
                agent: format!("agent-{session}"),
                session: session.to_string(),
                idempotency_key: None,
                limits: h.limits,
                principal: Some(OPERATOR.into()),
                request_id: "r".into(),
            },
            command: Command::Txn {
                store: store(),
                ops,
            },
        };
        match apply(&mut h.kv, h.log_index, &proposal).unwrap() {
            Outcome::Txn(result) => result.revision,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        by(&mut h, "s1", vec![write("/a", "a1"), write("/b", "b1")]),
        1
    );
    assert_eq!(by(&mut h, "s2", vec![write("/a", "a2")]), 2);
    assert_eq!(
        by(&mut h, "s1", vec![write("/c", "c1"), delete("/b", false)]),
        3
    );
    let step = |path: &str, current: Option<u64>, restore: Option<u64>| RollbackStep {
        path: path.to_string(),
        current,
        restore,
    };

    let file = RollbackTarget::File {
        path: path("/a"),
        version: 1,
    };
    let plan = plan_rollback(&h.kv, &store(), &file).unwrap();
    assert_eq!(
        (plan.planned_at, plan.steps.clone()),
        (3, vec![step("/a", Some(2), Some(1))])
    );

    let session = plan_rollback(&h.kv, &store(), &RollbackTarget::Session("s1".into())).unwrap();
    assert_eq!(
        session.steps,
        vec![step("/a", Some(2), None), step("/c", Some(3), None)]
    );
    assert_eq!(session.conflicts.len(), 1);
    assert_eq!(
        (
            session.conflicts[0].path.as_str(),
            session.conflicts[0].version
        ),
        ("/a", 2)
    );

    let tree = RollbackTarget::Tree {
        dir: DirPath::root(),
        revision: 1,
    };
    let plan = plan_rollback(&h.kv, &store(), &tree).unwrap();
    assert_eq!(
        plan.steps,
        vec![
            step("/a", Some(2), Some(1)),
            step("/b", None, Some(1)),
            step("/c", Some(3), None)
        ]
    );
    let ops = rollback_ops(&h.kv, &store(), &plan).unwrap();

    // A change after planning makes the plan stale: refused, nothing changes.
    by(&mut h, "s3", vec![write("/c", "c2")]);
    let stale = h.command(
        Command::Rollback {
            store: store(),
            planned_at: plan.planned_at,
            ops: ops.clone(),
        },
        None,
    );
    assert!(
        matches!(
            stale,
            Outcome::Failed {
                error: CoreError::VersionConflict { .. },
                ..
            }
        ),
        "{stale:?}"
    );

    // Planned again, it applies at one new revision.
    let plan = plan_rollback(&h.kv, &store(), &tree).unwrap();
    let ops = rollback_ops(&h.kv, &store(), &plan).unwrap();
    let Outcome::Txn(result) = h.command(
        Command::Rollback {
            store: store(),
            planned_at: plan.planned_at,
            ops,
        },
        None,
    ) else {
        panic!()
    };
    assert_eq!(result.revision, 5);
    assert_eq!(
        (h.read("/a"), h.read("/b"), h.read("/c")),
        (Some("a1".into()), Some("b1".into()), None)
    );
    // Rolling back to where the tree already is plans nothing.
    let again = RollbackTarget::Tree {
        dir: DirPath::root(),
        revision: 5,
    };
    assert!(
        plan_rollback(&h.kv, &store(), &again)
            .unwrap()
            .steps
            .is_empty()
    );
}

/// Retention keeps at most `versions_max` versions per written file and
/// none older than `retain_ms` (the newest always); the quota refuses a
/// write that would grow the store past `bytes_max`, changing nothing.
#[test]
fn retention_prunes_written_files_and_the_quota_refuses_growth() {
    use crate::governance::StorePolicy;
    let mut h = Harness::new();
    let policy = |h: &mut Harness, policy: StorePolicy| {
        let outcome = h.command(
            Command::SetStorePolicy {
                store: store(),
                policy,
            },
            None,
        );
        assert!(matches!(outcome, Outcome::StoreUpdated(_)), "{outcome:?}");
    };
    let versions = |h: &Harness, p: &str| -> Vec<u64> {
        read::history(&h.kv, &store(), &path(p), None, 100, false)
            .unwrap()
            .versions
            .iter()
            .map(|version| version.version)
            .collect()
    };
    for n in 0..4 {
        h.ok(vec![write("/a", &format!("a{n}")), write("/b", "b")]);
    }
    assert_eq!(versions(&h, "/a"), vec![4, 3, 2, 1]);
    policy(
        &mut h,
        StorePolicy {
            versions_max: Some(2),
            ..StorePolicy::default()
        },
    );
    // Pruning happens when a file is written.
    assert_eq!(versions(&h, "/a").len(), 4);
    h.ok(vec![write("/a", "a4")]);
    assert_eq!(versions(&h, "/a"), vec![5, 4]);
    assert_eq!(versions(&h, "/b").len(), 4, "/b was not written");
    assert_eq!(h.read("/a").as_deref(), Some("a4"));
    // Pruned content is gone with its record; the audit trail is not.
    let store_id = read::get_store(&h.kv, &store()).unwrap().id;
    assert_eq!(
        h.kv.get(Table::Content, &codec::content_key(store_id, "/a", 1))
            .unwrap(),
        None
    );
    assert_eq!(
        store_events(&h.kv).len(),
        1 + 5 + 1,
        "the creation, five writes and the policy"
    );

    // By age: versions older than retain_ms go, the newest stays however old.
    policy(
        &mut h,
        StorePolicy {
            retain_ms: Some(15),
            ..StorePolicy::default()
        },
    );
    h.time_ms += 1_000;
    h.ok(vec![write("/a", "a5"), write("/b", "b2")]);
    assert_eq!(versions(&h, "/a"), vec![6]);
    assert_eq!(versions(&h, "/b"), vec![6]);

    // The quota: growth past bytes_max is refused and changes nothing;
    // shrinking is always allowed.
    policy(
        &mut h,
        StorePolicy {
            bytes_max: Some(6),
            ..StorePolicy::default()
        },
    );
    let (_, error) = h.fails(vec![write("/c", "12345")]);
    assert!(
        matches!(&error, CoreError::LimitExceeded { limit, max: 6, actual: 9 } if limit == "store_bytes_max"),
        "{error:?}"
    );
    h.ok(vec![write("/c", "1")]);
    h.ok(vec![write("/a", "")]);
}
/// The change feed reads each revision once, in order, skips events that
/// made no revision (a policy change), and resumes anywhere; a batch limit
/// cuts it without losing a revision.
#[test]
fn the_change_feed_has_every_revision_once_and_only_changes() {
    use crate::read::watch::changes_after;
    let mut h = Harness::new();
    let id = read::get_store(&h.kv, &store()).unwrap().id;
    assert!(changes_after(&h.kv, id, 0, 10).unwrap().is_empty());
    h.ok(vec![write("/a", "1"), write("/b", "2")]);
    for _ in 0..3 {
        // Events at the same revision, between changes: not changes.
        let outcome = h.command(
            Command::SetStorePolicy {
                store: store(),
                policy: crate::governance::StorePolicy::default(),
            },
            None,
        );
        assert!(matches!(outcome, Outcome::StoreUpdated(_)), "{outcome:?}");
    }
    h.ok(vec![delete("/a", false)]);
    h.ok(vec![rename("/b", "/c", false)]);
    h.ok(vec![write("/d", "4")]);

    let all = changes_after(&h.kv, id, 0, 100).unwrap();
    let revisions: Vec<u64> = all.iter().map(|event| event.revision).collect();
    assert_eq!(revisions, vec![1, 2, 3, 4]);
    let first: Vec<(&str, OpKind, Option<u64>)> = all[0]
        .changes
        .iter()
        .map(|change| (change.path.as_str(), change.op, change.version))
        .collect();
    assert_eq!(
        first,
        vec![
            ("/a", OpKind::Write, Some(1)),
            ("/b", OpKind::Write, Some(1))
        ]
    );
    assert_eq!(all[1].changes[0].version, None);
    assert_eq!(
        (all[0].agent.as_str(), all[0].session.as_str()),
        ("agent-1", "session-1")
    );
    // Resumed after any revision, in batches of one.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let batch = changes_after(&h.kv, id, after, 1).unwrap();
        let Some(last) = batch.last() else { break };
        after = last.revision;
        seen.extend(batch.into_iter().map(|event| event.revision));
    }
    assert_eq!(seen, revisions);
    assert!(changes_after(&h.kv, id, 4, 10).unwrap().is_empty());
    assert!(changes_after(&h.kv, id, u64::MAX, 10).unwrap().is_empty());
    // Another store's feed is its own.
    assert!(changes_after(&h.kv, id + 1, 0, 10).unwrap().is_empty());
}

/// Search pages end at the match limit or when the files or bytes a page
/// may read are spent, and following the cursors finds every match once.
#[test]
fn search_pages_end_at_each_limit_and_cursors_lose_nothing() {
    use crate::read::search::{Pattern, SearchMode, SearchRequest, search};
    let mut h = Harness::new();
    for file in 0..4 {
        let content: String = (0..3)
            .map(|line| format!("hit {file}.{line}\nmiss\n"))
            .collect();
        h.ok(vec![write(&format!("/d/{file}"), &content)]);
    }
    h.ok(vec![write("/other", "hit outside\n")]);
    let pattern = Pattern::new("hit", false).unwrap();
    let prefix = DirPath::parse("/d", &Limits::default()).unwrap();
    let run = |matches_max: u64, files_max: u64, bytes_max: u64| {
        let mut request = SearchRequest {
            mode: SearchMode::Lexical,
            pattern: &pattern,
            prefix: &prefix,
            revision: None,
            after: None,
            matches_max,
            files_max,
            bytes_max,
        };
        let mut found = Vec::new();
        let mut pages = 0;
        loop {
            let page = search(&h.kv, &store(), &request).unwrap();
            pages += 1;
            assert!(page.files_scanned <= files_max.max(1));
            found.extend(page.matches.into_iter().map(|m| (m.path, m.line_number)));
            match page.next {
                Some(next) => request.after = Some(next),
                None => return (found, pages),
            }
        }
    };
    let expected: Vec<(String, u64)> = (0..4)
        .flat_map(|file| (0..3).map(move |line| (format!("/d/{file}"), 2 * line + 1)))
        .collect();
    // By matches: 12 matches, 5 a page.
    assert_eq!(run(5, 100, u64::MAX), (expected.clone(), 3));
    // By files: one file a page.
    assert_eq!(run(100, 1, u64::MAX), (expected.clone(), 4));
    // By bytes: each file is read whole, then the page ends.
    assert_eq!(run(100, 100, 1), (expected.clone(), 4));
    // As of revision 2, only the first two files existed.
    let past = SearchRequest {
        mode: SearchMode::Lexical,
        pattern: &pattern,
        prefix: &prefix,
        revision: Some(2),
        after: None,
        matches_max: 100,
        files_max: 100,
        bytes_max: u64::MAX,
    };
    let page = search(&h.kv, &store(), &past).unwrap();
    assert_eq!(page.matches.len(), 6);
    assert_eq!(page.revision, 2);
}

mod redact;
