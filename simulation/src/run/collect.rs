//! The collector: after healing, it reads from the nodes what they hold
//! (every replica's digest, the checked files' histories, the audit log)
//! into the `FinalState` the checks judge.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::AuditEvent;
use cairn_client::Client;
use cairn_client::VersionInfo;
use serde_json::Value;

use super::{Cluster, FinalState};
use crate::workload::{self, PATHS, RENAMED, STORE};

/// After healing, a collector reads what the nodes hold; it starts five
/// seconds after the agents stop.
pub(super) fn add_collector(
    sim: &mut turmoil::Sim<'_>,
    cluster: &Cluster,
    final_state: &Arc<Mutex<FinalState>>,
) {
    let final_state = final_state.clone();
    let all = cluster.all.clone();
    let stop_at = cluster.stop_at;
    sim.client("collector", async move {
        let now = turmoil::sim_elapsed().unwrap_or_default();
        tokio::time::sleep(stop_at + Duration::from_secs(5) - now).await;
        collect(&all, &final_state).await;
        Ok(())
    });
}

/// Reads, from the nodes, every replica's digest once they agree (or the
/// time is up), and the checked files' histories and the audit log.
async fn collect(all: &[u64], out: &Arc<Mutex<FinalState>>) {
    let clients = workload::clients(all, "collector");
    let digests = digests_once_agreed(all, &clients).await;
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

/// Every answering node's (digest, last applied), read again every half
/// second until all members agree, for at most 60 rounds.
async fn digests_once_agreed(all: &[u64], clients: &[Client]) -> BTreeMap<u64, (String, u64)> {
    let mut digests = BTreeMap::new();
    for _round in 0..60 {
        digests.clear();
        for (id, client) in all.iter().zip(clients) {
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
        let members = member_ids(clients).await;
        let agreed = members
            .iter()
            .all(|id| digests.get(id) == digests.get(&members[0]))
            && !members.is_empty();
        if agreed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    digests
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
        // The transactions' events; the store's creation and grants carry no change.
        audit.extend(
            page.records
                .into_iter()
                .filter(|record| record.operation == "txn"),
        );
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
