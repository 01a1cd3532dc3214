//! Every limit Cairn enforces, named, with units last.
//!
//! The limits that the state machine checks while applying travel inside each
//! proposal (`Meta::limits`), so every replica applies a command against the
//! same numbers even if the nodes' configs differ.

use serde::{Deserialize, Serialize};

/// The longest idempotency key a node makes for a write that carries none:
/// `~auto/<node id>/<time_ms>/<counter>`, three `u64`s of up to 20 digits.
/// `Proposal::check` holds every key to `label_bytes_max`, so that limit may
/// not be smaller, or every write without a client key would be refused.
pub const AUTO_KEY_BYTES_MAX: u64 = 6 + 20 + 1 + 20 + 1 + 20;

/// Most change events one read of the watch feed takes from the audit trail
/// (`read::watch`); a feed that is behind reads again at once.
pub const WATCH_BATCH_EVENTS_MAX: usize = 256;

/// How often an idle watch stream sends a heartbeat, by default, in
/// milliseconds (`[watch] heartbeat_ms`).
pub const WATCH_HEARTBEAT_MS_DEFAULT: u64 = 15_000;

/// How many revisions back a watch may start, by default
/// (`[watch] replay_revisions_max`): a `from_revision` further behind the
/// store's current revision gets the `too_old` event instead of a replay.
pub const WATCH_REPLAY_REVISIONS_MAX_DEFAULT: u64 = 1_000_000;

/// Most matches in one page of search results.
pub const SEARCH_MATCHES_PER_PAGE_MAX: u64 = 1000;

/// Matches in a page of search results when the request names no `limit`.
pub const SEARCH_MATCHES_PER_PAGE_DEFAULT: u64 = 100;

/// Most files one search request reads; past it the page ends with a cursor.
pub const SEARCH_FILES_SCANNED_MAX: u64 = 10_000;

/// Most content bytes one search request reads; past it the page ends with
/// a cursor (a file is always read whole, so one page may pass it by one file).
pub const SEARCH_BYTES_SCANNED_MAX: u64 = 64 * 1024 * 1024;

/// Longest matching line a search result carries, in bytes; a longer line is
/// cut at a character boundary and marked `truncated`.
pub const SEARCH_LINE_BYTES_MAX: usize = 1024;

/// Longest search pattern, in bytes.
pub const SEARCH_PATTERN_BYTES_MAX: usize = 1024;

/// Most memory a compiled regular expression may take (`regex`'s
/// `size_limit`), in bytes; a pattern that needs more is refused.
pub const SEARCH_REGEX_BYTES_MAX: usize = 1024 * 1024;

/// Most memory the lazy DFA of one search may take (`dfa_size_limit`), in bytes.
pub const SEARCH_REGEX_DFA_BYTES_MAX: usize = 2 * 1024 * 1024;

/// The named limits. `Limits::default()` is the one source of defaults: the
/// config loader, the CLI and `config/cairn.toml` all agree with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest file content, in bytes.
    pub file_bytes_max: u64,
    /// Longest file path, in bytes.
    pub path_bytes_max: u64,
    /// Most segments in a path (`/a/b/c.md` has three).
    pub path_depth_max: u64,
    /// Most live files in one store.
    pub files_per_store_max: u64,
    /// Largest HTTP request body, in bytes.
    pub request_bytes_max: u64,
    /// Most operations in one transaction.
    pub txn_ops_max: u64,
    /// Most stores on a cluster.
    pub stores_max: u64,
    /// Longest agent id, session id or idempotency key, in bytes.
    pub label_bytes_max: u64,
    /// How long an idempotency key is remembered, in milliseconds.
    pub idempotency_window_ms: u64,
    /// Most entries in one page of history or listing.
    pub page_entries_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes_max: 1024 * 1024,
            path_bytes_max: 1024,
            path_depth_max: 32,
            files_per_store_max: 100_000,
            request_bytes_max: 4 * 1024 * 1024,
            txn_ops_max: 256,
            stores_max: 10_000,
            label_bytes_max: 256,
            idempotency_window_ms: 24 * 60 * 60 * 1000,
            page_entries_max: 1000,
        }
    }
}

impl Limits {
    /// Checks that the limits make sense together; the message says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        let nonzero = [
            ("file_bytes_max", self.file_bytes_max),
            ("path_bytes_max", self.path_bytes_max),
            ("path_depth_max", self.path_depth_max),
            ("files_per_store_max", self.files_per_store_max),
            ("request_bytes_max", self.request_bytes_max),
            ("txn_ops_max", self.txn_ops_max),
            ("stores_max", self.stores_max),
            ("label_bytes_max", self.label_bytes_max),
            ("page_entries_max", self.page_entries_max),
        ];
        for (name, value) in nonzero {
            if value == 0 {
                return Err(format!("limits.{name} must be greater than 0"));
            }
        }
        if self.request_bytes_max < self.file_bytes_max {
            return Err(format!(
                "limits.request_bytes_max ({}) must be at least limits.file_bytes_max ({}), \
                 or a file of the largest allowed size could never be uploaded",
                self.request_bytes_max, self.file_bytes_max
            ));
        }
        if self.label_bytes_max < AUTO_KEY_BYTES_MAX {
            return Err(format!(
                "limits.label_bytes_max ({}) must be at least {AUTO_KEY_BYTES_MAX}, \
                 the length of the idempotency keys a node makes",
                self.label_bytes_max
            ));
        }
        if self.path_bytes_max > 64 * 1024 {
            return Err("limits.path_bytes_max must be at most 65536".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_labels_fit_the_keys_a_node_makes() {
        assert_eq!(Limits::default().validate(), Ok(()));
        let longest = format!("~auto/{}/{}/{}", u64::MAX, u64::MAX, u64::MAX);
        assert_eq!(longest.len() as u64, AUTO_KEY_BYTES_MAX);
        let short_labels = Limits {
            label_bytes_max: AUTO_KEY_BYTES_MAX - 1,
            ..Limits::default()
        };
        let error = short_labels.validate().unwrap_err();
        assert!(error.contains("label_bytes_max"), "{error}");
        let just_enough = Limits {
            label_bytes_max: AUTO_KEY_BYTES_MAX,
            ..Limits::default()
        };
        assert_eq!(just_enough.validate(), Ok(()));
    }
}
