//! A node whose disk fills through replication. Its data directory is a
//! small tmpfs of its own (which needs root, as CI has; a run without
//! root says so and checks nothing else).
//!
//! - Below the replication floor (half of `[storage] reserve_bytes`) it
//!   refuses the leader's entries: the others go on committing, it stays a
//!   member whose Raft runs and serves stale reads, nobody holds an
//!   election, and once space is freed it catches up by itself with every
//!   acknowledged write.
//! - With no reserve at all, a full disk stops its Raft on a storage error:
//!   the node says so (`/ready`, writes answer `503 node_stopped` at once),
//!   the others go on, and a restart once space is back recovers it.
//! - A leader below its reserve hands leadership to a voter with room
//!   (`cairn_raft`'s `handoff.rs`): another node leads within a bounded
//!   wait, writes through every node (the full one forwards them) are
//!   acknowledged, the full node does not lead again while full, and every
//!   node holds every acknowledged write once space is back.
//! - When every node is below its reserve, nobody can take over: the leader
//!   leads on, refuses the writes every node forwards to it (`507
//!   storage_full`, nothing proposed), serves reads and takes deletes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_client::{At, Client, Consistency, WriteOptions};
use cairn_tests::{NodeProcess, TmpfsMount, mount_tmpfs};
use serde_json::Value;

use crate::{Cluster, HTTP, RAFT};

const STORE: &str = "notes";
const TMPFS_MIB: u64 = 64;
const RESERVE_BYTES: u64 = 16 * 1024 * 1024;
/// Left free by the ballast: under the floor (8 MiB), above nothing.
const LEFT_FREE_BYTES: u64 = 4 * 1024 * 1024;
/// Writes acknowledged while the follower refuses, and their size.
const WRITES_WHILE_FULL: usize = 120;
const CONTENT_BYTES: usize = 16 * 1024;
/// The hand-over test writes files up to this index while it watches that
/// the full node does not lead again (its headroom above the floor is 4 MiB).
const WRITES_WHILE_WATCHED_END: usize = 58;
/// `[raft]` settings that make the leader snapshot and purge its log often.
const SNAPSHOT_OFTEN: &str = "snapshot_logs_since_last = 40\nmax_in_snapshot_log_to_keep = 10\n";
/// How long the follower may take to hold everything once space is back.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(60);

/// Bytes free under `dir`.
fn free_bytes(dir: &Path) -> u64 {
    cairn_tests::free_bytes(dir).expect("df prints the free bytes")
}

/// A ballast file that leaves `left` bytes free (0: as much as will fit).
fn fill(dir: &Path, left: u64) -> PathBuf {
    use std::io::Write;
    let ballast = dir.join("ballast");
    let mut file = std::fs::File::create(&ballast).unwrap();
    let chunk = vec![0_u8; 1024 * 1024];
    loop {
        let free = free_bytes(dir);
        if free <= left {
            break;
        }
        let step = (free - left).min(chunk.len() as u64) as usize;
        if file.write_all(&chunk[..step]).is_err() {
            break;
        }
        file.flush().unwrap();
    }
    ballast
}

/// Two nodes as usual, and node 3 with its data directory on a tmpfs and
/// `storage` as its `[storage]` table, promoted to voter.
async fn cluster_with_small_follower(raft: &str, storage: &str) -> Option<(Cluster, TmpfsMount)> {
    let mut cluster = Cluster::start(2, raft).await;
    let node = NodeProcess::configure(
        cluster.dir.path(),
        3,
        &format!("bootstrap = false\n{RAFT}{raft}{HTTP}[storage]\n{storage}"),
    );
    let mount = mount_tmpfs(&node.data_dir, TMPFS_MIB)?;
    cluster.add_learner_node(node).await;
    cluster.promote(3).await;
    Some((cluster, mount))
}

fn path(index: usize) -> String {
    format!("/full/file-{index:04}.md")
}

fn content(index: usize) -> String {
    let head = format!("file {index}\n");
    head.repeat(CONTENT_BYTES / head.len())
}

/// Writes files `range` through `clients` in turn, each with an idempotency
/// key so a retried write applies once; answers what was acknowledged.
async fn write_files(clients: &[Client], range: std::ops::Range<usize>) -> Vec<(String, u64)> {
    let mut acknowledged = Vec::new();
    for index in range {
        let client = &clients[index % clients.len()];
        let options = WriteOptions {
            idempotency_key: Some(format!("disk-full-{index}")),
            ..WriteOptions::default()
        };
        let mut attempts = 0;
        let version = loop {
            attempts += 1;
            match client
                .write_file(STORE, &path(index), content(index), &options)
                .await
            {
                Ok(written) => break written.version,
                Err(error)
                    if attempts < 5
                        && matches!(error.code(), "timeout" | "unavailable" | "not_leader") =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("write {}: {error}", path(index)),
            }
        };
        acknowledged.push((path(index), version));
    }
    acknowledged
}

