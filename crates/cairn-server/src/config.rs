//! The node's configuration: a TOML file, overridden by `cairn serve` flags,
//! every field defaulted so that an empty file (or none) runs a single node
//! with its data in `./cairn-data`. `config/cairn.toml` spells out the
//! defaults; a test keeps the two equal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cairn_core::Limits;
use cairn_core::auth::SUPPLIED_TOKEN_BYTES_MIN;
use cairn_raft::{NodeConfig, RaftSettings};
use serde::{Deserialize, Serialize};

/// The shortest and longest `[watch] heartbeat_ms`: often enough to keep
/// proxies from closing an idle stream, rarely enough to cost nothing.
pub const WATCH_HEARTBEAT_MS_MIN: u64 = 100;
pub const WATCH_HEARTBEAT_MS_MAX: u64 = 600_000;

/// Used when no `cluster_secret` is configured; fine on loopback only.
pub const DEV_CLUSTER_SECRET: &str = "cairn-local-dev-secret";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This node's id in the cluster; unique, never reused.
    pub node_id: u64,
    /// Holds the Raft log's segments (`raft-log.seg-*`), `state.redb` and its content file.
    pub data_dir: PathBuf,
    /// Where the HTTP API listens.
    pub listen_http: String,
    /// Where peers' Raft RPCs arrive.
    pub listen_raft: String,
    /// The HTTP address other nodes and clients use; defaults to `listen_http`.
    pub advertise_http: Option<String>,
    /// The Raft address peers dial; defaults to `listen_raft`.
    pub advertise_raft: Option<String>,
    /// Shared by every member; checked on every peer connection.
    pub cluster_secret: String,
    /// Initialize a one-member cluster on first start (a single node).
    pub bootstrap: bool,
    /// Labels such as `region = "eu-west"`, shown in cluster status.
    pub tags: BTreeMap<String, String>,
    pub limits: Limits,
    /// `[raft]`: timings and batching (`cairn_raft::RaftSettings`).
    pub raft: RaftSettings,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    /// `[watch]`: the change feed's heartbeat and replay window.
    pub watch: WatchConfig,
    /// `[mcp]`: the MCP endpoint (`/mcp`).
    pub mcp: McpConfig,
    /// `[tls]`: https and mutual TLS between peers (`crate::tls`); off by default.
    pub tls: crate::tls::TlsConfig,
    pub storage: StorageConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 1,
            data_dir: PathBuf::from("./cairn-data"),
            listen_http: "127.0.0.1:7700".into(),
            listen_raft: "127.0.0.1:7701".into(),
            advertise_http: None,
            advertise_raft: None,
            cluster_secret: DEV_CLUSTER_SECRET.into(),
            bootstrap: true,
            tags: BTreeMap::new(),
            limits: Limits::default(),
            raft: RaftSettings::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            watch: WatchConfig::default(),
            mcp: McpConfig::default(),
            tls: crate::tls::TlsConfig::default(),
            storage: StorageConfig::default(),
        }
    }
}

/// `[storage]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Free space the data directory's file system keeps: below it the node
    /// refuses writes that grow the data (`507 storage_full`, `crate::disk`)
    /// and serves everything else. `0` turns the check off.
    pub reserve_bytes: u64,
    /// The page cache of `state.redb`, in bytes (`cairn_raft::CACHE_BYTES_DEFAULT`, at least
    /// `CACHE_BYTES_MIN`): what bounds the node's memory whatever it holds.
    pub cache_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            reserve_bytes: crate::disk::RESERVE_BYTES_DEFAULT,
            cache_bytes: cairn_raft::CACHE_BYTES_DEFAULT,
        }
    }
}

/// `[auth]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The operator's token, instead of the one a bootstrap node makes and
    /// writes to `<data_dir>/admin.token`. Any node given one makes sure the
    /// cluster knows it. `CAIRN_ADMIN_TOKEN` overrides it.
    pub admin_token: Option<String>,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
}

/// Who may read `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsAccess {
    /// Anyone connecting from a loopback address; others need the operator's token.
    #[default]
    Loopback,
    /// Anyone.
    Open,
    /// Only the operator's token.
    Token,
}

