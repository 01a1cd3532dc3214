//! A follower that was down while the others took 300 files of 1 MiB each
//! comes back and catches up by log replication. With the default
//! `max_payload_entries` (256), one append-entries batch of those entries
//! would be larger than the peer protocol's frame limit, and larger than one
//! RPC can carry within openraft's append-entries deadline: the leader must
//! split it, or the follower never catches up.

use std::time::{Duration, Instant};

use cairn_client::At;
use cairn_client::{Client, WriteOptions};

use crate::Cluster;

const STORE: &str = "large";
/// openraft 0.9 gives one append-entries RPC a single heartbeat interval to
/// be answered, and the follower answers after its fsync: the 50 ms of the
/// other cluster tests is too short for a 1 MiB entry in a debug build on a
/// busy two-core machine. Timed-out RPCs also provoke a debug assertion in
/// openraft 0.9.25 ("follower log reversion is not allowed", raised by a
/// late conflict answer), so the interval leaves ample room. Batching is
/// left at its defaults. The snapshot policy's byte bounds are lifted: at
/// their defaults the 300 MiB of entries would be snapshotted and purged, and
/// the follower would catch up by snapshot, not through the split batches
/// this test is about (`membership.rs` covers catching up by snapshot).
const TIMINGS: &str = "[raft]\nheartbeat_interval_ms = 1000\nelection_timeout_min_ms = 5000\nelection_timeout_max_ms = 10000\nsnapshot_log_bytes_since_last = 4294967296\nmax_in_snapshot_log_bytes_to_keep = 4294967296\n";
const FILES: usize = 300;
/// The default `limits.file_bytes_max`: the largest file a client may write.
const FILE_BYTES: usize = 1024 * 1024;
const WRITERS: usize = 4;
const WRITE_ATTEMPTS_MAX: u32 = 5;
/// How long the returning follower may take to hold what the others hold.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(180);

fn file_path(index: usize) -> String {
    format!("/big/file-{index:04}.md")
}

/// A file of exactly `FILE_BYTES`, different for every index.
fn file_content(index: usize) -> String {
    let head = format!("file {index:04}\n");
    let mut content = head.repeat(FILE_BYTES / head.len());
    content.push_str(&"x".repeat(FILE_BYTES - content.len()));
    content
}

/// Writes files `writer`, `writer + WRITERS`, … through `client`. A write
/// that times out on a busy machine is retried with its idempotency key, so
/// it is applied once: this test is about the follower, not the write path.
async fn write_share(client: Client, writer: usize) {
    for index in (writer..FILES).step_by(WRITERS) {
        let options = WriteOptions {
            idempotency_key: Some(format!("catch-up-{index}")),
            ..WriteOptions::default()
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = client
                .write_file(STORE, &file_path(index), file_content(index), &options)
                .await;
            match result {
                Ok(_) => break,
                Err(error)
                    if attempts < WRITE_ATTEMPTS_MAX
                        && matches!(error.code(), "timeout" | "unavailable") => {}
                Err(error) => panic!("write {}: {error}", file_path(index)),
            }
        }
    }
}

/// The last applied index node `id` reports, if it answers.
async fn last_applied(cluster: &Cluster, id: u64) -> Option<u64> {
    cluster.status(id).await?["last_applied"].as_u64()
}

/// The end of a node's log: enough to see why replication stalled.
fn log_tail(log: &str) -> &str {
    let mut start = log.len().saturating_sub(4000);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_catches_up_on_entries_larger_than_one_frame() {
    let mut cluster = Cluster::start_with_timings(3, TIMINGS, "").await;
    let leader = cluster.leader().await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let other = (1..=3).find(|id| *id != leader && *id != follower).unwrap();
    cluster.client(leader).create_store(STORE).await.unwrap();
    cluster.converged(&[1, 2, 3]).await;

    cluster.node_mut(follower).kill();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        // Half of the writers go through the other follower, which forwards.
        let via = if writer % 2 == 0 { leader } else { other };
        let client = cluster.client(via).with_timeout(Duration::from_secs(60));
        writers.push(tokio::spawn(write_share(client, writer)));
    }
    for writer in writers {
        if let Err(failed) = writer.await {
            panic!(
                "{failed}\nthe leader's log ends:\n{}",
                log_tail(&cluster.node(leader).log())
            );
        }
    }

    cluster.node_mut(follower).spawn();
    cluster.node_mut(follower).wait_ready().await;
    // Its index first (a status is cheap), then the digests once (each
    // reads all 300 MiB of the state).
    let returned_at = Instant::now();
    loop {
        let expected = last_applied(&cluster, leader).await;
        let actual = last_applied(&cluster, follower).await;
        if expected.is_some() && actual >= expected {
            break;
        }
        assert!(
            returned_at.elapsed() < CATCH_UP_DEADLINE,
            "node {follower} did not catch up in {CATCH_UP_DEADLINE:?}: \
             it applied {actual:?}, the leader {expected:?}\nthe leader's log ends:\n{}",
            log_tail(&cluster.node(leader).log())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.converged(&[leader, follower]).await;

    let client = cluster.client(follower);
    for index in [0, FILES / 2, FILES - 1] {
        let read = client
            .read_file(STORE, &file_path(index), At::Current)
            .await
            .unwrap();
        assert!(
            read.content == file_content(index),
            "node {follower}: {} differs",
            file_path(index)
        );
    }
}
