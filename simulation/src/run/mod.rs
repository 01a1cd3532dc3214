//! One seeded run: build the simulated cluster, drive agents against it
//! through a chaos phase of injected faults and a healing phase, collect
//! what the nodes hold at the end, and check every invariant.
//!
//! The parts: `roles` adds the simulated clients (agents, observer,
//! operator), `collect` the collector that reads the final state, and
//! `faults` the schedule and the nemesis that applies it while it steps the
//! simulation.

mod collect;
mod faults;
mod process;
mod roles;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::AuditEvent;
use cairn_client::VersionInfo;
use cairn_server::PlantedFaults;

use crate::check;
use crate::disk::SimDisk;
use crate::net::SimClock;
use crate::node::{self, NodeSpec, host_name, peer};
use crate::peer_faults::PeerFaults;
use crate::rng::{Rng, purpose};
use crate::workload::{Journal, SharedJournal};

#[derive(Clone, Debug)]
pub struct SimOptions {
    pub seed: u64,
    /// Voters at the start (3 or 5). One more node joins and leaves during the run.
    pub nodes: u64,
    pub agents: u32,
    /// Simulated length of the chaos phase.
    pub chaos: Duration,
    /// Simulated length of the healing phase (no faults; the cluster must answer).
    pub heal: Duration,
    /// Plant a bug: linearizable reads served from the local replica.
    pub plant_stale_reads: bool,
    /// Shifts the numbers tokio gives the run's tasks, which decide the order
    /// in which a crashed host's tasks are dropped (see `process.rs`): 0
    /// replays the seed as a process of its own runs it; others are variants.
    pub task_number_shift: u64,
}

impl SimOptions {
    pub fn new(seed: u64) -> SimOptions {
        SimOptions {
            seed,
            nodes: 3,
            agents: 5,
            chaos: Duration::from_secs(20),
            heal: Duration::from_secs(10),
            plant_stale_reads: false,
            task_number_shift: 0,
        }
    }

    /// The command that replays this run exactly.
    pub fn reproduce(&self) -> String {
        let mut command = format!(
            "cargo run --release -p cairn-simulation -- --seed {} --nodes {} --agents {} --duration {}",
            self.seed,
            self.nodes,
            self.agents,
            self.chaos.as_secs()
        );
        if self.plant_stale_reads {
            command.push_str(" --plant-stale-reads");
        }
        if self.task_number_shift != 0 {
            command.push_str(&format!(" --task-number-shift {}", self.task_number_shift));
        }
        command
    }
}

/// What the nodes hold at the end of the run.
#[derive(Debug, Default)]
pub struct FinalState {
    /// Per node: (digest, last applied), for every node that answered.
    pub digests: BTreeMap<u64, (String, u64)>,
    /// Per checked path: its whole history, newest first, with content.
    pub histories: BTreeMap<String, Vec<VersionInfo>>,
    /// The store's whole audit log, oldest first.
    pub audit: Option<Vec<AuditEvent>>,
    /// The cluster's members at the end (the ones that must agree).
    pub members: Vec<u64>,
}

/// One status sample: (node, term, state).
pub type Sample = (u64, u64, String);

#[derive(Debug)]
pub struct SeedReport {
    pub seed: u64,
    pub operations: u64,
    pub events_checked: usize,
    pub faults: Vec<String>,
    pub failures: Vec<String>,
    /// A digest of everything observable about the run: equal for equal seeds.
    pub trace_digest: u64,
}

/// Who takes part in a run and when its phases end, all fixed by the options.
struct Cluster {
    /// The voters at the start, nodes `1..=voters`.
    voters: u64,
    /// The node that joins as a learner, becomes a voter and leaves.
    spare: u64,
    /// Every node: the voters and the spare.
    all: Vec<u64>,
    /// When the chaos phase ends and the healing phase begins.
    heal_at: Duration,
    /// When the agents and the observer stop.
    stop_at: Duration,
}

impl Cluster {
    fn new(options: &SimOptions) -> Cluster {
        let voters = options.nodes;
        let spare = voters + 1;
        Cluster {
            voters,
            spare,
            all: (1..=spare).collect(),
            heal_at: options.chaos,
            stop_at: options.chaos + options.heal,
        }
    }
}

/// What the simulated clients and the nemesis record while the run goes on.
#[derive(Default)]
struct Records {
    journal: SharedJournal,
    /// The gatekeeper's grant changes and the member's writes.
    access: crate::access::SharedAccess,
    /// The observer's samples of every node's term and role.
    samples: Arc<Mutex<Vec<Sample>>>,
    /// The node the observer last saw leading, for the nemesis to isolate.
    leader: Arc<Mutex<Option<u64>>>,
    /// What the collector read from the nodes after healing.
    final_state: Arc<Mutex<FinalState>>,
    /// Faults applied and membership changes made, one line each, in order.
    faults_log: Arc<Mutex<Vec<String>>>,
}

