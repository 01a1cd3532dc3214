//! One seeded run: build the simulated cluster, drive agents against it
//! through a chaos phase of injected faults and a healing phase, collect
//! what the nodes hold at the end, and check every invariant.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::AuditEvent;
use cairn_client::Client;
use cairn_client::VersionInfo;
use cairn_server::PlantedFaults;
use serde_json::Value;

use crate::check;
use crate::disk::SimDisk;
use crate::node::{self, NodeSpec, host_name, peer};
use crate::rng::Rng;
use crate::workload::{self, Agent, Journal, PATHS, RENAMED, STORE, SharedJournal};

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

fn fnv(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A fault the nemesis applies at a point of simulated time.
#[derive(Clone, Debug)]
enum Fault {
    Partition(u64),
    PartitionOneWay(u64, u64),
    IsolateLeader,
    Crash(u64),
    Restart(u64),
    Latency(u64),
    Flapping,
    HealLinks,
}

fn schedule(rng: &mut Rng, voters: u64, chaos: Duration) -> Vec<(Duration, Fault)> {
    let mut faults = Vec::new();
    let mut at = Duration::from_millis(2000);
    while at < chaos {
        let node = rng.range(1, voters + 1);
        let fault = match rng.below(7) {
            0 => Fault::Partition(node),
            1 => Fault::PartitionOneWay(node, 1 + (node % voters)),
            2 => Fault::IsolateLeader,
            3 | 4 => Fault::Crash(node),
            5 => Fault::Latency(rng.range(20, 200)),
            _ => Fault::Flapping,
        };
        let lasts = Duration::from_millis(rng.range(500, 4000));
        if let Fault::Crash(node) = fault {
            faults.push((at, Fault::Crash(node)));
            // Some crashes last long enough that the node needs a snapshot.
            faults.push((at + lasts * 2, Fault::Restart(node)));
        } else {
            faults.push((at, fault));
            faults.push((at + lasts, Fault::HealLinks));
        }
        at += lasts + Duration::from_millis(rng.range(200, 1500));
    }
    faults.sort_by_key(|(at, _)| *at);
    faults
}

pub fn run_seed(options: &SimOptions) -> SeedReport {
    let root = Rng::new(options.seed);
    let voters = options.nodes;
    let spare = voters + 1;
    let all: Vec<u64> = (1..=spare).collect();
    let heal_at = options.chaos;
    let stop_at = options.chaos + options.heal;

    let mut sim = turmoil::Builder::new()
        .rng_seed(options.seed)
        // A fixed wall clock: proposals are stamped with simulated time.
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .simulation_duration(stop_at + Duration::from_secs(120))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .tcp_capacity(4096)
        .build();

    let dirs = tempfile::tempdir().expect("temp dir for snapshots");
    let planted = PlantedFaults {
        linearizable_reads_are_stale: options.plant_stale_reads,
    };
    let mut disks = BTreeMap::new();
    let mut timeout_rng = root.fork(1);
    for id in &all {
        let disk = Arc::new(SimDisk::default());
        disks.insert(*id, disk.clone());
        let spec = NodeSpec {
            id: *id,
            disk,
            data_dir: dirs.path().join(host_name(*id)),
            election_timeout_ms: timeout_rng.range(300, 700),
            founders: (*id == 1).then(|| (1..=voters).map(|v| (v, peer(v))).collect()),
            planted,
        };
        sim.host(host_name(*id).as_str(), move || node::run(spec.clone()));
    }

    let journal: SharedJournal = Arc::new(Mutex::new(Journal::default()));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let leader: Arc<Mutex<Option<u64>>> = Arc::default();
    let final_state: Arc<Mutex<FinalState>> = Arc::default();
    let faults_log: Arc<Mutex<Vec<String>>> = Arc::default();

    // The store exists before the agents start.
    for agent in 0..options.agents {
        let clients = workload::clients(&all, &format!("agent-{agent}"));
        let agent = Agent::new(
            agent,
            root.fork(100 + u64::from(agent)),
            clients,
            journal.clone(),
            heal_at,
            stop_at,
        );
        sim.client(format!("agent-{}", agent.index).as_str(), async move {
            create_store(&agent.clients).await;
            agent.run().await
        });
    }

    // The observer samples every node's view of term and role.
    {
        let samples = samples.clone();
        let leader = leader.clone();
        let all = all.clone();
        sim.client("observer", async move {
            let clients = workload::clients(&all, "observer");
            while turmoil::sim_elapsed().unwrap_or_default() < stop_at {
                for (id, client) in all.iter().zip(&clients) {
                    let client = client.clone().with_timeout(Duration::from_millis(200));
                    if let Ok(status) = client.get_json::<Value>("/v1/admin/status").await {
                        let term = status["current_term"].as_u64().unwrap_or(0);
                        let state = status["state"].as_str().unwrap_or("").to_string();
                        if state == "Leader" {
                            *leader.lock().expect("leader lock") = Some(*id);
                        }
                        samples
                            .lock()
                            .expect("samples lock")
                            .push((*id, term, state));
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(())
        });
    }

    // The operator changes membership under load: the spare node joins as a
    // learner, becomes a voter, and leaves again.
    {
        let all = all.clone();
        let faults_log = faults_log.clone();
        let chaos = options.chaos;
        sim.client("operator", async move {
            let clients = workload::clients(&all, "operator");
            let steps = [
                (
                    chaos / 4,
                    "POST",
                    "/v1/admin/learners".to_string(),
                    learner_body(spare),
                ),
                (
                    chaos / 2,
                    "POST",
                    format!("/v1/admin/voters/{spare}"),
                    String::new(),
                ),
                (
                    chaos * 3 / 4,
                    "DELETE",
                    format!("/v1/admin/members/{spare}"),
                    String::new(),
                ),
            ];
            for (at, method, path, body) in steps {
                let now = turmoil::sim_elapsed().unwrap_or_default();
                if at > now {
                    tokio::time::sleep(at - now).await;
                }
                let mut done = false;
                for attempt in 0..20 {
                    let client = &clients[attempt % voters as usize];
                    let headers = [("content-type", "application/json")];
                    if let Ok(response) = client
                        .raw_request(method, &path, &headers, body.clone())
                        .await
                        && response.is_success()
                    {
                        done = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                faults_log.lock().expect("faults lock").push(format!(
                    "{:?} membership {method} {path}: {}",
                    turmoil::sim_elapsed().unwrap_or_default(),
                    if done { "done" } else { "gave up" }
                ));
            }
            Ok(())
        });
    }

    // After healing, a collector reads what the nodes hold.
    {
        let final_state = final_state.clone();
        let all = all.clone();
        sim.client("collector", async move {
            let now = turmoil::sim_elapsed().unwrap_or_default();
            tokio::time::sleep(stop_at + Duration::from_secs(5) - now).await;
            collect(&all, &final_state).await;
            Ok(())
        });
    }

    // The nemesis: faults from the schedule during chaos, then healing.
    let mut fault_rng = root.fork(2);
    let mut plan = schedule(&mut fault_rng, voters, options.chaos)
        .into_iter()
        .peekable();
    let mut crashed: Vec<u64> = Vec::new();
    let mut healed = false;
    let mut sim_error = None;
    loop {
        let now = sim.elapsed();
        while let Some((at, _)) = plan.peek() {
            if *at > now {
                break;
            }
            let (_, fault) = plan.next().expect("peeked");
            let current_leader = *leader.lock().expect("leader lock");
            let line = apply_fault(&mut sim, &fault, &all, &mut crashed, current_leader, &disks);
            faults_log
                .lock()
                .expect("faults lock")
                .push(format!("{now:?} {line}"));
        }
        if !healed && now >= heal_at {
            healed = true;
            heal(&mut sim, &all, &mut crashed);
            faults_log.lock().expect("faults lock").push(format!(
                "{now:?} heal: links repaired, crashed nodes restarted"
            ));
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                sim_error = Some(error.to_string());
                break;
            }
        }
    }

    let journal = std::mem::take(&mut *journal.lock().expect("journal lock"));
    let samples = std::mem::take(&mut *samples.lock().expect("samples lock"));
    let final_state = std::mem::take(&mut *final_state.lock().expect("final lock"));
    let faults = std::mem::take(&mut *faults_log.lock().expect("faults lock"));

    let mut failures = Vec::new();
    if let Some(error) = sim_error {
        failures.push(format!("simulation: {error}"));
    }
    failures.extend(check::all(&journal, &samples, &final_state, options));

    let mut trace = String::new();
    for event in &journal.events {
        let _ = writeln!(trace, "{event:?}");
    }
    for read in &journal.stale_reads {
        let _ = writeln!(trace, "{read:?}");
    }
    for line in &faults {
        let _ = writeln!(trace, "{line}");
    }
    let _ = writeln!(trace, "{:?}", final_state.digests);
    if let Ok(path) = std::env::var("CAIRN_SIM_TRACE") {
        let _ = std::fs::write(path, &trace);
    }
    SeedReport {
        seed: options.seed,
        operations: journal.operations,
        events_checked: journal.events.len(),
        faults,
        failures,
        trace_digest: fnv(&trace),
    }
}

fn learner_body(id: u64) -> String {
    let node = peer(id);
    serde_json::json!({
        "node_id": id,
        "raft_addr": node.raft_addr,
        "api_addr": node.api_addr,
        "tags": node.tags,
    })
    .to_string()
}

async fn create_store(clients: &[Client]) {
    for attempt in 0..200 {
        match clients[attempt % clients.len()].create_store(STORE).await {
            Ok(_) => return,
            Err(error) if error.code() == "already_exists" => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn apply_fault(
    sim: &mut turmoil::Sim<'_>,
    fault: &Fault,
    all: &[u64],
    crashed: &mut Vec<u64>,
    leader: Option<u64>,
    disks: &BTreeMap<u64, Arc<SimDisk>>,
) -> String {
    let others = |node: u64| -> Vec<String> {
        all.iter()
            .filter(|id| **id != node)
            .map(|id| host_name(*id))
            .collect()
    };
    match fault {
        Fault::Partition(node) => {
            for other in others(*node) {
                sim.partition(host_name(*node).as_str(), other.as_str());
            }
            format!("partition n{node} from the rest")
        }
        Fault::PartitionOneWay(from, to) => {
            sim.partition_oneway(host_name(*from).as_str(), host_name(*to).as_str());
            format!("one-way partition n{from} -> n{to}")
        }
        Fault::IsolateLeader => match leader {
            Some(node) => {
                for other in others(node) {
                    sim.partition(host_name(node).as_str(), other.as_str());
                }
                format!("isolate the leader n{node}")
            }
            None => "isolate the leader: none known".to_string(),
        },
        Fault::Crash(node) => {
            if crashed.contains(node) {
                return format!("crash n{node}: already down");
            }
            disks[node].crash();
            sim.crash(host_name(*node).as_str());
            crashed.push(*node);
            format!("crash n{node} (unsynced writes lost)")
        }
        Fault::Restart(node) => {
            if !crashed.contains(node) {
                return format!("restart n{node}: not down");
            }
            sim.bounce(host_name(*node).as_str());
            crashed.retain(|id| id != node);
            format!("restart n{node}")
        }
        Fault::Latency(ms) => {
            sim.set_max_message_latency(Duration::from_millis(*ms));
            format!("message latency up to {ms} ms")
        }
        Fault::Flapping => {
            sim.set_fail_rate(0.05);
            "links flapping (5% failure, repaired at random)".to_string()
        }
        Fault::HealLinks => {
            repair_links(sim, all);
            "links healed".to_string()
        }
    }
}

fn repair_links(sim: &mut turmoil::Sim<'_>, all: &[u64]) {
    for a in all {
        for b in all {
            if a < b {
                sim.repair(host_name(*a).as_str(), host_name(*b).as_str());
            }
        }
    }
    sim.set_fail_rate(0.0);
    sim.set_max_message_latency(Duration::from_millis(5));
}

fn heal(sim: &mut turmoil::Sim<'_>, all: &[u64], crashed: &mut Vec<u64>) {
    repair_links(sim, all);
    for node in crashed.drain(..) {
        sim.bounce(host_name(node).as_str());
    }
}

/// Reads, from the nodes, every replica's digest once they agree (or the
/// time is up), and the checked files' histories and the audit log.
async fn collect(all: &[u64], out: &Arc<Mutex<FinalState>>) {
    let clients = workload::clients(all, "collector");
    let mut digests = BTreeMap::new();
    for _round in 0..60 {
        digests.clear();
        for (id, client) in all.iter().zip(&clients) {
            let client = client.clone().with_timeout(Duration::from_millis(500));
            if let Ok(value) = client.get_json::<Value>("/v1/admin/digest").await {
                digests.insert(
                    *id,
                    (
                        value["digest"].as_str().unwrap_or_default().to_string(),
                        value["last_applied"].as_u64().unwrap_or(0),
                    ),
                );
            }
        }
        let members = member_ids(&clients).await;
        let agreed = members
            .iter()
            .all(|id| digests.get(id) == digests.get(&members[0]))
            && !members.is_empty();
        if agreed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let members = member_ids(&clients).await;
    let mut histories = BTreeMap::new();
    let mut audit = None;
    for client in &clients {
        let client = client.clone().with_timeout(Duration::from_secs(2));
        match read_logs(&client).await {
            Ok((read_histories, read_audit)) => {
                histories = read_histories;
                audit = Some(read_audit);
                break;
            }
            Err(_) => continue,
        }
    }
    let mut state = out.lock().expect("final lock");
    state.digests = digests;
    state.histories = histories;
    state.audit = audit;
    state.members = members;
}

type Logs = (BTreeMap<String, Vec<VersionInfo>>, Vec<AuditEvent>);

/// Every checked file's whole history and the whole audit log, page by page.
async fn read_logs(client: &Client) -> Result<Logs, cairn_client::ClientError> {
    let mut histories = BTreeMap::new();
    for path in PATHS.iter().chain(RENAMED.iter()) {
        let mut versions = Vec::new();
        let mut before = None;
        loop {
            match client.history(STORE, path, Some(1000), before, true).await {
                Ok(page) => {
                    versions.extend(page.versions);
                    match page.next_before {
                        Some(next) => before = Some(next),
                        None => break,
                    }
                }
                Err(error) if error.code() == "not_found" => break,
                Err(error) => return Err(error),
            }
        }
        histories.insert(path.to_string(), versions);
    }
    let mut audit = Vec::new();
    let mut after = None;
    loop {
        let page = client.audit(STORE, after, Some(1000)).await?;
        audit.extend(page.records);
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok((histories, audit))
}

/// The cluster's members (voters and learners), as some node sees them.
async fn member_ids(clients: &[Client]) -> Vec<u64> {
    for client in clients {
        let client = client.clone().with_timeout(Duration::from_millis(500));
        if let Ok(status) = client.get_json::<Value>("/v1/admin/status").await
            && status["current_leader"].is_u64()
        {
            let mut ids: Vec<u64> = ["voters", "learners"]
                .iter()
                .flat_map(|key| status[*key].as_array().cloned().unwrap_or_default())
                .filter_map(|id| id.as_u64())
                .collect();
            ids.sort_unstable();
            return ids;
        }
    }
    Vec::new()
}