/// `[http]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// How long a request may wait for its write to commit or its read to be
    /// linearized before it answers `504 timeout`.
    pub request_timeout_ms: u64,
    /// How long a connection may take to send a request's head (and how
    /// long a keep-alive connection may stay idle) before it is closed.
    pub header_read_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_timeout_ms: 10_000,
            header_read_timeout_ms: 30_000,
        }
    }
}

/// `[watch]`: the change feed (`GET /v1/stores/{store}/watch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchConfig {
    /// How long a stream may go without an event before it sends a `heartbeat`.
    pub heartbeat_ms: u64,
    /// How many revisions back a watch may start; further back it gets
    /// `too_old` (the audit trail holds them all; this bounds one request's replay).
    pub replay_revisions_max: u64,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            heartbeat_ms: cairn_core::limits::WATCH_HEARTBEAT_MS_DEFAULT,
            replay_revisions_max: cairn_core::limits::WATCH_REPLAY_REVISIONS_MAX_DEFAULT,
        }
    }
}

/// `[mcp]`: the MCP endpoint (`/mcp`, `crate::http::mcp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Serve `/mcp`; when off it answers `404 not_found` like any unknown path.
    pub enabled: bool,
    /// How many MCP sessions the node keeps open at once; one more
    /// `initialize` gets `503 unavailable` (retryable) until one ends.
    pub sessions_max: u64,
    /// A session with no request for this long ends (its client starts a new one).
    pub idle_timeout_ms: u64,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            enabled: true,
            sessions_max: 1024,
            // rmcp's own default.
            idle_timeout_ms: 300_000,
        }
    }
}

