//! The soak's nemesis: in a loop until a deadline, `kill -9` the leader, a
//! follower, or two nodes at once and restart them, or `SIGSTOP` a node and
//! `SIGCONT` it later, or fill a node's disk (`disk.rs`) and empty it
//! again; after each fault, wait for an agreed leader.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_client::{At, Consistency};

use super::STORE;
use super::cluster::Cluster;
use super::disk;
use super::workload::COUNTERS;

/// How long a killed node stays down, and a paused one stopped.
const DOWN_MS: u64 = 1500;
/// The quiet time after each fault has healed, before the next one.
const SETTLE_MS: u64 = 1000;

/// How many faults of each kind the nemesis injected.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub leader_kills: u64,
    pub follower_kills: u64,
    pub two_node_kills: u64,
    pub pauses: u64,
    pub disk_fulls: u64,
    /// Processes killed with `SIGKILL`, and started again.
    pub kills: u64,
    pub restarts: u64,
    /// Stale reads a node with a full disk answered, and refused.
    pub reads_served_while_full: u64,
    pub reads_refused_while_full: u64,
    /// Disks filled below the replication floor (the node must keep its
    /// Raft running and catch up by itself), and to their last byte (Raft
    /// may stop; the node is then restarted).
    pub disk_fulls_below_floor: u64,
    pub disk_fulls_to_the_limit: u64,
    /// Nodes whose Raft stopped while their disk was full, and were restarted.
    pub raft_stops: u64,
}

/// A small xorshift generator: the fault schedule from one printed seed,
/// without a dependency.
pub struct Random(u64);

impl Random {
    /// From `CAIRN_SOAK_SEED`, else from the clock.
    pub fn from_env() -> Random {
        let seed = std::env::var("CAIRN_SOAK_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|elapsed| elapsed.as_nanos() as u64)
                    .unwrap_or(1)
            });
        Random(seed.max(1))
    }

    pub fn seed(&self) -> u64 {
        self.0
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Injects faults until `deadline`, each healed before the next, and leaves
/// every node running. Full disks only when `disk_faults` (the data
/// directories are tmpfs mounts).
pub async fn run_nemesis(
    cluster: &mut Cluster,
    random: &mut Random,
    deadline: Instant,
    disk_faults: bool,
) -> FaultCounts {
    let kinds = if disk_faults { 5 } else { 4 };
    let mut counts = FaultCounts::default();
    while Instant::now() < deadline {
        let leader = cluster.leader().await;
        let others: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
        let follower = others[random.below(2) as usize];
        match random.below(kinds) {
            0 => {
                kill_and_restart(cluster, &[leader], &mut counts).await;
                counts.leader_kills += 1;
            }
            1 => {
                kill_and_restart(cluster, &[follower], &mut counts).await;
                counts.follower_kills += 1;
            }
            2 => {
                let spared = 1 + random.below(3);
                let victims: Vec<u64> = (1..=3).filter(|id| *id != spared).collect();
                kill_and_restart(cluster, &victims, &mut counts).await;
                counts.two_node_kills += 1;
            }
            4 => {
                fill_disk_and_recover(cluster, 1 + random.below(3), &mut counts).await;
                counts.disk_fulls += 1;
            }
            _ => {
                let paused = 1 + random.below(3);
                cluster.node(paused).signal("STOP");
                tokio::time::sleep(Duration::from_millis(DOWN_MS)).await;
                cluster.node(paused).signal("CONT");
                counts.pauses += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(SETTLE_MS)).await;
    }
    counts
}

async fn kill_and_restart(cluster: &mut Cluster, victims: &[u64], counts: &mut FaultCounts) {
    for id in victims {
        cluster.node_mut(*id).kill();
        counts.kills += 1;
    }
    tokio::time::sleep(Duration::from_millis(DOWN_MS)).await;
    for id in victims {
        cluster.node_mut(*id).spawn();
    }
    for id in victims {
        cluster.node_mut(*id).wait_ready().await;
        counts.restarts += 1;
    }
}

/// Fills node `id`'s disk and checks that it still answers stale reads.
/// Mostly below the replication floor (half of the soak's 4 MiB reserve):
/// the node refuses the leader's entries and must keep its Raft running,
/// then catches up by itself once the space is back. Sometimes to the last
/// byte: then a storage error may stop its Raft (openraft treats one as
/// fatal), and a node that says so (`running: false`) is restarted.
async fn fill_disk_and_recover(cluster: &mut Cluster, id: u64, counts: &mut FaultCounts) {
    let data_dir = cluster.node(id).data_dir.clone();
    let to_the_limit = counts.disk_fulls % 4 == 3;
    if to_the_limit {
        disk::fill(&data_dir);
        counts.disk_fulls_to_the_limit += 1;
    } else {
        disk::fill_leaving(&data_dir, BELOW_FLOOR_BYTES);
        counts.disk_fulls_below_floor += 1;
    }
    let reader = cluster
        .client(id)
        .with_consistency(Consistency::Stale)
        .with_timeout(Duration::from_millis(1000));
    let full_until = Instant::now() + Duration::from_millis(DOWN_MS);
    while Instant::now() < full_until {
        match reader.read_file(STORE, COUNTERS[0], At::Current).await {
            Ok(_) => counts.reads_served_while_full += 1,
            Err(_) => counts.reads_refused_while_full += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let running = raft_running(cluster, id).await;
    disk::empty(&data_dir);
    if !running {
        assert!(
            to_the_limit,
            "node {id}'s Raft stopped below the replication floor, where it should refuse entries instead"
        );
        counts.raft_stops += 1;
        kill_and_restart(cluster, &[id], counts).await;
    }
}

/// Free bytes left by a fill below the floor: a quarter of the reserve.
const BELOW_FLOOR_BYTES: u64 = 1024 * 1024;

/// Whether node `id` says its Raft runs (`/v1/admin/status`).
async fn raft_running(cluster: &Cluster, id: u64) -> bool {
    let client = cluster.client(id).with_timeout(Duration::from_secs(2));
    for _ in 0..10 {
        if let Ok(status) = client
            .get_json::<serde_json::Value>("/v1/admin/status")
            .await
        {
            return status["running"] != false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
