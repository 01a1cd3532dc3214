//! The soak's three nodes: node 1 bootstraps, nodes 2 and 3 join as learners
//! and are promoted (as `tests/cluster/` and `config/cluster-3/start.sh` do),
//! each with its data directory at `dir/node-i/data`.

use std::time::{Duration, Instant};

use cairn_client::Client;
use cairn_tests::NodeProcess;
use serde_json::Value;
use tempfile::TempDir;

/// Fast timings, as the cluster tests use, so that a failover fits in a fault.
/// The free-space reserve is small because `--disk-full` gives each node a
/// 32 MiB tmpfs (`disk.rs`): the default 64 MiB would refuse every write.
const TABLES: &str = "[raft]\nheartbeat_interval_ms = 50\nelection_timeout_min_ms = 300\nelection_timeout_max_ms = 600\n[http]\nrequest_timeout_ms = 3000\n[storage]\nreserve_bytes = 4194304\n";
/// How long the cluster may take to agree on a leader, or to converge after healing.
const AGREE_TIMEOUT_S: u64 = 60;

pub struct Cluster {
    /// Declared first, so the nodes are killed before their directory goes.
    pub nodes: Vec<NodeProcess>,
    pub dir: TempDir,
}

impl Cluster {
    pub async fn start_in(dir: TempDir) -> Cluster {
        let mut cluster = Cluster {
            nodes: Vec::new(),
            dir,
        };
        let mut first = NodeProcess::configure(
            cluster.dir.path(),
            1,
            &format!("bootstrap = true\n{TABLES}"),
        );
        first.spawn();
        first.wait_ready().await;
        cluster.nodes.push(first);
        for id in 2..=3 {
            let mut node = NodeProcess::configure(
                cluster.dir.path(),
                id,
                &format!("bootstrap = false\n{TABLES}"),
            );
            node.spawn();
            let body = serde_json::json!({
                "node_id": id,
                "raft_addr": node.raft_addr,
                "api_addr": node.http_addr,
            });
            cluster.nodes.push(node);
            cluster
                .admin("POST", "/v1/admin/learners", body.to_string())
                .await;
            cluster
                .admin("POST", &format!("/v1/admin/voters/{id}"), String::new())
                .await;
        }
        cluster
    }

    pub fn node(&self, id: u64) -> &NodeProcess {
        &self.nodes[(id - 1) as usize]
    }

    pub fn node_mut(&mut self, id: u64) -> &mut NodeProcess {
        &mut self.nodes[(id - 1) as usize]
    }

    /// A client of node `id` under the operator's token (every node is
    /// configured with it, `cairn_tests::OPERATOR_TOKEN`).
    pub fn client(&self, id: u64) -> Client {
        self.node(id).client().with_timeout(Duration::from_secs(10))
    }

    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        vec![("content-type", "application/json".to_string())]
    }

    /// A raw JSON request to node `id`: the status and the body if it answered.
    async fn raw_json(
        &self,
        id: u64,
        method: &str,
        path: &str,
        body: String,
    ) -> Option<(u16, Value)> {
        let client = self.client(id).with_timeout(Duration::from_secs(2));
        let headers = self.auth_headers();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let response = client
            .raw_request(method, path, &headers, body)
            .await
            .ok()?;
        let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        Some((response.status, value))
    }

    /// A membership call that must succeed, through node 1, retried while
    /// leadership settles.
    async fn admin(&self, method: &str, path: &str, body: String) {
        let deadline = Instant::now() + Duration::from_secs(AGREE_TIMEOUT_S);
        loop {
            match self.raw_json(1, method, path, body.clone()).await {
                Some((status, _)) if (200..300).contains(&status) => return,
                Some((status, _)) if status == 503 || status == 504 => {}
                Some((status, answer)) => panic!("{method} {path}: {status} {answer}"),
                None => {}
            }
            assert!(Instant::now() < deadline, "{method} {path} kept failing");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The leader every node agrees on, once they do.
    pub async fn leader(&self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(AGREE_TIMEOUT_S);
        loop {
            let mut seen = Vec::new();
            for id in 1..=3 {
                let status = self
                    .raw_json(id, "GET", "/v1/admin/status", String::new())
                    .await;
                seen.push(status.and_then(|(_, status)| status["current_leader"].as_u64()));
            }
            if let Some(Some(leader)) = seen.first()
                && seen.iter().all(|s| *s == Some(*leader))
            {
                return *leader;
            }
            assert!(Instant::now() < deadline, "no agreed leader: {seen:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the three nodes applied the same index and have the same
    /// state digest (`GET /v1/admin/digest`); returns the digest.
    pub async fn converged(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(AGREE_TIMEOUT_S);
        loop {
            let mut digests = Vec::new();
            for id in 1..=3 {
                let digest = self
                    .raw_json(id, "GET", "/v1/admin/digest", String::new())
                    .await;
                digests.push(digest.map(|(_, d)| (d["digest"].clone(), d["last_applied"].clone())));
            }
            if let Some(Some(first)) = digests.first()
                && first.0.is_string()
                && digests.iter().all(|d| d.as_ref() == Some(first))
            {
                return first.0.as_str().unwrap_or_default().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "replicas did not converge: {digests:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
