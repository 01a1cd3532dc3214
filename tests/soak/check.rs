//! The soak's verdict, after healing: the replicas converge to one digest;
//! every acknowledged write is in every node's history at its version with
//! its content; no two answers disagree about a (path, version); every
//! counter's versions count up by one from zero, at least once per
//! acknowledged increment and at most once per increment attempted.

use std::collections::BTreeMap;

use cairn_client::Consistency;

use super::STORE;
use super::cluster::Cluster;
use super::workload::{Ack, BLIND, COUNTERS, ClientRecord};

/// One file's history: content by version.
type History = BTreeMap<u64, String>;

/// What the checks counted.
#[derive(Debug, Default)]
pub struct Verdict {
    pub digest: String,
    pub acknowledged_increments: u64,
    pub acknowledged_blind_writes: u64,
    pub reads: u64,
    /// Acknowledged writes missing from some node at their version.
    pub lost: Vec<String>,
    /// Answers that contradict another answer or the final history.
    pub contradictions: Vec<String>,
    /// Checks that held: a write or read found in a history, a node's
    /// histories equal to node 1's, a counter's chain and bounds.
    pub checks_passed: u64,
    /// Each counter's final value.
    pub counters: BTreeMap<String, u64>,
}

/// Waits for convergence and checks `records` against every node.
pub async fn check(cluster: &Cluster, records: &[ClientRecord]) -> Verdict {
    let mut verdict = Verdict {
        digest: cluster.converged().await,
        ..Verdict::default()
    };
    let mut histories_by_node = Vec::new();
    for id in 1..=3 {
        histories_by_node.push(histories(cluster, id).await);
    }
    for (node, histories) in histories_by_node.iter().enumerate().skip(1) {
        if histories == &histories_by_node[0] {
            verdict.checks_passed += 1;
        } else {
            verdict.contradictions.push(format!(
                "node {} has another history than node 1 under the same digest",
                node + 1
            ));
        }
    }
    for record in records {
        verdict.acknowledged_increments += record.increments.len() as u64;
        verdict.acknowledged_blind_writes += record.blind_writes.len() as u64;
        verdict.reads += record.reads.len() as u64;
        verdict
            .contradictions
            .extend(record.stale_reads.iter().cloned());
        for (node, histories) in histories_by_node.iter().enumerate() {
            for ack in record.increments.iter().chain(&record.blind_writes) {
                if holds(histories, ack) {
                    verdict.checks_passed += 1;
                } else {
                    verdict.lost.push(format!("node {}: {ack:?}", node + 1));
                }
            }
        }
        for read in &record.reads {
            if holds(&histories_by_node[0], read) {
                verdict.checks_passed += 1;
            } else {
                verdict
                    .contradictions
                    .push(format!("a read the history does not hold: {read:?}"));
            }
        }
    }
    check_same_answers(records, &mut verdict);
    check_counters(&histories_by_node[0], records, &mut verdict);
    verdict
}

fn holds(histories: &BTreeMap<String, History>, ack: &Ack) -> bool {
    histories
        .get(&ack.path)
        .and_then(|history| history.get(&ack.version))
        .is_some_and(|content| *content == ack.content)
}

/// No two answers (acknowledgements or reads, from any clients) name the
/// same version of a file with different contents.
fn check_same_answers(records: &[ClientRecord], verdict: &mut Verdict) {
    let mut answered: BTreeMap<(&str, u64), &Ack> = BTreeMap::new();
    for record in records {
        let answers = record
            .increments
            .iter()
            .chain(&record.blind_writes)
            .chain(&record.reads);
        for answer in answers {
            let first = answered
                .entry((&answer.path, answer.version))
                .or_insert(answer);
            if first.content != answer.content {
                verdict.contradictions.push(format!(
                    "two answers for one version: {first:?} and {answer:?}"
                ));
            }
        }
    }
}

/// Each counter's history is 0, 1, 2, … one version per applied increment;
/// its final value is at least the acknowledged increments and at most
/// those plus the ones whose outcome is unknown.
fn check_counters(
    histories: &BTreeMap<String, History>,
    records: &[ClientRecord],
    verdict: &mut Verdict,
) {
    for counter in COUNTERS {
        let Some(history) = histories.get(counter) else {
            verdict.lost.push(format!("{counter} has no history"));
            continue;
        };
        for (step, (version, content)) in history.iter().enumerate() {
            if content.trim().parse::<u64>().ok() == Some(step as u64) {
                verdict.checks_passed += 1;
            } else {
                verdict.contradictions.push(format!(
                    "{counter} version {version} holds {content:?}, the version chain wants {step}"
                ));
            }
        }
        let final_value = history.len().saturating_sub(1) as u64;
        let acknowledged: u64 = records
            .iter()
            .map(|record| {
                record
                    .increments
                    .iter()
                    .filter(|ack| ack.path == counter)
                    .count() as u64
            })
            .sum();
        let unknown: u64 = records
            .iter()
            .map(|record| record.unknown_increments.get(counter).copied().unwrap_or(0))
            .sum();
        if (acknowledged..=acknowledged + unknown).contains(&final_value) {
            verdict.checks_passed += 1;
        } else {
            verdict.contradictions.push(format!(
                "{counter} ends at {final_value} after {acknowledged} acknowledged and {unknown} unknown increments"
            ));
        }
        verdict.counters.insert(counter.to_string(), final_value);
    }
}

/// Every soak file's whole history on node `id`, read from its own replica.
async fn histories(cluster: &Cluster, id: u64) -> BTreeMap<String, History> {
    let client = cluster.client(id).with_consistency(Consistency::Stale);
    let mut histories = BTreeMap::new();
    for path in COUNTERS.iter().chain(&BLIND) {
        let mut history = History::new();
        let mut before = None;
        loop {
            let page = client
                .history(STORE, path, None, before, true)
                .await
                .unwrap();
            for version in page.versions {
                history.insert(version.version, version.content.unwrap_or_default());
            }
            before = page.next_before;
            if before.is_none() {
                break;
            }
        }
        histories.insert(path.to_string(), history);
    }
    histories
}
