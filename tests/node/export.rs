//! `cairn export` / `cairn import` through the real binary: a store with
//! several files, many versions, a rename, a delete, redactions, a rollback
//! and two agents round-trips into a new store with every history, content
//! and audit event equal; truncated and altered archives, an existing name
//! and a read-only token are refused with nothing created.

use std::path::Path;

use bytes::Bytes;
use cairn_archive as archive;
use cairn_client::api::{Access, CreateTokenRequest, RedactRequest, Role, RollbackRequest};
use cairn_client::{Client, WriteOptions};

use crate::{expect_problem, start_single};

/// Every record of the archive at `path`, checked.
fn read_archive(path: &Path) -> Vec<archive::Entry> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = archive::Reader::new(std::io::BufReader::new(file));
    let mut entries = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        entries.push(record.entry);
    }
    reader.finish().unwrap();
    entries
}

fn versions(entries: &[archive::Entry]) -> Vec<(archive::Version, Option<String>)> {
    entries
        .iter()
        .filter_map(|entry| match entry {
            archive::Entry::Version(version, content) => Some((version.clone(), content.clone())),
            _ => None,
        })
        .collect()
}

fn events(entries: &[archive::Entry]) -> Vec<archive::Event> {
    entries
        .iter()
        .filter_map(|entry| match entry {
            archive::Entry::Event(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

async fn put(client: &Client, store: &str, path: &str, content: &str) -> u64 {
    client
        .write_file(store, path, content, &WriteOptions::default())
        .await
        .unwrap()
        .version
}

/// A store with a bit of everything: two agents in two sessions, many
/// versions, a rename, a delete, a string and a whole-version redaction, a
/// rollback, a policy, non-ASCII text and content without a final newline.
async fn fill(operator: &Client, store: &str) {
    operator.create_store(store).await.unwrap();
    let planner = operator.clone().with_agent("planner").with_session("s-1");
    let writer = operator.clone().with_agent("writer").with_session("s-2");
    for round in 0..12 {
        let client = if round % 2 == 0 { &planner } else { &writer };
        put(
            client,
            store,
            "/log.md",
            &format!("entry {round}\n").repeat(round + 1),
        )
        .await;
        put(
            client,
            store,
            "/notes/todo.md",
            &format!("- item {round}\n- ünïcode ✓"),
        )
        .await;
    }
    put(&planner, store, "/notes/old-name.md", "to be renamed\n").await;
    planner
        .rename(
            store,
            "/notes/old-name.md",
            "/notes/new-name.md",
            false,
            None,
            None,
        )
        .await
        .unwrap();
    put(&writer, store, "/gone.md", "short-lived\n").await;
    writer
        .delete_file(store, "/gone.md", false, None, None)
        .await
        .unwrap();
    writer
        .str_replace(
            store,
            "/notes/todo.md",
            "item 11",
            "item eleven",
            None,
            None,
        )
        .await
        .unwrap();
    writer
        .insert(store, "/log.md", 0, "# log\n", None, None)
        .await
        .unwrap();
    let secret_version = put(
        &planner,
        store,
        "/secret.md",
        "api key: hunter2-xyzzy\nkeep me\n",
    )
    .await;
    put(&planner, store, "/secret.md", "rotated, nothing secret\n").await;
    operator
        .redact(
            store,
            &RedactRequest {
                path: None,
                version: None,
                string: Some("hunter2-xyzzy".into()),
                path_prefix: None,
                reason: "leaked key".into(),
            },
        )
        .await
        .unwrap();
    let log = operator
        .history(store, "/log.md", Some(100), None, false)
        .await
        .unwrap();
    let oldest = log.versions.last().unwrap().version;
    operator
        .redact(
            store,
            &RedactRequest {
                path: Some("/log.md".into()),
                version: Some(oldest),
                string: None,
                path_prefix: None,
                reason: "whole version".into(),
            },
        )
        .await
        .unwrap();
    let todo = operator
        .history(store, "/notes/todo.md", Some(100), None, false)
        .await
        .unwrap();
    let earlier = todo.versions[5].version;
    operator
        .rollback(
            store,
            &RollbackRequest {
                path: Some("/notes/todo.md".into()),
                to_version: Some(earlier),
                to_revision: None,
                session: None,
                agent: None,
                force: false,
                dry_run: false,
            },
            None,
        )
        .await
        .unwrap();
    assert!(secret_version > 0);
}

#[tokio::test]
async fn a_store_round_trips_through_an_archive_and_bad_archives_change_nothing() {
    let single = start_single().await;
    let operator = &single.client;
    let dir = single.dir.path();
    fill(operator, "notes").await;
    let original = operator.get_store("notes").await.unwrap();

    // Export.
    let archive_path = dir.join("notes.cairn");
    let path_text = archive_path.to_str().unwrap();
    let (code, stdout, stderr) = single.node.cli(&["export", "notes", path_text], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("exported store \"notes\""), "{stdout}");
    assert!(!dir.join("notes.cairn.partial").exists());
    let bytes = std::fs::read(&archive_path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("hunter2"), "redacted text left the node");
    let exported = read_archive(&archive_path);
    let exported_versions = versions(&exported);
    let exported_events = events(&exported);
    match &exported[0] {
        archive::Entry::Header(header) => {
            assert_eq!(header.store.name, "notes");
            assert_eq!(header.store.revision, original.revision);
        }
        other => panic!("the archive begins with {other:?}"),
    }
    assert!(exported_versions.len() > 30, "{}", exported_versions.len());
    assert!(
        exported_versions
            .iter()
            .any(|(v, c)| v.redaction.as_ref().is_some_and(|r| r.whole) && c.is_none())
    );
    assert!(
        exported_versions
            .iter()
            .any(|(v, c)| v.redaction.as_ref().is_some_and(|r| !r.whole)
                && c.as_deref().is_some_and(|c| c.contains("keep me")))
    );
    assert!(
        exported_versions
            .iter()
            .any(|(v, _)| v.renamed_from.as_deref() == Some("/notes/old-name.md"))
    );
    assert!(
        exported_versions
            .iter()
            .any(|(v, _)| v.op == "delete" && v.path == "/gone.md")
    );
    for agent in ["planner", "writer"] {
        assert!(exported_versions.iter().any(|(v, _)| v.agent == agent));
    }
    assert!(
        exported_versions
            .iter()
            .all(|(v, _)| v.principal.as_deref() == Some("operator"))
    );
    assert!(exported_events.iter().any(|e| e.op == "rollback"));
    assert!(exported_events.iter().any(|e| e.op == "redact"));

    // Import into a new store: every history, content and event equal.
    let (code, stdout, stderr) = single.node.cli(&["import", path_text, "copy"], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("imported store \"copy\""), "{stdout}");
    let copy = operator.get_store("copy").await.unwrap();
    assert_eq!(
        (
            copy.revision,
            copy.file_count,
            copy.bytes_total,
            copy.policy
        ),
        (
            original.revision,
            original.file_count,
            original.bytes_total,
            original.policy
        )
    );
    assert_ne!(copy.id, original.id);
    let mut paths: Vec<&str> = exported_versions
        .iter()
        .map(|(v, _)| v.path.as_str())
        .collect();
    paths.dedup();
    assert!(paths.len() >= 6, "{paths:?}");
    for path in &paths {
        let before = operator
            .history("notes", path, Some(1000), None, true)
            .await
            .unwrap();
        let after = operator
            .history("copy", path, Some(1000), None, true)
            .await
            .unwrap();
        assert_eq!(before, after, "history of {path}");
    }
    assert_eq!(
        operator
            .list("notes", "/", None, None)
            .await
            .unwrap()
            .entries,
        operator
            .list("copy", "/", None, None)
            .await
            .unwrap()
            .entries
    );
    let verified = operator.verify_audit("copy").await.unwrap();
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.events, exported_events.len() as u64 + 1);

    // The copy exported again holds the same versions, field for field, and
    // the same events followed by the import's own.
    let again_path = dir.join("copy.cairn");
    let (code, stdout, stderr) = single
        .node
        .cli(&["export", "copy", again_path.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let again = read_archive(&again_path);
    assert_eq!(versions(&again), exported_versions);
    let again_events = events(&again);
    assert_eq!(again_events[..exported_events.len()], exported_events[..]);
    let import_event = &again_events[exported_events.len()];
    assert_eq!(import_event.op, "import");
    assert_eq!(import_event.prev_hash, exported_events.last().unwrap().hash);
    assert_eq!(import_event.store.as_deref(), Some("copy"));

    // The copy goes on from the original's revision.
    let next = put(operator, "copy", "/after.md", "written after the import\n").await;
    assert_eq!(next, original.revision + 1);
    assert!(operator.verify_audit("copy").await.unwrap().ok);

    // A truncated archive and a one-byte change are refused before anything
    // is sent: no store, no import.
    let truncated = dir.join("truncated.cairn");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let content_at = text.find("entry 5").unwrap();
    let mut altered_bytes = bytes.clone();
    altered_bytes[content_at] ^= 0x01;
    let altered = dir.join("altered.cairn");
    std::fs::write(&altered, &altered_bytes).unwrap();
    for (file, store, expected) in [
        (&truncated, "cut", "truncated"),
        (&altered, "tampered", "does not match"),
    ] {
        let (code, stdout, stderr) = single
            .node
            .cli(&["import", file.to_str().unwrap(), store], None);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(
            stderr.contains("invalid_archive") && stderr.contains(expected),
            "{stderr}"
        );
        expect_problem(operator.get_store(store).await, 404, "not_found");
    }
    assert!(operator.imports().await.unwrap().imports.is_empty());

    // The server checks on its own: an altered chunk is refused, and an
    // archive without its trailer cannot be committed; an abort leaves nothing.
    let import = operator.import_begin("direct").await.unwrap();
    expect_problem(
        operator
            .import_chunk(import.id, Bytes::from(altered_bytes.clone()), "k-altered")
            .await,
        400,
        "invalid_archive",
    );
    let trailer_at = text.rfind("{\"type\":\"trailer\"").unwrap();
    let staged = operator
        .import_chunk(
            import.id,
            Bytes::copy_from_slice(&bytes[..trailer_at]),
            "k-body",
        )
        .await
        .unwrap();
    assert!(!staged.complete);
    assert_eq!(staged.versions, exported_versions.len() as u64);
    expect_problem(
        operator.import_commit(import.id).await,
        400,
        "invalid_archive",
    );
    expect_problem(operator.get_store("direct").await, 404, "not_found");
    operator.import_abort(import.id).await.unwrap();
    assert!(operator.imports().await.unwrap().imports.is_empty());
    expect_problem(operator.import_commit(import.id).await, 404, "not_found");

    // One record per chunk stages the same as the whole archive: the node
    // resumes the archive at every record boundary. A chunk sent again once
    // staged is refused, not staged twice.
    let import = operator.import_begin("by-record").await.unwrap();
    let mut reader = archive::Reader::new(&bytes[..]);
    let mut sent = 0;
    while let Some(record) = reader.next_record().unwrap() {
        let record = Bytes::from(record.bytes);
        let key = format!("record-{sent}");
        operator
            .import_chunk(import.id, record.clone(), &key)
            .await
            .unwrap();
        if sent == 1 {
            expect_problem(
                operator.import_chunk(import.id, record.clone(), &key).await,
                409,
                "idempotency_key_reused",
            );
            expect_problem(
                operator
                    .import_chunk(import.id, record, "another-key")
                    .await,
                400,
                "invalid_archive",
            );
        }
        sent += 1;
    }
    assert_eq!(sent, exported.len());
    let by_record = operator.import_commit(import.id).await.unwrap();
    assert_eq!(by_record.revision, original.revision);
    for path in &paths {
        let before = operator
            .history("notes", path, Some(1000), None, true)
            .await
            .unwrap();
        let after = operator
            .history("by-record", path, Some(1000), None, true)
            .await
            .unwrap();
        assert_eq!(before, after, "history of {path}");
    }
    assert!(operator.verify_audit("by-record").await.unwrap().ok);

    // An existing name is refused.
    let (code, _, stderr) = single.node.cli(&["import", path_text, "notes"], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("already_exists"), "{stderr}");

    // A user who may only read cannot import (but may export what they read).
    operator
        .create_user("default", "reader", Role::Member)
        .await
        .unwrap();
    operator
        .grant("notes", "reader", Access::Read)
        .await
        .unwrap();
    let token = operator
        .create_token(
            "default",
            "reader",
            &CreateTokenRequest {
                agent: None,
                expires_in_s: None,
            },
        )
        .await
        .unwrap()
        .token;
    let reader = Client::new(&single.node.url())
        .unwrap()
        .with_token(token.clone());
    expect_problem(reader.import_begin("mine").await, 403, "forbidden");
    let (code, _, stderr) = single
        .node
        .cli(&["--token", &token, "import", path_text, "mine"], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("forbidden"), "{stderr}");
    expect_problem(operator.get_store("mine").await, 404, "not_found");
    let reader_copy = dir.join("reader.cairn");
    let (code, stdout, stderr) = single.node.cli(
        &[
            "--token",
            &token,
            "export",
            "notes",
            reader_copy.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(versions(&read_archive(&reader_copy)), exported_versions);
}
