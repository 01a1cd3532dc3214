//! The `cairn` CLI against a real node: output, exit codes, raw bytes.

use cairn_tests::free_port;

use crate::start_single;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_round_trip_and_exit_codes() {
    let single = start_single().await;
    let node = &single.node;
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let (code, stdout, stderr) = node.cli(args, stdin);
        (code, stdout, stderr)
    };
    let ok = |args: &[&str], stdin: Option<&[u8]>| {
        let (code, stdout, stderr) = run(args, stdin);
        assert_eq!(code, 0, "cairn {args:?} failed: {stderr}");
        stdout
    };

    // Phase 1: a store and a file written from standard input.
    let out = ok(&["store", "create", "clistore"], None);
    assert!(out.contains("clistore"), "{out}");
    let out = ok(
        &["put", "clistore", "/notes/a.md", "--agent", "cli-test"],
        Some(b"hello\nworld"),
    );
    assert!(out.starts_with("/notes/a.md version "), "{out}");

    // `cat` prints the content exactly, without an added newline.
    assert_eq!(
        ok(&["cat", "clistore", "/notes/a.md"], None),
        "hello\nworld"
    );

    // Phase 2: edits and what they leave behind.
    let out = ok(
        &["replace", "clistore", "/notes/a.md", "world", "cairn"],
        None,
    );
    assert!(out.contains("/notes/a.md version "), "{out}");
    assert_eq!(
        ok(&["cat", "clistore", "/notes/a.md"], None),
        "hello\ncairn"
    );

    let log = ok(&["log", "clistore", "/notes/a.md"], None);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two versions:\n{log}");
    assert!(lines[1].contains("str_replace"), "{log}");
    assert!(
        lines[2].contains("write") && lines[2].contains("cli-test"),
        "{log}"
    );

    let listing = ok(&["ls", "clistore"], None);
    assert!(listing.contains("/notes/"), "{listing}");
    assert!(listing.contains("/notes/a.md"), "{listing}");

    // `--json` prints the API's JSON.
    let json = ok(&["cat", "clistore", "/notes/a.md", "--json"], None);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["content"], "hello\ncairn");
    let json = ok(&["store", "list", "--json"], None);
    let list: cairn_client::api::StoreList = serde_json::from_str(&json).unwrap();
    assert_eq!(list.stores.len(), 1);
    assert_eq!(list.stores[0].name, "clistore");

    // Phase 3: refusals exit 1 with the stable code on stderr.
    let (code, stdout, stderr) = run(
        &["put", "clistore", "/notes/a.md", "--if-version", "999"],
        Some(b"lost update"),
    );
    assert_eq!(code, 1, "stdout {stdout:?} stderr {stderr:?}");
    assert!(stderr.starts_with("error: version_conflict"), "{stderr}");
    assert_eq!(
        ok(&["cat", "clistore", "/notes/a.md"], None),
        "hello\ncairn"
    );

    // Bytes go to the server as they are; it refuses what is not UTF-8.
    let (code, _, stderr) = run(&["put", "clistore", "/bin.md"], Some(&[0x61, 0xff, 0x62]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: not_utf8"), "{stderr}");

    let (code, _, stderr) = run(&["cat", "clistore", "/missing.md"], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: not_found"), "{stderr}");

    // Usage errors exit 2 (clap), an unreachable node 3.
    let (code, _, _) = run(&["cat", "clistore"], None);
    assert_eq!(code, 2);
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let (code, _, stderr) = run(&["cat", "clistore", "/notes/a.md", "--url", &nowhere], None);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.starts_with("error: transport"), "{stderr}");
}

/// `mv`, `replace` and `insert` are not idempotent by nature (a second insert
/// adds a second line; a second move finds no source), so a retry must carry
/// the first attempt's key: the node then answers the first outcome again and
/// applies the edit once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_edits_retried_with_their_key_apply_once() {
    let single = start_single().await;
    let node = &single.node;
    let run = |args: &[&str], stdin: Option<&[u8]>| node.cli(args, stdin);
    let ok = |args: &[&str], stdin: Option<&[u8]>| {
        let (code, stdout, stderr) = run(args, stdin);
        assert_eq!(code, 0, "cairn {args:?} failed: {stderr}");
        stdout
    };
    let twice = |args: &[&str]| {
        let first = ok(args, None);
        let second = ok(args, None);
        assert_eq!(
            first, second,
            "a retry of {args:?} answers the first outcome"
        );
        first
    };

    // Phase 1: a file to edit.
    ok(&["store", "create", "keys"], None);
    ok(&["put", "keys", "/a.md"], Some(b"one\ntwo\n"));

    // Phase 2: each edit sent twice with its key.
    twice(&[
        "insert",
        "keys",
        "/a.md",
        "0",
        "zero",
        "--idempotency-key",
        "k-insert",
    ]);
    twice(&[
        "replace",
        "keys",
        "/a.md",
        "two",
        "deux",
        "--idempotency-key",
        "k-replace",
    ]);
    let moved = twice(&["mv", "keys", "/a.md", "/b.md", "--idempotency-key", "k-mv"]);
    assert!(moved.contains("/b.md version "), "{moved}");

    // Phase 3: the file shows each edit once, and the audit log has the
    // store's creation and one record per edit: put, insert, replace, mv.
    let content = ok(&["cat", "keys", "/b.md"], None);
    assert_eq!(content.matches("zero").count(), 1, "{content:?}");
    assert_eq!(content.matches("deux").count(), 1, "{content:?}");
    let (code, _, stderr) = run(&["cat", "keys", "/a.md"], None);
    assert_eq!(code, 1, "{stderr}");
    let audit = ok(&["audit", "keys", "--json"], None);
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    let records = audit["records"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{audit:#}");
    assert_eq!(records[0]["operation"], "create_store", "{audit:#}");
    let keys: Vec<&str> = records
        .iter()
        .filter_map(|record| record["idempotency_key"].as_str())
        .filter(|key| key.starts_with("k-"))
        .collect();
    assert_eq!(keys, ["k-insert", "k-replace", "k-mv"]);

    // Phase 4: the same key on a different edit is refused, not applied.
    let (code, _, stderr) = run(
        &[
            "insert",
            "keys",
            "/b.md",
            "0",
            "again",
            "--idempotency-key",
            "k-insert",
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with("error: idempotency_key_reused"),
        "{stderr}"
    );
    assert!(!ok(&["cat", "keys", "/b.md"], None).contains("again"));
}
