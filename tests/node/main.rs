//! One node, the real `cairn` binary on loopback: durability across SIGKILL,
//! concurrent writers, refusal of bad and hostile input, and the CLI.

// Test helpers unwrap like the tests they serve: a panic is a failed test
// with its message. (Production code denies `unwrap`.)
#![allow(clippy::unwrap_used)]

mod access;
mod audit;
mod bad_input;
mod checkout;
mod cli;
mod concurrency;
mod console;
mod durability;
mod export;
mod hostile_input;
mod managed;
mod mcp;
mod memory_tool;
mod retention;
mod rollback;
mod search;
mod storage_full;
mod watch;

use cairn_client::{Client, ClientError};
use cairn_tests::{NodeProcess, operator_client};
use tempfile::TempDir;

/// A started, ready single-node cluster with its data directory and a client.
/// Keep the `TempDir` alive for as long as the node runs.
pub struct Single {
    pub dir: TempDir,
    pub node: NodeProcess,
    pub client: Client,
}

pub async fn start_single() -> Single {
    start_single_with("").await
}

/// [`start_single`] with `extra` appended to the node's TOML config.
pub async fn start_single_with(extra: &str) -> Single {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut node = NodeProcess::configure(dir.path(), 1, &format!("bootstrap = true\n{extra}"));
    node.spawn();
    node.wait_ready().await;
    let client = operator_client(&node.url());
    Single { dir, node, client }
}

/// Asserts that `result` failed with an API problem of this status and code,
/// and returns the problem.
#[track_caller]
pub fn expect_problem<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    status: u16,
    code: &str,
) -> cairn_client::Problem {
    match result {
        Err(ClientError::Api(problem)) => {
            assert_eq!(
                (problem.status, problem.code.as_str()),
                (status, code),
                "unexpected problem: {problem:?}"
            );
            *problem
        }
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}
