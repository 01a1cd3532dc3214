//! What `/metrics` shows, kept in a `prometheus-client` registry per node
//! (the simulation runs several nodes in one process, so no global recorder):
//! request counts and latencies by route, method and status, recorded by the
//! HTTP middleware, and Raft gauges, read from the node at scrape time.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::service::RaftGauges;

/// The media type of the exposition (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A request's labels: the route pattern (never the raw path, so label
/// cardinality stays bounded), the method and the status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// One gauge per Raft figure; `NaN` when the node does not know it.
struct RaftFamily {
    term: FloatGauge,
    leader_id: FloatGauge,
    is_leader: FloatGauge,
    last_log_index: FloatGauge,
    commit_index: FloatGauge,
    applied_index: FloatGauge,
    snapshot_index: FloatGauge,
    purged_index: FloatGauge,
    log_entries: FloatGauge,
    log_file_bytes: FloatGauge,
    state_file_bytes: FloatGauge,
    snapshot_bytes: FloatGauge,
    voters: FloatGauge,
    learners: FloatGauge,
    running: FloatGauge,
    refusing_replication: FloatGauge,
    handing_over: FloatGauge,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    raft: RaftFamily,
    /// The node's own counts, copied in at scrape time; their ratio is the
    /// mean number of proposals per entry.
    proposal_entries: Counter,
    proposals: Counter,
    /// Hand-overs of leadership for want of disk space, begun and done.
    hand_overs_started: Counter,
    hand_overs_completed: Counter,
    /// Held while the counts are copied in, so two scrapes at once cannot
    /// both add the same increase.
    proposal_copy: std::sync::Mutex<()>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "cairn_http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let durations: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "cairn_http_request_duration_seconds",
            "Time to answer HTTP requests",
            durations.clone(),
        );
        let mut gauge = |name: &str, help: &str| {
            let gauge = FloatGauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let raft = RaftFamily {
            term: gauge("cairn_raft_term", "Current Raft term"),
            leader_id: gauge(
                "cairn_raft_leader_id",
                "The leader this node knows (NaN if none)",
            ),
            is_leader: gauge("cairn_raft_is_leader", "1 if this node is the leader"),
            last_log_index: gauge(
                "cairn_raft_last_log_index",
                "Index of the last entry in this node's log",
            ),
            commit_index: gauge(
                "cairn_raft_commit_index",
                "Highest index known committed (leader only)",
            ),
            applied_index: gauge(
                "cairn_raft_applied_index",
                "Index of the last entry applied to the state machine",
            ),
            snapshot_index: gauge(
                "cairn_raft_snapshot_index",
                "Last index covered by the current snapshot",
            ),
            purged_index: gauge("cairn_raft_purged_index", "Last index purged from the log"),
            log_entries: gauge("cairn_raft_log_entries", "Entries held in the Raft log"),
            log_file_bytes: gauge(
                "cairn_raft_log_file_bytes",
                "Size of the Raft log's segment files",
            ),
            state_file_bytes: gauge("cairn_state_file_bytes", "Size of state.redb"),
            snapshot_bytes: gauge(
                "cairn_snapshot_bytes",
                "Size of the snapshot files being received (no other is kept)",
            ),
            voters: gauge("cairn_raft_voters", "Voting members"),
            learners: gauge("cairn_raft_learners", "Learners"),
            running: gauge(
                "cairn_raft_running",
                "1 while Raft runs; 0 once it stopped on a storage error (restart the node)",
            ),
            refusing_replication: gauge(
                "cairn_storage_refusing_replication",
                "1 while this node refuses the leader's entries for want of disk space",
            ),
            handing_over: gauge(
                "cairn_raft_handing_over",
                "1 while this leader, below its storage reserve, hands leadership to a voter with room",
            ),
        };
        let proposal_entries = Counter::default();
        registry.register(
            "cairn_raft_proposal_entries",
            "Log entries this node proposed as the leader (each holds one or more proposals)",
            proposal_entries.clone(),
        );
        let proposals = Counter::default();
        registry.register(
            "cairn_raft_proposals",
            "Proposals this node put into log entries as the leader",
            proposals.clone(),
        );
        let hand_overs_started = Counter::default();
        registry.register(
            "cairn_raft_hand_overs_started",
            "Hand-overs of leadership this node began as a leader below its storage reserve",
            hand_overs_started.clone(),
        );
        let hand_overs_completed = Counter::default();
        registry.register(
            "cairn_raft_hand_overs_completed",
            "Hand-overs of leadership this node began that ended with another leader",
            hand_overs_completed.clone(),
        );
        Metrics {
            registry,
            hand_overs_started,
            hand_overs_completed,
            requests,
            durations,
            raft,
            proposal_entries,
            proposals,
            proposal_copy: std::sync::Mutex::new(()),
        }
    }

    pub fn record_request(&self, labels: &RequestLabels, seconds: f64) {
        self.requests.get_or_create(labels).inc();
        self.durations.get_or_create(labels).observe(seconds);
    }

    /// The exposition text, with the Raft gauges as `gauges` gives them.
    pub fn render(&self, gauges: &RaftGauges) -> Result<String, std::fmt::Error> {
        let known = |value: Option<u64>| value.map_or(f64::NAN, |value| value as f64);
        let raft = &self.raft;
        raft.term.set(gauges.term as f64);
        raft.leader_id.set(known(gauges.leader_id));
        raft.is_leader.set(if gauges.is_leader { 1.0 } else { 0.0 });
        raft.last_log_index.set(known(gauges.last_log_index));
        raft.commit_index.set(known(gauges.commit_index));
        raft.applied_index.set(known(gauges.applied_index));
        raft.snapshot_index.set(known(gauges.snapshot_index));
        raft.purged_index.set(known(gauges.purged_index));
        raft.log_entries.set(known(gauges.log_entries));
        raft.log_file_bytes.set(known(gauges.log_file_bytes));
        raft.state_file_bytes.set(known(gauges.state_file_bytes));
        raft.snapshot_bytes.set(known(gauges.snapshot_bytes));
        raft.voters.set(gauges.voters as f64);
        raft.learners.set(gauges.learners as f64);
        // The node's counts only grow: add what is new since the last scrape.
        let counts = gauges.proposals;
        let _copying = self
            .proposal_copy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.proposal_entries
            .inc_by(counts.entries.saturating_sub(self.proposal_entries.get()));
        self.proposals
            .inc_by(counts.proposals.saturating_sub(self.proposals.get()));
        let hand_overs = gauges.hand_overs;
        self.hand_overs_started.inc_by(
            hand_overs
                .started
                .saturating_sub(self.hand_overs_started.get()),
        );
        self.hand_overs_completed.inc_by(
            hand_overs
                .completed
                .saturating_sub(self.hand_overs_completed.get()),
        );
        raft.running.set(if gauges.running { 1.0 } else { 0.0 });
        let refusing = gauges.refusing_replication;
        raft.refusing_replication
            .set(if refusing { 1.0 } else { 0.0 });
        raft.handing_over
            .set(if gauges.handing_over { 1.0 } else { 0.0 });
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
