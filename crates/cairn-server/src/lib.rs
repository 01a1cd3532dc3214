//! The HTTP API (axum) over a `cairn_raft::Node`, the node's configuration,
//! and the `cairn serve` entry point.
//!
//! **Architecture invariant:** the server is given its listeners, its peer
//! connector and its clock, so the simulation runs this same code over a
//! simulated network and time.

// The export stream's pages nest the service's read layers (read_store →
// read_in_store → read_as → read → Node::read) inside its own future, one
// level deeper than the compiler's default query depth allows.
#![recursion_limit = "256"]

pub mod clock;
pub mod config;
pub mod disk;
pub mod http;
pub mod metrics;
pub mod service;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_raft::{Connector, Listener, Node};

pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use http::{AppState, openapi, router};
pub use service::{PlantedFaults, RequestContext, Service};

/// Supplies the operator's token, overriding `[auth] admin_token`.
pub const ADMIN_TOKEN_ENV: &str = "CAIRN_ADMIN_TOKEN";
/// Where a bootstrap node keeps the operator token it made, in its data dir.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// `cairn serve` flags; each overrides the config file.
#[derive(Clone, Debug, Default)]
pub struct ServeArgs {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

/// The config file with the flags applied, validated.
pub fn load_config(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(data_dir) = &args.data_dir {
        config.data_dir = data_dir.clone();
    }
    if let Some(listen) = &args.listen {
        config.listen_http = listen.clone();
    }
    if let Ok(token) = std::env::var(ADMIN_TOKEN_ENV) {
        config.auth.admin_token = Some(token);
    }
    config.validate().context("invalid configuration")?;
    Ok(config)
}

/// Opens the node's storage, starts Raft on `raft_listener`, and (for a
/// bootstrap node) makes it a one-member cluster.
pub async fn start_node(
    node_config: cairn_raft::NodeConfig,
    bootstrap: bool,
    raft_listener: Box<dyn Listener>,
    connector: Arc<dyn Connector>,
) -> anyhow::Result<Node> {
    let node = Node::start(node_config, raft_listener, connector)
        .await
        .context("starting the node")?;
    if bootstrap {
        node.initialize_single()
            .await
            .context("initializing a single-node cluster")?;
    }
    Ok(node)
}

/// The operator's token this node makes sure the cluster knows: the one the
/// configuration supplies, or on a bootstrap node the one in
/// `<data_dir>/admin.token`, made (random, mode 0600) on the first start.
/// Other nodes have none: they learn the operator's token through Raft.
pub fn operator_token(config: &Config) -> anyhow::Result<Option<String>> {
    if let Some(token) = &config.auth.admin_token {
        return Ok(Some(token.clone()));
    }
    if !config.bootstrap {
        return Ok(None);
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) => return Ok(Some(token.trim().to_string())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    }
    let (mut id, mut secret) = ([0u8; 8], [0u8; 32]);
    let entropy = clock::OsEntropy;
    clock::Entropy::fill(&entropy, &mut id);
    clock::Entropy::fill(&entropy, &mut secret);
    let token = cairn_core::auth::format_token(id, secret);
    write_private(&path, &format!("{token}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(
        path = %path.display(),
        "made the operator's token; use it with `cairn --token \"$(cat {})\" …` or CAIRN_TOKEN",
        path.display()
    );
    Ok(Some(token))
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Proposes the bootstrap (operator token, default organization) until the
/// cluster has applied it; in the background, since a node that is not yet
/// a member must wait to be added.
pub fn ensure_operator_token(service: Service, token: String) {
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(100);
        loop {
            match service.bootstrap(&token).await {
                Ok(()) => {
                    tracing::info!("the cluster knows the operator's token");
                    return;
                }
                Err(service::ServiceError::Refused(refusal)) => {
                    tracing::error!(%refusal, "the operator's token was refused");
                    return;
                }
                Err(error) => {
                    tracing::debug!(%error, "bootstrap not applied yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
}

/// The handlers' shared state for `node` under `config`; `operator` is the
/// operator's token this node knows (`operator_token`).
pub fn app(config: &Config, node: Node, clock: Arc<dyn Clock>, operator: Option<&str>) -> AppState {
    let request_timeout = Duration::from_millis(config.http.request_timeout_ms);
    let watch = service::WatchSettings {
        heartbeat: Duration::from_millis(config.watch.heartbeat_ms),
        replay_revisions_max: config.watch.replay_revisions_max,
    };
    let mut service = Service::new(node, config.limits, clock, request_timeout).with_watch(watch);
    if config.storage.reserve_bytes > 0 {
        service = service.with_disk_guard(disk::DiskGuard::new(
            &config.data_dir,
            config.storage.reserve_bytes,
        ));
    }
    if let Some(token) = operator {
        service = service.with_operator_token(token);
    }
    AppState::new(service)
        .with_metrics_access(config.auth.metrics)
        .with_mcp(config.mcp)
}

/// Loads and validates the config, starts the node and serves until Ctrl-C / SIGTERM.
pub async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    if config.cluster_secret == config::DEV_CLUSTER_SECRET
        && !config.listen_raft.starts_with("127.")
    {
        tracing::warn!(
            listen_raft = %config.listen_raft,
            "the Raft port is not on loopback but cluster_secret is the built-in development secret; set your own"
        );
    }
    // TLS files are read before anything binds: a bad one stops the start, by name.
    let node_tls = config.tls.load()?;
    tls::warn_if_exposed(&config);
    let http = tokio::net::TcpListener::bind(&config.listen_http)
        .await
        .with_context(|| format!("cannot listen on listen_http = {}", config.listen_http))?;
    let raft = tokio::net::TcpListener::bind(&config.listen_raft)
        .await
        .with_context(|| format!("cannot listen on listen_raft = {}", config.listen_raft))?;
    let (raft_listener, connector) = tls::peer_seams(node_tls.as_ref(), raft);
    let node = start_node(
        config.node_config(),
        config.bootstrap,
        raft_listener,
        connector,
    )
    .await?;
    tracing::info!(
        node_id = config.node_id,
        http = %config.listen_http,
        raft = %config.listen_raft,
        data_dir = %config.data_dir.display(),
        tls = node_tls.is_some(),
        "cairn node serving"
    );
    let operator = operator_token(&config)?;
    let state = app(
        &config,
        node.clone(),
        Arc::new(SystemClock),
        operator.as_deref(),
    );
    if let Some(token) = operator {
        ensure_operator_token(state.service.clone(), token);
    }
    let mcp_shutdown = state.mcp_shutdown.clone();
    let router = router(state);
    let header_read_timeout = Duration::from_millis(config.http.header_read_timeout_ms);
    match &node_tls {
        Some(node_tls) => {
            let https = tls::HttpsListener::new(http, node_tls)
                .context("cannot set up https on listen_http")?;
            serve_http(https, router, header_read_timeout, mcp_shutdown).await;
        }
        None => serve_http(http, router, header_read_timeout, mcp_shutdown).await,
    }
    tracing::info!("shutting down");
    node.shutdown().await.context("stopping the node")?;
    Ok(())
}

/// Serves the API on `listener` until Ctrl-C / SIGTERM; then ends the MCP
/// sessions, so their event streams do not hold the drain.
async fn serve_http<L>(
    listener: L,
    router: axum::Router,
    header_read_timeout: Duration,
    mcp_shutdown: tokio_util::sync::CancellationToken,
) where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Display,
{
    let shutdown = async move {
        shutdown_signal().await;
        mcp_shutdown.cancel();
    };
    http::serve::serve(listener, router, header_read_timeout, shutdown).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
