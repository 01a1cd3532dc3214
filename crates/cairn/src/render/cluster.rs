//! `cairn cluster status` as a table, and the one-line account of a node's
//! status after a membership change.

use cairn_client::{NodeStatusView, ServerState};

use crate::commands::cluster::{ClusterReport, MemberReport};
use crate::render::table;

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
pub fn cluster_report(report: &ClusterReport) -> String {
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
    let mut out = table(&rows);
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
    // Why a member falls behind or takes no part, in its own words.
    for member in &report.members {
        let Some(status) = &member.status else {
            continue;
        };
        if let Some(reason) = &status.stopped_reason {
            out.push_str(&format!("node {}: {reason}\n", member.node_id));
        }
        if let Some(reason) = &status.refusing_replication {
            out.push_str(&format!(
                "node {} refuses replication: {reason}\n",
                member.node_id
            ));
        }
        if let Some(to) = status.handing_over_to {
            out.push_str(&format!(
                "node {} is below its storage reserve and hands leadership over to node {to}\n",
                member.node_id
            ));
        }
    }
    if leader(report).is_none() {
        out.push_str("no leader answered\n");
    }
    out
}

/// A one-line account of a status after a membership change.
pub fn membership_summary(status: &NodeStatusView) -> String {
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
    use std::collections::BTreeMap;

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
            stopped_reason: None,
            refusing_replication: None,
            handing_over_to: None,
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
        let text = cluster_report(&report);
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
        assert_eq!(lines.len(), 5, "{text}");
    }

    #[test]
    fn a_member_that_refuses_replication_or_stopped_or_hands_over_says_why() {
        let mut leader = status(1, ServerState::Leader, 4, 100, 100);
        leader.handing_over_to = Some(3);
        let mut full = status(2, ServerState::Follower, 4, 100, 60);
        full.refusing_replication = Some("the data directory has 1 bytes free".into());
        let mut stopped = status(3, ServerState::Follower, 4, 70, 70);
        stopped.running = false;
        stopped.stopped_reason = Some("Raft stopped on this node; restart it".into());
        let member = |node_id: u64, status: NodeStatusView| MemberReport {
            node_id,
            api_addr: format!("127.0.0.1:77{node_id}0"),
            voter: true,
            status: Some(status),
            error: None,
        };
        let report = ClusterReport {
            queried: leader.clone(),
            members: vec![member(1, leader), member(2, full), member(3, stopped)],
        };
        let text = cluster_report(&report);
        assert!(
            text.contains("node 2 refuses replication: the data directory has 1 bytes free\n"),
            "{text}"
        );
        assert!(
            text.contains("node 3: Raft stopped on this node; restart it\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "node 1 is below its storage reserve and hands leadership over to node 3\n"
            ),
            "{text}"
        );
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
    fn membership_summaries() {
        assert_eq!(
            membership_summary(&status(1, ServerState::Leader, 4, 1, 1)),
            "node 1 is leader in term 4 (leader 1); voters [1,2], learners [3]\n"
        );
    }
}
