//! A node down while thousands of writes go by (and the log is purged
//! behind snapshots) catches up by snapshot; a fourth node added at run time
//! installs a snapshot and serves identical data; then a node is removed.

use std::time::{Duration, Instant};

use cairn_client::At;
use cairn_client::{Client, Consistency, WriteOptions};
use serde_json::Value;

use crate::Cluster;

const STORE: &str = "bulk";
const FILES: u64 = 1500;
const TASKS: u64 = 16;

/// Snapshots every 50 entries, keeping 10 behind: thousands of writes purge most of the log.
/// (The leader puts concurrent writes into one entry, so 1,500 writes from 16 clients make
/// only a few hundred entries.)
const SNAPSHOTS: &str = "snapshot_logs_since_last = 50\nmax_in_snapshot_log_to_keep = 10\n";

async fn write_many(clients: Vec<Client>, prefix: &str) {
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let client = clients[task as usize % clients.len()].clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for i in (task..FILES).step_by(TASKS as usize) {
                let path = format!("/{prefix}/{:02}/{i}.md", i % 37);
                client
                    .write_file(
                        STORE,
                        &path,
                        format!("content {i}"),
                        &WriteOptions::default(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{path}: {e}"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

fn index(status: &Value, field: &str) -> u64 {
    status[field].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lagging_and_new_nodes_catch_up_by_snapshot_then_a_node_leaves() {
    let mut cluster = Cluster::start(3, SNAPSHOTS).await;
    let leader = cluster.leader().await;
    let absent = (1..=3).find(|id| *id != leader).unwrap();
    cluster.client(leader).create_store(STORE).await.unwrap();
    cluster.node_mut(absent).kill();

    let live: Vec<Client> = cluster
        .running()
        .into_iter()
        .map(|id| cluster.client(id))
        .collect();
    write_many(live, "a").await;
    let status = cluster.status(leader).await.unwrap();
    let absent_has = status["matched"][absent.to_string()].as_u64().unwrap_or(0);
    assert!(
        index(&status, "purged_index") > absent_has + 10,
        "the leader purged the entries node {absent} lacks behind a snapshot: {status}"
    );

    // Back after a long absence: the entries it misses are gone from the
    // leader's log, so only a snapshot can bring it up to date.
    cluster.node_mut(absent).spawn();
    cluster.node_mut(absent).wait_ready().await;
    cluster.converged(&[1, 2, 3]).await;
    let back = cluster.status(absent).await.unwrap();
    assert!(index(&back, "snapshot_index") > 0, "{back}");

    // A fourth node, in another region, joins.
    let before = Instant::now();
    cluster.add_learner(4, "").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let leader_status = cluster.status(leader).await.unwrap();
        if let Some(status) = cluster.status(4).await
            && index(&status, "last_applied") >= index(&leader_status, "last_applied")
        {
            assert!(index(&status, "snapshot_index") > 0, "{status}");
            assert_eq!(status["state"], "Learner");
            break;
        }
        assert!(Instant::now() < deadline, "node 4 did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let digest = cluster.converged(&[1, 2, 3, 4]).await;
    assert!(!digest.is_empty());
    assert!(before.elapsed() < Duration::from_secs(60));

    // A learner serves stale reads from its replica, and linearizable ones
    // through the leader's read index.
    let replica = cluster.client(4);
    for i in [0, FILES / 2, FILES - 1] {
        let path = format!("/a/{:02}/{i}.md", i % 37);
        let stale = replica
            .clone()
            .with_consistency(Consistency::Stale)
            .read_file(STORE, &path, At::Current)
            .await
            .unwrap();
        assert_eq!(stale.content, format!("content {i}"));
        let linear = replica.read_file(STORE, &path, At::Current).await.unwrap();
        assert_eq!(linear.content, format!("content {i}"));
    }

    // Node 4 becomes a voter; another node leaves.
    cluster.promote(4).await;
    let leaving = (1..=3).find(|id| *id != leader).unwrap();
    cluster.remove(leaving, 4).await;
    cluster.node_mut(leaving).kill();
    let remaining: Vec<u64> = cluster.running();
    let new_leader = cluster.leader_among(&remaining).await;
    let status = cluster.status(new_leader).await.unwrap();
    let voters: Vec<u64> = status["voters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(!voters.contains(&leaving), "{status}");
    assert!(voters.contains(&4), "{status}");

    let clients: Vec<Client> = remaining.iter().map(|id| cluster.client(*id)).collect();
    write_many(clients, "b").await;
    cluster.converged(&remaining).await;
}
