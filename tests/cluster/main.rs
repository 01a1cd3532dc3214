//! Three to four real `cairn` processes on loopback: failover under load,
//! a minority that must not acknowledge, catch-up by snapshot, membership
//! changes at run time, replicas converging to identical state, and many
//! writers sharing log entries.

// Test helpers unwrap like the tests they serve: a panic is a failed test
// with its message. (Production code denies `unwrap`.)
#![allow(clippy::unwrap_used)]

mod batching;
mod catch_up;
mod disk_full;
mod export;
mod failover;
mod membership;
mod minority;
mod redaction;
mod tls;
mod watch;

use std::time::{Duration, Instant};

use cairn_client::Client;
use std::path::PathBuf;

use cairn_tests::NodeProcess;
use serde_json::Value;
use tempfile::TempDir;

/// Fast timings, so that elections and timeouts fit in a test.
pub const RAFT: &str = "[raft]\nheartbeat_interval_ms = 50\nelection_timeout_min_ms = 300\nelection_timeout_max_ms = 600\n";
/// A request waits at most this long for a leader or a quorum.
pub const HTTP: &str = "[http]\nrequest_timeout_ms = 3000\n";

pub struct Cluster {
    pub dir: TempDir,
    /// `nodes[i]` is node `i + 1`.
    pub nodes: Vec<NodeProcess>,
    /// TOML appended to every node's config: the `[raft]` and `[http]` tables.
    tables: String,
    /// Where `make_certs` put the CA and node certificates, for a TLS cluster.
    pub certs: Option<PathBuf>,
    /// This test's turn (declared last, so released after the nodes stop).
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// Cluster tests take turns: each runs three or four real nodes, and several
/// at once on a two-core machine starve one another's heartbeats until
/// requests time out for want of CPU, not for any fault of the code.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Cluster {
    /// Node 1 bootstraps; nodes 2..=n join it as learners and are promoted.
    /// `raft` holds extra `[raft]` settings, one `key = value` per line.
    pub async fn start(n: u64, raft: &str) -> Cluster {
        Cluster::start_with_timings(n, RAFT, raft).await
    }

    /// As `start`, with `timings` (a whole `[raft]` table header and its
    /// timing keys) in place of the fast `RAFT` timings.
    pub async fn start_with_timings(n: u64, timings: &str, raft: &str) -> Cluster {
        Cluster::start_inner(n, timings, raft, false).await
    }

    /// As `start`, every node with a certificate from one local CA: https
    /// for the API, mutual TLS between peers.
    pub async fn start_tls(n: u64) -> Cluster {
        Cluster::start_inner(n, RAFT, "", true).await
    }

    async fn start_inner(n: u64, timings: &str, raft: &str, tls: bool) -> Cluster {
        let turn = TURN.lock().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = tls.then(|| dir.path().join("certs"));
        if let Some(certs) = &certs {
            cairn_tests::make_certs(certs, n);
        }
        let mut cluster = Cluster {
            dir,
            nodes: Vec::new(),
            tables: format!("{timings}{raft}{HTTP}"),
            certs,
            _turn: turn,
        };
        let mut first = cluster.configure(1, "bootstrap = true\n");
        first.spawn();
        first.wait_ready().await;
        cluster.nodes.push(first);
        for id in 2..=n {
            cluster.add_learner(id, "").await;
            cluster.promote(id).await;
        }
        cluster
    }

    pub fn node(&self, id: u64) -> &NodeProcess {
        &self.nodes[(id - 1) as usize]
    }

    pub fn node_mut(&mut self, id: u64) -> &mut NodeProcess {
        &mut self.nodes[(id - 1) as usize]
    }

    pub fn client(&self, id: u64) -> Client {
        self.node(id).client().with_timeout(Duration::from_secs(10))
    }

