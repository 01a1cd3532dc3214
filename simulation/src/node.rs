//! A simulated node: the real `cairn_server` router over a real
//! `cairn_raft::Node`, on turmoil's network, with its redb files on a
//! `SimDisk` that outlives the node's crashes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_core::Limits;
use cairn_raft::{Node, NodeConfig, PeerNode, RaftSettings};
use cairn_server::{AppState, PlantedFaults, Service};

use crate::disk::SimDisk;
use crate::net::{HttpListener, PeerConnector, PeerListener, SimClock};
use crate::peer_faults::PeerFaults;

pub const HTTP_PORT: u16 = 7700;
pub const RAFT_PORT: u16 = 7701;

/// How long a request may wait for a commit before answering `timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

pub fn host_name(id: u64) -> String {
    format!("n{id}")
}

pub fn peer(id: u64) -> PeerNode {
    PeerNode {
        raft_addr: format!("{}:{RAFT_PORT}", host_name(id)),
        api_addr: format!("{}:{HTTP_PORT}", host_name(id)),
        tags: BTreeMap::from([("region".to_string(), format!("sim-{}", id % 3))]),
    }
}

/// Everything a node needs, kept by the harness across restarts.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub id: u64,
    pub disk: Arc<SimDisk>,
    /// The node's wall clock, which the nemesis may skew.
    pub clock: Arc<SimClock>,
    /// Per-message faults on the connections this node dials.
    pub peer_faults: Arc<PeerFaults>,
    /// The node's data directory; its redb files and snapshot files are on
    /// `disk`, so nothing but the directory itself is made here.
    pub data_dir: PathBuf,
    /// Fixed per node, from the seed: openraft draws election timeouts from
    /// an unseeded generator, so the range is made one millisecond wide.
    pub election_timeout_ms: u64,
    /// The first voters, for the node that founds the cluster.
    pub founders: Option<BTreeMap<u64, PeerNode>>,
    pub planted: PlantedFaults,
    /// Where the node's token secrets come from, with the time it starts:
    /// a run replays, and a restarted node draws new ones.
    pub entropy_seed: u64,
}

/// The `Entropy` seam from the run's seed.
struct SimEntropy(std::sync::Mutex<crate::rng::Rng>);

impl cairn_server::clock::Entropy for SimEntropy {
    fn fill(&self, bytes: &mut [u8]) {
        let mut rng = self.0.lock().expect("entropy lock");
        for chunk in bytes.chunks_mut(8) {
            let word = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

pub fn raft_settings(election_timeout_ms: u64) -> RaftSettings {
    RaftSettings {
        heartbeat_interval_ms: 50,
        election_timeout_min_ms: election_timeout_ms,
        election_timeout_max_ms: election_timeout_ms + 1,
        snapshot_logs_since_last: 200,
        max_in_snapshot_log_to_keep: 50,
        // Small enough that the byte bounds fire too, beside the entry counts.
        snapshot_log_bytes_since_last: 256 * 1024,
        max_in_snapshot_log_bytes_to_keep: 64 * 1024,
        max_payload_entries: 64,
        rpc_timeout_ms: 500,
    }
}

/// The operator's token every simulated node is configured with; the
/// workload's clients present it.
pub const OPERATOR_TOKEN: &str = "simulation-operator-token";

/// The node's software: what turmoil runs on its host, and runs again after a crash.
pub async fn run(spec: NodeSpec) -> turmoil::Result {
    let http = turmoil::net::TcpListener::bind(("0.0.0.0", HTTP_PORT)).await?;
    let raft = turmoil::net::TcpListener::bind(("0.0.0.0", RAFT_PORT)).await?;
    let me = peer(spec.id);
    let config = NodeConfig {
        node_id: spec.id,
        data_dir: spec.data_dir.clone(),
        disk: Some(spec.disk.clone()),
        // The simulation's disk holds its databases in memory and keeps redb's default cache.
        cache_bytes: cairn_storage::CACHE_BYTES_DEFAULT,
        io: cairn_raft::IoMode::Inline,
        raft_advertise_addr: me.raft_addr.clone(),
        api_advertise_addr: me.api_addr.clone(),
        tags: me.tags.clone(),
        cluster_secret: "simulation".into(),
        raft: raft_settings(spec.election_timeout_ms),
        storage_room: None,
    };
    let node = Node::start(
        config,
        Box::new(PeerListener(raft)),
        Arc::new(PeerConnector(spec.peer_faults.clone())),
    )
    .await
    .map_err(|error| error.to_string())?;
    if let Some(founders) = spec.founders.clone() {
        node.initialize(founders)
            .await
            .map_err(|error| error.to_string())?;
    }
    let entropy = SimEntropy(std::sync::Mutex::new(crate::rng::Rng::new(
        spec.entropy_seed ^ crate::workload::now_ns(),
    )));
    let service = Service::new(node, Limits::default(), spec.clock.clone(), REQUEST_TIMEOUT)
        .with_planted_faults(spec.planted)
        .with_entropy(Arc::new(entropy));
    // Every node is given the operator's token, as `[auth] admin_token` would.
    cairn_server::ensure_operator_token(service.clone(), OPERATOR_TOKEN.to_string());
    axum::serve(
        HttpListener(http),
        cairn_server::router(AppState::new(service)),
    )
    .await?;
    Ok(())
}
