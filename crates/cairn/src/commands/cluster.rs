//! `cairn cluster init|add-learner|promote|remove|status`. `status` shows
//! every member's own view, collected concurrently, as one table.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use cairn_client::{Client, ClientError, LearnerRequest, NodeStatusView, ServerState};

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
                    let node = Client::new(&node_url)?.with_timeout(timeout);
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
            return context.show(&report, render_report);
        }
    };
    context.show(&status, summary_line)
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
        tasks.spawn(async move {
            let answer = match Client::new(&format!("http://{api_addr}")) {
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

/// `leader`, `follower`, `learner`, `candidate`, `shutdown`, or `down`.
fn role(report: &MemberReport) -> String {
    let Some(status) = &report.status else {
        return "down".to_string();
    };
    // openraft reports a node that belongs to no cluster yet as a learner.
    if status.voters.is_empty() && status.learners.is_empty() {
        return "uninitialized".to_string();
    }
    match status.state {
        ServerState::Follower if status.learners.contains(&status.node_id) => "learner".to_string(),
        state => state.as_str().to_ascii_lowercase(),
    }
}

/// The leader's status: the answering leader with the highest term.
fn leader(report: &ClusterReport) -> Option<&NodeStatusView> {
    report
        .members
        .iter()
        .filter_map(|member| member.status.as_ref())
        .filter(|status| status.is_leader())
        .max_by_key(|status| status.current_term)
}

fn or_dash(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |value| value.to_string())
}

/// The table: node, API address, role, term, last applied, lag, region.
pub fn render_report(report: &ClusterReport) -> String {
    let leader_last_log = leader(report).and_then(|leader| leader.last_log_index);
    let mut rows = vec![
        ["NODE", "API", "ROLE", "TERM", "APPLIED", "LAG", "REGION"]
            .map(String::from)
            .to_vec(),
    ];
    for member in &report.members {
        let status = member.status.as_ref();
        let applied = status.and_then(|status| status.last_applied);
        let lag = match (leader_last_log, status) {
            (Some(last_log), Some(status)) => {
                Some(last_log.saturating_sub(status.last_applied.unwrap_or(0)))
            }
            _ => None,
        };
        // The region the membership records (what the cluster goes by),
        // else what the node says of itself.
        let region = report
            .queried
            .nodes
            .get(&member.node_id)
            .and_then(|node| node.region().map(str::to_string))
            .or_else(|| status.and_then(|status| status.self_node.region().map(str::to_string)));
        rows.push(vec![
            member.node_id.to_string(),
            member.api_addr.clone(),
            role(member),
            or_dash(status.map(|status| status.current_term)),
            or_dash(applied),
            or_dash(lag),
            region.unwrap_or_else(|| "-".to_string()),
        ]);
    }
    let mut out = render::table(&rows);
    let unreachable: Vec<String> = report
        .members
        .iter()
        .filter_map(|member| {
            member
                .error
                .as_ref()
                .map(|error| format!("node {} ({}): {error}", member.node_id, member.api_addr))
        })
        .collect();
    for line in unreachable {
        out.push_str(&line);
        out.push('\n');
    }
    if leader(report).is_none() {
        out.push_str("no leader answered\n");
    }
    out
}

/// A one-line account of a status after a membership change.
pub fn summary_line(status: &NodeStatusView) -> String {
    let ids = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    format!(
        "node {} is {} in term {} (leader {}); voters [{}], learners [{}]\n",
        status.node_id,
        status.state.as_str().to_ascii_lowercase(),
        status.current_term,
        or_dash(status.current_leader),
        ids(&status.voters),
        ids(&status.learners)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_client::PeerView;

    fn status(
        node_id: u64,
        state: ServerState,
        term: u64,
        last_log: u64,
        applied: u64,
    ) -> NodeStatusView {
        let peer = |id: u64, region: Option<&str>| PeerView {
            raft_addr: format!("127.0.0.1:{}", 7701 + 10 * id),
            api_addr: format!("127.0.0.1:{}", 7700 + 10 * id),
            tags: region
                .map(|region| BTreeMap::from([("region".to_string(), region.to_string())]))
                .unwrap_or_default(),
        };
        NodeStatusView {
            node_id,
            self_node: peer(node_id, (node_id == 1).then_some("eu")),
            state,
            current_term: term,
            current_leader: Some(1),
            last_log_index: Some(last_log),
            committed_index: None,
            last_applied: Some(applied),
            snapshot_index: None,
            purged_index: None,
            voters: vec![1, 2],
            learners: vec![3],
            nodes: (1..=3)
                .map(|id| (id, peer(id, (id == 1).then_some("eu"))))
                .collect(),
            matched: BTreeMap::new(),
            staleness_ms: Some(0),
            running: true,
        }
    }

    #[test]
    fn table_shows_roles_lag_and_down_members() {
        let leader = status(1, ServerState::Leader, 4, 100, 100);
        let report = ClusterReport {
            queried: leader.clone(),
            members: vec![
                MemberReport {
                    node_id: 1,
                    api_addr: "127.0.0.1:7710".into(),
                    voter: true,
                    status: Some(leader),
                    error: None,
                },
                MemberReport {
                    node_id: 2,
                    api_addr: "127.0.0.1:7720".into(),
                    voter: true,
                    status: None,
                    error: Some("transport: connection refused".into()),
                },
                MemberReport {
                    node_id: 3,
                    api_addr: "127.0.0.1:7730".into(),
                    voter: false,
                    status: Some(status(3, ServerState::Learner, 4, 98, 90)),
                    error: None,
                },
            ],
        };
        let text = render_report(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "NODE  API             ROLE     TERM  APPLIED  LAG  REGION"
        );
        assert_eq!(
            lines[1],
            "1     127.0.0.1:7710  leader   4     100      0    eu"
        );
        assert_eq!(
            lines[2],
            "2     127.0.0.1:7720  down     -     -        -    -"
        );
        assert_eq!(
            lines[3],
            "3     127.0.0.1:7730  learner  4     90       10   -"
        );
        assert!(lines[4].contains("connection refused"));
        assert!(!text.contains("no leader"));
    }

    #[test]
    fn follower_in_the_learner_list_is_a_learner() {
        let mut member = status(3, ServerState::Follower, 2, 5, 5);
        let report = MemberReport {
            node_id: 3,
            api_addr: String::new(),
            voter: false,
            status: Some(member.clone()),
            error: None,
        };
        assert_eq!(role(&report), "learner");
        member.learners.clear();
        let report = MemberReport {
            status: Some(member),
            ..report
        };
        assert_eq!(role(&report), "follower");

        let mut fresh = status(4, ServerState::Learner, 0, 0, 0);
        fresh.voters.clear();
        fresh.learners.clear();
        let report = MemberReport {
            status: Some(fresh),
            ..report
        };
        assert_eq!(role(&report), "uninitialized");
    }

    #[test]
    fn summary_lines() {
        assert_eq!(
            summary_line(&status(1, ServerState::Leader, 4, 1, 1)),
            "node 1 is leader in term 4 (leader 1); voters [1,2], learners [3]\n"
        );
    }
}
