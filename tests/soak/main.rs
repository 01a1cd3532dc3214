//! The soak: three real nodes under CAS increments and blind writes from
//! many clients through every node, while a nemesis kills the leader, a
//! follower or two nodes at once (`kill -9`, then restarts them) and pauses
//! one (`SIGSTOP`/`SIGCONT`). After healing, every acknowledged write is on
//! every node at its version, the digests are equal and no answer
//! contradicts another (`check.rs`).
//!
//! Not part of `cargo test` (`test = false` in `tests/Cargo.toml`):
//! `scripts/soak.sh --minutes N` runs it. `CAIRN_SOAK_SECONDS` sets its
//! length, `CAIRN_SOAK_SEED` replays a fault schedule, `CAIRN_SOAK_KEEP=1`
//! keeps the nodes' directories and logs, and `CAIRN_SOAK_DISK_FULL=1`
//! (root only: it mounts a tmpfs per node) adds full disks to the faults.
//! `TMPDIR=/dev/shm` puts the data directories on tmpfs.

// Test helpers unwrap like the tests they serve: a panic is a failed test
// with its message. (Production code denies `unwrap`.)
#![allow(clippy::unwrap_used)]

mod check;
mod cluster;
mod disk;
mod faults;
mod workload;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_client::WriteOptions;

use check::Verdict;
use cluster::Cluster;
use disk::DataMounts;
use faults::{FaultCounts, Random, run_nemesis};
use workload::{COUNTERS, ClientRecord, run_client};

const STORE: &str = "soak";
/// Concurrent clients; each sends every request to the next node in turn.
const CLIENTS: usize = 9;
/// The soak's length when `CAIRN_SOAK_SECONDS` is not set.
const DEFAULT_SECONDS: u64 = 60;
/// A client's bound on one request: longer than an election, short enough
/// that a paused node does not stall a client for long.
const CLIENT_TIMEOUT_MS: u64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_under_kills_and_pauses_loses_no_acknowledged_write() {
    let seconds = std::env::var("CAIRN_SOAK_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(DEFAULT_SECONDS);
    let mut random = Random::from_env();
    let seed = random.seed();
    println!("soak: {seconds} s, reproduce the fault schedule with CAIRN_SOAK_SEED={seed}");
    let (mut cluster, mounts) = start_cluster().await;

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            let per_node = (1..=3)
                .map(|id| {
                    cluster
                        .client(id)
                        .with_timeout(Duration::from_millis(CLIENT_TIMEOUT_MS))
                })
                .collect();
            tokio::spawn(run_client(index, per_node, stop.clone()))
        })
        .collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let faults = run_nemesis(&mut cluster, &mut random, deadline, mounts.is_some()).await;
    stop.store(true, Ordering::Relaxed);
    let mut records = Vec::new();
    for client in clients {
        records.push(client.await.unwrap());
    }
    let verdict = check::check(&cluster, &records).await;
    report(started.elapsed(), seed, &faults, &records, &verdict);
    assert!(
        verdict.lost.is_empty(),
        "lost acknowledged writes (seed {seed}): {:#?}",
        verdict.lost
    );
    assert!(
        verdict.contradictions.is_empty(),
        "contradicting answers (seed {seed}): {:#?}",
        verdict.contradictions
    );
    assert!(
        verdict.acknowledged_increments > 0 && verdict.acknowledged_blind_writes > 0,
        "the soak acknowledged nothing: the cluster never served under faults"
    );
    assert!(
        faults.kills > 0 || seconds < 10,
        "the nemesis injected no kill in {seconds} s"
    );
    // The nodes die first, then their file systems are unmounted. (After a
    // panic the lazy unmount comes first; the nodes die a moment later.)
    drop(cluster);
    drop(mounts);
}

/// Three nodes (on tmpfs data directories when `CAIRN_SOAK_DISK_FULL` is
/// set and mounting works), the store and its counters at 0.
async fn start_cluster() -> (Cluster, Option<DataMounts>) {
    let mut dir = tempfile::tempdir().expect("temp dir");
    let keep = std::env::var_os("CAIRN_SOAK_KEEP").is_some();
    dir.disable_cleanup(keep);
    println!("soak: nodes in {}", dir.path().display());
    let mounts = if std::env::var_os("CAIRN_SOAK_DISK_FULL").is_some() {
        DataMounts::mount(dir.path(), keep)
            .inspect_err(|why| println!("soak: no full disks, cannot mount a tmpfs: {why}"))
            .ok()
    } else {
        None
    };
    let cluster = Cluster::start_in(dir).await;
    let setup = cluster.client(1);
    setup.create_store(STORE).await.unwrap();
    for counter in COUNTERS {
        setup
            .write_file(STORE, counter, "0\n", &WriteOptions::default())
            .await
            .unwrap();
    }
    (cluster, mounts)
}

/// Prints the counts: faults, answers, and the verdict.
fn report(
    elapsed: Duration,
    seed: u64,
    faults: &FaultCounts,
    records: &[ClientRecord],
    verdict: &Verdict,
) {
    let conflicts: u64 = records.iter().map(|record| record.conflicts).sum();
    let unknown: u64 = records
        .iter()
        .map(|record| record.unknown_increments.values().sum::<u64>() + record.unknown_blind_writes)
        .sum();
    let failed_reads: u64 = records.iter().map(|record| record.failed_reads).sum();
    println!(
        "soak: {:.0} s with seed {seed}; faults: {} leader kills, {} follower kills, {} two-node kills, {} pauses, {} full disks ({} below the replication floor, {} to the last byte, {} Raft stops; {} stale reads served and {} refused while full); {} processes killed, {} restarted",
        elapsed.as_secs_f64(),
        faults.leader_kills,
        faults.follower_kills,
        faults.two_node_kills,
        faults.pauses,
        faults.disk_fulls,
        faults.disk_fulls_below_floor,
        faults.disk_fulls_to_the_limit,
        faults.raft_stops,
        faults.reads_served_while_full,
        faults.reads_refused_while_full,
        faults.kills,
        faults.restarts,
    );
    println!(
        "soak: acknowledged {} writes ({} increments, {} blind writes); {} version conflicts, {} writes of unknown outcome, {} reads ({} failed); counters {:?}",
        verdict.acknowledged_increments + verdict.acknowledged_blind_writes,
        verdict.acknowledged_increments,
        verdict.acknowledged_blind_writes,
        conflicts,
        unknown,
        verdict.reads,
        failed_reads,
        verdict.counters
    );
    println!(
        "soak: checks passed {}, lost {}, contradictions {}, digest {} on all 3 nodes",
        verdict.checks_passed,
        verdict.lost.len(),
        verdict.contradictions.len(),
        verdict.digest
    );
}
