//! The simulated clients that act during the run: the agents and their
//! workload, the observer that samples every node's term and role, and the
//! operator that changes membership under load.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::Client;
use serde_json::Value;

use super::{Cluster, Records};
use crate::node::peer;
use crate::rng::{Rng, purpose};
use crate::workload::{self, Agent, STORE, SharedJournal};

/// The agents, each on a random stream of its own; the store exists before
/// the agents start.
pub(super) fn add_agents(
    sim: &mut turmoil::Sim<'_>,
    cluster: &Cluster,
    root: &Rng,
    journal: &SharedJournal,
    agents: u32,
) {
    for agent in 0..agents {
        let clients = workload::clients(&cluster.all, &format!("agent-{agent}"));
        let agent = Agent::new(
            agent,
            root.fork(purpose::AGENTS + u64::from(agent)),
            clients,
            journal.clone(),
            cluster.heal_at,
            cluster.stop_at,
        );
        sim.client(format!("agent-{}", agent.index).as_str(), async move {
            create_store(&agent.clients).await;
            agent.run().await
        });
    }
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

/// The observer samples every node's view of term and role, and keeps the
/// leader it saw last for the nemesis.
pub(super) fn add_observer(sim: &mut turmoil::Sim<'_>, cluster: &Cluster, records: &Records) {
    let samples = records.samples.clone();
    let leader = records.leader.clone();
    let all = cluster.all.clone();
    let stop_at = cluster.stop_at;
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

/// The operator changes membership under load: the spare node joins as a
/// learner, becomes a voter, and leaves again, each step logged with the
/// faults.
pub(super) fn add_operator(
    sim: &mut turmoil::Sim<'_>,
    cluster: &Cluster,
    faults_log: &Arc<Mutex<Vec<String>>>,
    chaos: Duration,
) {
    let all = cluster.all.clone();
    let voters = cluster.voters;
    let spare = cluster.spare;
    let faults_log = faults_log.clone();
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
            let done = change_membership(&clients, voters, method, &path, &body).await;
            faults_log.lock().expect("faults lock").push(format!(
                "{:?} membership {method} {path}: {}",
                turmoil::sim_elapsed().unwrap_or_default(),
                if done { "done" } else { "gave up" }
            ));
        }
        Ok(())
    });
}

/// Sends one membership change to the voters in turn until one accepts it,
/// at most 20 times; answers whether one did.
async fn change_membership(
    clients: &[Client],
    voters: u64,
    method: &str,
    path: &str,
    body: &str,
) -> bool {
    for attempt in 0..20 {
        let client = &clients[attempt % voters as usize];
        let headers = [("content-type", "application/json")];
        if let Ok(response) = client
            .raw_request(method, path, &headers, body.to_string())
            .await
            && response.is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
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

/// The gatekeeper, flipping a member's write grant, and the member, writing
/// with its own token (`crate::access`).
pub(super) fn add_access(
    sim: &mut turmoil::Sim<'_>,
    cluster: &Cluster,
    root: &Rng,
    journal: &crate::access::SharedAccess,
) {
    let token = Arc::new(Mutex::new(None));
    let (clients, rng, shared, handoff, stop_at) = (
        workload::clients(&cluster.all, "gatekeeper"),
        root.fork(purpose::GATEKEEPER),
        journal.clone(),
        token.clone(),
        cluster.stop_at,
    );
    sim.client("gatekeeper", async move {
        crate::access::gatekeeper(clients, rng, shared, handoff, stop_at).await
    });
    let (clients, rng, shared, stop_at) = (
        workload::clients(&cluster.all, "member"),
        root.fork(purpose::MEMBER),
        journal.clone(),
        cluster.stop_at,
    );
    sim.client("member", async move {
        crate::access::member(clients, rng, shared, token, stop_at).await
    });
}
