//! The soak's clients: each sends, through the three nodes in turn, a CAS
//! increment of a shared counter (read it, then write the value plus one
//! with `If-Match` on the version read) and a blind write of a shared file,
//! and records every answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_client::{At, Client, ClientError, ErrorCode, WriteOptions};

use super::STORE;

/// A client's pause after a failed request: a dead node refuses connections
/// at once, and clients retrying in a tight loop would only burn the CPU the
/// nodes need.
const PAUSE_AFTER_FAILURE_MS: u64 = 50;

/// The counters the clients increment; client `i` uses `COUNTERS[i % 3]`.
pub const COUNTERS: [&str; 3] = ["/counters/a.txt", "/counters/b.txt", "/counters/c.txt"];
/// The files the clients overwrite blindly; client `i` uses `BLIND[i % 3]`.
pub const BLIND: [&str; 3] = ["/blind/a.md", "/blind/b.md", "/blind/c.md"];

/// A write the cluster acknowledged: `path` is at `version` with `content`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub client: usize,
    pub path: String,
    pub version: u64,
    pub content: String,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct ClientRecord {
    /// Acknowledged CAS increments.
    pub increments: Vec<Ack>,
    /// Acknowledged blind writes.
    pub blind_writes: Vec<Ack>,
    /// Successful linearizable reads, as (path, version, content).
    pub reads: Vec<Ack>,
    /// Increments refused with `version_conflict` (certainly not applied).
    pub conflicts: u64,
    /// Increments with no answer or an error that may hide a commit, per counter.
    pub unknown_increments: BTreeMap<String, u64>,
    /// Blind writes whose outcome is unknown.
    pub unknown_blind_writes: u64,
    /// Reads that failed (no leader, a paused or dead node, a timeout).
    pub failed_reads: u64,
    /// A linearizable read that returned a version older than one this
    /// client had already seen acknowledged or read: a contradiction.
    pub stale_reads: Vec<String>,
    /// The newest version this client knows of, per path.
    newest_seen: BTreeMap<String, u64>,
}

impl ClientRecord {
    fn saw(&mut self, path: &str, version: u64) {
        let newest = self.newest_seen.entry(path.to_string()).or_insert(0);
        *newest = (*newest).max(version);
    }

    /// Every answer that was not a success or a version conflict.
    fn failures(&self) -> u64 {
        self.unknown_increments.values().sum::<u64>()
            + self.unknown_blind_writes
            + self.failed_reads
    }

    fn newest(&self, path: &str) -> u64 {
        self.newest_seen.get(path).copied().unwrap_or(0)
    }
}

/// Runs client `index` against `clients` (one per node) until `stop`.
pub async fn run_client(index: usize, clients: Vec<Client>, stop: Arc<AtomicBool>) -> ClientRecord {
    let mut record = ClientRecord::default();
    let counter = COUNTERS[index % COUNTERS.len()];
    let blind = BLIND[index % BLIND.len()];
    let mut round = 0_usize;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let failures_before = record.failures();
        // Agents behind a load balancer: each request goes to the next node.
        let node = |step: usize| &clients[(index + round * 3 + step) % clients.len()];
        increment(index, node(0), node(1), counter, &mut record).await;
        let content = format!("client {index} round {round}\n");
        match node(2)
            .write_file(STORE, blind, &content, &WriteOptions::default())
            .await
        {
            Ok(written) => {
                record.saw(blind, written.version);
                record.blind_writes.push(Ack {
                    client: index,
                    path: blind.to_string(),
                    version: written.version,
                    content,
                });
            }
            Err(_) => record.unknown_blind_writes += 1,
        }
        if record.failures() > failures_before {
            tokio::time::sleep(Duration::from_millis(PAUSE_AFTER_FAILURE_MS)).await;
        }
    }
    record
}

/// One CAS increment: a linearizable read through `reader`, then the write
/// of the next value through `writer` if the version has not moved.
async fn increment(
    index: usize,
    reader: &Client,
    writer: &Client,
    counter: &str,
    record: &mut ClientRecord,
) {
    let current = match reader.read_file(STORE, counter, At::Current).await {
        Ok(current) => current,
        Err(_) => {
            record.failed_reads += 1;
            return;
        }
    };
    if current.version < record.newest(counter) {
        record.stale_reads.push(format!(
            "client {index} read {counter} at version {} after seeing version {}",
            current.version,
            record.newest(counter)
        ));
    }
    record.saw(counter, current.version);
    record.reads.push(Ack {
        client: index,
        path: counter.to_string(),
        version: current.version,
        content: current.content.clone(),
    });
    let Ok(value) = current.content.trim().parse::<u64>() else {
        record.stale_reads.push(format!(
            "client {index} read {counter} version {} holding {:?}, not a number",
            current.version, current.content
        ));
        return;
    };
    let next = format!("{}\n", value + 1);
    let options = WriteOptions {
        if_match: Some(current.version),
        ..WriteOptions::default()
    };
    match writer.write_file(STORE, counter, &next, &options).await {
        Ok(written) => {
            record.saw(counter, written.version);
            record.increments.push(Ack {
                client: index,
                path: counter.to_string(),
                version: written.version,
                content: next,
            });
        }
        Err(error) if is_certainly_refused(&error) => record.conflicts += 1,
        Err(_) => {
            *record
                .unknown_increments
                .entry(counter.to_string())
                .or_insert(0) += 1
        }
    }
}

/// Whether the answer proves the write was not applied: the precondition
/// failed. Any other error (unavailable, timeout, a reset) may hide a commit.
fn is_certainly_refused(error: &ClientError) -> bool {
    error.is(ErrorCode::VersionConflict)
}
