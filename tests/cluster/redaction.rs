//! A string redaction takes a secret off every replica's disk. A 3-node
//! cluster holds a unique secret in several versions of several files; one
//! follower is killed; the secret is redacted; the follower comes back and
//! catches up (by snapshot: the others purged the log that carried it). Then
//! no file under any node's data directory holds the secret's bytes — redb
//! files, received snapshots, logs — while every other file and version reads back
//! as it was, on every node, and the state digests are equal.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_client::api::RedactRequest;
use cairn_client::{At, WriteOptions};

use crate::Cluster;

const STORE: &str = "vault";
/// How long the nodes may take to scrub the secret off their disks.
const SCRUB_DEADLINE: Duration = Duration::from_secs(120);

/// 32 hex digits no other run and no other file holds.
fn unique_secret() -> String {
    let half = || RandomState::new().build_hasher().finish();
    format!("{:016x}{:016x}", half(), half())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file under the nodes' data directories whose bytes hold `secret`,
/// and how many files were scanned.
fn files_holding(cluster: &Cluster, secret: &str) -> (Vec<PathBuf>, usize) {
    let mut files = Vec::new();
    for node in &cluster.nodes {
        files_under(&node.data_dir, &mut files);
    }
    let holding = files
        .iter()
        .filter(|path| {
            std::fs::read(path).is_ok_and(|bytes| {
                bytes
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes())
            })
        })
        .cloned()
        .collect();
    (holding, files.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redacted_secret_leaves_every_replicas_disk() {
    let mut cluster = Cluster::start(3, "").await;
    let leader = cluster.leader().await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let client = cluster.client(leader);
    client.create_store(STORE).await.unwrap();
    let secret = unique_secret();
    let options = WriteOptions::default();

    // The secret in two versions of one file and in a file deleted since;
    // other files and versions that never held it.
    let write = |path: &'static str, content: String| {
        let client = client.clone();
        let options = options.clone();
        async move {
            client
                .write_file(STORE, path, content, &options)
                .await
                .unwrap()
                .version
        }
    };
    let a1 = write("/notes/a.md", format!("token: {secret}\n")).await;
    let a2 = write(
        "/notes/a.md",
        format!("token: {secret}\nand {secret} again\n"),
    )
    .await;
    let b1 = write("/notes/b.md", "nothing secret\n".to_string()).await;
    let b2 = write("/notes/b.md", "nothing secret, version two\n".to_string()).await;
    let c1 = write("/old/c.md", secret.clone()).await;
    client
        .delete_file(STORE, "/old/c.md", false, None, None)
        .await
        .unwrap();
    cluster.converged(&[1, 2, 3]).await;
    let (holding, _) = files_holding(&cluster, &secret);
    assert!(
        !holding.is_empty(),
        "the secret is on no disk before the redaction: the scan proves nothing"
    );

    cluster.node_mut(follower).kill();
    let result = client
        .redact(
            STORE,
            &RedactRequest {
                string: Some(secret.clone()),
                reason: "a token was pasted into memory".into(),
                ..RedactRequest::default()
            },
        )
        .await
        .unwrap();
    let mut redacted: Vec<(String, u64)> = result
        .versions
        .iter()
        .map(|version| (version.path.clone(), version.version))
        .collect();
    redacted.sort();
    assert_eq!(
        redacted,
        vec![
            ("/notes/a.md".to_string(), a1),
            ("/notes/a.md".to_string(), a2),
            ("/old/c.md".to_string(), c1),
        ]
    );
    let rewritten = result.rewritten[0].version.unwrap();
    assert_eq!(result.rewritten.len(), 1);

    cluster.node_mut(follower).spawn();
    cluster.node_mut(follower).wait_ready().await;
    cluster.converged(&[1, 2, 3]).await;

    // Every node reads the other files and versions as they were, and the
    // redacted ones with the marker, marked redacted.
    for id in 1..=3 {
        let client = cluster.client(id);
        let read = |path: &'static str, at: At| {
            let client = client.clone();
            async move { client.read_file(STORE, path, at).await.unwrap().content }
        };
        assert_eq!(
            read("/notes/b.md", At::Version(b1)).await,
            "nothing secret\n"
        );
        assert_eq!(
            read("/notes/b.md", At::Current).await,
            "nothing secret, version two\n"
        );
        assert_eq!(
            read("/notes/b.md", At::Version(b2)).await,
            "nothing secret, version two\n"
        );
        let live = "token: [REDACTED]\nand [REDACTED] again\n";
        assert_eq!(read("/notes/a.md", At::Current).await, live);
        assert_eq!(read("/notes/a.md", At::Version(a2)).await, live);
        assert_eq!(
            read("/notes/a.md", At::Version(a1)).await,
            "token: [REDACTED]\n"
        );
        assert_eq!(read("/old/c.md", At::Version(c1)).await, "[REDACTED]");
        let meta = client
            .stat(STORE, "/notes/a.md", At::Version(a1))
            .await
            .unwrap();
        let redaction = meta.redaction.expect("a1 is marked redacted");
        assert!(redaction.redacted && !redaction.whole);
        assert_eq!(redaction.principal, "operator");
        let current = client
            .stat(STORE, "/notes/a.md", At::Current)
            .await
            .unwrap();
        assert_eq!(current.version, rewritten);
    }
    let audit = client.audit(STORE, None, None).await.unwrap();
    let event = audit.records.last().unwrap();
    assert_eq!(
        (event.operation.as_str(), event.detail.as_deref()),
        ("redact", Some("a token was pasted into memory"))
    );

    // The nodes scrub in the background: wait until no file holds the
    // secret, then stop them all and scan once more, byte by byte.
    let started = Instant::now();
    loop {
        let (holding, _) = files_holding(&cluster, &secret);
        if holding.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < SCRUB_DEADLINE,
            "after {SCRUB_DEADLINE:?} the secret is still in {holding:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let digest = cluster.converged(&[1, 2, 3]).await;
    assert!(!digest.is_empty());
    for id in 1..=3 {
        cluster.node_mut(id).kill();
    }
    let (holding, scanned) = files_holding(&cluster, &secret);
    assert!(holding.is_empty(), "the secret is still in {holding:?}");
    // Each node's log and state (no snapshot file is kept).
    assert!(scanned >= 6, "only {scanned} files scanned");
}
