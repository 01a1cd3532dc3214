//! `cairn cluster init|add-learner|promote|remove|status`. `status` shows
//! every member's own view, collected concurrently, as one table.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use cairn_client::{Client, ClientError, LearnerRequest, NodeStatusView};

use crate::cli::ClusterCommand;
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

pub async fn run(context: Context, command: ClusterCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    let status = match command {
        ClusterCommand::Init => client.init().await?,
        ClusterCommand::AddLearner {
            node_url,
            node_id,
            raft_addr,
            api_addr,
            tags,
        } => {
            let request = match (node_url, node_id, raft_addr, api_addr) {
                (Some(node_url), ..) => {
                    let timeout = Duration::from_millis(context.timeout_ms);
                    let node = client.for_node(&node_url)?.with_timeout(timeout);
                    LearnerRequest::from_status(&node.status().await?)
                }
                (None, Some(node_id), Some(raft_addr), Some(api_addr)) => LearnerRequest {
                    node_id,
                    raft_addr,
                    api_addr,
                    tags: tags.into_iter().collect(),
                },
                _ => {
                    return Err(Failure::usage(
                        "usage",
                        "give NODE_URL, or --node-id with --raft-addr and --api-addr",
                    ));
                }
            };
            if !context.json {
                eprintln!(
                    "adding node {} (raft {}, api {}) as a learner",
                    request.node_id, request.raft_addr, request.api_addr
                );
            }
            client.add_learner_request(&request).await?
        }
        ClusterCommand::Promote { node_id } => client.promote(node_id).await?,
        ClusterCommand::Remove { node_id } => client.remove_member(node_id).await?,
        ClusterCommand::Status { member_timeout_ms } => {
            let member_timeout = Duration::from_millis(member_timeout_ms.min(context.timeout_ms));
            let report = collect(client, member_timeout).await?;
            return context.show(&report, render::cluster_report);
        }
    };
    context.show(&status, render::membership_summary)
}

/// One member as `cluster status` found it.
#[derive(Clone, Debug, Serialize)]
pub struct MemberReport {
    pub node_id: u64,
    pub api_addr: String,
    /// Whether the membership lists it as a voter (else a learner).
    pub voter: bool,
    /// Its own status, when it answered.
    pub status: Option<NodeStatusView>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// What `cluster status --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterReport {
    /// The node asked first (`--url`).
    pub queried: NodeStatusView,
    pub members: Vec<MemberReport>,
}

/// Asks `--url` for the membership, then every member for its own status,
/// all at once, each within `member_timeout`.
pub async fn collect(
    client: &Client,
    member_timeout: Duration,
) -> Result<ClusterReport, ClientError> {
    let queried = client.status().await?;
    let mut members: BTreeMap<u64, (String, bool)> = queried
        .nodes
        .iter()
        .map(|(id, node)| (*id, (node.api_addr.clone(), queried.voters.contains(id))))
        .collect();
    // A node that is not (or not yet) a member still shows itself.
    members
        .entry(queried.node_id)
        .or_insert_with(|| (queried.self_node.api_addr.clone(), false));

    let mut tasks = tokio::task::JoinSet::new();
    for (node_id, (api_addr, voter)) in members {
        if node_id == queried.node_id {
            continue;
        }
        let member = client.for_api_addr(&api_addr);
        tasks.spawn(async move {
            let answer = match member {
                Ok(member) => member.with_timeout(member_timeout).status().await,
                Err(error) => Err(error),
            };
            let (status, error) = match answer {
                Ok(status) => (Some(status), None),
                Err(error) => (None, Some(format!("{}: {}", error.code(), error.detail()))),
            };
            MemberReport {
                node_id,
                api_addr,
                voter,
                status,
                error,
            }
        });
    }
    let mut reports = vec![MemberReport {
        node_id: queried.node_id,
        api_addr: queried.nodes.get(&queried.node_id).map_or_else(
            || queried.self_node.api_addr.clone(),
            |node| node.api_addr.clone(),
        ),
        voter: queried.voters.contains(&queried.node_id),
        status: Some(queried.clone()),
        error: None,
    }];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            // A member task cannot panic short of a bug; its row is missing then.
            Err(error) => eprintln!("warning: a status request failed: {error}"),
        }
    }
    reports.sort_by_key(|report| report.node_id);
    Ok(ClusterReport {
        queried,
        members: reports,
    })
}
