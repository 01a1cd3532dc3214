//! `cairn serve`: run a node until Ctrl-C or SIGTERM.

use anyhow::Context as _;

use crate::commands::{Threads, runtime};
use crate::exit::Failure;

/// openraft logs every election and membership step at `info`; that drowns
/// Cairn's own lines, so it is held to warnings unless `RUST_LOG` says otherwise.
const LOG_FILTER_DEFAULT: &str = "info,openraft=warn";

/// Runs the node; prints nothing on a clean stop.
pub fn run(args: cairn_server::ServeArgs) -> Result<Vec<u8>, Failure> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(LOG_FILTER_DEFAULT));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let runtime = runtime(Threads::PerCore)
        .context("start the tokio runtime")
        .map_err(Failure::Serve)?;
    runtime
        .block_on(cairn_server::run_serve(args))
        .map_err(Failure::Serve)?;
    Ok(Vec::new())
}
