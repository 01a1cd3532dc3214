//! `cairn checkout|status|commit|pull` and `cairn import-dir|export-dir` on
//! the real binary against a real node, with real folders.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_client::api::AuditQuery;
use cairn_client::{At, Client, WriteOptions};
use cairn_tests::NodeProcess;

use crate::{start_single, start_single_with};

/// Runs the CLI; (exit code, stdout, stderr).
fn cli(node: &NodeProcess, args: &[&str]) -> (i32, String, String) {
    node.cli(args, None)
}

#[track_caller]
fn ok(node: &NodeProcess, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli(node, args);
    assert_eq!(code, 0, "cairn {args:?} failed: {stdout}\n{stderr}");
    stdout
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

async fn content(client: &Client, store: &str, path: &str) -> Option<String> {
    match client.read_file(store, path, At::Current).await {
        Ok(read) => Some(read.content),
        Err(error) if error.is(cairn_client::ErrorCode::NotFound) => None,
        Err(error) => panic!("read {path}: {error}"),
    }
}

async fn version_count(client: &Client, store: &str, path: &str) -> usize {
    client
        .history(store, path, None, None, false)
        .await
        .unwrap()
        .versions
        .len()
}

/// Every regular file under `root`, by relative path, with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_edit_commit_conflict_and_pull() {
    let single = start_single().await;
    let (node, client) = (&single.node, &single.client);
    client.create_store("desk").await.unwrap();
    let put = |path: &'static str, text: &'static str| async move {
        client
            .write_file("desk", path, text, &WriteOptions::default())
            .await
            .unwrap()
    };
    put("/notes/a.md", "alpha\n").await;
    put("/notes/b.md", "beta\n").await;
    put("/c.md", "gamma\n").await;
    put("/old.md", "old\n").await;

    // Phase 1: checkout writes the tree and a state file; a non-empty folder
    // that is not this store's checkout is refused.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desk");
    let dir_arg = path_str(&dir);
    let out = ok(node, &["checkout", "desk", dir_arg]);
    assert!(out.contains("checked out 4 files"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes/a.md")).unwrap(),
        "alpha\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("c.md")).unwrap(),
        "gamma\n"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(".cairn/checkout.json")).unwrap()).unwrap();
    assert_eq!(state["store"], "desk");
    assert_eq!(state["files"]["/notes/a.md"]["version"], 1);

    let other = work.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("mine.txt"), "do not touch").unwrap();
    let (code, _, stderr) = cli(node, &["checkout", "desk", path_str(&other)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not_empty"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(other.join("mine.txt")).unwrap(),
        "do not touch"
    );

    let out = ok(node, &["status", dir_arg]);
    assert!(out.contains("nothing changed"), "{out}");

    // Phase 2: edit, add, delete; status lists each by content, not mtime.
    std::fs::write(dir.join("notes/a.md"), "alpha, edited\n").unwrap();
    std::fs::write(dir.join("notes/new.md"), "new\n").unwrap();
    std::fs::remove_file(dir.join("c.md")).unwrap();
    // Rewritten with the same bytes: not a change.
    std::fs::write(dir.join("notes/b.md"), "beta\n").unwrap();
    let out = ok(node, &["status", dir_arg]);
    assert!(out.contains("added     /notes/new.md"), "{out}");
    assert!(out.contains("modified  /notes/a.md"), "{out}");
    assert!(out.contains("deleted   /c.md"), "{out}");
    assert!(!out.contains("/notes/b.md"), "{out}");
    let json = ok(node, &["status", dir_arg, "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["added"], serde_json::json!(["/notes/new.md"]));

    // Phase 3: commit with no concurrent change: one transaction, the
    // message in its audit event. A blank message is refused by the node
    // and changes nothing.
    let revision_before = client.get_store("desk").await.unwrap().revision;
    let (code, _, stderr) = cli(node, &["commit", dir_arg, "-m", "  "]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: invalid_request"), "{stderr}");
    assert_eq!(
        client.get_store("desk").await.unwrap().revision,
        revision_before
    );
    assert!(ok(node, &["status", dir_arg]).contains("added     /notes/new.md"));
    let out = ok(node, &["commit", dir_arg, "-m", "tidy the desk"]);
    assert!(out.contains("committed 3 changes"), "{out}");
    assert_eq!(
        content(client, "desk", "/notes/a.md").await.as_deref(),
        Some("alpha, edited\n")
    );
    assert_eq!(
        content(client, "desk", "/notes/new.md").await.as_deref(),
        Some("new\n")
    );
    assert_eq!(content(client, "desk", "/c.md").await, None);
    let events = client
        .store_audit("desk", AuditQuery::default())
        .await
        .unwrap()
        .records;
    let last = events.last().unwrap();
    assert_eq!(last.operation, "txn");
    assert_eq!(last.detail.as_deref(), Some("tidy the desk"));
    assert_eq!(last.changes.len(), 3, "{last:?}");
    assert!(ok(node, &["status", dir_arg]).contains("nothing changed"));
    assert!(ok(node, &["commit", dir_arg]).contains("nothing to commit"));

    // Phase 4: someone else changes two of the files this checkout edits.
    std::fs::write(dir.join("notes/a.md"), "alpha, mine\n").unwrap();
    std::fs::write(dir.join("notes/b.md"), "beta, mine\n").unwrap();
    std::fs::write(dir.join("notes/x.md"), "x, mine\n").unwrap();
    std::fs::write(dir.join("old.md"), "old, mine\n").unwrap();
    put("/notes/a.md", "alpha, theirs\n").await;
    client
        .delete_file("desk", "/notes/b.md", false, None, None)
        .await
        .unwrap();
    put("/notes/x.md", "x, theirs\n").await;
    let revision_before = client.get_store("desk").await.unwrap().revision;

    let (code, stdout, stderr) = cli(node, &["commit", dir_arg, "-m", "lost update?"]);
    assert_eq!(code, 1, "stdout {stdout} stderr {stderr}");
    assert!(stderr.starts_with("error: version_conflict"), "{stderr}");
    for path in ["/notes/a.md", "/notes/b.md", "/notes/x.md"] {
        assert!(stderr.contains(path), "{path} not named: {stderr}");
    }
    assert!(!stderr.contains("/old.md"), "{stderr}");
    // Nothing was applied, nothing overwritten, the local edits are intact.
    assert_eq!(
        client.get_store("desk").await.unwrap().revision,
        revision_before
    );
    assert_eq!(
        content(client, "desk", "/notes/a.md").await.as_deref(),
        Some("alpha, theirs\n")
    );
    assert_eq!(
        content(client, "desk", "/old.md").await.as_deref(),
        Some("old\n")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes/a.md")).unwrap(),
        "alpha, mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("old.md")).unwrap(),
        "old, mine\n"
    );

    // Phase 5: pull. Changed on both sides: the local file stays and the
    // server's version is written beside it; deleted there and changed
    // here: kept; a remote-only change comes in.
    put("/notes/remote-only.md", "from elsewhere\n").await;
    let a_version = client
        .stat("desk", "/notes/a.md", At::Current)
        .await
        .unwrap()
        .version;
    let x_version = client
        .stat("desk", "/notes/x.md", At::Current)
        .await
        .unwrap()
        .version;
    let out = ok(node, &["pull", dir_arg]);
    assert!(out.contains("updated   /notes/remote-only.md"), "{out}");
    assert!(out.contains("kept      /notes/b.md"), "{out}");
    let a_copy = format!("notes/a.md.conflict-{a_version}");
    let x_copy = format!("notes/x.md.conflict-{x_version}");
    assert!(out.contains(&format!("/{a_copy}")), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes/a.md")).unwrap(),
        "alpha, mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(&a_copy)).unwrap(),
        "alpha, theirs\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(&x_copy)).unwrap(),
        "x, theirs\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes/b.md")).unwrap(),
        "beta, mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes/remote-only.md")).unwrap(),
        "from elsewhere\n"
    );
    let out = ok(node, &["status", dir_arg]);
    assert!(out.contains(&format!("conflict  /{a_copy}")), "{out}");
    assert!(!out.contains("added     /notes/a.md.conflict"), "{out}");

    // A commit waits until the conflict copies are gone.
    let (code, _, stderr) = cli(node, &["commit", dir_arg]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("unresolved_conflict"), "{stderr}");
    assert!(stderr.contains(&a_copy), "{stderr}");

    // Resolved (merged by hand, copies deleted), the commit goes through.
    std::fs::write(dir.join("notes/a.md"), "alpha, merged\n").unwrap();
    std::fs::remove_file(dir.join(&a_copy)).unwrap();
    std::fs::remove_file(dir.join(&x_copy)).unwrap();
    let out = ok(node, &["commit", dir_arg, "-m", "merged"]);
    assert!(out.contains("committed 4 changes"), "{out}");
    assert_eq!(
        content(client, "desk", "/notes/a.md").await.as_deref(),
        Some("alpha, merged\n")
    );
    assert_eq!(
        content(client, "desk", "/notes/b.md").await.as_deref(),
        Some("beta, mine\n")
    );
    assert_eq!(
        content(client, "desk", "/notes/x.md").await.as_deref(),
        Some("x, mine\n")
    );
    assert_eq!(
        content(client, "desk", "/old.md").await.as_deref(),
        Some("old, mine\n")
    );
    // Their versions are in the history, not lost.
    assert_eq!(version_count(client, "desk", "/notes/a.md").await, 4);

    // Phase 6: a file the store cannot hold is named by status and commit,
    // and the commit sends nothing.
    std::fs::write(
        dir.join("notes/photo.bin"),
        [0x89, b'P', b'N', b'G', 0xff, 0x00],
    )
    .unwrap();
    std::fs::write(dir.join("notes/a.md"), "alpha, after the photo\n").unwrap();
    let out = ok(node, &["status", dir_arg]);
    assert!(
        out.contains("refused   /notes/photo.bin: not_utf8"),
        "{out}"
    );
    let revision_before = client.get_store("desk").await.unwrap().revision;
    let (code, _, stderr) = cli(node, &["commit", dir_arg]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("unstorable") && stderr.contains("/notes/photo.bin"),
        "{stderr}"
    );
    assert_eq!(
        client.get_store("desk").await.unwrap().revision,
        revision_before
    );

    // Phase 7: checkout into the folder again is a pull, not a refusal.
    std::fs::remove_file(dir.join("notes/photo.bin")).unwrap();
    let out = ok(node, &["checkout", "desk", dir_arg]);
    assert!(out.contains("already a checkout of desk"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_retried_after_a_lost_answer_applies_once() {
    let single = start_single().await;
    let (node, client) = (&single.node, &single.client);
    client.create_store("retry").await.unwrap();
    client
        .write_file("retry", "/a.md", "one\n", &WriteOptions::default())
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("retry");
    let dir_arg = path_str(&dir);
    ok(node, &["checkout", "retry", dir_arg]);
    let state_file = dir.join(".cairn/checkout.json");

    // The server applies the commit but its answer never arrives: the state
    // file, written only after the answer, is as it was before.
    std::fs::write(dir.join("a.md"), "two\n").unwrap();
    std::fs::write(dir.join("b.md"), "new\n").unwrap();
    let before = std::fs::read(&state_file).unwrap();
    ok(node, &["commit", dir_arg, "-m", "once"]);
    let after_first = std::fs::read(&state_file).unwrap();
    let revision = client.get_store("retry").await.unwrap().revision;
    std::fs::write(&state_file, &before).unwrap();

    // The retry carries the same idempotency key: answered with the first
    // outcome, applied once, and the state file ends as the first left it.
    let out = ok(node, &["commit", dir_arg, "-m", "once"]);
    assert!(out.contains("committed 2 changes"), "{out}");
    assert_eq!(client.get_store("retry").await.unwrap().revision, revision);
    assert_eq!(version_count(client, "retry", "/a.md").await, 2);
    assert_eq!(version_count(client, "retry", "/b.md").await, 1);
    assert_eq!(std::fs::read(&state_file).unwrap(), after_first);
    assert!(ok(node, &["status", dir_arg]).contains("nothing changed"));

    // A real client timeout (1 ms: the answer cannot arrive in time; the
    // request may or may not have reached the node), then the retry.
    std::fs::write(dir.join("a.md"), "three\n").unwrap();
    let (code, _, stderr) = cli(node, &["commit", dir_arg, "--timeout-ms", "1"]);
    assert!(code == 3 || code == 0, "{code} {stderr}");
    let out = ok(node, &["commit", dir_arg]);
    assert!(
        out.contains("committed 1 changes") || out.contains("nothing to commit"),
        "{out}"
    );
    assert_eq!(version_count(client, "retry", "/a.md").await, 3);
    assert_eq!(
        content(client, "retry", "/a.md").await.as_deref(),
        Some("three\n")
    );

    // The same change made again after being undone is a new commit, not a
    // retry answered from the old key.
    std::fs::remove_file(dir.join("b.md")).unwrap();
    ok(node, &["commit", dir_arg]);
    assert_eq!(content(client, "retry", "/b.md").await, None);
    std::fs::write(dir.join("b.md"), "new\n").unwrap();
    ok(node, &["commit", dir_arg]);
    assert_eq!(
        content(client, "retry", "/b.md").await.as_deref(),
        Some("new\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_dir_and_export_dir_round_trip_a_nested_unicode_tree() {
    // A node with a small transaction limit, so the import's transactions
    // (256 files by default) are refused as too large and split.
    let single = start_single_with("[limits]\ntxn_ops_max = 16\n").await;
    let (node, client) = (&single.node, &single.client);
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("memories");
    let files: Vec<(String, String)> = (0..40)
        .map(|n| {
            (
                format!("daily/{n:03}.md"),
                format!("# Day {n}\n\nnotes of day {n}\n"),
            )
        })
        .chain([
            ("café/résumé.md".to_string(), "crème brûlée\n".to_string()),
            ("日本語/メモ.md".to_string(), "こんにちは\n".to_string()),
            ("a/b/c/d/deep.md".to_string(), "deep\n".to_string()),
            ("emoji 🦀.md".to_string(), "ferris\n".to_string()),
            ("empty.md".to_string(), String::new()),
        ])
        .collect();
    for (path, text) in &files {
        let file = source.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    // Phase 1: a non-UTF-8 file: nothing is imported (the store is not even
    // made) and the file is named.
    std::fs::write(
        source.join("daily/scan.pdf"),
        [0x25, 0x50, 0x44, 0x46, 0xe2, 0xe3],
    )
    .unwrap();
    let (code, _, stderr) = cli(node, &["import-dir", path_str(&source), "mem"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("/daily/scan.pdf: not_utf8"), "{stderr}");
    assert!(client.get_store("mem").await.is_err());
    std::fs::remove_file(source.join("daily/scan.pdf")).unwrap();

    // Phase 2: the import, in transactions the server accepts. Standard
    // output is a pipe here, so no progress bar is drawn.
    let (code, out, stderr) = cli(node, &["import-dir", path_str(&source), "mem"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "", "no progress bar unless stdout is a terminal");
    assert!(
        out.contains(&format!("imported {} files", files.len())),
        "{out}"
    );
    let transactions: u64 = out
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no transaction count in {out}"));
    assert!(
        transactions >= 3,
        "45 files at most 16 a transaction: {out}"
    );
    let store = client.get_store("mem").await.unwrap();
    assert_eq!(store.file_count, files.len() as u64);
    assert_eq!(
        content(client, "mem", "/日本語/メモ.md").await.as_deref(),
        Some("こんにちは\n")
    );

    // Running it again changes nothing: every transaction is answered from
    // its idempotency key.
    ok(node, &["import-dir", path_str(&source), "mem"]);
    assert_eq!(
        client.get_store("mem").await.unwrap().revision,
        store.revision
    );

    // A file that exists with other content stops the import; --overwrite
    // replaces it.
    std::fs::write(source.join("café/résumé.md"), "changed\n").unwrap();
    let (code, _, stderr) = cli(node, &["import-dir", path_str(&source), "mem"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("version_conflict"), "{stderr}");
    ok(
        node,
        &["import-dir", path_str(&source), "mem", "--overwrite"],
    );
    assert_eq!(
        content(client, "mem", "/café/résumé.md").await.as_deref(),
        Some("changed\n")
    );

    // Phase 3: export-dir writes the same tree, byte for byte.
    let exported = work.path().join("exported");
    let out = ok(node, &["export-dir", "mem", path_str(&exported)]);
    assert!(
        out.contains(&format!("exported {} files", files.len())),
        "{out}"
    );
    assert_eq!(tree(&exported), tree(&source));
    // Into a folder that is not empty: refused, nothing written.
    let (code, _, stderr) = cli(node, &["export-dir", "mem", path_str(&source)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not_empty"), "{stderr}");

    // Phase 4: --skip-unstorable imports the rest and names what it skipped.
    std::fs::write(source.join("binary.dat"), [0u8, 159, 146, 150]).unwrap();
    let out = ok(
        node,
        &["import-dir", path_str(&source), "mem2", "--skip-unstorable"],
    );
    assert!(out.contains("skipped 1 files"), "{out}");
    assert!(out.contains("/binary.dat: not_utf8"), "{out}");
    assert_eq!(
        client.get_store("mem2").await.unwrap().file_count,
        files.len() as u64
    );
}