    /// Node `id`'s config: `top_level` settings, the shared tables, and its
    /// `[tls]` table in a TLS cluster.
    fn configure(&self, id: u64, top_level: &str) -> NodeProcess {
        let tls = match &self.certs {
            Some(certs) => cairn_tests::tls_table(certs, id),
            None => String::new(),
        };
        let mut node = NodeProcess::configure(
            self.dir.path(),
            id,
            &format!("{top_level}{}{tls}", self.tables),
        );
        node.ca_file = self.certs.as_ref().map(|certs| certs.join("ca.pem"));
        node
    }

    /// Ids of the nodes whose process runs.
    pub fn running(&self) -> Vec<u64> {
        (1..=self.nodes.len() as u64)
            .filter(|id| self.node(*id).is_running())
            .collect()
    }

    /// Starts node `id` (with extra top-level config) and adds it as a learner
    /// through some running member.
    pub async fn add_learner(&mut self, id: u64, top_level: &str) {
        let node = self.configure(id, &format!("bootstrap = false\n{top_level}"));
        self.add_learner_node(node).await;
    }

    /// Starts `node`, configured by the caller, and adds it as a learner
    /// through some running member.
    pub async fn add_learner_node(&mut self, mut node: NodeProcess) {
        node.spawn();
        let body = serde_json::json!({
            "node_id": node.node_id,
            "raft_addr": node.raft_addr,
            "api_addr": node.http_addr,
            "tags": {"region": format!("region-{}", node.node_id)},
        });
        self.nodes.push(node);
        let via = self.running()[0];
        admin(
            &self.client(via),
            "POST",
            "/v1/admin/learners",
            body.to_string(),
        )
        .await;
    }

    pub async fn promote(&self, id: u64) {
        let via = self.running()[0];
        admin(
            &self.client(via),
            "POST",
            &format!("/v1/admin/voters/{id}"),
            String::new(),
        )
        .await;
    }

    pub async fn remove(&self, id: u64, via: u64) {
        admin(
            &self.client(via),
            "DELETE",
            &format!("/v1/admin/members/{id}"),
            String::new(),
        )
        .await;
    }

    /// A node's `/v1/admin/status`, or `None` if it does not answer.
    pub async fn status(&self, id: u64) -> Option<Value> {
        if !self.node(id).is_running() {
            return None;
        }
        let client = self.client(id).with_timeout(Duration::from_secs(2));
        client.get_json::<Value>("/v1/admin/status").await.ok()
    }

    /// The leader every running node in `among` agrees on, once they do.
    pub async fn leader_among(&self, among: &[u64]) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut seen = Vec::new();
            for id in among {
                if let Some(status) = self.status(*id).await {
                    seen.push(status["current_leader"].as_u64());
                }
            }
            if let Some(Some(leader)) = seen.first()
                && seen.iter().all(|s| *s == Some(*leader))
                && among.contains(leader)
            {
                return *leader;
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader among {among:?}: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn leader(&self) -> u64 {
        self.leader_among(&self.running()).await
    }

    /// Waits until every node in `ids` applied the same index and has the same
    /// state digest; returns the digest.
    pub async fn converged(&self, ids: &[u64]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut digests = Vec::new();
            for id in ids {
                let digest = self
                    .client(*id)
                    .get_json::<Value>("/v1/admin/digest")
                    .await
                    .ok();
                digests.push(digest.map(|d| (d["digest"].clone(), d["last_applied"].clone())));
            }
            if let Some(Some(first)) = digests.first()
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

/// An admin call that must succeed (retrying while leadership settles).
pub async fn admin(client: &Client, method: &str, path: &str, body: String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let headers = [("content-type", "application/json")];
        match client
            .raw_request(method, path, &headers, body.clone())
            .await
        {
            Ok(response) if response.is_success() => return,
            Ok(response) if response.status == 503 || response.status == 504 => {}
            Ok(response) => panic!(
                "{method} {path}: {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ),
            Err(_) => {}
        }
        assert!(Instant::now() < deadline, "{method} {path} kept failing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