/// Every acknowledged write is on node `id` at its version, read from its own replica.
async fn holds_every_write(cluster: &Cluster, id: u64, acknowledged: &[(String, u64)]) {
    let reader = cluster.client(id).with_consistency(Consistency::Stale);
    for (index, (path, version)) in acknowledged.iter().enumerate() {
        let read = reader
            .read_file(STORE, path, At::Current)
            .await
            .unwrap_or_else(|error| panic!("node {id} lacks {path}: {error}"));
        assert_eq!(read.version, *version, "node {id}: {path}");
        let expected = path
            .trim_start_matches("/full/file-")
            .trim_end_matches(".md")
            .parse::<usize>()
            .map(content)
            .unwrap();
        assert!(read.content == expected, "node {id}: {path} (#{index})");
    }
}

async fn status(cluster: &Cluster, id: u64) -> Value {
    cluster.status(id).await.expect("the node answers")
}

#[tokio::test]
async fn a_follower_below_the_floor_refuses_entries_stays_a_member_and_catches_up() {
    // Snapshots often and a short log: while node 3 refuses, the leader
    // moves its log past what node 3 holds, so it catches up by snapshot,
    // whose chunks it refused meanwhile too.
    let Some((cluster, _mount)) = cluster_with_small_follower(
        SNAPSHOT_OFTEN,
        &format!("reserve_bytes = {RESERVE_BYTES}\n"),
    )
    .await
    else {
        return;
    };
    let leader = cluster.leader().await;
    assert_ne!(leader, 3, "node 3 joined last and never led");
    let other = if leader == 1 { 2 } else { 1 };
    let writers = [cluster.client(leader), cluster.client(other)];
    writers[0].create_store(STORE).await.unwrap();
    let mut acknowledged = write_files(&writers, 0..20).await;
    cluster.converged(&[1, 2, 3]).await;

    // Node 3's disk fills below the floor (by someone else's file).
    let data_dir = cluster.node(3).data_dir.clone();
    let ballast = fill(&data_dir, LEFT_FREE_BYTES);
    assert!(free_bytes(&data_dir) < RESERVE_BYTES / 2);
    let term = status(&cluster, leader).await["current_term"].clone();
    let applied_before = status(&cluster, 3).await["last_applied"].clone();

    // The others go on committing, through the leader and through the other follower.
    let full_since = Instant::now();
    acknowledged.extend(write_files(&writers, 20..20 + WRITES_WHILE_FULL).await);
    let refusing = status(&cluster, 3).await;
    assert!(
        refusing["refusing_replication"]
            .as_str()
            .is_some_and(|reason| reason.contains("replication floor")),
        "{refusing}"
    );
    assert_eq!(refusing["running"], true, "{refusing}");
    assert_eq!(refusing["state"], "Follower", "{refusing}");
    assert_eq!(refusing["last_applied"], applied_before, "{refusing}");
    // Client writes sent to the full node are refused there, before the leader.
    let refused = cluster
        .client(3)
        .write_file(STORE, "/full/refused.md", "no", &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "storage_full", "{refused}");
    let metrics = cluster.client(3).metrics_text().await.unwrap();
    assert!(
        metrics.contains("cairn_storage_refusing_replication 1"),
        "{metrics}"
    );
    // It still serves stale reads of what it holds, and says it is ready.
    let stale = cluster.client(3).with_consistency(Consistency::Stale);
    let early = stale.read_file(STORE, &path(0), At::Current).await.unwrap();
    assert_eq!(early.version, acknowledged[0].1);
    cluster.client(3).ready().await.unwrap();
    // Longer than several election timeouts: the refused batches kept its
    // election timer going, so nobody stood for election.
    tokio::time::sleep(Duration::from_secs(3)).await;
    acknowledged
        .extend(write_files(&writers, 20 + WRITES_WHILE_FULL..30 + WRITES_WHILE_FULL).await);
    let refused_for = full_since.elapsed();
    assert_eq!(
        status(&cluster, leader).await["current_term"],
        term,
        "an election:\n{}\n{}",
        cluster.node(3).log(),
        cluster.node(leader).log()
    );
    assert_eq!(status(&cluster, 3).await["current_term"], term);
    assert_eq!(cluster.leader().await, leader);
    assert!(
        cluster
            .node(3)
            .log()
            .contains("refusing the leader's entries")
    );

    // Space comes back: it catches up with no restart.
    std::fs::remove_file(&ballast).unwrap();
    let freed = Instant::now();
    let deadline = freed + CATCH_UP_DEADLINE;
    let digest = loop {
        let leader_status = status(&cluster, leader).await;
        let follower = status(&cluster, 3).await;
        if follower["last_applied"] == leader_status["last_applied"] {
            break cluster.converged(&[1, 2, 3]).await;
        }
        assert!(Instant::now() < deadline, "no catch-up: {follower}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let caught_up_in = freed.elapsed();
    let snapshot_before = applied_before.as_u64().unwrap_or(0);
    let caught_up = status(&cluster, 3).await;
    let by = if caught_up["snapshot_index"].as_u64().unwrap_or(0) > snapshot_before {
        "a snapshot"
    } else {
        "the log"
    };
    eprintln!(
        "disk full: node 3 refused entries for {} ms while {} writes were acknowledged; caught up by {by} {} ms after space came back (digest {digest})",
        refused_for.as_millis(),
        WRITES_WHILE_FULL + 10,
        caught_up_in.as_millis()
    );
    holds_every_write(&cluster, 3, &acknowledged).await;
    let after = status(&cluster, 3).await;
    assert!(after["refusing_replication"].is_null(), "{after}");
    assert_eq!(after["current_term"], term);
    assert!(cluster.node(3).log().contains("there is room again"));
}

#[tokio::test]
async fn a_follower_whose_raft_stopped_on_a_full_disk_says_so_and_recovers_on_restart() {
    // No reserve: nothing refuses early, so the full disk reaches Raft.
    let Some((mut cluster, _mount)) = cluster_with_small_follower("", "reserve_bytes = 0\n").await
    else {
        return;
    };
    let leader = cluster.leader().await;
    assert_ne!(leader, 3, "node 3 joined last and never led");
    let other = if leader == 1 { 2 } else { 1 };
    let writers = [cluster.client(leader), cluster.client(other)];
    writers[0].create_store(STORE).await.unwrap();
    let mut acknowledged = write_files(&writers, 0..10).await;
    cluster.converged(&[1, 2, 3]).await;

    let data_dir = cluster.node(3).data_dir.clone();
    let ballast = fill(&data_dir, 0);
    // Enough entries that node 3's log cannot take them on what is left.
    acknowledged.extend(write_files(&writers, 10..10 + WRITES_WHILE_FULL).await);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut next = 10 + WRITES_WHILE_FULL;
    let stopped = loop {
        let node = status(&cluster, 3).await;
        if node["running"] == false {
            break node;
        }
        assert!(
            Instant::now() < deadline,
            "node 3's Raft still runs: {node}"
        );
        acknowledged.extend(write_files(&writers, next..next + 10).await);
        next += 10;
    };
    assert!(
        stopped["stopped_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("restart")),
        "{stopped}"
    );
    // It says so: not ready, with why; a write answers at once, with a code.
    let not_ready = cluster.client(3).ready().await.unwrap_err();
    assert_eq!(not_ready.code(), "node_stopped", "{not_ready}");
    let asked = Instant::now();
    let refused = cluster
        .client(3)
        .write_file(STORE, "/full/refused.md", "no", &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), refused.status()),
        ("node_stopped", Some(503)),
        "{refused}"
    );
    assert!(asked.elapsed() < Duration::from_secs(2), "answered at once");
    let stale = cluster.client(3).with_consistency(Consistency::Stale);
    stale.read_file(STORE, &path(0), At::Current).await.unwrap();
    let metrics = cluster.client(3).metrics_text().await.unwrap();
    assert!(metrics.contains("cairn_raft_running 0"), "{metrics}");
    assert!(cluster.node(3).log().contains("restart the process"));
    // The others go on.
    acknowledged.extend(write_files(&writers, next..next + 10).await);

    // Space back and a restart: it catches up with every acknowledged write.
    std::fs::remove_file(&ballast).unwrap();
    let node = cluster.node_mut(3);
    node.kill();
    node.spawn();
    node.wait_ready().await;
    cluster.converged(&[1, 2, 3]).await;
    holds_every_write(&cluster, 3, &acknowledged).await;
    assert_eq!(status(&cluster, 3).await["running"], true);
}

/// Node 1 bootstraps (and leads) with its data directory on a tmpfs of its
/// own; nodes `small` get one too, the others use the test's disk. `None`
/// without root.
async fn cluster_led_by_a_small_node(small: &[u64]) -> Option<(Cluster, Vec<TmpfsMount>)> {
    let turn = crate::TURN.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("[storage]\nreserve_bytes = {RESERVE_BYTES}\n");
    let mut first = NodeProcess::configure(
        dir.path(),
        1,
        &format!("bootstrap = true\n{RAFT}{HTTP}{storage}"),
    );
    let mut mounts = vec![mount_tmpfs(&first.data_dir, TMPFS_MIB)?];
    first.spawn();
    first.wait_ready().await;
    let mut cluster = Cluster {
        dir,
        nodes: vec![first],
        tables: format!("{RAFT}{HTTP}"),
        certs: None,
        _turn: turn,
    };
    for id in 2..=3 {
        if small.contains(&id) {
            let node = NodeProcess::configure(
                cluster.dir.path(),
                id,
                &format!("bootstrap = false\n{RAFT}{HTTP}{storage}"),
            );
            mounts.push(mount_tmpfs(&node.data_dir, TMPFS_MIB)?);
            cluster.add_learner_node(node).await;
        } else {
            cluster.add_learner(id, "").await;
        }
        cluster.promote(id).await;
    }
    assert_eq!(cluster.leader().await, 1);
    Some((cluster, mounts))
}

#[tokio::test]
async fn a_leader_below_its_reserve_hands_leadership_to_a_node_with_room() {
    let Some((cluster, _mounts)) = cluster_led_by_a_small_node(&[]).await else {
        return;
    };
    let clients = [cluster.client(1), cluster.client(2), cluster.client(3)];
    clients[0].create_store(STORE).await.unwrap();
    let mut acknowledged = write_files(&clients, 0..10).await;
    let term = status(&cluster, 1).await["current_term"].as_u64().unwrap();

    // Linearizable reads through every node go on all along: during the
    // hand-over they wait for the new leader instead of failing.
    let stop_reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = tokio::spawn({
        let clients = clients.clone();
        let stop = stop_reading.clone();
        let expected = acknowledged[1].1;
        async move {
            let mut reads = 0_u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let client = &clients[(reads % 3) as usize];
                let read = client.read_file(STORE, &path(1), At::Current).await;
                let read = read.unwrap_or_else(|error| panic!("read {reads}: {error}"));
                assert_eq!(read.version, expected);
                reads += 1;
            }
            reads
        }
    });

    // Below its reserve, above the floor: it steps aside for a voter with
    // room, which is elected; the status says so meanwhile.
    let data_dir = cluster.node(1).data_dir.clone();
    let full_at = Instant::now();
    let ballast = fill(&data_dir, RESERVE_BYTES * 3 / 4);
    let filled_in = full_at.elapsed();
    let deadline = full_at + Duration::from_secs(20);
    let mut handing_over_to = None;
    let leader = loop {
        let node = status(&cluster, 1).await;
        if let Some(to) = node["handing_over_to"].as_u64() {
            handing_over_to = Some(to);
        }
        if let Some(leader) = node["current_leader"].as_u64()
            && leader != 1
        {
            break leader;
        }
        assert!(
            Instant::now() < deadline,
            "node 1 still leads: {node}\n{}",
            cluster.node(1).log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let handed_over_in = full_at.elapsed();
    assert_eq!(cluster.leader().await, leader);
    stop_reading.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader
        .await
        .expect("every read during the hand-over succeeded");
    assert!(reads > 0);
    assert_eq!(
        handing_over_to,
        Some(leader),
        "the status named the node it handed over to"
    );
    assert!(
        cluster
            .node(1)
            .log()
            .contains(&format!("handing leadership over to node {leader}")),
        "{}",
        cluster.node(1).log()
    );
    let new_term = status(&cluster, leader).await["current_term"]
        .as_u64()
        .unwrap();
    assert!(new_term > term);

    // Writes go on through every node, the full one too (it forwards them),
    // and reads, linearizable ones included.
    let writing_at = Instant::now();
    acknowledged.extend(write_files(&clients, 10..40).await);
    let writes_took = writing_at.elapsed();
    for client in &clients {
        let read = client
            .read_file(STORE, &path(39), At::Current)
            .await
            .unwrap();
        assert_eq!(read.version, acknowledged.last().unwrap().1);
    }
    let metrics = cluster.client(1).metrics_text().await.unwrap();
    assert!(
        metrics.contains("cairn_raft_hand_overs_completed_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("cairn_raft_handing_over 0"), "{metrics}");

    // While full it does not lead again: longer than several election
    // timeouts, with writes going on.
    // The writes are bounded in number, not by the time: node 1 holds
    // every one of them, and a fast machine writing for the whole watch
    // took it below its replication floor (file 75, in 4 MiB of headroom).
    let watch_until = Instant::now() + Duration::from_secs(4);
    let mut next = 40;
    while Instant::now() < watch_until {
        if next < WRITES_WHILE_WATCHED_END {
            acknowledged.extend(write_files(&clients, next..next + 3).await);
            next += 3;
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let node = status(&cluster, 1).await;
        assert_ne!(node["state"], "Leader", "{node}");
        assert_eq!(node["current_leader"].as_u64(), Some(leader), "{node}");
    }
    assert_eq!(
        status(&cluster, leader).await["current_term"].as_u64(),
        Some(new_term),
        "no election after the hand-over"
    );

    // Space back: every acknowledged write is on every node, one digest.
    std::fs::remove_file(&ballast).unwrap();
    let digest = cluster.converged(&[1, 2, 3]).await;
    for id in 1..=3 {
        holds_every_write(&cluster, id, &acknowledged).await;
    }
    eprintln!(
        "hand-over: node 1 filled below its reserve in {} ms, node {leader} led {} ms after the fill began (term {term} -> {new_term}), {reads} linearizable reads meanwhile, none failed; 30 writes through every node then took {} ms; {} writes acknowledged in all (digest {digest})",
        filled_in.as_millis(),
        handed_over_in.as_millis(),
        writes_took.as_millis(),
        acknowledged.len()
    );
}

#[tokio::test]
async fn a_cluster_whose_every_node_is_below_its_reserve_keeps_its_leader() {
    let Some((cluster, _mounts)) = cluster_led_by_a_small_node(&[2, 3]).await else {
        return;
    };
    let clients = [cluster.client(1), cluster.client(2), cluster.client(3)];
    clients[0].create_store(STORE).await.unwrap();
    let mut acknowledged = write_files(&clients, 0..10).await;
    cluster.converged(&[1, 2, 3]).await;
    let term = status(&cluster, 1).await["current_term"].clone();

    // Every node below its reserve, above the floor: nobody has room to
    // take over, so node 1 leads on and refuses what grows the data.
    let mut ballasts = Vec::new();
    for id in [2, 3, 1] {
        ballasts.push(fill(&cluster.node(id).data_dir, RESERVE_BYTES * 3 / 4));
    }
    let revision = clients[1].get_store(STORE).await.unwrap().revision;
    let watch_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < watch_until {
        for (via, client) in clients.iter().enumerate() {
            let refused = client
                .write_file(STORE, "/full/refused.md", "no", &WriteOptions::default())
                .await
                .unwrap_err();
            assert_eq!(
                (refused.code(), refused.status()),
                ("storage_full", Some(507)),
                "through node {}: {refused}",
                via + 1
            );
        }
        let node = status(&cluster, 1).await;
        assert_eq!(node["state"], "Leader", "{node}");
        assert!(node["handing_over_to"].is_null(), "{node}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status(&cluster, 1).await["current_term"], term);
    assert_eq!(cluster.leader().await, 1);
    assert_eq!(
        clients[1].get_store(STORE).await.unwrap().revision,
        revision,
        "nothing was proposed"
    );
    assert!(
        cluster.node(1).log().contains("no other voter has room"),
        "{}",
        cluster.node(1).log()
    );
    // Reads go on everywhere; a delete, which frees space, is taken.
    for client in &clients {
        let read = client
            .read_file(STORE, &path(1), At::Current)
            .await
            .unwrap();
        assert_eq!(read.version, acknowledged[1].1);
    }
    clients[2]
        .delete_file(STORE, &path(0), false, None, None)
        .await
        .unwrap();
    acknowledged.remove(0);

    // Space back everywhere: writes go on, and every node holds them.
    for ballast in ballasts {
        std::fs::remove_file(&ballast).unwrap();
    }
    acknowledged.extend(write_files(&clients, 10..20).await);
    cluster.converged(&[1, 2, 3]).await;
    for id in 1..=3 {
        holds_every_write(&cluster, id, &acknowledged).await;
    }
}
