//! `kill -9` the leader under write load: a new leader within a few election
//! timeouts, writes go on, every acknowledged write is readable afterwards
//! from every node, and the old leader rejoins and converges.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_client::At;
use cairn_client::WriteOptions;

use crate::Cluster;

const STORE: &str = "memories";
const WRITERS: u64 = 6;

/// One acknowledged write.
#[derive(Debug, Clone)]
struct Ack {
    path: String,
    version: u64,
    content: String,
    at: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_killed_under_write_load_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(3, "").await;
    cluster.client(2).create_store(STORE).await.unwrap();

    // Writes through every node, leader or not.
    for id in 1..=3 {
        let written = cluster
            .client(id)
            .write_file(
                STORE,
                &format!("/via/{id}.md"),
                format!("from {id}"),
                &WriteOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(written.path, format!("/via/{id}.md"));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let clients: Vec<_> = (1..=3)
            .map(|id| cluster.client(id).with_timeout(Duration::from_secs(5)))
            .collect();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            let path = format!("/load/writer-{writer}.md");
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let content = format!("writer {writer} round {round}");
                // Agents behind a load balancer: each attempt goes to the next node.
                let client = &clients[(round as usize + writer as usize) % clients.len()];
                if let Ok(written) = client
                    .write_file(STORE, &path, content.clone(), &WriteOptions::default())
                    .await
                {
                    acks.push(Ack {
                        path: path.clone(),
                        version: written.version,
                        content,
                        at: Instant::now(),
                    });
                }
            }
            acks
        }));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let old = cluster.leader().await;
    let killed_at = Instant::now();
    cluster.node_mut(old).kill();
    let survivors = cluster.running();
    let new = cluster.leader_among(&survivors).await;
    let election = killed_at.elapsed();
    assert_ne!(new, old);
    // Election timeouts are 300–600 ms: a few of them, with slack for a busy machine.
    assert!(
        election < Duration::from_secs(10),
        "new leader after {election:?}"
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acks: Vec<Ack> = Vec::new();
    for writer in writers {
        acks.extend(writer.await.unwrap());
    }
    let after_kill = acks
        .iter()
        .filter(|ack| ack.at > killed_at + election)
        .count();
    assert!(
        after_kill > 0,
        "no write succeeded after the new leader was elected"
    );

    cluster.node_mut(old).spawn();
    cluster.node_mut(old).wait_ready().await;
    let all = cluster.running();
    assert_eq!(all.len(), 3);
    cluster.converged(&all).await;

    for id in all {
        let client = cluster.client(id);
        for ack in &acks {
            let read = read_retrying(&client, &ack.path, At::Version(ack.version))
                .await
                .unwrap_or_else(|e| panic!("node {id}: {ack:?}: {e}"));
            assert_eq!(read.content, ack.content, "node {id}: {ack:?}");
        }
        for via in 1..=3 {
            let read = read_retrying(&client, &format!("/via/{via}.md"), At::Current)
                .await
                .unwrap();
            assert_eq!(read.content, format!("from {via}"));
        }
    }
}

/// A linearizable read, tried again while the answer is retryable
/// (`unavailable` when a read-index round found no quorum in time on a busy
/// machine): what the test claims is that the write is there, not that every
/// first attempt is answered.
async fn read_retrying(
    client: &cairn_client::Client,
    path: &str,
    at: At,
) -> Result<cairn_client::FileRead, cairn_client::ClientError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.read_file(STORE, path, at).await {
            Err(error) if error.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            result => return result,
        }
    }
}
