//! The faults of the chaos phase: a schedule drawn from the seed, and the
//! nemesis that applies it, then heals every fault, while it steps the
//! simulation to its end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Cluster, Hosts, Records};
use crate::disk::SimDisk;
use crate::node::host_name;
use crate::rng::{Rng, purpose};

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
    /// Peer requests lost and duplicated, in percent (`peer_faults`).
    PeerMessages {
        loss: u64,
        duplicate: u64,
    },
    /// A node's wall clock off by this many milliseconds.
    ClockSkew(u64, i64),
    HealLinks,
}

fn schedule(rng: &mut Rng, voters: u64, chaos: Duration) -> Vec<(Duration, Fault)> {
    let mut faults = Vec::new();
    let mut at = Duration::from_millis(2000);
    while at < chaos {
        let node = rng.range(1, voters + 1);
        let fault = match rng.below(9) {
            0 => Fault::Partition(node),
            1 => Fault::PartitionOneWay(node, 1 + (node % voters)),
            2 => Fault::IsolateLeader,
            3 | 4 => Fault::Crash(node),
            5 => Fault::Latency(rng.range(20, 200)),
            6 => Fault::PeerMessages {
                loss: rng.range(1, 20),
                duplicate: rng.range(1, 20),
            },
            7 => {
                // Up to ten minutes either way.
                let skew = rng.range(1, 600_000) as i64;
                Fault::ClockSkew(node, if rng.chance(50) { skew } else { -skew })
            }
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

/// Steps the simulation to its end: faults from the schedule during the
/// chaos phase, then healing. Answers the simulation's own error, if any.
pub(super) fn run_nemesis(
    sim: &mut turmoil::Sim<'_>,
    cluster: &Cluster,
    root: &Rng,
    hosts: &Hosts,
    records: &Records,
    chaos: Duration,
) -> Result<(), String> {
    let mut fault_rng = root.fork(purpose::FAULTS);
    let mut plan = schedule(&mut fault_rng, cluster.voters, chaos)
        .into_iter()
        .peekable();
    let mut crashed: Vec<u64> = Vec::new();
    let mut healed = false;
    loop {
        let now = sim.elapsed();
        while let Some((_, fault)) = plan.next_if(|(at, _)| *at <= now) {
            let current_leader = *records.leader.lock().expect("leader lock");
            let line = apply_fault(
                sim,
                &fault,
                &cluster.all,
                &mut crashed,
                current_leader,
                hosts,
            );
            log_fault(records, format!("{now:?} {line}"));
        }
        if !healed && now >= cluster.heal_at {
            healed = true;
            heal(sim, hosts, &cluster.all, &mut crashed);
            let peer = hosts.peer_faults.counts();
            log_fault(
                records,
                format!(
                    "{now:?} heal: links repaired, clocks set right, crashed nodes restarted; peer requests lost {}, answers lost {}, requests duplicated {}",
                    peer.requests_lost, peer.responses_lost, peer.requests_duplicated
                ),
            );
        }
        match sim.step() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

fn log_fault(records: &Records, line: String) {
    records.faults_log.lock().expect("faults lock").push(line);
}

/// Applies `fault` and answers what it did, as a line of the faults log.
fn apply_fault(
    sim: &mut turmoil::Sim<'_>,
    fault: &Fault,
    all: &[u64],
    crashed: &mut Vec<u64>,
    leader: Option<u64>,
    hosts: &Hosts,
) -> String {
    match fault {
        Fault::Partition(node) => {
            partition_from_the_rest(sim, *node, all);
            format!("partition n{node} from the rest")
        }
        Fault::PartitionOneWay(from, to) => {
            sim.partition_oneway(host_name(*from).as_str(), host_name(*to).as_str());
            format!("one-way partition n{from} -> n{to}")
        }
        Fault::IsolateLeader => match leader {
            Some(node) => {
                partition_from_the_rest(sim, node, all);
                format!("isolate the leader n{node}")
            }
            None => "isolate the leader: none known".to_string(),
        },
        Fault::Crash(node) => crash(sim, *node, crashed, &hosts.disks),
        Fault::Restart(node) => restart(sim, *node, crashed),
        Fault::Latency(ms) => {
            sim.set_max_message_latency(Duration::from_millis(*ms));
            format!("message latency up to {ms} ms")
        }
        Fault::Flapping => {
            sim.set_fail_rate(0.05);
            "links flapping (5% failure, repaired at random)".to_string()
        }
        Fault::PeerMessages { loss, duplicate } => {
            hosts.peer_faults.set(*loss, *duplicate);
            format!("peer requests lost {loss}%, duplicated {duplicate}%")
        }
        Fault::ClockSkew(node, skew_ms) => {
            hosts.clocks[node].skew(*skew_ms);
            format!("clock of n{node} off by {skew_ms} ms")
        }
        Fault::HealLinks => {
            repair_links(sim, hosts, all);
            "links healed, clocks set right".to_string()
        }
    }
}

fn partition_from_the_rest(sim: &mut turmoil::Sim<'_>, node: u64, all: &[u64]) {
    for other in all.iter().filter(|id| **id != node) {
        sim.partition(host_name(node).as_str(), host_name(*other).as_str());
    }
}

fn crash(
    sim: &mut turmoil::Sim<'_>,
    node: u64,
    crashed: &mut Vec<u64>,
    disks: &BTreeMap<u64, Arc<SimDisk>>,
) -> String {
    if crashed.contains(&node) {
        return format!("crash n{node}: already down");
    }
    disks[&node].crash();
    sim.crash(host_name(node).as_str());
    crashed.push(node);
    format!("crash n{node} (unsynced writes lost)")
}

fn restart(sim: &mut turmoil::Sim<'_>, node: u64, crashed: &mut Vec<u64>) -> String {
    if !crashed.contains(&node) {
        return format!("restart n{node}: not down");
    }
    sim.bounce(host_name(node).as_str());
    crashed.retain(|id| *id != node);
    format!("restart n{node}")
}

fn repair_links(sim: &mut turmoil::Sim<'_>, hosts: &Hosts, all: &[u64]) {
    hosts.peer_faults.set(0, 0);
    for clock in hosts.clocks.values() {
        clock.skew(0);
    }
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

fn heal(sim: &mut turmoil::Sim<'_>, hosts: &Hosts, all: &[u64], crashed: &mut Vec<u64>) {
    repair_links(sim, hosts, all);
    for node in crashed.drain(..) {
        sim.bounce(host_name(node).as_str());
    }
}
