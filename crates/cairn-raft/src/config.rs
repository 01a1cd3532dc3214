//! `RaftSettings`: the `[raft]` table of a node's config, its defaults, and
//! the checks that keep it consistent with openraft and with the peer
//! protocol's frame limit.

use cairn_core::Limits;
use openraft::SnapshotPolicy;
use serde::{Deserialize, Serialize};

use crate::NodeError;
use crate::transport::{FRAME_BYTES_MAX, FRAME_ENTRY_OVERHEAD_BYTES_MAX};

/// The least time one snapshot chunk's RPC may take. The answer to the
/// last chunk waits until the receiver imported the whole snapshot (one redb
/// transaction: seconds for a snapshot of a GiB), and a chunk that times
/// out is sent again, which the receiver, done with it, refuses
/// (`SnapshotMismatch`), so the leader starts the whole snapshot over: with
/// the ordinary RPC deadline a large snapshot could be sent again and again.
pub const INSTALL_SNAPSHOT_TIMEOUT_MS_MIN: u64 = 60_000;

/// Raft timing and batching settings, validated by the server's config loader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftSettings {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many applied entries since the last one.
    pub snapshot_logs_since_last: u64,
    /// Keep this many entries in the log behind the last snapshot.
    pub max_in_snapshot_log_to_keep: u64,
    /// Also build a snapshot once the entries since the last one hold more
    /// than this many bytes (`snapshot_policy.rs`): a bulk load writes few
    /// large entries, which the entry count alone lets pile up.
    pub snapshot_log_bytes_since_last: u64,
    /// And keep at most this many bytes of entries behind the last snapshot
    /// (the log is purged to whichever of the two bounds keeps less).
    pub max_in_snapshot_log_bytes_to_keep: u64,
    /// Most entries in one append-entries RPC.
    pub max_payload_entries: u64,
    /// Deadline of one peer RPC.
    pub rpc_timeout_ms: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 1000,
            snapshot_logs_since_last: 10_000,
            max_in_snapshot_log_to_keep: 1_000,
            snapshot_log_bytes_since_last: 64 * 1024 * 1024,
            max_in_snapshot_log_bytes_to_keep: 16 * 1024 * 1024,
            max_payload_entries: 256,
            rpc_timeout_ms: 2_000,
        }
    }
}

impl RaftSettings {
    /// Checks the settings the way openraft will, with a message that says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_interval_ms == 0 {
            return Err("raft.heartbeat_interval_ms must be positive".into());
        }
        if self.election_timeout_min_ms <= self.heartbeat_interval_ms {
            return Err(format!(
                "raft.election_timeout_min_ms ({}) must exceed raft.heartbeat_interval_ms ({})",
                self.election_timeout_min_ms, self.heartbeat_interval_ms
            ));
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return Err(format!(
                "raft.election_timeout_max_ms ({}) must exceed raft.election_timeout_min_ms ({})",
                self.election_timeout_max_ms, self.election_timeout_min_ms
            ));
        }
        if self.snapshot_logs_since_last == 0 {
            return Err("raft.snapshot_logs_since_last must be positive".into());
        }
        if self.snapshot_log_bytes_since_last == 0 {
            return Err("raft.snapshot_log_bytes_since_last must be positive".into());
        }
        if self.max_payload_entries == 0 {
            return Err("raft.max_payload_entries must be positive".into());
        }
        if self.rpc_timeout_ms == 0 {
            return Err("raft.rpc_timeout_ms must be positive".into());
        }
        raft_config(self)
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    /// Checks that one log entry made from the largest request `limits`
    /// allow always fits in one peer frame. Then an append-entries batch of
    /// any `max_payload_entries` can be cut down to a batch that fits (the
    /// peer client answers openraft `PayloadTooLarge` with a smaller entry
    /// count, never zero), so a lagging follower always makes progress.
    pub fn validate_with_limits(&self, limits: &Limits) -> Result<(), String> {
        let entry_bytes_max = limits
            .request_bytes_max
            .saturating_add(FRAME_ENTRY_OVERHEAD_BYTES_MAX as u64);
        if entry_bytes_max > FRAME_BYTES_MAX as u64 {
            return Err(format!(
                "limits.request_bytes_max ({}) plus {} bytes of log entry overhead must be at \
                 most the peer frame limit ({} bytes), or one replicated entry could not be sent",
                limits.request_bytes_max, FRAME_ENTRY_OVERHEAD_BYTES_MAX, FRAME_BYTES_MAX
            ));
        }
        Ok(())
    }
}

/// openraft's configuration from ours; `validate` rejects inconsistent timings.
pub(crate) fn raft_config(settings: &RaftSettings) -> Result<openraft::Config, NodeError> {
    let config = openraft::Config {
        cluster_name: "cairn".into(),
        heartbeat_interval: settings.heartbeat_interval_ms,
        election_timeout_min: settings.election_timeout_min_ms,
        election_timeout_max: settings.election_timeout_max_ms,
        // Cairn's `LogPolicy` task builds snapshots (by entries and bytes,
        // never below the disk's replication floor): openraft's is off.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: settings.max_in_snapshot_log_to_keep,
        max_payload_entries: settings.max_payload_entries,
        snapshot_max_chunk_size: 1024 * 1024,
        install_snapshot_timeout: settings.rpc_timeout_ms.max(INSTALL_SNAPSHOT_TIMEOUT_MS_MIN),
        ..openraft::Config::default()
    };
    config
        .validate()
        .map_err(|error| NodeError::Fatal(format!("invalid raft settings: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_with_the_default_limits() {
        let settings = RaftSettings::default();
        settings.validate().unwrap();
        settings.validate_with_limits(&Limits::default()).unwrap();
    }

    #[test]
    fn a_request_limit_over_the_frame_limit_is_refused_by_name() {
        let limits = Limits {
            request_bytes_max: FRAME_BYTES_MAX as u64,
            file_bytes_max: 1024,
            ..Limits::default()
        };
        let error = RaftSettings::default()
            .validate_with_limits(&limits)
            .unwrap_err();
        assert!(error.contains("limits.request_bytes_max"), "{error}");
        assert!(error.contains("frame limit"), "{error}");
        let largest_that_fits = Limits {
            request_bytes_max: (FRAME_BYTES_MAX - FRAME_ENTRY_OVERHEAD_BYTES_MAX) as u64,
            ..limits
        };
        RaftSettings::default()
            .validate_with_limits(&largest_that_fits)
            .unwrap();
    }

    #[test]
    fn timings_out_of_order_are_refused_by_name() {
        let settings = RaftSettings {
            election_timeout_min_ms: 50,
            ..RaftSettings::default()
        };
        let error = settings.validate().unwrap_err();
        assert!(error.contains("election_timeout_min_ms"), "{error}");
    }
}