/// A config problem, with what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `path` (if given) and applies nothing else; `validate` next.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|error| {
            ConfigError(format!("cannot read config {}: {error}", path.display()))
        })?;
        toml::from_str(&text)
            .map_err(|error| ConfigError(format!("config {}: {error}", path.display())))
    }

    /// Checks every field; the message names the field and what is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |message: String| Err(ConfigError(message));
        if self.node_id == 0 {
            return fail("node_id must be positive".into());
        }
        if self.data_dir.as_os_str().is_empty() {
            return fail("data_dir must not be empty".into());
        }
        for (name, addr) in [
            ("listen_http", Some(&self.listen_http)),
            ("listen_raft", Some(&self.listen_raft)),
        ] {
            if let Some(addr) = addr
                && addr.parse::<SocketAddr>().is_err()
            {
                return fail(format!(
                    "{name} = {addr:?} is not an IP:port address such as \"127.0.0.1:7700\""
                ));
            }
        }
        for (name, addr) in [
            ("advertise_http", &self.advertise_http),
            ("advertise_raft", &self.advertise_raft),
        ] {
            if let Some(addr) = addr
                && (addr.is_empty() || !addr.contains(':'))
            {
                return fail(format!("{name} = {addr:?} must be host:port"));
            }
        }
        if self.listen_http == self.listen_raft {
            return fail(format!(
                "listen_http and listen_raft must differ (both {})",
                self.listen_http
            ));
        }
        if self.cluster_secret.is_empty() {
            return fail("cluster_secret must not be empty".into());
        }
        self.limits
            .validate()
            .map_err(|error| ConfigError(format!("[limits] {error}")))?;
        self.raft
            .validate()
            .map_err(|error| ConfigError(format!("[raft] {error}")))?;
        self.raft
            .validate_with_limits(&self.limits)
            .map_err(|error| ConfigError(format!("[limits] {error}")))?;
        if self.http.request_timeout_ms == 0 {
            return fail("[http] request_timeout_ms must be positive".into());
        }
        let header_min = crate::http::serve::HEADER_READ_TIMEOUT_MS_MIN;
        if self.http.header_read_timeout_ms < header_min {
            return fail(format!(
                "[http] header_read_timeout_ms must be at least {header_min} \
                 (it also closes idle keep-alive connections, which clients reuse for a while)"
            ));
        }
        if let Some(token) = &self.auth.admin_token
            && (token.len() < SUPPLIED_TOKEN_BYTES_MIN
                || !token.bytes().all(|byte| byte.is_ascii_graphic()))
        {
            return fail(format!(
                "[auth] admin_token must be at least {SUPPLIED_TOKEN_BYTES_MIN} visible ASCII characters"
            ));
        }
        if !(WATCH_HEARTBEAT_MS_MIN..=WATCH_HEARTBEAT_MS_MAX).contains(&self.watch.heartbeat_ms) {
            return fail(format!(
                "[watch] heartbeat_ms must be between {WATCH_HEARTBEAT_MS_MIN} and {WATCH_HEARTBEAT_MS_MAX}"
            ));
        }
        if self.watch.replay_revisions_max == 0 {
            return fail("[watch] replay_revisions_max must be positive".into());
        }
        if self.mcp.sessions_max == 0 {
            return fail(
                "[mcp] sessions_max must be positive (set enabled = false to turn /mcp off)".into(),
            );
        }
        if self.mcp.idle_timeout_ms == 0 {
            return fail("[mcp] idle_timeout_ms must be positive".into());
        }
        if self.storage.cache_bytes < cairn_raft::CACHE_BYTES_MIN {
            return fail(format!(
                "[storage] cache_bytes must be at least {} (8 MiB)",
                cairn_raft::CACHE_BYTES_MIN
            ));
        }
        self.tls.validate()?;
        Ok(())
    }

    pub fn advertise_http(&self) -> String {
        self.advertise_http
            .clone()
            .unwrap_or_else(|| self.listen_http.clone())
    }

    pub fn node_config(&self) -> NodeConfig {
        NodeConfig {
            node_id: self.node_id,
            data_dir: self.data_dir.clone(),
            disk: None,
            cache_bytes: self.storage.cache_bytes,
            io: cairn_raft::IoMode::Thread,
            raft_advertise_addr: self
                .advertise_raft
                .clone()
                .unwrap_or_else(|| self.listen_raft.clone()),
            api_advertise_addr: self.advertise_http(),
            tags: self.tags.clone(),
            cluster_secret: self.cluster_secret.clone(),
            raft: self.raft.clone(),
            storage_room: (self.storage.reserve_bytes > 0).then(|| {
                std::sync::Arc::new(crate::disk::DiskGuard::new(
                    &self.data_dir,
                    self.storage.reserve_bytes,
                )) as std::sync::Arc<dyn cairn_raft::StorageRoom>
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped_config() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/cairn.toml")
    }

    #[test]
    fn shipped_config_equals_the_defaults() {
        let config = Config::load(Some(&shipped_config())).unwrap();
        assert_eq!(config, Config::default());
        config.validate().unwrap();
    }

    #[test]
    fn cluster_3_configs_are_valid_and_distinct() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/cluster-3");
        let configs: Vec<Config> = (1..=3)
            .map(|n| Config::load(Some(&dir.join(format!("node{n}.toml")))).unwrap())
            .collect();
        for (n, config) in configs.iter().enumerate() {
            config.validate().unwrap();
            assert_eq!(config.node_id, n as u64 + 1);
            assert_eq!(config.bootstrap, n == 0);
            assert_eq!(config.cluster_secret, configs[0].cluster_secret);
        }
        let mut addrs: Vec<&String> = configs
            .iter()
            .flat_map(|c| [&c.listen_http, &c.listen_raft])
            .collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), 6);
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn errors_name_the_field() {
        let bad = |toml: &str| {
            let config: Config = toml::from_str(toml).unwrap();
            config.validate().unwrap_err().to_string()
        };
        assert!(bad("node_id = 0").contains("node_id"));
        assert!(bad("listen_http = \"localhost\"").contains("listen_http"));
        assert!(bad("[raft]\nelection_timeout_min_ms = 50").contains("election_timeout_min_ms"));
        assert!(bad("[limits]\nfile_bytes_max = 0").contains("[limits]"));
        let too_large = bad("[limits]\nrequest_bytes_max = 268435456");
        assert!(too_large.contains("request_bytes_max"), "{too_large}");
        let small_cache = bad("[storage]\ncache_bytes = 1048576");
        assert!(
            small_cache.contains("[storage] cache_bytes"),
            "{small_cache}"
        );
        let unknown = toml::from_str::<Config>("[raft]\nheartbeat_ms = 3")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("heartbeat_ms"), "{unknown}");
        let unknown = toml::from_str::<Config>("nodeid = 3")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("nodeid"), "{unknown}");
    }
}
