//! The change feed across a leader's death: a client follows the store on
//! the leader while writers write through every node, the leader is killed
//! mid-stream, and the client resumes on another node with the last revision
//! it saw. What it received, in all, is every committed revision exactly
//! once, in order, and every acknowledged write is in it at its version.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_client::{WatchChange, WatchEvent, WatchQuery, WriteOptions};

use crate::Cluster;

const STORE: &str = "feed";
const WRITERS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watch_resumed_on_another_node_after_the_leader_dies_sees_every_change_once() {
    let mut cluster = Cluster::start(3, "").await;
    cluster.client(1).create_store(STORE).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let clients: Vec<_> = (1..=3)
            .map(|id| cluster.client(id).with_timeout(Duration::from_secs(5)))
            .collect();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            // (path, version) of every acknowledged write.
            let mut acks = Vec::new();
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let path = format!("/w{writer}/{}.md", round % 5);
                let client = &clients[(round as usize + writer as usize) % clients.len()];
                match client
                    .write_file(STORE, &path, format!("{round}"), &WriteOptions::default())
                    .await
                {
                    Ok(written) => acks.push((path, written.version)),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            acks
        }));
    }

    // Follow the feed on the leader from the first revision.
    let leader = cluster.leader().await;
    let mut received: Vec<WatchChange> = Vec::new();
    let mut stream = cluster
        .client(leader)
        .watch(
            STORE,
            WatchQuery {
                from_revision: Some(1),
                ..WatchQuery::default()
            },
            None,
        )
        .await
        .unwrap();
    while received.len() < 20 {
        match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
            Ok(Ok(Some(WatchEvent::Change(change)))) => received.push(change),
            Ok(Ok(Some(WatchEvent::Heartbeat(_)))) => {}
            other => panic!("before the kill: {other:?}"),
        }
    }

    // Kill the leader mid-stream; the stream breaks (or just stops).
    cluster.node_mut(leader).kill();
    loop {
        match tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
            Ok(Ok(Some(WatchEvent::Change(change)))) => received.push(change),
            Ok(Ok(Some(WatchEvent::Heartbeat(_)))) => {}
            _ => break,
        }
    }
    let last_seen = stream.last_event_id();
    assert_eq!(last_seen, received.last().map(|change| change.revision));
    drop(stream);

    // Let the writers go on under the new leader, then stop them.
    let survivors = cluster.running();
    cluster.leader_among(&survivors).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acks = Vec::new();
    for writer in writers {
        acks.extend(writer.await.unwrap());
    }
    let after_kill = acks
        .iter()
        .filter(|(_, version)| Some(*version) > last_seen)
        .count();
    assert!(after_kill > 0, "no write was acknowledged after the kill");

    // Resume on a follower that survived, up to the final revision.
    let resume_on = *survivors.iter().find(|&&id| id != leader).unwrap();
    let client = cluster.client(resume_on);
    let final_revision = loop {
        match client.get_store(STORE).await {
            Ok(info) => break info.revision,
            Err(error) if error.is_retryable() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("store info: {error}"),
        }
    };
    let query = WatchQuery {
        until_revision: Some(final_revision),
        ..WatchQuery::default()
    };
    let mut stream = client.watch(STORE, query, last_seen).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
            Ok(Ok(Some(WatchEvent::Change(change)))) => received.push(change),
            Ok(Ok(Some(WatchEvent::Heartbeat(_)))) => {}
            Ok(Ok(Some(WatchEvent::End(_)))) => break,
            other => panic!("after resuming on node {resume_on}: {other:?}"),
        }
    }

    // Exactly the committed revisions, once each, in order.
    let revisions: Vec<u64> = received.iter().map(|change| change.revision).collect();
    let expected: Vec<u64> = (1..=final_revision).collect();
    assert_eq!(revisions, expected);
    // Every acknowledged write is in the change at its version.
    let by_revision: BTreeMap<u64, &WatchChange> = received
        .iter()
        .map(|change| (change.revision, change))
        .collect();
    for (path, version) in &acks {
        let change = by_revision
            .get(version)
            .unwrap_or_else(|| panic!("no change at revision {version} for {path}"));
        assert!(
            change
                .changes
                .iter()
                .any(|c| &c.path == path && c.version == Some(*version)),
            "{path}@{version} not in {change:?}"
        );
    }
}
