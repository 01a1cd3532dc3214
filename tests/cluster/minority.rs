//! A node cut off from the majority (the others stopped with SIGSTOP) must
//! never acknowledge a write nor serve a linearizable read; once the others
//! resume, a retry with the same idempotency key is applied exactly once.

use std::time::{Duration, Instant};

use cairn_client::At;
use cairn_client::{ClientError, WriteOptions};

use crate::Cluster;

const STORE: &str = "notes";

fn assert_not_acknowledged<T: std::fmt::Debug>(result: Result<T, ClientError>, what: &str) {
    match result {
        Ok(value) => panic!("{what} succeeded on a minority: {value:?}"),
        Err(error) => assert!(
            matches!(error.code(), "timeout" | "unavailable" | "not_leader"),
            "{what}: unexpected {error:?}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_minority_never_acknowledges_and_retries_apply_once() {
    let cluster = Cluster::start(3, "").await;
    let leader = cluster.leader().await;
    let lone = (1..=3).find(|id| *id != leader).unwrap();
    let client = cluster.client(lone);
    client.create_store(STORE).await.unwrap();
    client
        .write_file(STORE, "/plan.md", "before", &WriteOptions::default())
        .await
        .unwrap();
    // The write was acknowledged once a majority held it, which need not
    // include this node: a linearizable read here waits until it applied it,
    // so the stale read below has it to show.
    client
        .read_file(STORE, "/plan.md", At::Current)
        .await
        .unwrap();

    let others: Vec<u64> = (1..=3).filter(|id| *id != lone).collect();
    for id in &others {
        cluster.node(*id).signal("STOP");
    }
    let during = WriteOptions {
        idempotency_key: Some("plan-during-partition".into()),
        ..WriteOptions::default()
    };
    let started = Instant::now();
    assert_not_acknowledged(
        client
            .write_file(STORE, "/plan.md", "during", &during)
            .await,
        "a write",
    );
    assert_not_acknowledged(
        client.read_file(STORE, "/plan.md", At::Current).await,
        "a linearizable read",
    );
    // The local replica still answers a stale read, with what it has.
    let stale = client
        .clone()
        .with_consistency(cairn_client::Consistency::Stale)
        .read_file(STORE, "/plan.md", At::Current)
        .await
        .unwrap();
    assert_eq!(stale.content, "before");
    assert!(started.elapsed() < Duration::from_secs(30));

    for id in &others {
        cluster.node(*id).signal("CONT");
    }
    // The first attempt may or may not have been applied once the others
    // resumed; the retry with the same key answers the one outcome.
    let deadline = Instant::now() + Duration::from_secs(30);
    let written = loop {
        match client
            .write_file(STORE, "/plan.md", "during", &during)
            .await
        {
            Ok(written) => break written,
            Err(error) if error.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("retry after healing: {error:?}"),
        }
    };
    let history = client
        .history(STORE, "/plan.md", Some(100), None, true)
        .await
        .unwrap();
    let applied = history
        .versions
        .iter()
        .filter(|version| version.content.as_deref() == Some("during"))
        .count();
    assert_eq!(applied, 1, "{history:?}");
    assert_eq!(history.versions[0].version, written.version);
    cluster.converged(&[1, 2, 3]).await;
}
