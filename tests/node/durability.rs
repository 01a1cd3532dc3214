//! Every acknowledged write survives `kill -9`: its content is readable at its
//! version, and the path's history lists every acknowledged version.

use std::collections::BTreeMap;

use cairn_client::At;
use cairn_client::EntryKind;
use cairn_client::{Client, WriteOptions};

use crate::{expect_problem, start_single};

const STORE: &str = "durable";
const WRITES: usize = 200;
const PATHS: usize = 60;

/// What the client was told: per path, every acknowledged version in order,
/// with its content (`None` for a delete).
type Oracle = BTreeMap<String, Vec<(u64, Option<String>)>>;

fn record(oracle: &mut Oracle, path: &str, version: u64, content: Option<String>) {
    let versions = oracle.entry(path.to_string()).or_default();
    if let Some((last, _)) = versions.last() {
        assert!(version > *last, "{path}: version {version} after {last}");
    }
    versions.push((version, content));
}

/// Every acknowledged change is at a newer store revision than the one before.
fn advance(last_revision: &mut u64, revision: u64) {
    assert!(
        revision > *last_revision,
        "revision {revision} after {last_revision}"
    );
    *last_revision = revision;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let mut single = start_single().await;
    let client = single.client.clone().with_agent("durability");
    client.create_store(STORE).await.unwrap();
    let mut oracle = Oracle::new();
    let mut last_revision = 0;

    // Phase 1: writes, with overwrites (200 writes over 60 paths).
    for index in 0..WRITES {
        let path = format!("/notes/topic-{}/file-{}.md", index % 7, index % PATHS);
        let content = format!("write {index} of {path}\nline two\n");
        let written = client
            .write_file(STORE, &path, &content, &WriteOptions::default())
            .await
            .unwrap();
        assert_eq!(written.path, path);
        assert_eq!(written.version, written.revision);
        advance(&mut last_revision, written.revision);
        record(&mut oracle, &path, written.version, Some(content));
    }

    // Phase 2: one of each other kind of change.
    let replaced_path = "/notes/topic-0/file-0.md";
    let before = oracle[replaced_path].last().unwrap().1.clone().unwrap();
    let result = client
        .str_replace(STORE, replaced_path, "line two", "line 2", None, None)
        .await
        .unwrap();
    assert_eq!(result.changes.len(), 1);
    let version = result.changes[0]
        .version
        .expect("str_replace keeps the file");
    record(
        &mut oracle,
        replaced_path,
        version,
        Some(before.replace("line two", "line 2")),
    );
    advance(&mut last_revision, result.revision);

    let deleted_path = "/notes/topic-1/file-1.md";
    let result = client
        .delete_file(STORE, deleted_path, false, None, None)
        .await
        .unwrap();
    assert_eq!(result.changes.len(), 1);
    assert_eq!(result.changes[0].version, None);
    record(&mut oracle, deleted_path, result.revision, None);
    advance(&mut last_revision, result.revision);

    let inserted_path = "/notes/topic-2/file-2.md";
    let before = oracle[inserted_path].last().unwrap().1.clone().unwrap();
    let result = client
        .insert(STORE, inserted_path, 1, "inserted", None, None)
        .await
        .unwrap();
    let version = result.changes[0].version.expect("insert keeps the file");
    let (first, rest) = before.split_once('\n').unwrap();
    record(
        &mut oracle,
        inserted_path,
        version,
        Some(format!("{first}\ninserted\n{rest}")),
    );
    advance(&mut last_revision, result.revision);

    // Phase 3: kill -9, restart.
    single.node.kill();
    single.node.spawn();
    single.node.wait_ready().await;
    // The same client: its idle connections died with the old process, and
    // it must notice and dial again.

    // Phase 4: everything acknowledged is there, and nothing else.
    let store = client.get_store(STORE).await.unwrap();
    assert_eq!(store.revision, last_revision);
    for (path, versions) in &oracle {
        check_path(&client, path, versions).await;
    }
    let listing = client.list(STORE, "/", None, None).await.unwrap();
    let listed: BTreeMap<String, u64> = listing
        .entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::File)
        .map(|entry| (entry.path.clone(), entry.version.unwrap()))
        .collect();
    let live: BTreeMap<String, u64> = oracle
        .iter()
        .filter_map(|(path, versions)| match versions.last() {
            Some((version, Some(_))) => Some((path.clone(), *version)),
            _ => None,
        })
        .collect();
    assert_eq!(listed, live);
    assert_eq!(store.file_count, live.len() as u64);
}

async fn check_path(client: &Client, path: &str, versions: &[(u64, Option<String>)]) {
    // The current state.
    match versions.last().unwrap() {
        (version, Some(content)) => {
            let read = client.read_file(STORE, path, At::Current).await.unwrap();
            assert_eq!((&read.content, read.version), (content, *version), "{path}");
        }
        (_, None) => {
            expect_problem(
                client.read_file(STORE, path, At::Current).await,
                404,
                "not_found",
            );
        }
    }
    // Every acknowledged version, by version.
    for (version, content) in versions {
        if let Some(content) = content {
            let read = client
                .read_file(STORE, path, At::Version(*version))
                .await
                .unwrap();
            assert_eq!(&read.content, content, "{path}@{version}");
            assert_eq!(read.version, *version, "{path}@{version}");
        }
    }
    // The history lists exactly those versions, newest first.
    let page = client
        .history(STORE, path, Some(1000), None, true)
        .await
        .unwrap();
    assert_eq!(page.next_before, None, "{path}: one page holds the history");
    let listed: Vec<(u64, Option<String>)> = page
        .versions
        .iter()
        .map(|version| (version.version, version.content.clone()))
        .collect();
    let expected: Vec<(u64, Option<String>)> = versions.iter().rev().cloned().collect();
    assert_eq!(listed, expected, "{path}: history");
    for version in &page.versions {
        assert_eq!(version.agent, "durability");
    }
}