pub fn run_seed(options: &SimOptions) -> SeedReport {
    let _alone = process::one_run_at_a_time();
    process::align_task_numbers(options.task_number_shift);
    let root = Rng::new(options.seed);
    let cluster = Cluster::new(options);
    let mut sim = build_simulation(options.seed, cluster.stop_at);
    let snapshot_dirs = tempfile::tempdir().expect("temp dir for snapshots");
    let records = Records::default();

    // turmoil gives hosts and clients their addresses, and steps them, in
    // the order they are added: that order is part of what a seed replays.
    let hosts = add_nodes(&mut sim, &cluster, &root, snapshot_dirs.path(), options);
    roles::add_agents(&mut sim, &cluster, &root, &records.journal, options.agents);
    roles::add_observer(&mut sim, &cluster, &records);
    roles::add_operator(&mut sim, &cluster, &records.faults_log, options.chaos);
    roles::add_access(&mut sim, &cluster, &root, &records.access);
    collect::add_collector(&mut sim, &cluster, &records.final_state);
    let simulation_result =
        faults::run_nemesis(&mut sim, &cluster, &root, &hosts, &records, options.chaos);

    let journal = take(&records.journal);
    let access = take(&records.access);
    let samples = take(&records.samples);
    let final_state = take(&records.final_state);
    let faults = take(&records.faults_log);

    let mut failures = Vec::new();
    if let Err(error) = simulation_result {
        failures.push(format!("simulation: {error}"));
    }
    failures.extend(check::all(
        &access,
        &journal,
        &samples,
        &final_state,
        options,
    ));
    SeedReport {
        seed: options.seed,
        operations: journal.operations,
        events_checked: journal.events.len(),
        trace_digest: trace_digest(&journal, &access, &faults, &final_state),
        faults,
        failures,
    }
}

fn build_simulation<'a>(seed: u64, stop_at: Duration) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .rng_seed(seed)
        // A fixed wall clock: proposals are stamped with simulated time.
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .simulation_duration(stop_at + Duration::from_secs(120))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .tcp_capacity(4096)
        .build()
}

/// What the nemesis reaches into: each node's disk (to crash) and clock (to
/// skew), and the peer network's per-message faults.
pub(crate) struct Hosts {
    pub disks: BTreeMap<u64, Arc<SimDisk>>,
    pub clocks: BTreeMap<u64, Arc<SimClock>>,
    pub peer_faults: Arc<PeerFaults>,
}

/// Every node as a host with a disk and a clock of its own, which outlive
/// its crashes; node 1 founds the cluster of the voters.
fn add_nodes(
    sim: &mut turmoil::Sim<'_>,
    cluster: &Cluster,
    root: &Rng,
    snapshot_root: &Path,
    options: &SimOptions,
) -> Hosts {
    let planted = PlantedFaults {
        linearizable_reads_are_stale: options.plant_stale_reads,
    };
    let voters = cluster.voters;
    let mut disks = BTreeMap::new();
    let mut clocks = BTreeMap::new();
    let peer_faults = Arc::new(PeerFaults::new(root.fork(purpose::PEER_FAULTS)));
    let mut timeout_rng = root.fork(purpose::TIMEOUTS);
    let mut entropy_rng = root.fork(purpose::ENTROPY);
    let mut tears_rng = root.fork(purpose::TEARS);
    for id in &cluster.all {
        let disk = Arc::new(SimDisk::tearing(tears_rng.next_u64()));
        disks.insert(*id, disk.clone());
        let clock = Arc::new(SimClock::default());
        clocks.insert(*id, clock.clone());
        let spec = NodeSpec {
            id: *id,
            disk,
            clock,
            peer_faults: peer_faults.clone(),
            data_dir: snapshot_root.join(host_name(*id)),
            election_timeout_ms: timeout_rng.range(300, 700),
            founders: (*id == 1).then(|| (1..=voters).map(|v| (v, peer(v))).collect()),
            planted,
            entropy_seed: entropy_rng.next_u64(),
        };
        sim.host(host_name(*id).as_str(), move || node::run(spec.clone()));
    }
    Hosts {
        disks,
        clocks,
        peer_faults,
    }
}

/// What the run recorded in `shared`, taken out once the simulation is over.
fn take<T: Default>(shared: &Mutex<T>) -> T {
    std::mem::take(&mut *shared.lock().expect("records lock"))
}

/// A digest of every event, stale read, fault and final digest of the run;
/// the trace itself is written to the file `CAIRN_SIM_TRACE` names, if set.
fn trace_digest(
    journal: &Journal,
    access: &crate::access::AccessJournal,
    faults: &[String],
    final_state: &FinalState,
) -> u64 {
    let mut trace = String::new();
    let _ = writeln!(trace, "{access:?}");
    for event in &journal.events {
        let _ = writeln!(trace, "{event:?}");
    }
    for read in &journal.stale_reads {
        let _ = writeln!(trace, "{read:?}");
    }
    for line in faults {
        let _ = writeln!(trace, "{line}");
    }
    let _ = writeln!(trace, "{:?}", final_state.digests);
    if let Ok(path) = std::env::var("CAIRN_SIM_TRACE") {
        let _ = std::fs::write(path, &trace);
    }
    cairn_core::hash::fnv1a(trace.as_bytes())
}
